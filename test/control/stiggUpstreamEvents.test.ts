import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startHarness, metricValue, type Harness } from "./stiggUpstreamHarness.ts";

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(1);
  }
}

describe("Stigg event stream", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test("sends the API key and SDK headers in connection_init", () => {
    const init = h.stigg.requests.find((r) => r.surface === "ws" && r.endpoint === "init");
    assert.ok(init);
    assert.equal(init.headers?.["x-api-key"], h.stigg.apiKey);
    assert.equal(init.headers?.["source"], "NODE_SERVER_SDK");
    assert.ok(init.headers?.["x-sdk-os-process-fingerprint"]);
  });

  test("an entitlements update reaches the store in under 100 ms", async () => {
    await h.upstream.reader.read("acme", undefined);
    const versionBefore = h.store.version;
    const start = performance.now();
    h.stigg.setCustomer("acme", { entitlements: { sso: { featureType: "BOOLEAN" }, export: { featureType: "BOOLEAN" } } });
    await until(() => h.store.get("acme")?.value.entitlements.some((e) => e.featureId === "export") === true, 1000, "the update");
    const elapsed = performance.now() - start;
    assert.ok(elapsed < 100, `took ${elapsed.toFixed(1)} ms`);
    assert.ok(h.store.version > versionBefore);
    assert.equal((await h.upstream.reader.read("acme", undefined)).source, "cache");
  });

  test("a usage update patches the cached usage", async () => {
    h.stigg.setCustomer("metered", { entitlements: { calls: { featureType: "NUMBER", meterType: "Incremental", usageLimit: 10, currentUsage: 1 } } });
    await h.upstream.reader.read("metered", undefined);
    h.stigg.setUsage("metered", "calls", 7);
    await until(() => h.store.get("metered")?.value.entitlements[0]?.currentUsage === 7, 1000, "usage 7");
  });

  test("updates for customers that are not cached are not added", async () => {
    h.stigg.setCustomer("uncached", { entitlements: { sso: { featureType: "BOOLEAN" } } });
    await sleep(50);
    assert.equal(h.store.get("uncached"), undefined);
  });

  test("an empty update (customer removed) purges the entry", async () => {
    h.stigg.setCustomer("leaving", { entitlements: { sso: { featureType: "BOOLEAN" } } });
    await h.upstream.reader.read("leaving", undefined);
    assert.ok(h.store.get("leaving"));
    h.stigg.removeCustomer("leaving");
    await until(() => h.store.get("leaving") === undefined, 1000, "the purge");
  });

  test("packagePublished ALL_CUSTOMERS clears the cache; NEW_CUSTOMERS does not", async () => {
    await h.upstream.reader.read("acme", undefined);
    h.stigg.publishPackage("NEW_CUSTOMERS");
    await sleep(50);
    assert.ok(h.store.get("acme"));
    h.stigg.publishPackage("ALL_CUSTOMERS");
    await until(() => h.store.size === 0, 1000, "an empty store");
  });

  test("a reconnect revalidates cached entries in the background without flushing them", async () => {
    await h.upstream.reader.read("acme", undefined);
    h.stigg.setCustomer("other", { entitlements: { sso: { featureType: "BOOLEAN" } } });
    await h.upstream.reader.read("other", undefined);
    const edgeBefore = h.stigg.requestCount("entitlements-state");
    const connectionsBefore = h.upstream.stream?.connections ?? 0;

    h.stigg.setFault("ws", { refuseConnections: true });
    h.stigg.dropWebSockets();
    await until(() => h.upstream.stream?.healthy === false, 1000, "the stream to notice");
    // A change made while the stream is down is missed by the stream...
    h.stigg.setCustomer("acme", { entitlements: { sso: { featureType: "BOOLEAN" }, missed: { featureType: "BOOLEAN" } } });
    // ...and reads during the outage are still cache hits.
    assert.equal((await h.upstream.reader.read("acme", undefined)).source, "cache");
    assert.equal((await h.upstream.reader.read("other", undefined)).source, "cache");
    assert.equal(h.stigg.requestCount("entitlements-state"), edgeBefore);

    h.stigg.clearFaults();
    await until(() => h.upstream.stream?.healthy === true, 3000, "the reconnect");
    assert.ok((h.upstream.stream?.connections ?? 0) > connectionsBefore);
    await until(() => h.store.get("acme")?.value.entitlements.some((e) => e.featureId === "missed") === true, 3000, "revalidation");
    await h.upstream.reader.idle();
    assert.ok(h.store.get("other"), "nothing was flushed");
    assert.equal(h.stigg.requestCount("entitlements-state") - edgeBefore, 2, "one Edge request per cached entry");
    assert.equal((await h.upstream.reader.read("other", undefined)).source, "cache");
  });

  test("a silent socket (no pong) counts as dead and is replaced", async () => {
    const s = await startHarness({ tuning: { pingIntervalMs: 50, pongTimeoutMs: 100 } });
    try {
      const before = s.upstream.stream?.connections ?? 0;
      s.stigg.setFault("ws", { silent: true });
      await until(() => s.upstream.stream?.healthy === false, 2000, "the silent socket to be declared dead");
      s.stigg.clearFaults();
      await until(() => s.upstream.stream?.healthy === true, 3000, "a new connection");
      assert.ok((s.upstream.stream?.connections ?? 0) > before);
    } finally {
      await s.close();
    }
  });
});

describe("Stigg upstream: invalid API key", () => {
  test("the event stream stops retrying, the metrics flip and readiness goes red, while the cache keeps serving", async () => {
    const h = await startHarness({}, {}, true);
    try {
      await h.upstream.reader.read("acme", undefined);
      assert.equal(h.upstream.status().loaded, true);
      // Stigg revokes the key: the socket is closed with the reason graphql-ws servers give.
      h.stigg.dropWebSockets(4500, "Invalid API key");
      await until(() => h.upstream.stream?.state === "auth-failed", 2000, "auth-failed");
      const connections = h.upstream.stream?.connections ?? 0;
      await sleep(300);
      assert.equal(h.upstream.stream?.connections, connections, "no retries after an invalid key");
      assert.equal(h.upstream.status().loaded, false);
      assert.match(h.upstream.status().reason ?? "", /API key/);
      assert.equal(await metricValue(h.metrics, "entitlement_gate_upstream_api_key_valid"), 0);
      assert.equal(await metricValue(h.metrics, "entitlement_gate_event_stream_connected"), 0);
      const served = await h.upstream.reader.read("acme", undefined);
      assert.equal(served.source, "cache");
      assert.equal(served.entry?.customerId, "acme");
    } finally {
      await h.close();
    }
  });

  test("a key Stigg refuses at start counts initialization and invalid-key errors and never connects", async () => {
    const h = await startHarness({ apiKey: "wrong-key" }, {}, false);
    try {
      await until(() => h.upstream.stream?.state === "auth-failed", 2000, "auth-failed");
      assert.equal(await metricValue(h.metrics, "sidecar_invalid_api_key_errors_total") >= 1, true);
      assert.equal(await metricValue(h.metrics, "sidecar_initialization_errors_total"), 1);
      assert.equal(h.upstream.status().loaded, false);
      const result = await h.upstream.reader.read("acme", undefined);
      assert.equal(result.source, "unavailable");
      const connections = h.upstream.stream?.connections ?? 0;
      await sleep(200);
      assert.equal(h.upstream.stream?.connections, connections);
    } finally {
      await h.close();
    }
  });
});
