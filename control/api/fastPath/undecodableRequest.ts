// Request bytes that are not a valid protobuf message, on the fast path: the decoder returns the failure
// as a value and an admission step answers it with INVALID_ARGUMENT, in the place and with the text of
// control/security/undecodableRequests.ts's interceptor, which the fast path stands in for (one text,
// `undecodableDetails`; a test compares both answers).
import * as grpc from "@grpc/grpc-js";
import type { MethodAdmission, Refusal } from "../../limits/callAdmission.ts";
import { undecodableDetails } from "../../security/undecodableRequests.ts";

export class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/** A decoder that returns an UndecodableRequest instead of throwing. */
export function decodingFailuresAsValues(decode: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      return new UndecodableRequest(err instanceof Error ? err.message : String(err));
    }
  };
}

class UndecodableAdmission implements MethodAdmission {
  constructor(private readonly methodName: string) {}

  checkMessage(message: unknown): Refusal | undefined {
    if (!(message instanceof UndecodableRequest)) return undefined;
    return { code: grpc.status.INVALID_ARGUMENT, details: undecodableDetails(this.methodName, message.reason) };
  }
}

export function undecodableAdmission(path: string): MethodAdmission {
  return new UndecodableAdmission(path.slice(path.lastIndexOf("/") + 1));
}
