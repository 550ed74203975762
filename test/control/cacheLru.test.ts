import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { LruByteCache } from "../../control/cache/lruByteCache.ts";
import { encodeEntry } from "../../control/codec/entryCodec.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import type { StoreChange } from "../../control/store/storeTypes.ts";
import { startHarness } from "./stiggUpstreamHarness.ts";

function customer(id: string, features = 3): CustomerEntitlements {
  return {
    customerId: id,
    entitlements: Array.from({ length: features }, (_, i) => ({ featureId: `feature-${i}`, featureType: "BOOLEAN" as const, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 })),
  };
}

const SIZE = encodeEntry(customer("c0")).length;

test("evicts the least recently used entries once the encoded bytes exceed the cap", async () => {
  const store = new EntitlementStore();
  const removed: StoreChange[] = [];
  store.onChange((changes) => removed.push(...changes.filter((c) => c.bytes.length === 0)));
  const cache = new LruByteCache(store, { maxBytes: SIZE * 3 });
  try {
    for (const id of ["c0", "c1", "c2"]) cache.put(customer(id), { fetchedAtMs: Date.now() });
    assert.equal(cache.totalBytes, SIZE * 3);
    // Reading c0 makes c1 the least recently used.
    assert.ok(cache.get("c0", undefined));
    cache.put(customer("c3"), { fetchedAtMs: Date.now() });
    await sleep(0);
    assert.deepEqual(removed.map((c) => c.customerId), ["c1"], "the eviction is a removal delta for the filters");
    assert.equal(store.get("c1"), undefined);
    assert.ok(store.get("c0") && store.get("c2") && store.get("c3"));
    assert.ok(cache.totalBytes <= SIZE * 3);
    assert.equal(cache.evictions, 1);
  } finally {
    cache.close();
  }
});

test("counts bytes by the encoded entry, so one large customer can evict several small ones", async () => {
  const store = new EntitlementStore();
  const cache = new LruByteCache(store, { maxBytes: SIZE * 4 });
  try {
    for (const id of ["a", "b", "c", "d"]) cache.put(customer(id), { fetchedAtMs: Date.now() });
    const big = customer("big", 9);
    cache.put(big, { fetchedAtMs: Date.now() });
    await sleep(0);
    assert.ok(store.get("big"));
    assert.ok(cache.totalBytes <= SIZE * 4, `${cache.totalBytes} > ${SIZE * 4}`);
    assert.ok(cache.evictions >= 2);
    assert.equal(store.get("a"), undefined);
    assert.equal(cache.size, store.size);
  } finally {
    cache.close();
  }
});

test("follows changes made to the store by others (usage increments, removals)", () => {
  const store = new EntitlementStore();
  const cache = new LruByteCache(store, { maxBytes: 1_000_000 });
  try {
    cache.put(customer("x"), { fetchedAtMs: 1 });
    store.remove("x");
    assert.equal(cache.totalBytes, 0);
    assert.equal(cache.size, 0);
    store.upsert(customer("y"));
    assert.equal(cache.totalBytes, SIZE);
    assert.deepEqual(cache.byRecency().map((e) => e.customerId), ["y"]);
  } finally {
    cache.close();
  }
});

test("an evicted customer is fetched from Edge again on its next read", async () => {
  const h = await startHarness({ cacheMaxSizeBytes: 1 }, { customers: { a: { entitlements: { sso: { featureType: "BOOLEAN" } } }, b: { entitlements: { sso: { featureType: "BOOLEAN" } } } } });
  try {
    assert.equal((await h.upstream.reader.read("a", undefined)).source, "upstream");
    assert.equal((await h.upstream.reader.read("b", undefined)).source, "upstream");
    await sleep(0);
    assert.equal(h.store.get("a"), undefined, "a was evicted for b");
    assert.equal((await h.upstream.reader.read("a", undefined)).source, "upstream");
    assert.equal(h.stigg.requestCount("entitlements-state", { customerId: "a" }), 2);
  } finally {
    await h.close();
  }
});
