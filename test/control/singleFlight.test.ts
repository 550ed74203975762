import { test } from "node:test";
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { RELEASE_BATCH, SingleFlight, WaitAbortedError, WaitTimeoutError } from "../../control/concurrency/singleFlight.ts";
import { deferred } from "./support/deferred.ts";

test("runs the function once for 1,000 concurrent callers of one key", async () => {
  const flights = new SingleFlight<string, number>();
  let calls = 0;
  const gate = deferred<number>();
  const waiters = Array.from({ length: 1000 }, () =>
    flights.run("customer-1", () => {
      calls += 1;
      return gate.promise;
    }),
  );
  assert.equal(flights.size, 1);
  gate.resolve(42);
  const results = await Promise.all(waiters);
  assert.equal(calls, 1);
  assert.ok(results.every((r) => r === 42));
  assert.equal(flights.size, 0);
});

test("runs different keys independently", async () => {
  const flights = new SingleFlight<string, string>();
  const seen: string[] = [];
  const results = await Promise.all(
    ["a", "b", "a", "c", "b"].map((key) =>
      flights.run(key, async () => {
        seen.push(key);
        await sleep(5);
        return key.toUpperCase();
      }),
    ),
  );
  assert.deepEqual(results, ["A", "B", "A", "C", "B"]);
  assert.deepEqual(seen.sort(), ["a", "b", "c"]);
});

test("delivers one failure to every waiter and frees the key", async () => {
  const flights = new SingleFlight<string, number>();
  const gate = deferred<number>();
  const waiters = Array.from({ length: 10 }, () => flights.run("k", () => gate.promise));
  gate.reject(new Error("upstream down"));
  const settled = await Promise.allSettled(waiters);
  assert.ok(settled.every((s) => s.status === "rejected" && (s.reason as Error).message === "upstream down"));
  assert.equal(flights.has("k"), false);
  assert.equal(await flights.run("k", async () => 7), 7);
});

test("turns a synchronous throw into a rejection shared by the flight", async () => {
  const flights = new SingleFlight<string, number>();
  await assert.rejects(
    flights.run("k", () => {
      throw new Error("bad input");
    }),
    /bad input/,
  );
  assert.equal(flights.size, 0);
});

test("starts a fresh call for callers arriving after the flight settled", async () => {
  const flights = new SingleFlight<string, number>();
  let calls = 0;
  const fn = async (): Promise<number> => ++calls;
  assert.equal(await flights.run("k", fn), 1);
  assert.equal(await flights.run("k", fn), 2);
});

test("lets one waiter time out without cancelling the shared call", async () => {
  const flights = new SingleFlight<string, string>();
  const gate = deferred<string>();
  const impatient = flights.run("k", () => gate.promise, { timeoutMs: 10 });
  const patient = flights.run("k", () => gate.promise);
  await assert.rejects(impatient, (error: unknown) => error instanceof WaitTimeoutError && error.timeoutMs === 10);
  assert.equal(flights.has("k"), true);
  gate.resolve("done");
  assert.equal(await patient, "done");
});

test("lets one waiter abort without cancelling the shared call", async () => {
  const flights = new SingleFlight<string, string>();
  const gate = deferred<string>();
  const controller = new AbortController();
  const aborted = flights.run("k", () => gate.promise, { signal: controller.signal });
  const other = flights.run("k", () => gate.promise, { timeoutMs: 1000 });
  controller.abort("client went away");
  await assert.rejects(aborted, (error: unknown) => error instanceof WaitAbortedError && error.cause === "client went away");
  gate.resolve("value");
  assert.equal(await other, "value");
});

test("rejects at once for an already aborted signal but still runs the call for others", async () => {
  const flights = new SingleFlight<string, number>();
  let calls = 0;
  const gate = deferred<number>();
  const signal = AbortSignal.abort();
  await assert.rejects(
    flights.run(
      "k",
      () => {
        calls += 1;
        return gate.promise;
      },
      { signal },
    ),
    WaitAbortedError,
  );
  const later = flights.run("k", () => Promise.resolve(-1));
  gate.resolve(5);
  assert.equal(await later, 5);
  assert.equal(calls, 1);
});

test("does not leave an unhandled rejection when every waiter gave up before the call failed", async () => {
  const flights = new SingleFlight<string, number>();
  const gate = deferred<number>();
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on("unhandledRejection", onUnhandled);
  try {
    await assert.rejects(flights.run("k", () => gate.promise, { timeoutMs: 1 }), WaitTimeoutError);
    gate.reject(new Error("late failure"));
    await sleep(20);
    assert.deepEqual(unhandled, []);
    assert.equal(flights.size, 0);
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
});

test("releases a large flight's waiters in arrival order, one batch per event-loop turn", async () => {
  const flights = new SingleFlight<string, number>();
  const gate = deferred<number>();
  const order: number[] = [];
  const total = RELEASE_BATCH * 3 + 5;
  const waiters = Array.from({ length: total }, (_, i) => flights.run("k", () => gate.promise).then(() => order.push(i)));
  // Queued before the flight settles, so it runs after the settling turn's microtasks and before the
  // next batch: by then exactly the first batch has continued, whose answers can leave first.
  const afterFirstTurn = new Promise<number>((resolve) => setImmediate(() => resolve(order.length)));
  gate.resolve(1);
  assert.equal(await afterFirstTurn, RELEASE_BATCH);
  await Promise.all(waiters);
  assert.deepEqual(order, Array.from({ length: total }, (_, i) => i));
});

test("a waiter that timed out is not settled again when the flight ends", async () => {
  const flights = new SingleFlight<string, number>();
  const gate = deferred<number>();
  const early = flights.run("k", () => gate.promise, { timeoutMs: 1 });
  const patient = flights.run("k", () => gate.promise);
  await assert.rejects(early, WaitTimeoutError);
  gate.resolve(9);
  assert.equal(await patient, 9);
});
