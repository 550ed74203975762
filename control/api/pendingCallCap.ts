// MAX_INFLIGHT_UPSTREAM on the API port, counted where it matters: a call takes a slot only when its
// handler's answer is pending (a miss waiting on Stigg, a report on its way). A cache hit is answered
// before any slot is looked at, so when Stigg is down and waiting misses fill the cap, customers the
// control plane already holds are still answered; only another call that would wait is refused.
import * as grpc from "@grpc/grpc-js";
import type { InflightLimiter } from "../limits/inflightLimit.ts";
import { overloadedDetails } from "../limits/grpcLimitInterceptors.ts";
import { CallStatusError, type UnaryHandler, type UnaryMethods } from "./unaryCall.ts";

export interface PendingCallCap {
  limiter: InflightLimiter;
  /** The setting that sets the cap, named in the refusal. */
  settingName: string;
  /** Called once per refused call (metrics). */
  onRefused?: () => void;
}

/** The same methods, each taking a slot of `cap` while its answer is pending and refused when none is free. */
export function capPendingCalls(set: UnaryMethods, cap: PendingCallCap): UnaryMethods {
  const methods: Record<string, UnaryHandler<unknown, unknown>> = {};
  for (const [name, handler] of Object.entries(set.methods)) methods[name] = (request, context) => capped(handler(request, context), cap);
  return { ...set, methods };
}

function capped<Res>(answer: Res | Promise<Res>, cap: PendingCallCap): Res | Promise<Res> {
  if (!(answer instanceof Promise)) return answer;
  if (!cap.limiter.acquire()) {
    // The work already started goes on (a miss still fills the cache for the next call); nobody waits for it.
    answer.catch(() => undefined);
    cap.onRefused?.();
    throw new CallStatusError(grpc.status.RESOURCE_EXHAUSTED, overloadedDetails(cap.limiter.max, cap.settingName));
  }
  const release = (): void => cap.limiter.release();
  answer.then(release, release);
  return answer;
}
