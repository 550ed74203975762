import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { capPendingCalls } from "../../control/api/pendingCallCap.ts";
import { createLogger } from "../../control/log.ts";
import { InflightLimiter } from "../../control/limits/inflightLimit.ts";
import type { UnaryMethods } from "../../control/api/unaryCall.ts";
import { CallStatusError, statusOf } from "../../control/api/unaryCall.ts";
import { deferred, type Deferred } from "./support/deferred.ts";

const context = { signal: new AbortController().signal, timeLeftMs: () => undefined };

/** One method answering at once ("hit") and one answering with whatever promise the test hands it ("miss"). */
function methods(pending: () => Promise<string>): UnaryMethods {
  return { logger: createLogger("silent"), methods: { Hit: () => "answer", Miss: () => pending() } };
}

test("answers a call that does not wait however many calls are waiting", () => {
  const limiter = new InflightLimiter(1);
  const capped = capPendingCalls(methods(() => new Promise(() => undefined)), { limiter, settingName: "MAX_INFLIGHT_UPSTREAM" });
  void capped.methods["Miss"]!({}, context);
  assert.equal(limiter.inflight, 1);
  for (let i = 0; i < 5; i++) assert.equal(capped.methods["Hit"]!({}, context), "answer");
  assert.equal(limiter.inflight, 1);
});

test("refuses a call that would wait once the cap is full, naming the setting, and lets its work finish", async () => {
  const limiter = new InflightLimiter(1);
  const started: Deferred<string>[] = [];
  let refusals = 0;
  const capped = capPendingCalls(
    methods(() => {
      const d = deferred<string>();
      started.push(d);
      return d.promise;
    }),
    { limiter, settingName: "MAX_INFLIGHT_UPSTREAM", onRefused: () => refusals++ },
  );
  const first = capped.methods["Miss"]!({}, context) as Promise<string>;
  let refusal: unknown;
  try {
    capped.methods["Miss"]!({}, context);
  } catch (error) {
    refusal = error;
  }
  assert.ok(refusal instanceof CallStatusError);
  assert.deepEqual(statusOf(refusal), { code: grpc.status.RESOURCE_EXHAUSTED, details: "server overloaded: 1 calls already in progress (MAX_INFLIGHT_UPSTREAM); retry with backoff" });
  assert.equal(refusals, 1);
  // The refused call's work was started and may fail later without an unhandled rejection.
  assert.equal(started.length, 2);
  started[1]!.reject(new Error("upstream down"));
  started[0]!.resolve("late answer");
  assert.equal(await first, "late answer");
});

test("gives the slot back when a waiting answer arrives or fails", async () => {
  const limiter = new InflightLimiter(2);
  const gates = [deferred<string>(), deferred<string>()];
  let next = 0;
  const capped = capPendingCalls(methods(() => gates[next++]!.promise), { limiter, settingName: "MAX_INFLIGHT_UPSTREAM" });
  const ok = capped.methods["Miss"]!({}, context) as Promise<string>;
  const failing = capped.methods["Miss"]!({}, context) as Promise<string>;
  assert.equal(limiter.inflight, 2);
  gates[0]!.resolve("x");
  gates[1]!.reject(new Error("no"));
  await ok;
  await assert.rejects(failing, /no/);
  assert.equal(limiter.inflight, 0);
});
