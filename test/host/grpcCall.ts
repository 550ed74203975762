// proxy_grpc_stream / proxy_grpc_call carried out as real gRPC over HTTP/2: POST /<service>/<method>,
// 5-byte length-prefixed messages, status from trailers. Statuses for transport failures follow what
// Envoy's gRPC async client reports: no response at all -> UNAVAILABLE (Envoy's router answers a
// failed upstream connect with a trailers-only 14), reset mid-response -> INTERNAL, non-200 -> CANCELLED,
// trailers without grpc-status -> UNKNOWN.
import http2 from "node:http2";
import type { Clock, TimerHandle } from "./clock.ts";
import type { HeaderList } from "./headerMap.ts";
import { headersToList, headerValue } from "./httpCall.ts";
import type { ClusterTarget, UpstreamConnections } from "./upstreamConnections.ts";
import { GrpcCode } from "./abi.ts";

export interface GrpcEvents {
  initialMetadata(headers: HeaderList): void;
  message(bytes: Uint8Array): void;
  trailingMetadata(trailers: HeaderList): void;
  close(code: number, message: string): void;
}

export interface GrpcOutbound {
  send(message: Uint8Array, endStream: boolean): void;
  /** Half-close: no more messages from us; the server may keep sending. */
  closeSend(): void;
  /** RST_STREAM CANCEL; no further events. */
  cancel(): void;
}

const RESERVED_METADATA = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "host", "te", "content-type"]);

export function frameGrpcMessage(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** Splits a byte stream into gRPC messages, keeping any partial frame for the next chunk. */
export class GrpcDeframer {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Uint8Array[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Uint8Array[] = [];
    while (this.pending.length >= 5) {
      const len = this.pending.readUInt32BE(1);
      if (this.pending.length < 5 + len) break;
      out.push(new Uint8Array(this.pending.subarray(5, 5 + len)));
      this.pending = this.pending.subarray(5 + len);
    }
    return out;
  }
}

function decodeGrpcMessage(raw: string | undefined): string {
  if (raw === undefined) return "";
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

export interface GrpcOpenOptions {
  service: string;
  method: string;
  metadata: HeaderList;
  /** Unary calls: deadline through the host clock; 0 = none. */
  timeoutMs?: number;
  clock: Clock;
}

export function openGrpc(conns: UpstreamConnections, target: ClusterTarget, options: GrpcOpenOptions, events: GrpcEvents): GrpcOutbound {
  let finished = false;
  let timer: TimerHandle | undefined;
  let req: http2.ClientHttp2Stream | undefined;
  let gotResponse = false;
  let trailers: HeaderList | undefined;
  let httpStatus = 0;
  const deframer = new GrpcDeframer();

  function finish(code: number, message: string): void {
    if (finished) return;
    finished = true;
    timer?.cancel();
    events.close(code, message);
  }

  const headers: http2.OutgoingHttpHeaders = {
    ":method": "POST",
    ":path": `/${options.service}/${options.method}`,
    ":authority": `${target.host}:${target.port}`,
    ":scheme": "http",
    "content-type": "application/grpc",
    te: "trailers",
  };
  for (const [k, v] of options.metadata) {
    const key = k.toLowerCase();
    if (key.startsWith(":") || RESERVED_METADATA.has(key)) continue;
    const prev = headers[key];
    headers[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [String(prev), v];
  }
  if (options.timeoutMs !== undefined && options.timeoutMs > 0) headers["grpc-timeout"] = `${options.timeoutMs}m`;

  try {
    const stream = conns.session(target).request(headers, { endStream: false });
    req = stream;
    stream.on("response", (h, flags) => {
      gotResponse = true;
      httpStatus = Number(h[":status"] ?? 0);
      const list = headersToList(h);
      const endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
      // Like Envoy's AsyncStreamImpl::onHeaders: initial metadata is always reported (empty for a
      // trailers-only response); a non-200 answer without trailers-only grpc-status is CANCELLED.
      if (!finished) events.initialMetadata(endStream ? [] : list);
      if (endStream && h["grpc-status"] !== undefined) {
        trailers = list;
        return;
      }
      if (httpStatus !== 200) {
        stream.close(http2.constants.NGHTTP2_CANCEL);
        finish(GrpcCode.CANCELLED, `upstream HTTP status ${httpStatus}`);
        return;
      }
      if (endStream) {
        trailers = list;
      }
    });
    stream.on("data", (chunk: Buffer) => {
      for (const message of deframer.push(chunk)) {
        if (finished) return;
        events.message(message);
      }
    });
    stream.on("trailers", (h) => {
      trailers = headersToList(h);
    });
    stream.on("end", () => {
      if (finished) return;
      if (trailers !== undefined) {
        events.trailingMetadata(trailers);
        if (finished) return;
        const status = headerValue(trailers, "grpc-status");
        finish(status === undefined ? GrpcCode.UNKNOWN : Number(status), decodeGrpcMessage(headerValue(trailers, "grpc-message")));
      } else {
        finish(GrpcCode.INTERNAL, "stream ended without grpc-status");
      }
    });
    stream.on("error", () => undefined);
    stream.on("close", () => {
      if (finished) return;
      if (!gotResponse) finish(GrpcCode.UNAVAILABLE, "upstream connect error or disconnect/reset before headers");
      else finish(GrpcCode.INTERNAL, "upstream reset the stream");
    });
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      timer = options.clock.setTimer(options.timeoutMs, () => {
        if (finished) return;
        stream.close(http2.constants.NGHTTP2_CANCEL);
        finish(GrpcCode.DEADLINE_EXCEEDED, "deadline exceeded");
      });
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    queueMicrotask(() => finish(GrpcCode.UNAVAILABLE, message));
  }

  return {
    send(message, endStream) {
      if (req === undefined || finished || req.writableEnded) return;
      if (endStream) req.end(frameGrpcMessage(message));
      else req.write(frameGrpcMessage(message));
    },
    closeSend() {
      if (req !== undefined && !req.writableEnded) req.end();
    },
    cancel() {
      if (finished) return;
      finished = true;
      timer?.cancel();
      if (req !== undefined && !req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
    },
  };
}
