import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startHarness, metricValue, type Harness } from "./stiggUpstreamHarness.ts";

describe("Stigg reader: reads", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test("fetches a miss from Edge, stores it for the filters, and answers the next read from the cache", async () => {
    const first = await h.upstream.reader.read("acme", undefined);
    assert.equal(first.source, "upstream");
    assert.deepEqual(first.entry?.entitlements.map((e) => e.featureId).sort(), ["api-calls", "sso"]);
    assert.ok(h.store.get("acme"), "the value is in the store (pushed to the filters)");
    const second = await h.upstream.reader.read("acme", undefined);
    assert.equal(second.source, "cache");
    assert.equal(h.stigg.requestCount("entitlements-state", { customerId: "acme", resourceId: null }), 1);
    assert.equal(await metricValue(h.metrics, "sidecar_cache_hits_total"), 1);
  });

  test("an unknown customer is an entry with CustomerNotFound, not a failure", async () => {
    const result = await h.upstream.reader.read("nobody", undefined);
    assert.equal(result.source, "upstream");
    assert.equal(result.entry?.accessDeniedReason, "CustomerNotFound");
  });

  test("a resource read also fetches the missing customer-level entry", async () => {
    h.store.remove("acme");
    const result = await h.upstream.reader.read("acme", "site-1");
    assert.equal(result.entry?.resourceId, "site-1");
    assert.equal(result.entry?.entitlements[0]?.accessDeniedReason, "Revoked");
    assert.ok(h.store.get("acme"), "customer-level entry present");
    assert.ok(h.store.get("acme", "site-1"), "resource entry present");
  });

  test("1,000 concurrent reads of one uncached customer cost exactly one Edge request", async () => {
    h.stigg.setCustomer("burst", { entitlements: { sso: { featureType: "BOOLEAN" } } });
    h.stigg.setFault("edge", { latencyMs: 50, times: 1 });
    const results = await Promise.all(Array.from({ length: 1000 }, () => h.upstream.reader.read("burst", undefined)));
    assert.ok(results.every((r) => r.source === "upstream" && r.entry?.customerId === "burst"));
    assert.equal(h.stigg.requestCount("entitlements-state", { customerId: "burst" }), 1);
  });

  test("an entry is re-fetched once an entitlement's validUntil has passed, even with the stream healthy", async () => {
    h.stigg.setCustomer("promo", { entitlements: { sso: { featureType: "BOOLEAN", validUntil: Date.now() + 300 } } });
    assert.equal((await h.upstream.reader.read("promo", undefined)).source, "upstream");
    assert.equal((await h.upstream.reader.read("promo", undefined)).source, "cache");
    await sleep(350);
    h.stigg.setFault("edge", { kind: "serverError", status: 500 });
    // Past validUntil the old value would over-grant: it is not served stale either.
    assert.equal((await h.upstream.reader.read("promo", undefined)).source, "unavailable");
    h.stigg.clearFaults();
    assert.equal((await h.upstream.reader.read("promo", undefined)).source, "upstream");
    assert.equal(h.stigg.requestCount("entitlements-state", { customerId: "promo" }) >= 3, true);
  });

  test("readCached answers a fresh held value at once as read does, and leaves misses, expired values and a missing customer-level entry to read", async () => {
    const reader = h.upstream.reader;
    h.stigg.setCustomer("held", { entitlements: { sso: { featureType: "BOOLEAN", validUntil: Date.now() + 300 } } });
    assert.equal(reader.readCached("held", undefined), undefined, "a miss is left to read");
    const fetched = await reader.read("held", undefined);
    const hits = await metricValue(h.metrics, "sidecar_cache_hits_total");
    const cached = reader.readCached("held", undefined);
    assert.deepEqual(cached, { entry: fetched.entry, source: "cache" });
    assert.deepEqual(await reader.read("held", undefined), cached);
    assert.equal(await metricValue(h.metrics, "sidecar_cache_hits_total"), hits + 2, "both count as hits");
    await sleep(350);
    assert.equal(reader.readCached("held", undefined), undefined, "past validUntil the value is not served");

    await reader.read("acme", "site-1");
    assert.equal(reader.readCached("acme", "site-1")?.source, "cache");
    h.store.remove("acme");
    assert.equal(reader.readCached("acme", "site-1"), undefined, "read must fetch the customer-level entry first");
    assert.equal((await reader.read("acme", "site-1")).source, "cache", "read answers the held resource entry...");
    for (let i = 0; i < 100 && !h.store.get("acme"); i++) await sleep(5);
    assert.ok(h.store.get("acme"), "...and fetches the customer-level entry");
  });

  test("reload bypasses Edge (GraphQL GetEntitlementsState) and rewrites the cache", async () => {
    await h.upstream.reader.read("acme", undefined);
    const edgeBefore = h.stigg.requestCount("entitlements-state", { customerId: "acme", resourceId: null });
    h.stigg.setCustomer("acme", { entitlements: { sso: { featureType: "BOOLEAN" }, export: { featureType: "BOOLEAN" } } });
    const reloaded = await h.upstream.reader.reload("acme", undefined);
    assert.deepEqual(reloaded, { entitledEntityExists: true });
    assert.equal(h.stigg.requestCount("entitlements-state", { customerId: "acme", resourceId: null }), edgeBefore);
    assert.equal(h.stigg.requestCount("GetEntitlementsState"), 1);
    assert.ok(h.store.get("acme")?.value.entitlements.some((e) => e.featureId === "export"));
    assert.deepEqual(await h.upstream.reader.reload("ghost", undefined), { entitledEntityExists: false });
  });
});

