// A raw node:http2 path for the hot unary check methods, on the very HTTP/2 servers grpc-js listens
// with: each server's `stream` listener is wrapped so a hot method's stream is served here and every
// other stream (other RPCs, health, reflection, unknown paths, compressed requests, wrong content
// types) goes to grpc-js untouched. One port, one TLS setup, one set of sessions and HTTP/2 settings.
// grpc-js 1.14 has no public hook for this: its servers are read from `Server#http2Servers`, and an
// update that renames it makes `attachFastPath` throw at start (tested), never serve wrongly.
import type { Http2Server, Http2SecureServer, IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { admissionStepOf, type AdmissionCall, type MethodAdmission, type OutgoingStatus } from "../../limits/callAdmission.ts";
import type { Logger } from "../../log.ts";
import { decodeFailuresAsValues, decodingFailuresAsValues, undecodableRequestInterceptor } from "../../security/undecodableRequests.ts";
import { runUnary, type CancelWatcher, type UnaryCallSide, type UnaryHandler, type UnaryMethods } from "../unaryCall.ts";
import { FastUnaryCall, type FastCallCodec, type FastCallLimits } from "./fastUnaryCall.ts";
import { HOT_REQUEST_DECODERS } from "./hotRequestDecoders.ts";
import { FRAMED_RESPONSE_ENCODERS } from "./hotResponseEncoders.ts";
import { undecodableAdmission } from "./undecodableRequest.ts";

/** grpc-js's defaults when the channel options leave them unset. */
const DEFAULT_MAX_RECEIVE_BYTES = 4 * 1024 * 1024;
const DEFAULT_MAX_SEND_BYTES = -1;

export interface FastService {
  /** As loaded, before transport.wrapService. */
  definition: grpc.ServiceDefinition;
  methods: UnaryMethods;
  /** Method names served by the fast path; each must be unary in `definition` and in `methods`. */
  fast: readonly string[];
}

export interface FastPathOptions {
  services: readonly FastService[];
  /**
   * The interceptors grpc-js was given (transport.interceptors). Those built from admission steps
   * (control/limits/callAdmission.ts) and the undecodable-request interceptor are applied as plain
   * calls in the same order; with any other interceptor, all of them wrap each call as in grpc-js.
   */
  interceptors?: readonly grpc.ServerInterceptor[];
  /** What grpc-js applied to each definition (transport.wrapService); used when interceptors wrap calls. */
  wrapService?: (definition: grpc.ServiceDefinition) => grpc.ServiceDefinition;
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
  /** For the interceptors when they wrap calls. */
  definition: grpc.ServerMethodDefinition<unknown, unknown>;
  codec: FastCallCodec;
  /** The limits as plain calls, in the interceptors' order; empty when the interceptors wrap calls. */
  admission: readonly MethodAdmission[];
  /** True when the interceptors wrap each call (one of them has no plain form). */
  wrapped: boolean;
}

type FullServerListener = Parameters<grpc.ServerInterceptingCallInterface["start"]>[0];
type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

/** The parts of grpc-js's Server this module reads; checked at attach time. */
interface GrpcServerInternals {
  http2Servers?: Map<Http2Server | Http2SecureServer, unknown>;
  onStreamOpened?: (stream: ServerHttp2Stream) => void;
}

/** The interceptors as plain admission calls for a method, or undefined when one of them has no plain form. */
type PlainAdmission = (path: string) => MethodAdmission[];

function plainAdmission(interceptors: readonly grpc.ServerInterceptor[]): PlainAdmission | undefined {
  const steps: ((path: string) => MethodAdmission | undefined)[] = [];
  for (const interceptor of interceptors) {
    if (interceptor === undecodableRequestInterceptor) {
      steps.push(undecodableAdmission);
      continue;
    }
    const step = admissionStepOf(interceptor);
    if (step === undefined) return undefined;
    steps.push((path) => step.forMethod(path));
  }
  return (path) => steps.map((forMethod) => forMethod(path)).filter((m): m is MethodAdmission => m !== undefined);
}

function routesOf(
  services: readonly FastService[],
  plain: PlainAdmission | undefined,
  undecodableAsValue: boolean,
  wrapService: ((definition: grpc.ServiceDefinition) => grpc.ServiceDefinition) | undefined,
): Map<string, Route> {
  const routes = new Map<string, Route>();
  for (const service of services) {
    // Wrapping calls, the interceptors see what grpc-js's decoders give them (transport.wrapService).
    const definitions = plain === undefined && wrapService ? wrapService(service.definition) : service.definition;
    for (const name of service.fast) {
      const method = definitions[name];
      const handler = service.methods.methods[name];
      if (!method || !handler) throw new Error(`fast path: ${name} is not a method of the service`);
      if (method.requestStream || method.responseStream) throw new Error(`fast path: ${method.path} is not unary`);
      const definition = method as grpc.MethodDefinition<unknown, unknown>;
      // The hand-written decoders stand in for proto-loader's own decoder, or go in front of the wrapper
      // that only turns its failures into values (their objects are the ones it passes through); never
      // in front of any other wrapper.
      const handDecodable = definitions === service.definition || wrapService === decodeFailuresAsValues;
      // A projection is no message at all: only when no interceptor wraps the call and could read it.
      const projection = plain !== undefined && handDecodable ? service.methods.projections?.[name] : undefined;
      const deserialize = handDecodable ? withHandDecoder(method.path, definition.requestDeserialize, projection) : definition.requestDeserialize;
      const decode = plain !== undefined && undecodableAsValue ? decodingFailuresAsValues(deserialize) : deserialize;
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
        codec: { decode, encode: definition.responseSerialize, ...framedEncoder(method.path) },
        admission: plain === undefined ? [] : plain(method.path),
        wrapped: plain === undefined,
      });
    }
  }
  return routes;
}

