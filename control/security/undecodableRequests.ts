// A request whose bytes are not a valid protobuf message is the client's error: INVALID_ARGUMENT, not the
// INTERNAL grpc-js answers when a deserializer throws (which reads as a server bug and is retried by some
// clients). The decoder is wrapped to return the failure as a value, and an interceptor answers it.
import * as grpc from "@grpc/grpc-js";

const UNDECODABLE = Symbol("undecodable request");

interface Undecodable {
  [UNDECODABLE]: string;
}

function isUndecodable(message: unknown): message is Undecodable {
  return typeof message === "object" && message !== null && UNDECODABLE in message;
}

/** Why the request did not decode, when `message` is what decodingFailuresAsValues returned for it. */
export function undecodableReason(message: unknown): string | undefined {
  return isUndecodable(message) ? message[UNDECODABLE] : undefined;
}

/** A decoder that returns its failure as a value (see undecodableReason) instead of throwing. */
export function decodingFailuresAsValues(decode: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      return { [UNDECODABLE]: err instanceof Error ? err.message : String(err) } satisfies Undecodable;
    }
  };
}

/** The same service with request decoding that never throws. */
export function decodeFailuresAsValues(definition: grpc.ServiceDefinition): grpc.ServiceDefinition {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(definition)) {
    out[name] = { ...method, requestDeserialize: decodingFailuresAsValues(method.requestDeserialize) };
  }
  return out as grpc.ServiceDefinition;
}

/** The INVALID_ARGUMENT text for request bytes that do not decode (also used by the fast path). */
export function undecodableDetails(methodName: string, reason: string): string {
  return `request: not a valid ${methodName} request message (${reason})`;
}

/** Answers a request marked by decodeFailuresAsValues with INVALID_ARGUMENT before the handler sees it. */
export const undecodableRequestInterceptor: grpc.ServerInterceptor = (method, call) => {
  const listener = new grpc.ServerListenerBuilder()
    .withOnReceiveMessage((message: unknown, next) => {
      if (!isUndecodable(message)) {
        next(message);
        return;
      }
      const methodName = method.path.slice(method.path.lastIndexOf("/") + 1);
      call.sendStatus({ code: grpc.status.INVALID_ARGUMENT, details: undecodableDetails(methodName, message[UNDECODABLE]) });
    })
    .build();
  return new grpc.ServerInterceptingCall(call, new grpc.ResponderBuilder().withStart((next) => next(listener)).build());
};
