// Request bytes that are not a valid protobuf message, on the fast path: the decoder returns the failure
// as a value (control/security/undecodableRequests.ts's decodingFailuresAsValues, the one grpc-js's
// decoders are wrapped with too) and an admission step answers it with INVALID_ARGUMENT, in the place
// and with the text of that module's interceptor, which the fast path stands in for (one text,
// `undecodableDetails`; a test compares both answers).
import * as grpc from "@grpc/grpc-js";
import type { MethodAdmission, Refusal } from "../../limits/callAdmission.ts";
import { undecodableDetails, undecodableReason } from "../../security/undecodableRequests.ts";

class UndecodableAdmission implements MethodAdmission {
  constructor(private readonly methodName: string) {}

  checkMessage(message: unknown): Refusal | undefined {
    const reason = undecodableReason(message);
    if (reason === undefined) return undefined;
    return { code: grpc.status.INVALID_ARGUMENT, details: undecodableDetails(this.methodName, reason) };
  }
}

export function undecodableAdmission(path: string): MethodAdmission {
  return new UndecodableAdmission(path.slice(path.lastIndexOf("/") + 1));
}
