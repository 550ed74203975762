// Resuming a paused HTTP stream from a root callback (gRPC answer, tick): the root makes the stream the
// effective context, then continues it or answers it locally.
import { proxy_continue_stream, proxy_set_effective_context } from "./imports";
import { Status } from "./constants";

export namespace StreamType {
  export const HTTP_REQUEST: i32 = 0;
  export const HTTP_RESPONSE: i32 = 1;
}

/** false when the host no longer knows the context (the downstream went away). */
export function setEffectiveContext(contextId: u32): bool {
  return proxy_set_effective_context(contextId) == Status.OK;
}

export function continueRequest(): bool {
  return proxy_continue_stream(StreamType.HTTP_REQUEST) == Status.OK;
}
