// A tiny control plane for the sync role tests: an HTTP/2 server on 127.0.0.1 that accepts
// FilterSync/Subscribe streams and lets the test push hand-encoded SyncMessages on each of them. Other
// methods are answered UNIMPLEMENTED, or, with `silentUnary`, accepted and never answered (a control
// plane that hangs).
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { decodeSubscribeRequest, type DecodedSubscribeRequest } from "./syncWire.ts";

const SUBSCRIBE_PATH = "/entitlementgate.sync.v1.FilterSync/Subscribe";

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

export class SubscribeStream {
  request: DecodedSubscribeRequest | undefined;
  /** Resolves when the client resets or the stream otherwise ends. */
  readonly closed: Promise<void>;
  private received = Buffer.alloc(0);
  private requestWaiters: Array<() => void> = [];

  constructor(readonly stream: http2.ServerHttp2Stream, readonly headers: http2.IncomingHttpHeaders) {
    this.closed = new Promise((resolve) => stream.once("close", () => resolve()));
    stream.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      if (this.received.length >= 5) {
        const length = this.received.readUInt32BE(1);
        if (this.received.length >= 5 + length && this.request === undefined) {
          this.request = decodeSubscribeRequest(new Uint8Array(this.received.subarray(5, 5 + length)));
          for (const w of this.requestWaiters.splice(0)) w();
        }
      }
    });
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
  }

  async subscribeRequest(): Promise<DecodedSubscribeRequest> {
    if (this.request === undefined) await new Promise<void>((resolve) => this.requestWaiters.push(resolve));
    return this.request!;
  }

  send(message: Uint8Array): void {
    this.stream.write(frame(message));
  }

  /** Ends the stream with a gRPC status in trailers. */
  end(grpcStatus: number, message = ""): void {
    this.stream.once("wantTrailers", () => {
      this.stream.sendTrailers({ "grpc-status": String(grpcStatus), ...(message ? { "grpc-message": message } : {}) });
    });
    this.stream.end();
  }

  get destroyed(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }
}

export class SyncServer {
  port = 0;
  readonly streams: SubscribeStream[] = [];
  /** Paths of the non-Subscribe calls received, in order. */
  readonly unaryPaths: string[] = [];
  private readonly server = http2.createServer();
  private waiters: Array<(s: SubscribeStream) => void> = [];
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private readonly silent: http2.ServerHttp2Stream[] = [];

  constructor(private readonly options: { silentUnary?: boolean } = {}) {
    this.server.on("session", (session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
    });
    this.server.on("stream", (stream, headers) => {
      if (headers[":path"] !== SUBSCRIBE_PATH) {
        this.unaryPaths.push(String(headers[":path"]));
        if (this.options.silentUnary) {
          // Read the request and say nothing; close() resets it.
          stream.resume();
          this.silent.push(stream);
          return;
        }
        stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "12" }, { endStream: true });
        return;
      }
      const subscribe = new SubscribeStream(stream, headers);
      this.streams.push(subscribe);
      const waiter = this.waiters.shift();
      if (waiter) waiter(subscribe);
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** The stream number `index` (0-based), waiting for it to arrive. */
  async stream(index: number, timeoutMs = 2000): Promise<SubscribeStream> {
    const existing = this.streams[index];
    if (existing) return existing;
    return await new Promise<SubscribeStream>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no subscribe stream #${index} within ${timeoutMs} ms`)), timeoutMs);
      const check = (): void => {
        const s = this.streams[index];
        if (s) {
          clearTimeout(timer);
          resolve(s);
        } else {
          this.waiters.push(() => check());
        }
      };
      check();
    });
  }

  async close(): Promise<void> {
    for (const s of this.streams) if (!s.destroyed) s.stream.close(http2.constants.NGHTTP2_CANCEL);
    for (const s of this.silent) if (!s.destroyed) s.close(http2.constants.NGHTTP2_CANCEL);
    for (const session of this.sessions) session.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Polls `condition` on the real event loop until it holds. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}
