// A fast-path call: what grpc-js's own server call does for one unary request, over the raw HTTP/2
// stream, behind the same ServerInterceptingCallInterface. Usually fastPath.ts's UnaryServing drives it
// directly and applies the limits as plain admission steps; when the transport has an interceptor with
// no plain form, the interceptors wrap it unchanged, as grpc-js would. Statuses, texts and deadline
// handling follow grpc-js 1.14 (server-interceptors.js); what differs is only cost: no stream-decoder,
// no per-call header objects or closures on success, one DATA write per answer.
import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import { TLSSocket } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import { encodeGrpcMessage, frameMessage, parseGrpcTimeout } from "./grpcWire.ts";

export interface FastCallLimits {
  /** False when nothing reads request metadata (no interceptors): an empty shared one is passed. */
  metadata: boolean;
  /** -1 = unbounded (grpc-js's reading of the channel options). */
  maxReceiveBytes: number;
  maxSendBytes: number;
}

export interface FastCallCodec {
  decode(bytes: Buffer): unknown;
  encode(message: unknown): Buffer;
  /** Prefix and message in one buffer, when a hand-written encoder covers the message; else undefined. */
  encodeFramed?(message: unknown): Buffer | undefined;
}

type CallInterface = grpc.ServerInterceptingCallInterface;
type MetricsRecorder = ReturnType<CallInterface["getMetricsRecorder"]>;
type ServerListener = Parameters<CallInterface["start"]>[0];
type StatusToSend = Parameters<CallInterface["sendStatus"]>[0];
type ConnectionInfo = ReturnType<CallInterface["getConnectionInfo"]>;
type AuthContext = ReturnType<CallInterface["getAuthContext"]>;

// Shared by every call: node copies header objects into its own form, never keeps or changes them.
const RESPONSE_HEADERS = { ":status": 200, "content-type": "application/grpc" } as const;
const OK_TRAILERS = { "grpc-status": "0", "grpc-message": "OK" } as const;
const RESPOND_WITH_TRAILERS = { waitForTrailers: true } as const;
const END_STREAM = { endStream: true } as const;
/** Request headers grpc-js keeps out of the metadata handlers and interceptors see. */
const TRANSPORT_HEADERS = ["grpc-timeout", "grpc-encoding", "grpc-accept-encoding", "accept-encoding", "te", "content-type"] as const;
const NO_METRICS = Object.freeze({}) as MetricsRecorder;
const EMPTY = Buffer.alloc(0);
const EMPTY_METADATA = new grpc.Metadata();

function requestMetadata(headers: IncomingHttpHeaders): grpc.Metadata {
  const metadata = grpc.Metadata.fromHttp2Headers(headers);
  for (const name of TRANSPORT_HEADERS) metadata.remove(name);
  return metadata;
}

const noop = (): void => {};

function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

function notifyListener(listener: ServerListener | undefined): void {
  listener?.onCancel();
}

function hasEntries(metadata: grpc.Metadata): boolean {
  for (const _ in metadata.getMap()) return true;
  return false;
}

/** Queued after the messages when the client half-closes; decoded messages are never this symbol. */
const HALF_CLOSE = Symbol("half-close");
/** The call a stream belongs to: the stream listeners are shared functions, not closures per call. */
const CALL = Symbol("fast unary call");
type CallStream = ServerHttp2Stream & { [CALL]: FastUnaryCall };

