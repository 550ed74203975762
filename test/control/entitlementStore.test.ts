import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeEntry } from "../../control/codec/entryCodec.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import type { StoreChange } from "../../control/store/storeTypes.ts";

function customer(customerId: string, limit = 10, resourceId?: string): CustomerEntitlements {
  return {
    customerId,
    ...(resourceId ? { resourceId } : {}),
    entitlements: [
      { featureId: "calls", featureType: "NUMBER", meterType: "Incremental", usageLimit: limit, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
      { featureId: "reports", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    ],
  };
}

test("counts one version per change and stores the encoded entry", () => {
  const store = new EntitlementStore();
  assert.equal(store.version, 0);
  assert.equal(store.upsert(customer("a")), true);
  assert.equal(store.version, 1);
  assert.deepEqual(decodeEntry(store.get("a")!.bytes, "a").entitlements.map((e) => e.featureId), ["calls", "reports"]);
  assert.equal(store.upsert(customer("a")), false, "an identical upsert is not a change");
  assert.equal(store.version, 1);
  assert.equal(store.remove("a"), true);
  assert.equal(store.remove("a"), false);
  assert.equal(store.version, 2);
});

test("keeps customer and customer+resource entries apart", () => {
  const store = new EntitlementStore();
  store.upsert(customer("a"));
  store.upsert(customer("a", 5, "site-1"));
  assert.equal(store.size, 2);
  assert.equal(store.get("a", "site-1")!.resourceId, "site-1");
  assert.equal(store.get("a")!.resourceId, undefined);
  assert.equal(store.get("a", "")!.key, "a", "an empty resource id is the customer-level entry");
});

test("turns replaceAll into upserts for changed values and removals for vanished ones", () => {
  const store = new EntitlementStore();
  store.replaceAll([customer("a"), customer("b"), customer("c")]);
  const batches: StoreChange[][] = [];
  store.onChange((changes) => batches.push([...changes]));
  const reversed = customer("a");
  reversed.entitlements.reverse();
  const result = store.replaceAll([reversed, customer("b", 20), customer("d")]);
  assert.deepEqual(result, { upserted: 2, removed: 1, unchanged: 1 });
  assert.equal(batches.length, 1, "one batch per replaceAll");
  assert.deepEqual(
    batches[0]!.map((c) => [c.customerId, c.version, c.bytes.length > 0]),
    [["b", 4, true], ["d", 5, true], ["c", 6, false]],
  );
});

test("serves the deltas after a version while the ring still holds them", () => {
  const store = new EntitlementStore({ deltaRingSize: 3 });
  for (const id of ["a", "b", "c", "d"]) store.upsert(customer(id));
  assert.deepEqual(store.changesSince(4), []);
  assert.deepEqual(store.changesSince(2)!.map((c) => c.customerId), ["c", "d"]);
  assert.deepEqual(store.changesSince(1)!.map((c) => c.customerId), ["b", "c", "d"]);
  assert.equal(store.changesSince(0), undefined, "version 1 fell out of the ring");
  assert.equal(store.changesSince(9), undefined, "a version from the future cannot be resumed");
});

test("adds reported usage to metered features only", () => {
  const store = new EntitlementStore();
  store.upsert(customer("a"));
  assert.equal(store.addUsage("a", undefined, "calls", 3), "applied");
  assert.equal(store.addUsage("a", undefined, "calls", 2.5), "applied");
  assert.equal(store.get("a")!.value.entitlements.find((e) => e.featureId === "calls")!.currentUsage, 5.5);
  assert.equal(store.addUsage("a", undefined, "reports", 1), "feature-not-metered");
  assert.equal(store.addUsage("nobody", undefined, "calls", 1), "customer-not-found");
  assert.equal(store.version, 3);
});

test("gives each process start its own epoch", () => {
  assert.notEqual(new EntitlementStore().epoch, new EntitlementStore().epoch);
});
