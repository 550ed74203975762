// A raw node:http2 path for the hot unary check methods, on the very HTTP/2 servers grpc-js listens
// with: each server's `stream` listener is wrapped so a hot method's stream is served here and every
// other stream (other RPCs, health, reflection, unknown paths, compressed requests, wrong content
// types) goes to grpc-js untouched. One port, one TLS setup, one set of sessions and HTTP/2 settings.
// grpc-js 1.14 has no public hook for this: its servers are read from `Server#http2Servers`, and an
// update that renames it makes `attachFastPath` throw at start (tested), never serve wrongly.
import type { Http2Server, Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../../log.ts";
import { runUnary, type CancelWatcher, type UnaryCallSide, type UnaryHandler, type UnaryMethods } from "../unaryCall.ts";
import { FastUnaryCall, type FastCallCodec, type FastCallLimits } from "./fastUnaryCall.ts";

/** grpc-js's defaults when the channel options leave them unset. */
const DEFAULT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_SEND_BYTES = -1;

export interface FastService {
  /** Applied to grpc-js too (transport.wrapService): the same decoders on both paths. */
  definition: grpc.ServiceDefinition;
  methods: UnaryMethods;
  /** Method names served by the fast path; each must be unary in `definition` and in `methods`. */
  fast: readonly string[];
}

export interface FastPathOptions {
  services: readonly FastService[];
  /** The interceptors grpc-js was given (transport.interceptors), applied in the same order. */
  interceptors?: readonly grpc.ServerInterceptor[];
  /** The server's channel options: max message sizes are read from them as grpc-js does. */
  channelOptions?: grpc.ChannelOptions;
}

export interface FastPathHandle {
  /** Full method paths served by the fast path. */
  paths: readonly string[];
  /** Calls answered by the fast path so far (tests, debugging). */
  calls(): number;
}

interface Route {
  name: string;
  path: string;
  logger: Logger;
  handler: UnaryHandler<unknown, unknown>;
  definition: grpc.ServerMethodDefinition<unknown, unknown>;
  codec: FastCallCodec;
}

type FullServerListener = Parameters<grpc.ServerInterceptingCallInterface["start"]>[0];
type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

/** The parts of grpc-js's Server this module reads; checked at attach time. */
interface GrpcServerInternals {
  http2Servers?: Map<Http2Server | Http2SecureServer, unknown>;
  onStreamOpened?: (stream: ServerHttp2Stream) => void;
}

function routesOf(services: readonly FastService[]): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const service of services) {
    for (const name of service.fast) {
      const method = service.definition[name];
      const handler = service.methods.methods[name];
      if (!method || !handler) throw new Error(`fast path: ${name} is not a method of the service`);
      if (method.requestStream || method.responseStream) throw new Error(`fast path: ${method.path} is not unary`);
      const definition = method as grpc.MethodDefinition<unknown, unknown>;
      routes.set(method.path, {
        name,
        path: method.path,
        logger: service.methods.logger,
        handler,
        definition: {
          path: method.path,
          requestStream: false,
          responseStream: false,
          requestDeserialize: definition.requestDeserialize,
          responseSerialize: definition.responseSerialize,
        },
        codec: { decode: definition.requestDeserialize, encode: definition.responseSerialize },
      });
    }
  }
  return routes;
}

function sizeOption(options: grpc.ChannelOptions | undefined, key: string, fallback: number): number {
  const value: unknown = options?.[key];
  return typeof value === "number" ? value : fallback;
}

/**
 * grpc-js's unary flow (server.js handleUnary) over any call, ending in the shared runUnary: the
 * listener at the top of the interceptor chain and runUnary's view of the call, in one object.
 */
class UnaryServing implements FullServerListener, UnaryCallSide<unknown> {
  deadlineMs: number | undefined;
  private request: unknown;
  private received = false;
  private cancelled = false;
  private watcher: CancelWatcher | undefined;

