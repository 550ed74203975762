// The status page's server-side sampling: rates from a real prom-client registry, counter resets,
// the window bound, and the bounded list of recently changed customers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Metrics } from "../../control/metrics/metrics.ts";
import { MetricSampler } from "../../control/observability/metricSampler.ts";
import { RecentChanges } from "../../control/observability/recentChanges.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

test("turns counter increases into per-second rates by result and counts fallbacks by cause", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const c = clock();
  const sampler = new MetricSampler({ registry: metrics.registry, intervalMs: 1000, windowSeconds: 60, now: c.now });
  await sampler.sampleNow();
  metrics.decisions.inc({ api: "sidecar", result: "allow", reason: "" }, 10);
  metrics.decisions.inc({ api: "ext_authz", result: "allow", reason: "" }, 10);
  metrics.decisions.inc({ api: "sidecar", result: "deny", reason: "FeatureNotFound" }, 4);
  metrics.fallbacks.inc({ cause: "upstream_unavailable" }, 3);
  metrics.cacheHits.inc(9);
  metrics.cacheMisses.inc(1);
  c.advance(2000);
  await sampler.sampleNow();

  const w = sampler.window();
  assert.deepEqual(w.times, [c.now()]);
  assert.deepEqual(w.decisionsPerSecond, { allow: [10], deny: [2], fallback: [0] });
  assert.deepEqual(w.decisionsInWindow, { allow: 20, deny: 4, fallback: 0 });
  assert.deepEqual(w.fallbacksInWindow, { upstream_unavailable: 3 });
  assert.equal(w.cacheHitsInWindow, 9);
  assert.equal(w.cacheMissesInWindow, 1);
});

test("a counter that went down counts as reset, not as negative traffic", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const c = clock();
  const sampler = new MetricSampler({ registry: metrics.registry, intervalMs: 1000, windowSeconds: 60, now: c.now });
  metrics.decisions.inc({ api: "sidecar", result: "allow", reason: "" }, 50);
  await sampler.sampleNow();
  metrics.decisions.reset();
  metrics.decisions.inc({ api: "sidecar", result: "allow", reason: "" }, 5);
  c.advance(1000);
  await sampler.sampleNow();
  assert.deepEqual(sampler.window().decisionsPerSecond.allow, [5]);
});

test("keeps only the window's samples", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const c = clock();
  const sampler = new MetricSampler({ registry: metrics.registry, intervalMs: 1000, windowSeconds: 5, now: c.now });
  for (let i = 0; i < 20; i++) {
    metrics.decisions.inc({ api: "sidecar", result: "deny", reason: "Unknown" }, i);
    await sampler.sampleNow();
    c.advance(1000);
  }
  const w = sampler.window();
  assert.equal(w.times.length, 5);
  assert.deepEqual(w.decisionsPerSecond.deny, [15, 16, 17, 18, 19]);
  assert.equal(w.totals.decisions.deny, 190);
});

test("the timer samples by itself and stops", async () => {
  const metrics = new Metrics({ processMetrics: false });
  const sampler = new MetricSampler({ registry: metrics.registry, intervalMs: 20, windowSeconds: 5 });
  sampler.start();
  metrics.decisions.inc({ api: "sidecar", result: "allow", reason: "" });
  await new Promise((r) => setTimeout(r, 120));
  sampler.stop();
  const w = sampler.window();
  assert.ok(w.times.length >= 2, `${w.times.length} samples`);
  assert.equal(w.decisionsInWindow.allow, 1);
  const count = w.times.length;
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(sampler.window().times.length, count);
});

test("recent changes keep one line per customer, newest first, within the bound", () => {
  const store = new EntitlementStore();
  const recent = new RecentChanges(3, () => 42);
  recent.follow(store);
  const customer = (id: string, limit: number) => ({
    customerId: id,
    entitlements: [{ featureId: "seats", featureType: "NUMBER" as const, meterType: "None" as const, usageLimit: limit, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 }],
  });
  store.replaceAll(["a", "b", "c", "d", "e"].map((id) => customer(id, 1)));
  assert.deepEqual(recent.list().map((c) => c.customerId), ["e", "d", "c"]);
  store.upsert(customer("c", 2));
  store.remove("e");
  assert.deepEqual(
    recent.list().map((c) => [c.customerId, c.removed]),
    [["e", true], ["c", false], ["d", false]],
  );
  assert.equal(recent.list()[0]!.version, store.version);
  assert.equal(recent.list()[0]!.atUnixMs, 42);
  recent.stop();
  store.upsert(customer("z", 1));
  assert.equal(recent.list()[0]!.customerId, "e");
});
