import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, Status } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";
import { Op, probe } from "./fixtures/opsProbe.ts";

async function setup(workers = 2) {
  const host = new EnvoyHost();
  const wasm = await fixture("ops");
  const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm, configuration: "", workers });
  return { host, filter, wasm };
}

test("get of a missing key answers NOT_FOUND", async () => {
  const { host, filter } = await setup();
  try {
    assert.deepEqual(probe(filter, Op.getShared, { "x-key": "eg1/c/nobody" }), { "x-status": String(Status.NOT_FOUND) });
  } finally {
    await host.close();
  }
});

test("cas 0 always writes and every successful set gets a new non-zero cas", async () => {
  const { host, filter } = await setup();
  try {
    assert.equal(probe(filter, Op.setShared, { "x-key": "k", "x-value": "v1", "x-cas": 0 })["x-status"], "0");
    const first = probe(filter, Op.getShared, { "x-key": "k" });
    assert.equal(first["x-value"], "v1");
    assert.notEqual(first["x-cas"], "0");
    assert.equal(probe(filter, Op.setShared, { "x-key": "k", "x-value": "v2", "x-cas": 0 })["x-status"], "0");
    const second = probe(filter, Op.getShared, { "x-key": "k" });
    assert.equal(second["x-value"], "v2");
    assert.notEqual(second["x-cas"], first["x-cas"]);
    assert.equal(host.sharedData("eg").get("k")?.cas, Number(second["x-cas"]));
  } finally {
    await host.close();
  }
});

test("a stale non-zero cas is refused with CAS_MISMATCH and the current cas wins", async () => {
  const { host, filter } = await setup();
  try {
    probe(filter, Op.setShared, { "x-key": "lease", "x-value": "worker0", "x-cas": 0 });
    const seen = probe(filter, Op.getShared, { "x-key": "lease" })["x-cas"]!;
    probe(filter, Op.setShared, { "x-key": "lease", "x-value": "worker1", "x-cas": seen }, 1);
    assert.equal(
      probe(filter, Op.setShared, { "x-key": "lease", "x-value": "worker0-again", "x-cas": seen }, 0)["x-status"],
      String(Status.CAS_MISMATCH),
    );
    assert.equal(new TextDecoder().decode(host.sharedData("eg").get("lease")!.value), "worker1");
  } finally {
    await host.close();
  }
});

test("workers with the same vm_id share data; another vm_id does not", async () => {
  const { host, filter, wasm } = await setup();
  try {
    const other = await host.addHttpFilter({ vmId: "other", rootId: "o", wasm, configuration: "", workers: 1 });
    probe(filter, Op.setShared, { "x-key": "eg1/sync/gen", "x-value": "7" }, 0);
    assert.equal(probe(filter, Op.getShared, { "x-key": "eg1/sync/gen" }, 1)["x-value"], "7");
    assert.equal(probe(other, Op.getShared, { "x-key": "eg1/sync/gen" })["x-status"], String(Status.NOT_FOUND));
    assert.deepEqual(host.sharedData("eg").keys(), ["eg1/sync/gen"]);
  } finally {
    await host.close();
  }
});

test("test code can seed shared data and the plugin reads it, counting bytes read per VM", async () => {
  const { host, filter } = await setup(1);
  try {
    assert.equal(host.sharedData("eg").set("eg1/c/acme", "entry-bytes"), 0);
    const r = probe(filter, Op.getShared, { "x-key": "eg1/c/acme" });
    assert.equal(r["x-value"], "entry-bytes");
    assert.equal(filter.workers[0]!.sharedDataBytesRead, "entry-bytes".length);
    assert.equal(host.sharedData("eg").set("eg1/c/acme", "x", 12345), Status.CAS_MISMATCH);
  } finally {
    await host.close();
  }
});

test("a value larger than the module's memory is copied in after the allocator grows memory", async () => {
  const { host, filter } = await setup(1);
  try {
    const big = "x".repeat(300_000);
    host.sharedData("eg").set("big", big);
    const before = filter.workers[0]!.memoryBytes();
    const r = probe(filter, Op.getShared, { "x-key": "big" });
    assert.equal(r["x-value"], big);
    assert.ok(filter.workers[0]!.memoryBytes() > before);
  } finally {
    await host.close();
  }
});
