import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeEntry } from "../../control/codec/entryCodec.ts";
import type { SyncMessageIn } from "../../control/grpc/syncProto.ts";
import { StreamReader } from "./support/syncClient.ts";
import { waitFor } from "./support/capturedLogger.ts";
import { customer, syncFixture, type SyncFixture } from "./support/syncFixture.ts";

function subscribe(f: SyncFixture, request: { resumeEpoch?: string; resumeVersion?: number } = {}): StreamReader {
  const reader = new StreamReader(f.client.Subscribe({ nodeId: "envoy-test", ...request }));
  return reader;
}

function close(reader: StreamReader): void {
  reader.call.on("error", () => {}); // the cancel itself surfaces as CANCELLED
  reader.cancel();
}

test("sends one complete SNAPSHOT for an empty store", async (t) => {
  const f = await syncFixture(t, { heartbeatMs: 1234 });
  const reader = subscribe(f);
  const [m] = await reader.snapshot();
  assert.equal(m!.kind, "MESSAGE_KIND_SNAPSHOT");
  assert.equal(m!.snapshotComplete, true);
  assert.equal(m!.entries.length, 0);
  assert.equal(m!.version, "0");
  assert.equal(m!.epoch, f.store.epoch);
  assert.equal(m!.heartbeatIntervalMs, 1234);
  assert.ok(Math.abs(Number(m!.sentAtUnixMs) - Date.now()) < 5000);
  close(reader);
});

test("chunks a snapshot of more than 1,000 customers", async (t) => {
  const f = await syncFixture(t);
  f.store.replaceAll(Array.from({ length: 2500 }, (_, i) => customer(`c-${i}`, i)));
  const reader = subscribe(f);
  const chunks = await reader.snapshot();
  assert.deepEqual(chunks.map((m) => m.entries.length), [1000, 1000, 500]);
  assert.deepEqual(chunks.map((m) => m.snapshotComplete), [false, false, true]);
  assert.ok(chunks.every((m) => m.version === "2500"));
  const limits = new Map(chunks.flatMap((m) => m.entries).map((e) => [e.customerId, decodeEntry(e.value).entitlements[0]!.usageLimit]));
  assert.equal(limits.size, 2500);
  assert.equal(limits.get("c-1777"), 1777);
  close(reader);
});

test("starts a new snapshot chunk before a message passes about 1 MiB", async (t) => {
  const f = await syncFixture(t);
  const enumValues = Array.from({ length: 500 }, (_, i) => `a-fairly-long-enum-value-${i}`);
  f.store.replaceAll(
    Array.from({ length: 100 }, (_, i) => ({
      customerId: `big-${i}`,
      entitlements: [{ featureId: "region", featureType: "ENUM" as const, enumValues, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 }],
    })),
  );
  const entryBytes = f.store.get("big-0")!.bytes.length;
  const reader = subscribe(f);
  const chunks = await reader.snapshot();
  const sizes = chunks.map((m) => m.entries.reduce((sum, e) => sum + e.value.length, 0));
  assert.ok(chunks.length >= Math.ceil((100 * entryBytes) / (1024 * 1024)), `${chunks.length} chunks of ${sizes.join(", ")} bytes`);
  assert.ok(sizes.every((n) => n <= 1024 * 1024), sizes.join(", "));
  assert.equal(chunks.flatMap((m) => m.entries).length, 100);
  close(reader);
});

test("splits a large DELTA and gives the new version only to its last chunk", async (t) => {
  const f = await syncFixture(t);
  const reader = subscribe(f);
  await reader.snapshot();
  f.store.replaceAll(Array.from({ length: 2500 }, (_, i) => customer(`c-${i}`)));
  const chunks = [await reader.next(), await reader.next(), await reader.next()];
  assert.deepEqual(chunks.map((m) => [m.kind, m.entries.length, m.version]), [
    ["MESSAGE_KIND_DELTA", 1000, "0"],
    ["MESSAGE_KIND_DELTA", 1000, "0"],
    ["MESSAGE_KIND_DELTA", 500, "2500"],
  ]);
  close(reader);
});

