// Server interceptors that refuse a call with RESOURCE_EXHAUSTED before its handler runs: one per client
// address and rate, one for a global cap on calls in progress. Both apply only to the methods named,
// so health checks and the sync stream are never throttled by check traffic.
import * as grpc from "@grpc/grpc-js";
import type { InflightLimiter } from "./inflightLimit.ts";
import type { PeerRateLimiter } from "./peerRateLimiter.ts";

interface Refusal {
  code: grpc.status;
  details: string;
}

export type MethodSelector = (path: string) => boolean;

/** Full method paths (`/package.Service/Method`) or whole services (`/package.Service/`). */
export function methodsNamed(paths: readonly string[]): MethodSelector {
  const exact = new Set(paths.filter((p) => !p.endsWith("/")));
  const services = paths.filter((p) => p.endsWith("/"));
  return (path) => exact.has(path) || services.some((s) => path.startsWith(s));
}

/**
 * Runs `admit` when the call's metadata arrives (after the interceptors before this one, such as the
 * bearer token check, let it through) and refuses the call with `admit`'s status, if it returns one,
 * before the handler starts.
 */
function admitting(
  call: grpc.ServerInterceptingCallInterface,
  admit: () => Refusal | undefined,
  onEnd?: () => void,
): grpc.ServerInterceptingCall {
  const listener = new grpc.ServerListenerBuilder()
    .withOnReceiveMetadata((metadata, next) => {
      const refusal = admit();
      if (refusal) call.sendStatus(refusal);
      else next(metadata);
    })
    .withOnCancel(() => onEnd?.())
    .build();
  const responder = new grpc.ResponderBuilder()
    .withStart((next) => next(listener))
    .withSendStatus((status, next) => {
      onEnd?.();
      next(status);
    })
    .build();
  return new grpc.ServerInterceptingCall(call, responder);
}

/** Address without the port: every connection from one client shares the bucket. */
function peerAddress(call: grpc.ServerInterceptingCallInterface): string {
  return call.getConnectionInfo().remoteAddress ?? call.getPeer();
}

export interface RateLimitInterceptorOptions {
  limiter: PeerRateLimiter;
  methods: MethodSelector;
  onRefused?: (path: string) => void;
}

export function rateLimitInterceptor(options: RateLimitInterceptorOptions): grpc.ServerInterceptor {
  return (method, call) => {
    if (!options.methods(method.path)) return new grpc.ServerInterceptingCall(call);
    return admitting(call, () => {
      if (options.limiter.tryTake(peerAddress(call))) return undefined;
      options.onRefused?.(method.path);
      return {
        code: grpc.status.RESOURCE_EXHAUSTED,
        details: `rate limit exceeded: more than ${options.limiter.ratePerSecond} calls per second from this client (CHECK_RATE_LIMIT_PER_SECOND)`,
      };
    });
  };
}

export interface InflightInterceptorOptions {
  limiter: InflightLimiter;
  methods: MethodSelector;
  /** The setting that sets the cap, named in the refusal. */
  settingName: string;
  onRefused?: (path: string) => void;
}

export function inflightInterceptor(options: InflightInterceptorOptions): grpc.ServerInterceptor {
  return (method, call) => {
    if (!options.methods(method.path)) return new grpc.ServerInterceptingCall(call);
    // The slot is taken once the call is admitted and held until its status goes out or the client
    // goes away, whichever comes first (release is idempotent).
    let release: (() => void) | undefined;
    return admitting(
      call,
      () => {
        release = options.limiter.tryAcquire();
        if (release) return undefined;
        options.onRefused?.(method.path);
        return {
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: `server overloaded: ${options.limiter.max} calls already in progress (${options.settingName}); retry with backoff`,
        };
      },
      () => release?.(),
    );
  };
}
