import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { decodeEntry } from "../../control/codec/entryCodec.ts";
import { rejection } from "./support/grpcUnary.ts";
import { fetchCustomer, reportUsage, StreamReader } from "./support/syncClient.ts";
import { customer, syncFixture } from "./support/syncFixture.ts";

test("fetches the encoded entry of a known customer", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a", 42));
  const response = await fetchCustomer(f.client, "a");
  assert.equal(response.entry.customerId, "a");
  assert.equal(response.entry.resourceId, "");
  assert.deepEqual(new Uint8Array(response.entry.value), f.store.get("a")!.bytes);
  assert.equal(response.version, "1");
  assert.equal(response.epoch, f.store.epoch);
});

test("fetches a customer + resource entry", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  f.store.upsert({ ...customer("a", 3), resourceId: "site-1" });
  const response = await fetchCustomer(f.client, "a", "site-1");
  assert.equal(response.entry.resourceId, "site-1");
  assert.equal(decodeEntry(response.entry.value).entitlements[0]!.usageLimit, 3);
});

test("answers an unknown customer with a CustomerNotFound entry, not an error", async (t) => {
  const f = await syncFixture(t);
  const response = await fetchCustomer(f.client, "nobody");
  assert.deepEqual(decodeEntry(response.entry.value, "nobody"), { customerId: "nobody", accessDeniedReason: "CustomerNotFound", entitlements: [] });
});

test("answers an unknown resource of a known customer with CustomerResourceNotFound", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  const response = await fetchCustomer(f.client, "a", "site-9");
  assert.equal(decodeEntry(response.entry.value).accessDeniedReason, "CustomerResourceNotFound");
});

test("rejects a fetch without customer_id as INVALID_ARGUMENT naming the field", async (t) => {
  const f = await syncFixture(t);
  const err = await rejection(fetchCustomer(f.client, ""));
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(err.details, "customer_id: must not be empty");
});

test("adds reported usage to the store and pushes it to subscribers as a DELTA", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  const reader = new StreamReader(f.client.Subscribe({ nodeId: "envoy-1" }));
  await reader.snapshot();
  const ack = await reportUsage(f.client, [
    { customerId: "a", featureId: "calls", delta: 3 },
    { customerId: "a", featureId: "calls", delta: 2 },
    { customerId: "a", featureId: "reports", delta: 1 },
    { customerId: "ghost", featureId: "calls", delta: 1 },
  ]);
  assert.equal(ack.accepted, 2, "only increments of known metered features count");
  assert.equal(f.store.get("a")!.value.entitlements.find((e) => e.featureId === "calls")!.currentUsage, 5);
  const m = await reader.next();
  assert.equal(m.kind, "MESSAGE_KIND_DELTA");
  assert.equal(m.version, "3");
  assert.equal(decodeEntry(m.entries[0]!.value).entitlements.find((e) => e.featureId === "calls")!.currentUsage, 5);
  reader.call.on("error", () => {});
  reader.cancel();
});

test("rejects a usage report with an invalid increment, naming its index, and applies none of it", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  const cases: [object, string][] = [
    [{ customerId: "a", featureId: "", delta: 1 }, "increments[1].feature_id: must not be empty"],
    [{ customerId: "", featureId: "calls", delta: 1 }, "increments[1].customer_id: must not be empty"],
    [{ customerId: "a", featureId: "calls", delta: Number.NaN }, "increments[1].delta: must be a finite number, got NaN"],
    [{ customerId: "a", featureId: "calls", delta: Number.POSITIVE_INFINITY }, "increments[1].delta: must be a finite number, got Infinity"],
  ];
  for (const [bad, details] of cases) {
    const err = await rejection(
      reportUsage(f.client, [{ customerId: "a", featureId: "calls", delta: 1 }, bad as { customerId: string; featureId: string; delta: number }]),
    );
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(err.details, details);
  }
  assert.equal(f.store.version, 1, "nothing was applied");
});