test("pushes an upsert as a DELTA within 100 ms", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  const reader = subscribe(f);
  await reader.snapshot();
  const started = performance.now();
  f.store.upsert(customer("a", 99));
  const m = await reader.next();
  const elapsedMs = performance.now() - started;
  assert.ok(elapsedMs < 100, `took ${elapsedMs.toFixed(1)} ms`);
  assert.equal(m.kind, "MESSAGE_KIND_DELTA");
  assert.equal(m.version, "2");
  assert.equal(m.entries.length, 1);
  assert.equal(m.entries[0]!.customerId, "a");
  assert.equal(decodeEntry(m.entries[0]!.value).entitlements[0]!.usageLimit, 99);
  close(reader);
});

test("delivers a change to the stream in under 10 ms at the median", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  const reader = subscribe(f);
  await reader.snapshot();
  const latenciesMs: number[] = [];
  for (let i = 0; i < 50; i++) {
    const started = performance.now();
    f.store.upsert(customer("a", 100 + i));
    const m = await reader.next();
    latenciesMs.push(performance.now() - started);
    assert.equal(m.version, String(i + 2));
  }
  latenciesMs.sort((a, b) => a - b);
  const median = latenciesMs[25]!;
  console.log(`change -> stream latency: median ${median.toFixed(2)} ms, max ${latenciesMs.at(-1)!.toFixed(2)} ms`);
  assert.ok(median < 10, `median ${median.toFixed(2)} ms`);
  close(reader);
});

test("pushes a removal as an entry with an empty value", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  f.store.upsert({ ...customer("a"), resourceId: "site-1" });
  const reader = subscribe(f);
  await reader.snapshot();
  f.store.remove("a", "site-1");
  const m = await reader.next();
  assert.equal(m.kind, "MESSAGE_KIND_DELTA");
  assert.deepEqual(m.entries.map((e) => [e.customerId, e.resourceId, e.value.length]), [["a", "site-1", 0]]);
  close(reader);
});

test("coalesces changes made in one event-loop turn into one DELTA", async (t) => {
  const f = await syncFixture(t);
  const reader = subscribe(f);
  await reader.snapshot();
  f.store.upsert(customer("a", 1));
  f.store.upsert(customer("b", 1));
  f.store.upsert(customer("a", 2));
  const m = await reader.next();
  assert.equal(m.version, "3");
  assert.deepEqual(m.entries.map((e) => [e.customerId, decodeEntry(e.value).entitlements[0]!.usageLimit]), [["b", 1], ["a", 2]]);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(reader.messages.length, 2, "no further message");
  close(reader);
});

test("resumes within an epoch with only the missed deltas", async (t) => {
  const f = await syncFixture(t);
  f.store.replaceAll([customer("a"), customer("b")]);
  const first = subscribe(f);
  const snapshot = await first.snapshot();
  const applied = snapshot.at(-1)!;
  close(first);
  f.store.upsert(customer("a", 50));
  f.store.remove("b");

  const second = subscribe(f, { resumeEpoch: applied.epoch, resumeVersion: Number(applied.version) });
  const m = await second.next();
  assert.equal(m.kind, "MESSAGE_KIND_DELTA");
  assert.equal(m.version, "4");
  assert.deepEqual(m.entries.map((e) => [e.customerId, e.value.length > 0]), [["a", true], ["b", false]]);
  close(second);
});

test("confirms an up-to-date resume with an immediate HEARTBEAT", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  const reader = subscribe(f, { resumeEpoch: f.store.epoch, resumeVersion: 1 });
  const m = await reader.next();
  assert.equal(m.kind, "MESSAGE_KIND_HEARTBEAT");
  assert.equal(m.version, "1");
  close(reader);
});