describe("Stigg reader: upstream faults", () => {
  let h: Harness;
  before(async () => {
    // No event stream: values age out after the short TTL, so faults are visible on the next read.
    h = await startHarness({ wsEnabled: false, missTimeoutMs: 250, tuning: { unstreamedTtlMs: 1 } });
  });
  after(async () => {
    await h.close();
  });

  async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
    const start = performance.now();
    const value = await fn();
    return { value, ms: performance.now() - start };
  }

  for (const [name, fault] of [
    ["down (5xx)", { kind: "serverError", status: 503 }],
    ["slow", { latencyMs: 2000 }],
    ["429-ing", { kind: "rateLimit" }],
    ["answering garbage", { kind: "malformedJson" }],
    ["answering wrong types", { kind: "wrongTypes" }],
    ["dropping sockets", { kind: "dropSocket" }],
  ] as const) {
    test(`Edge ${name}: a known customer is served stale within the miss timeout, an unknown one is unavailable, and it recovers`, async () => {
      h.stigg.clearFaults();
      const id = `fault-${name.replace(/\W+/g, "-")}`;
      h.stigg.setCustomer(id, { entitlements: { sso: { featureType: "BOOLEAN" } } });
      // Known to Stigg but never read: with numbers in it, so wrong types are visible.
      h.stigg.setCustomer(`${id}-new`, { entitlements: { seats: { featureType: "NUMBER", meterType: "Fluctuating", usageLimit: 5, hasSoftLimit: false } } });
      const fresh = await h.upstream.reader.read(id, undefined);
      assert.equal(fresh.source, "upstream");
      await sleep(5);
      h.stigg.setFault("edge", fault);
      const stale = await timed(() => h.upstream.reader.read(id, undefined));
      assert.equal(stale.value.source, "stale", stale.value.error);
      assert.deepEqual(stale.value.entry, fresh.entry, "the cached value was not poisoned");
      assert.ok(stale.ms < 250 + 100, `answered in ${stale.ms} ms`);
      const unknown = await timed(() => h.upstream.reader.read(`${id}-new`, undefined));
      assert.equal(unknown.value.source, "unavailable");
      assert.ok(unknown.ms < 250 + 100, `answered in ${unknown.ms} ms`);
      assert.deepEqual(h.store.get(id)?.value, fresh.entry, "the store still holds the good value");

      h.stigg.clearFaults();
      h.stigg.setCustomer(id, { entitlements: { sso: { featureType: "BOOLEAN" }, extra: { featureType: "BOOLEAN" } } });
      // Recovery needs no intervention; a 429 pauses Edge calls for the cooldown (200 ms here).
      const deadline = Date.now() + 3000;
      let recovered = await h.upstream.reader.read(id, undefined);
      while (recovered.source !== "upstream" && Date.now() < deadline) {
        await sleep(50);
        recovered = await h.upstream.reader.read(id, undefined);
      }
      assert.equal(recovered.source, "upstream");
      assert.equal(recovered.entry?.entitlements.length, 2);
    });
  }

  test("failed fetches count as network request errors", async () => {
    assert.ok((await metricValue(h.metrics, "sidecar_network_request_errors_total")) >= 6);
  });

  test("a caller's signal stops its wait at once", async () => {
    h.stigg.setFault("edge", { latencyMs: 2000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const result = await timed(() => h.upstream.reader.read("never-cached", undefined, { signal: controller.signal }));
    assert.equal(result.value.source, "unavailable");
    assert.ok(result.ms < 200, `answered in ${result.ms} ms`);
    h.stigg.clearFaults();
  });
});

describe("Stigg reader: staleness bound and Edge disabled", () => {
  test("MAX_STALENESS_SECONDS=0 never serves a last known value", async () => {
    const h = await startHarness({ wsEnabled: false, maxStalenessSeconds: 0, tuning: { unstreamedTtlMs: 1 } });
    try {
      assert.equal((await h.upstream.reader.read("acme", undefined)).source, "upstream");
      await sleep(5);
      h.stigg.setFault("edge", { kind: "serverError" });
      assert.equal((await h.upstream.reader.read("acme", undefined)).source, "unavailable");
    } finally {
      await h.close();
    }
  });

  test("with EDGE_ENABLED=false a miss is read through GraphQL", async () => {
    const h = await startHarness({ edgeEnabled: false });
    try {
      const result = await h.upstream.reader.read("acme", undefined);
      assert.equal(result.source, "upstream");
      assert.equal(result.entry?.entitlements.length, 2);
      assert.equal(h.stigg.requestCount("entitlements-state"), 0);
      assert.equal(h.stigg.requestCount("GetEntitlementsState"), 1);
    } finally {
      await h.close();
    }
  });
});
