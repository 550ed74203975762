// Bounds the text of every status a server sends. Handlers quote what they refuse (`unknown service
// "<name>"`), and grpc-js percent-encodes non-ASCII into the grpc-message trailer, up to 12 bytes per
// character: a 20,000-character name became a ~180 KB trailer that the client's HTTP/2 layer rejects,
// breaking the whole connection, every other call on it included (for Envoy's ext_authz connection,
// every user's). Truncating here covers every handler, present and future.
import type * as grpc from "@grpc/grpc-js";
import { admissionInterceptor, type AdmissionStep, type MethodAdmission, type OutgoingStatus } from "./callAdmission.ts";

export const DEFAULT_MAX_STATUS_DETAILS_CHARS = 1024;

export function truncateDetails(details: string, maxChars: number): string {
  if (details.length <= maxChars) return details;
  // Never split a surrogate pair: a lone half would be encoded as U+FFFD, or not at all.
  let end = maxChars;
  const code = details.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return `${details.slice(0, end)}… (${details.length} characters, truncated)`;
}

class DetailsBound implements MethodAdmission, AdmissionStep {
  constructor(private readonly maxChars: number) {}

  forMethod(): MethodAdmission {
    return this;
  }

  outgoing(status: OutgoingStatus): OutgoingStatus {
    return typeof status.details === "string" && status.details.length > this.maxChars ? { ...status, details: truncateDetails(status.details, this.maxChars) } : status;
  }
}

export function statusDetailsLimitStep(maxChars = DEFAULT_MAX_STATUS_DETAILS_CHARS): AdmissionStep {
  return new DetailsBound(maxChars);
}

export function statusDetailsLimitInterceptor(maxChars = DEFAULT_MAX_STATUS_DETAILS_CHARS): grpc.ServerInterceptor {
  return admissionInterceptor(statusDetailsLimitStep(maxChars));
}