  constructor(
    private readonly call: grpc.ServerInterceptingCallInterface,
    private readonly route: Route,
  ) {}

  onReceiveMetadata(): void {
    this.call.startRead();
  }

  onReceiveMessage(message: unknown): void {
    if (this.received) {
      this.call.sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${this.route.path}` });
      return;
    }
    this.request = message;
    this.received = true;
    this.call.startRead();
  }

  onReceiveHalfClose(): void {
    if (!this.received) {
      this.call.sendStatus({ code: grpc.status.UNIMPLEMENTED, details: `Received no request message for server streaming method ${this.route.path}` });
      return;
    }
    const deadline = this.call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    this.deadlineMs = Number.isFinite(ms) ? ms : undefined;
    runUnary(this.route.name, this.route.logger, this.route.handler, this.request, this);
  }

  onCancel(): void {
    this.cancelled = true;
    this.watcher?.onCallCancelled();
  }

  isCancelled(): boolean {
    return this.cancelled;
  }

  watchCancel(watcher: CancelWatcher): void {
    this.watcher = watcher;
  }

  unwatchCancel(): void {
    this.watcher = undefined;
  }

  reply(response: unknown): void {
    // Sent first so each interceptor layer does not make its own empty Metadata in sendMessage.
    this.call.sendMetadata(new grpc.Metadata());
    this.call.sendMessage(response, () => this.call.sendStatus({ code: grpc.status.OK, details: "OK" }));
  }

  fail(status: { code: grpc.status; details: string }): void {
    this.call.sendStatus(status);
  }
}

/** Streams grpc-js must see: it answers 415, decompresses, or owns the method. */
function isFast(headers: IncomingHttpHeaders): boolean {
  const type = headers["content-type"];
  if (typeof type !== "string" || !type.startsWith("application/grpc")) return false;
  const encoding = headers["grpc-encoding"];
  return encoding === undefined || encoding === "identity";
}

export function attachFastPath(server: grpc.Server, options: FastPathOptions): FastPathHandle {
  const internals = server as unknown as GrpcServerInternals;
  const http2Servers = internals.http2Servers;
  if (!(http2Servers instanceof Map) || http2Servers.size === 0) {
    throw new Error("fast path: this @grpc/grpc-js has no bound Server#http2Servers; set GRPC_FAST_PATH=false");
  }
  const routes = routesOf(options.services);
  const interceptors = options.interceptors ?? [];
  const limits: FastCallLimits = {
    metadata: interceptors.length > 0,
    maxReceiveBytes: sizeOption(options.channelOptions, "grpc.max_receive_message_length", DEFAULT_MAX_RECEIVE_BYTES),
    maxSendBytes: sizeOption(options.channelOptions, "grpc.max_send_message_length", DEFAULT_MAX_SEND_BYTES),
  };
  const streamOpened = internals.onStreamOpened?.bind(server);
  let served = 0;

  for (const http2Server of http2Servers.keys()) {
    const grpcListeners = http2Server.listeners("stream") as StreamListener[];
    if (grpcListeners.length === 0) throw new Error("fast path: grpc-js registered no stream handler");
    http2Server.removeAllListeners("stream");
    http2Server.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
      const path = headers[":path"];
      const route = path === undefined ? undefined : routes.get(path);
      if (route === undefined || !isFast(headers)) {
        for (const listener of grpcListeners) listener.call(http2Server, stream, headers, flags, rawHeaders);
        return;
      }
      served++;
      // grpc-js counts open streams per session for its idle timeout; fast streams count too.
      streamOpened?.(stream);
      let call: grpc.ServerInterceptingCallInterface = new FastUnaryCall(stream, headers, route.codec, limits);
      for (const interceptor of interceptors) call = interceptor(route.definition, call);
      call.start(new UnaryServing(call, route));
    });
  }
  return { paths: [...routes.keys()], calls: () => served };
}
