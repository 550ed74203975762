// Runs an async unary handler with the call's cancellation and deadline turned into an AbortSignal,
// and its failures turned into gRPC statuses. A cancelled call gets no answer (the client is gone)
// and its work is released through the signal. `runUnary` is the transport-independent part: grpc-js
// (`unary`) and the raw HTTP/2 fast path (fastPath/) both call it, so both answer alike.
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../log.ts";
import { UpstreamError } from "../read/readTypes.ts";
import { RequestError } from "./requestValidation.ts";

export interface CallContext {
  /** Aborted when the client cancels or the deadline passes. */
  signal: AbortSignal;
  /** Milliseconds left before the deadline; undefined without a deadline. */
  timeLeftMs(): number | undefined;
}

/** Answers at once (a cache hit) or with a promise; throws or rejects to fail the call. */
export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Res | Promise<Res>;

/** A service's RPCs by method name, free of any transport, and the logger their failures go to. */
export interface UnaryMethods {
  logger: Logger;
  methods: Readonly<Record<string, UnaryHandler<unknown, unknown>>>;
  /**
   * For a transport that decodes requests itself (the fast path): a method's request bytes decoded
   * straight into what its handler reads, which the handler then takes in place of the whole message;
   * undefined for bytes the projection does not cover, which are then decoded whole.
   */
  projections?: Readonly<Record<string, (bytes: Buffer) => object | undefined>>;
}

/** grpc-js handlers for every method of the set. */
export function unaryHandlers(set: UnaryMethods): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(set.methods)) out[name] = unary(name, set.logger, method);
  return out;
}

/** Told when the client cancels (or goes away); see UnaryCallSide.watchCancel. */
export interface CancelWatcher {
  onCallCancelled(): void;
}

/** What `runUnary` needs from a transport's call. */
export interface UnaryCallSide<Res> {
  /** Epoch ms; undefined without a deadline. */
  deadlineMs: number | undefined;
  isCancelled(): boolean;
  watchCancel(watcher: CancelWatcher): void;
  unwatchCancel(watcher: CancelWatcher): void;
  reply(response: Res): void;
  fail(status: { code: grpc.status; details: string }): void;
}

const UPSTREAM_STATUS: Readonly<Record<UpstreamError["kind"], grpc.status>> = {
  unauthenticated: grpc.status.UNAUTHENTICATED,
  unavailable: grpc.status.UNAVAILABLE,
  timeout: grpc.status.DEADLINE_EXCEEDED,
  rejected: grpc.status.INVALID_ARGUMENT,
  internal: grpc.status.INTERNAL,
};

/** A failure that is already a gRPC status (e.g. a limit refusing the call). */
export class CallStatusError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export function statusOf(error: unknown): { code: grpc.status; details: string } {
  if (error instanceof CallStatusError) return { code: error.code, details: error.message };
  if (error instanceof RequestError) return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof UpstreamError) return { code: UPSTREAM_STATUS[error.kind], details: error.message };
  return { code: grpc.status.INTERNAL, details: "internal error" };
}

function deadlineMs(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/** ReadOptions whose signal is made only when the reader looks at it (see readOptionsOf). */
class LazyReadOptions {
  timeoutMs?: number;

  constructor(private readonly context: CallContext) {
    const left = context.timeLeftMs();
    if (left !== undefined) this.timeoutMs = left;
  }

  get signal(): AbortSignal {
    return this.context.signal;
  }
}

/**
 * Read options for a call. The signal is made only when the reader looks at it: a cache hit never
 * does, and an AbortController is a good part of a hit's cost.
 */
export function readOptionsOf(context: CallContext): { readonly signal: AbortSignal; timeoutMs?: number } {
  return new LazyReadOptions(context);
}

/**
 * One call's context. A class rather than closures: under tsx every named closure costs a
 * defineProperty at creation (esbuild's keepNames), which showed at ~4% of a cache hit's CPU.
 */
class UnaryRun<Res> implements CallContext, CancelWatcher {
  private controller: AbortController | undefined;
  private abortedWith: Error | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly method: string,
    private readonly logger: Logger,
    private readonly call: UnaryCallSide<Res>,
  ) {}

  /**
   * Only a handler that returned a promise can be told to stop: cancellation and the deadline are
   * watched from then on. Both arrive as events, never while the handler runs, so none is missed.
   */
  watch(): void {
    const deadline = this.call.deadlineMs;
    this.call.watchCancel(this);
    if (deadline !== undefined) this.timer = setTimeout(() => this.abort(new Error("the call's deadline passed")), Math.max(0, deadline - Date.now()));
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortedWith !== undefined) this.controller.abort(this.abortedWith);
    }
    return this.controller.signal;
  }

  timeLeftMs(): number | undefined {
    const deadline = this.call.deadlineMs;
    return deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
  }

  onCallCancelled(): void {
    this.abort(new Error("the client cancelled the call"));
  }

  private abort(reason: Error): void {
    this.abortedWith ??= reason;
    this.controller?.abort(reason);
  }

  private finish(): void {
    if (this.timer) clearTimeout(this.timer);
    this.call.unwatchCancel(this);
  }

  succeeded(response: Res): void {
    this.finish();
    if (!this.call.isCancelled()) this.call.reply(response);
  }

  failed(error: unknown): void {
    this.finish();
    if (this.call.isCancelled()) return;
    const status = statusOf(error);
    if (status.code === grpc.status.INTERNAL) this.logger.error({ err: error, method: this.method }, "gRPC API call failed");
    this.call.fail(status);
  }
}

export function runUnary<Req, Res>(method: string, logger: Logger, handler: UnaryHandler<Req, Res>, request: Req, call: UnaryCallSide<Res>): void {
  const run = new UnaryRun(method, logger, call);
  let answer: Res | Promise<Res>;
  try {
    answer = handler(request, run);
  } catch (error) {
    // Handlers refuse a bad request synchronously (validation), before anything asynchronous starts.
    run.failed(error);
    return;
  }
  if (!(answer instanceof Promise)) {
    run.succeeded(answer);
    return;
  }
  run.watch();
  answer.then(
    (response) => run.succeeded(response),
    (error: unknown) => run.failed(error),
  );
}

export function unary<Req, Res>(method: string, logger: Logger, handler: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    let onCancelled: (() => void) | undefined;
    runUnary(method, logger, handler, call.request, {
      deadlineMs: deadlineMs(call as grpc.ServerUnaryCall<unknown, unknown>),
      isCancelled() {
        return call.cancelled;
      },
      watchCancel(watcher) {
        onCancelled = () => watcher.onCallCancelled();
        call.once("cancelled", onCancelled);
      },
      unwatchCancel() {
        if (onCancelled) call.removeListener("cancelled", onCancelled);
      },
      reply(response) {
        callback(null, response);
      },
      fail(status) {
        callback(status);
      },
    });
  };
}
