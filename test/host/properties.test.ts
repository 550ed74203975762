import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, LogLevel, ManualClock, Status } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";
import { Op, probe } from "./fixtures/opsProbe.ts";

async function setup(options: ConstructorParameters<typeof EnvoyHost>[0] = {}) {
  const host = new EnvoyHost(options);
  const filter = await host.addHttpFilter({ vmId: "eg-vm", rootId: "eg-root", name: "eg-plugin", wasm: await fixture("ops"), configuration: "", workers: 1 });
  return { host, filter };
}

test("proxy_get_property answers plugin_*, configured properties and request attributes, NOT_FOUND otherwise", async () => {
  const { host, filter } = await setup({ properties: { "node\0id": "router~1", "xds\0cluster_name": "ingress" } });
  try {
    assert.equal(probe(filter, Op.getProperty, { "x-path": "plugin_root_id" })["x-value"], "eg-root");
    assert.equal(probe(filter, Op.getProperty, { "x-path": "plugin_name" })["x-value"], "eg-plugin");
    assert.equal(probe(filter, Op.getProperty, { "x-path": "plugin_vm_id" })["x-value"], "eg-vm");
    assert.equal(probe(filter, Op.getProperty, { "x-path": "node\0id" })["x-value"], "router~1");
    assert.equal(probe(filter, Op.getProperty, { "x-path": "request\0path" })["x-value"], "/");
    assert.deepEqual(probe(filter, Op.getProperty, { "x-path": "node\0cluster" }), { "x-status": String(Status.NOT_FOUND) });
  } finally {
    await host.close();
  }
});

test("proxy_set_property stores a value the same stream reads back", async () => {
  const { host, filter } = await setup();
  try {
    assert.deepEqual(probe(filter, Op.setProperty, { "x-path": "filter_state\0eg", "x-value": "v" }), { "x-status": "0", "x-value": "v" });
  } finally {
    await host.close();
  }
});

test("proxy_get_log_level answers the configured level (info by default) and lower levels are not recorded", async () => {
  const { host, filter } = await setup();
  try {
    assert.equal(probe(filter, Op.logLevel)["x-value"], String(LogLevel.info));
    probe(filter, Op.log, { "x-level": LogLevel.debug, "x-value": "quiet" });
    probe(filter, Op.log, { "x-level": LogLevel.warn, "x-value": "loud" });
    assert.deepEqual(
      host.logs().map((l) => [l.level, l.message]),
      [[LogLevel.warn, "loud"]],
    );
    assert.equal(probe(filter, Op.log, { "x-level": 9, "x-value": "bad" })["x-status"], String(Status.BAD_ARGUMENT));
  } finally {
    await host.close();
  }
  const debug = await setup({ logLevel: "debug" });
  try {
    assert.equal(probe(debug.filter, Op.logLevel)["x-value"], String(LogLevel.debug));
  } finally {
    await debug.host.close();
  }
});

test("proxy_get_current_time_nanoseconds reads the host clock", async () => {
  const { host, filter } = await setup({ clock: new ManualClock(1_800_000_000_500) });
  try {
    assert.equal(probe(filter, Op.nowSeconds)["x-value"], "1800000000");
  } finally {
    await host.close();
  }
});

test("proxy_set_effective_context refuses an unknown id, and after switching to the root context stream maps are gone", async () => {
  const { host, filter } = await setup();
  try {
    assert.equal(probe(filter, Op.setEffectiveContext, { "x-ctx": 4242 })["x-status"], String(Status.BAD_ARGUMENT));
    // Context 1 is the root: the x-status header the probe adds afterwards has no request map to go to.
    assert.deepEqual(probe(filter, Op.setEffectiveContext, { "x-ctx": 1 }), {});
  } finally {
    await host.close();
  }
});

test("the plugin configuration is readable only during proxy_on_configure, as in Envoy", async () => {
  const { host, filter } = await setup();
  try {
    assert.equal(probe(filter, Op.readPluginConfiguration)["x-status"], String(Status.NOT_FOUND));
  } finally {
    await host.close();
  }
});
