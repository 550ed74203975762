// Limits that refuse a call with RESOURCE_EXHAUSTED before its handler runs: one per client address
// and rate, one for a global cap on calls in progress. Both apply only to the methods named, so health
// checks and the sync stream are never throttled by check traffic. Each is a plain admission step
// (callAdmission.ts) that grpc-js runs as an interceptor and the fast path calls directly.
import * as grpc from "@grpc/grpc-js";
import { admissionInterceptor, type AdmissionCall, type AdmissionStep, type MethodAdmission, type Refusal } from "./callAdmission.ts";
import type { InflightLimiter } from "./inflightLimit.ts";
import type { PeerRateLimiter } from "./peerRateLimiter.ts";

export type MethodSelector = (path: string) => boolean;

/** Full method paths (`/package.Service/Method`) or whole services (`/package.Service/`). */
export function methodsNamed(paths: readonly string[]): MethodSelector {
  const exact = new Set(paths.filter((p) => !p.endsWith("/")));
  const services = paths.filter((p) => p.endsWith("/"));
  return (path) => exact.has(path) || services.some((s) => path.startsWith(s));
}

export interface RateLimitInterceptorOptions {
  limiter: PeerRateLimiter;
  methods: MethodSelector;
  onRefused?: (path: string) => void;
}

class RateLimitAdmission implements MethodAdmission {
  constructor(
    private readonly options: RateLimitInterceptorOptions,
    private readonly path: string,
  ) {}

  admit(call: AdmissionCall): Refusal | undefined {
    if (this.options.limiter.tryTake(call.peerAddress())) return undefined;
    this.options.onRefused?.(this.path);
    return {
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: `rate limit exceeded: more than ${this.options.limiter.ratePerSecond} calls per second from this client (CHECK_RATE_LIMIT_PER_SECOND)`,
    };
  }
}

export function rateLimitStep(options: RateLimitInterceptorOptions): AdmissionStep {
  return { forMethod: (path) => (options.methods(path) ? new RateLimitAdmission(options, path) : undefined) };
}

export function rateLimitInterceptor(options: RateLimitInterceptorOptions): grpc.ServerInterceptor {
  return admissionInterceptor(rateLimitStep(options));
}

/** The RESOURCE_EXHAUSTED text of a full in-flight cap (the interceptor's and the API's pending-call cap). */
export function overloadedDetails(max: number, settingName: string): string {
  return `server overloaded: ${max} calls already in progress (${settingName}); retry with backoff`;
}

export interface InflightInterceptorOptions {
  limiter: InflightLimiter;
  methods: MethodSelector;
  /** The setting that sets the cap, named in the refusal. */
  settingName: string;
  onRefused?: (path: string) => void;
}

/** The slot is taken once the call is admitted and held until its status goes out or the client goes away. */
class InflightAdmission implements MethodAdmission {
  constructor(
    private readonly options: InflightInterceptorOptions,
    private readonly path: string,
  ) {}

  admit(): Refusal | undefined {
    if (this.options.limiter.acquire()) return undefined;
    this.options.onRefused?.(this.path);
    return {
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: overloadedDetails(this.options.limiter.max, this.options.settingName),
    };
  }

  release(): void {
    this.options.limiter.release();
  }
}

export function inflightStep(options: InflightInterceptorOptions): AdmissionStep {
  return { forMethod: (path) => (options.methods(path) ? new InflightAdmission(options, path) : undefined) };
}

export function inflightInterceptor(options: InflightInterceptorOptions): grpc.ServerInterceptor {
  return admissionInterceptor(inflightStep(options));
}