test("sends a snapshot to a subscriber from another epoch", async (t) => {
  const f = await syncFixture(t);
  f.store.upsert(customer("a"));
  const reader = subscribe(f, { resumeEpoch: "an-earlier-process", resumeVersion: 1 });
  const chunks = await reader.snapshot();
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.entries.length, 1);
  close(reader);
});

test("sends a snapshot when the missed deltas are no longer held", async (t) => {
  const f = await syncFixture(t, { store: { deltaRingSize: 2 } });
  for (const id of ["a", "b", "c", "d"]) f.store.upsert(customer(id));
  const reader = subscribe(f, { resumeEpoch: f.store.epoch, resumeVersion: 1 });
  const chunks = await reader.snapshot();
  assert.equal(chunks.at(-1)!.entries.length, 4);
  close(reader);
});

test("sends a HEARTBEAT when nothing else was sent for the interval", async (t) => {
  const f = await syncFixture(t, { heartbeatMs: 50 });
  f.store.upsert(customer("a"));
  const reader = subscribe(f);
  await reader.snapshot();
  const started = performance.now();
  const m = await reader.next(1000);
  const waitedMs = performance.now() - started;
  assert.equal(m.kind, "MESSAGE_KIND_HEARTBEAT");
  assert.equal(m.version, "1");
  assert.equal(m.entries.length, 0);
  assert.ok(waitedMs >= 40 && waitedMs < 500, `heartbeat after ${waitedMs.toFixed(0)} ms`);
  close(reader);
});

test("counts subscribers and drops their listeners when they cancel", async (t) => {
  const f = await syncFixture(t);
  const listenersBefore = f.store.listenerCount;
  const a = subscribe(f);
  const b = subscribe(f);
  await a.snapshot();
  await b.snapshot();
  assert.equal(f.sync.subscriberCount, 2);
  assert.equal(f.store.listenerCount, listenersBefore + 2);
  close(a);
  await waitFor("the cancel to reach the server", () => f.sync.subscriberCount === 1);
  assert.equal(f.store.listenerCount, listenersBefore + 1);
  close(b);
  await waitFor("the second cancel", () => f.sync.subscriberCount === 0);
  assert.equal(f.store.listenerCount, listenersBefore);
});

test("delivers the final state to a subscriber that stopped reading for a while", async (t) => {
  const f = await syncFixture(t);
  const bigEnum = Array.from({ length: 60 }, (_, i) => `value-number-${i}`);
  const wide = (id: string, limit: number) => ({
    ...customer(id, limit),
    entitlements: [...customer(id, limit).entitlements, { featureId: "region", featureType: "ENUM" as const, enumValues: bigEnum, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 }],
  });
  f.store.replaceAll(Array.from({ length: 3000 }, (_, i) => wide(`c-${i}`, 0)));
  const reader = subscribe(f);
  reader.call.pause();
  for (let round = 1; round <= 40; round++) {
    for (let i = round % 7; i < 3000; i += 29) f.store.upsert(wide(`c-${i}`, round));
    await new Promise((resolve) => setImmediate(resolve));
  }
  f.store.remove("c-1");
  await waitFor("the server to see backpressure", () => f.sync.backpressureEvents > 0);
  reader.call.resume();

  const state = new Map<string, Buffer>();
  let last: SyncMessageIn | undefined;
  while (last?.version !== String(f.store.version) || (last.kind === "MESSAGE_KIND_SNAPSHOT" && !last.snapshotComplete)) {
    last = await reader.next(5000);
    for (const e of last.entries) {
      if (e.value.length === 0) state.delete(e.customerId);
      else state.set(e.customerId, e.value);
    }
  }
  assert.equal(state.size, f.store.size);
  for (const entry of f.store.all()) assert.deepEqual(new Uint8Array(state.get(entry.customerId)!), entry.bytes, entry.customerId);
  close(reader);
});