export class FastUnaryCall implements CallInterface {
  private listener: ServerListener | undefined;
  private readonly deadline: number = Infinity;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private cancelled = false;
  private cancelNotified = false;
  private done = false;
  private readPending = false;
  /** Messages (and HALF_CLOSE) received before the listener asked to read; made when first needed. */
  private queue: unknown[] | undefined;
  private pending: Buffer | undefined;
  private frame: Buffer | undefined;
  private responseHeaders: Readonly<Record<string, string | string[] | number>> | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly codec: FastCallCodec,
    private readonly limits: FastCallLimits,
  ) {
    // An error always comes with a close, which is where cancellation is handled. `on`, not `once`:
    // each fires at most once anyway, and `once` allocates a wrapper per listener.
    (stream as CallStream)[CALL] = this;
    stream.on("error", noop);
    stream.on("close", FastUnaryCall.onStreamClose);
    const timeout = headers["grpc-timeout"];
    if (typeof timeout === "string") {
      const ms = parseGrpcTimeout(timeout);
      if (ms === undefined) {
        process.nextTick(() => this.sendStatus({ code: grpc.status.INTERNAL, details: `Invalid grpc-timeout value "${timeout}"` }));
      } else {
        this.deadline = Date.now() + ms;
        this.deadlineTimer = setTimeout(() => this.sendStatus({ code: grpc.status.DEADLINE_EXCEEDED, details: "Deadline exceeded" }), ms);
      }
    }
    stream.on("data", FastUnaryCall.onStreamData);
    stream.on("end", FastUnaryCall.onStreamEnd);
  }

  private static onStreamClose(this: CallStream): void {
    this[CALL].notifyCancel();
  }

  private static onStreamData(this: CallStream, chunk: Buffer): void {
    this[CALL].onData(chunk);
  }

  private static onStreamEnd(this: CallStream): void {
    this[CALL].enqueue(HALF_CLOSE);
  }

  private isCancelled(): boolean {
    if (!this.cancelled && (this.stream.destroyed || this.stream.closed)) this.notifyCancel();
    return this.cancelled;
  }

  /** `tellListener` false: the listener sent the status itself and expects no onCancel for it. */
  private notifyCancel(tellListener = true): void {
    if (this.cancelNotified) return;
    this.cancelNotified = true;
    this.cancelled = true;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    if (tellListener) process.nextTick(notifyListener, this.listener);
  }

  /** Splits the request into messages whatever the DATA frame boundaries. */
  private onData(chunk: Buffer): void {
    if (this.done || this.isCancelled()) return;
    let buffer = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    while (buffer.length >= 5) {
      const length = buffer.readUInt32BE(1);
      if (this.limits.maxReceiveBytes !== -1 && length > this.limits.maxReceiveBytes) {
        this.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: `Received message larger than max (${length} vs ${this.limits.maxReceiveBytes})` });
        return;
      }
      if (buffer.length < 5 + length) break;
      if ((buffer[0]! & 1) === 1) {
        // Compressed requests (grpc-encoding set) are handed to grpc-js before a call is made; a
        // compressed flag on an identity stream is a broken client.
        this.sendStatus({ code: grpc.status.UNIMPLEMENTED, details: "Received a compressed message without grpc-encoding" });
        return;
      }
      const bytes = buffer.subarray(5, 5 + length);
      buffer = buffer.length === 5 + length ? EMPTY : buffer.subarray(5 + length);
      let message: unknown;
      try {
        message = this.codec.decode(bytes);
      } catch {
        this.sendStatus({ code: grpc.status.INTERNAL, details: "Error deserializing request" });
        return;
      }
      this.enqueue(message);
      if (this.done) return;
    }
    this.pending = buffer.length > 0 ? buffer : undefined;
  }

  private enqueue(item: unknown): void {
    if (this.queue === undefined || this.queue.length === 0) {
      // The usual order: the listener already asked to read, nothing is waiting.
      if (this.listener && this.readPending && !this.done) {
        this.dispatch(this.listener, item);
        return;
      }
      this.queue ??= [];
    }
    this.queue.push(item);
    this.deliver();
  }

  private deliver(): void {
    if (!this.listener || !this.readPending || this.done || this.queue === undefined || this.queue.length === 0) return;
    this.dispatch(this.listener, this.queue.shift());
  }

  private dispatch(listener: ServerListener, item: unknown): void {
    this.readPending = false;
    if (item === HALF_CLOSE) listener.onReceiveHalfClose();
    else listener.onReceiveMessage(item);
  }

  start(listener: ServerListener): void {
    if (this.isCancelled()) return;
    this.listener = listener;
    listener.onReceiveMetadata(this.limits.metadata ? requestMetadata(this.headers) : EMPTY_METADATA);
  }

  startRead(): void {
    if (this.isCancelled()) return;
    this.readPending = true;
    this.deliver();
  }

  sendMetadata(metadata: grpc.Metadata): void {
    if (this.done || this.isCancelled() || this.responseHeaders) return;
    // Interceptors send empty metadata before the message: the shared header object serves then.
    this.responseHeaders = hasEntries(metadata) ? { ...metadata.toHttp2Headers(), ...RESPONSE_HEADERS } : RESPONSE_HEADERS;
  }

  sendMessage(message: unknown, callback: () => void): void {
    if (this.done || this.isCancelled()) return;
    let encoded: Buffer;
    try {
      encoded = this.codec.encodeFramed?.(message) ?? frameMessage(this.codec.encode(message));
    } catch {
      this.sendStatus({ code: grpc.status.INTERNAL, details: "Error serializing response" });
      return;
    }
    if (this.limits.maxSendBytes !== -1 && encoded.length - 5 > this.limits.maxSendBytes) {
      this.sendStatus({ code: grpc.status.RESOURCE_EXHAUSTED, details: `Sent message larger than max (${encoded.length} vs. ${this.limits.maxSendBytes})` });
      return;
    }
    // Held until the status: headers, message and trailers then go out together.
    this.frame = encoded;
    callback();
  }

  sendStatus(status: StatusToSend): void {
    this.end(status, true);
  }

  /** The status from the listener at the top (no interceptors between): it is not told onCancel for it. */
  endFromListener(status: StatusToSend): void {
    this.end(status, false);
  }

  private end(status: StatusToSend, tellListener: boolean): void {
    if (this.done || this.isCancelled()) return;
    this.done = true;
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
    const code = status.code;
    const details = status.details ?? "";
    const custom = status.metadata && hasEntries(status.metadata) ? status.metadata.toHttp2Headers() : undefined;
    const stream = this.stream;
    if (this.frame !== undefined || this.responseHeaders !== undefined) {
      const trailers =
        code === grpc.status.OK && details === "OK" && custom === undefined
          ? OK_TRAILERS
          : { ...custom, "grpc-status": String(code), "grpc-message": encodeGrpcMessage(details) };
      stream.respond(this.responseHeaders ?? RESPONSE_HEADERS, RESPOND_WITH_TRAILERS);
      // wantTrailers fires once per stream; a shared listener spares a closure on every answer.
      if (trailers === OK_TRAILERS) stream.on("wantTrailers", sendOkTrailers);
      else stream.once("wantTrailers", () => stream.sendTrailers(trailers));
      if (this.frame !== undefined) stream.end(this.frame);
      else stream.end();
    } else {
      stream.respond({ ...custom, ...RESPONSE_HEADERS, "grpc-status": String(code), "grpc-message": encodeGrpcMessage(details) }, END_STREAM);
    }
    this.frame = undefined;
    this.notifyCancel(tellListener);
  }

  getPeer(): string {
    const socket = this.stream.session?.socket;
    if (!socket?.remoteAddress) return "unknown";
    return socket.remotePort ? `${socket.remoteAddress}:${socket.remotePort}` : socket.remoteAddress;
  }

  getDeadline(): grpc.Deadline {
    return this.deadline;
  }

  getHost(): string {
    return this.headers[":authority"] ?? this.headers.host ?? "";
  }

  getAuthContext(): AuthContext {
    const socket = this.stream.session?.socket;
    if (!(socket instanceof TLSSocket) || !socket.authorized) return {};
    const certificate = socket.getPeerCertificate();
    return { transportSecurityType: "ssl", sslPeerCertificate: certificate.raw ? certificate : undefined };
  }

  getConnectionInfo(): ConnectionInfo {
    const socket = this.stream.session?.socket;
    return { localAddress: socket?.localAddress, localPort: socket?.localPort, remoteAddress: socket?.remoteAddress, remotePort: socket?.remotePort };
  }

  /** ORCA per-call metrics are not recorded by this server (grpc.server_call_metric_recording is off). */
  getMetricsRecorder(): MetricsRecorder {
    return NO_METRICS;
  }
}
