// A server interceptor that refuses every call without the right `authorization: Bearer` metadata with
// UNAUTHENTICATED, before the handler runs (a refused Subscribe never sees a snapshot).
import * as grpc from "@grpc/grpc-js";
import type { BearerToken } from "./bearerToken.ts";

export interface BearerAuthOptions {
  token: BearerToken;
  /** Only calls whose path starts with one of these are checked; default: every call. */
  pathPrefixes?: readonly string[];
  /** Called once per refused call (metrics, a debug log line). */
  onRefused?: (path: string, peer: string) => void;
}

export function bearerAuthInterceptor(options: BearerAuthOptions): grpc.ServerInterceptor {
  return (method, call) => {
    const checked = options.pathPrefixes === undefined || options.pathPrefixes.some((p) => method.path.startsWith(p));
    if (!checked) return new grpc.ServerInterceptingCall(call);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const values = metadata.get("authorization");
        // Two authorization values are ambiguous: refuse rather than pick one.
        const header = values.length === 1 && typeof values[0] === "string" ? values[0] : undefined;
        if (options.token.accepts(header)) {
          next(metadata);
          return;
        }
        options.onRefused?.(method.path, call.getPeer());
        call.sendStatus({
          code: grpc.status.UNAUTHENTICATED,
          details: header === undefined ? "missing authorization metadata (Bearer token)" : "invalid bearer token",
        });
      })
      .build();
    const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}