/**
 * The method's projection (its handler's own view of the bytes) when it has one, else its hand-written
 * request decoder, and proto-loader's for whatever neither covers.
 */
function withHandDecoder(path: string, deserialize: (bytes: Buffer) => unknown, projection: ((bytes: Buffer) => object | undefined) | undefined): (bytes: Buffer) => unknown {
  const hand = HOT_REQUEST_DECODERS.get(path);
  if (projection !== undefined) return hand === undefined ? (bytes) => projection(bytes) ?? deserialize(bytes) : (bytes) => projection(bytes) ?? hand(bytes) ?? deserialize(bytes);
  return hand === undefined ? deserialize : (bytes) => hand(bytes) ?? deserialize(bytes);
}

function framedEncoder(path: string): Pick<FastCallCodec, "encodeFramed"> {
  const encode = FRAMED_RESPONSE_ENCODERS.get(path);
  return encode ? { encodeFramed: encode } : {};
}

function sizeOption(options: grpc.ChannelOptions | undefined, key: string, fallback: number): number {
  const value: unknown = options?.[key];
  return typeof value === "number" ? value : fallback;
}

const OK_STATUS: OutgoingStatus = { code: grpc.status.OK, details: "OK" };

/**
 * grpc-js's unary flow (server.js handleUnary) over any call, ending in the shared runUnary: the
 * listener at the top of the call, runUnary's view of the call, and the route's limits as plain calls
 * (admit at the start, check the message, bound the status and release at the end), in one object.
 * A refusal by a step passes only the steps before it on its way out, as with interceptors.
 */
class UnaryServing implements FullServerListener, UnaryCallSide<unknown>, AdmissionCall {
  deadlineMs: number | undefined;
  private request: unknown;
  private received = false;
  private cancelled = false;
  private watcher: CancelWatcher | undefined;
  /** Steps whose `admit` let the call in and whose `release` is still owed. */
  private admitted = 0;
  private readonly admission: readonly MethodAdmission[];

