// How Envoy turns proxy_send_local_response into a response (Http::Utility::sendLocalReply): the
// plugin's headers on top of :status, a text/plain body unless the plugin set a content-type, and for
// gRPC requests a trailers-only 200 carrying grpc-status / grpc-message instead of a body.
import type { HeaderList } from "./headerMap.ts";
import type { LocalReply } from "./httpStream.ts";

const encoder = new TextEncoder();

export function isGrpcRequest(requestHeaders: HeaderList): boolean {
  for (const [k, v] of requestHeaders) {
    if (k === "content-type") return v === "application/grpc" || v.startsWith("application/grpc+") || v.startsWith("application/grpc;");
  }
  return false;
}

/** Envoy's Grpc::Utility::httpToGrpcStatus. */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13;
    case 401:
      return 16;
    case 403:
      return 7;
    case 404:
      return 12;
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;
    default:
      return 2;
  }
}

function percentEncodeGrpcMessage(text: string): string {
  let out = "";
  for (const byte of encoder.encode(text)) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}` : String.fromCharCode(byte);
  }
  return out;
}

export function encodeLocalReply(reply: LocalReply, requestHeaders: HeaderList): { headers: HeaderList; body: Uint8Array } {
  const has = (headers: HeaderList, key: string) => headers.some(([k]) => k === key);
  if (isGrpcRequest(requestHeaders)) {
    const headers: HeaderList = [[":status", "200"], ...reply.headers.filter(([k]) => k !== "content-length" && k !== "content-type")];
    headers.push(["content-type", "application/grpc"]);
    if (!has(headers, "grpc-status")) {
      headers.push(["grpc-status", String(reply.grpcStatus >= 0 ? reply.grpcStatus : httpToGrpcStatus(reply.status))]);
    }
    if (reply.body.length > 0) headers.push(["grpc-message", percentEncodeGrpcMessage(reply.body.replace(/\n$/, ""))]);
    return { headers, body: new Uint8Array(0) };
  }
  const headers: HeaderList = [[":status", String(reply.status)], ...reply.headers];
  const body = encoder.encode(reply.body);
  const withoutLength = headers.filter(([k]) => k !== "content-length");
  if (body.length === 0) return { headers: withoutLength.filter(([k]) => k !== "content-type"), body };
  withoutLength.push(["content-length", String(body.length)]);
  if (!has(withoutLength, "content-type")) withoutLength.push(["content-type", "text/plain"]);
  return { headers: withoutLength, body };
}
