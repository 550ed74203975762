// The few pieces of the gRPC-over-HTTP/2 wire the fast path writes and reads itself: the 5-byte
// length prefix, `grpc-timeout`, and `grpc-message` as grpc-js encodes it (so clients read the same text).

/** A response frame: prefix and message in one buffer, so one DATA write carries both. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(message.byteLength + 5);
  out[0] = 0;
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

const TIMEOUT = /(\d{1,8})\s*([HMSmun])/;
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** Milliseconds from a `grpc-timeout` value (grpc-js's reading: rounded down to whole ms); undefined when invalid. */
export function parseGrpcTimeout(value: string): number | undefined {
  const match = TIMEOUT.exec(value);
  if (match === null) return undefined;
  return (Number(match[1]) * (UNIT_MS[match[2] ?? ""] ?? 0)) | 0;
}

/** grpc-js sends `encodeURI(details)`; a lone surrogate (which encodeURI refuses) becomes U+FFFD first. */
export function encodeGrpcMessage(details: string): string {
  try {
    return encodeURI(details);
  } catch {
    return encodeURI(details.replace(/[\ud800-\udfff]/g, (c, i: number, s: string) => (isPaired(s, i) ? c : "\ufffd")));
  }
}

function isPaired(s: string, i: number): boolean {
  const code = s.charCodeAt(i);
  if (code <= 0xdbff) {
    const next = s.charCodeAt(i + 1);
    return next >= 0xdc00 && next <= 0xdfff;
  }
  const prev = s.charCodeAt(i - 1);
  return prev >= 0xd800 && prev <= 0xdbff;
}