  constructor(
    private readonly call: grpc.ServerInterceptingCallInterface,
    private readonly route: Route,
    /** The same call when no interceptor wraps it. */
    private readonly direct: FastUnaryCall | undefined,
  ) {
    this.admission = route.admission;
  }

  peerAddress(): string {
    return this.call.getConnectionInfo().remoteAddress ?? this.call.getPeer();
  }

  onReceiveMetadata(): void {
    const steps = this.admission;
    for (let i = 0; i < steps.length; i++) {
      const refusal = steps[i]!.admit?.(this);
      if (refusal !== undefined) {
        this.finish(refusal, i);
        return;
      }
      this.admitted = i + 1;
    }
    this.call.startRead();
  }

  onReceiveMessage(message: unknown): void {
    const steps = this.admission;
    for (let i = 0; i < steps.length; i++) {
      const refusal = steps[i]!.checkMessage?.(message);
      if (refusal !== undefined) {
        this.finish(refusal, i);
        return;
      }
    }
    if (this.received) {
      this.fail({ code: grpc.status.UNIMPLEMENTED, details: `Received a second request message for server streaming method ${this.route.path}` });
      return;
    }
    this.request = message;
    this.received = true;
    this.call.startRead();
  }

  onReceiveHalfClose(): void {
    if (!this.received) {
      this.fail({ code: grpc.status.UNIMPLEMENTED, details: `Received no request message for server streaming method ${this.route.path}` });
      return;
    }
    const deadline = this.call.getDeadline();
    const ms = deadline instanceof Date ? deadline.getTime() : deadline;
    this.deadlineMs = Number.isFinite(ms) ? ms : undefined;
    runUnary(this.route.name, this.route.logger, this.route.handler, this.request, this);
  }

  onCancel(): void {
    this.cancelled = true;
    this.releaseAdmitted();
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
    // Interceptors wrapping the call: sent first so each layer does not make its own empty Metadata in
    // sendMessage. Without them the fast call's shared headers serve.
    if (this.route.wrapped) this.call.sendMetadata(new grpc.Metadata());
    this.call.sendMessage(response, () => this.finish(OK_STATUS, this.admission.length));
  }

  fail(status: { code: grpc.status; details: string }): void {
    this.finish(status, this.admission.length);
  }

  /** Sends `status` out through steps [0, through) in reverse order, giving back what they took. */
  private finish(status: OutgoingStatus, through: number): void {
    const steps = this.admission;
    let out = status;
    for (let i = through - 1; i >= 0; i--) {
      const step = steps[i]!;
      if (i < this.admitted) step.release?.();
      if (step.outgoing) out = step.outgoing(out);
    }
    this.admitted = 0;
    // This listener is done with the call once its status is out: no onCancel is needed for it.
    if (this.direct) this.direct.endFromListener(out);
    else this.call.sendStatus(out);
  }

  private releaseAdmitted(): void {
    const steps = this.admission;
    for (let i = this.admitted - 1; i >= 0; i--) steps[i]!.release?.();
    this.admitted = 0;
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
  const interceptors = options.interceptors ?? [];
  const plain = plainAdmission(interceptors);
  const routes = routesOf(options.services, plain, interceptors.includes(undecodableRequestInterceptor), options.wrapService);
  // Interceptors that wrap calls get the call's metadata; plain steps never read it.
  const wrapping = plain === undefined ? interceptors : [];
  const limits: FastCallLimits = {
    metadata: wrapping.length > 0,
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
      const fast = new FastUnaryCall(stream, headers, route.codec, limits);
      let call: grpc.ServerInterceptingCallInterface = fast;
      for (const interceptor of wrapping) call = interceptor(route.definition, call);
      call.start(new UnaryServing(call, route, call === fast ? fast : undefined));
    });
  }
  return { paths: [...routes.keys()], calls: () => served };
}
