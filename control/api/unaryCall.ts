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

export type UnaryHandler<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

/** A service's RPCs by method name, free of any transport, and the logger their failures go to. */
export interface UnaryMethods {
  logger: Logger;
  methods: Readonly<Record<string, UnaryHandler<unknown, unknown>>>;
}

/** grpc-js handlers for every method of the set. */
export function unaryHandlers(set: UnaryMethods): grpc.UntypedServiceImplementation {
  const out: grpc.UntypedServiceImplementation = {};
  for (const [name, method] of Object.entries(set.methods)) out[name] = unary(name, set.logger, method);
  return out;
}

/** What `runUnary` needs from a transport's call. */
export interface UnaryCallSide<Res> {
  /** Epoch ms; undefined without a deadline. */
  deadlineMs: number | undefined;
  isCancelled(): boolean;
  /** Registers the cancellation listener; returns its removal. */
  onCancel(listener: () => void): () => void;
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

export function statusOf(error: unknown): { code: grpc.status; details: string } {
  if (error instanceof RequestError) return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof UpstreamError) return { code: UPSTREAM_STATUS[error.kind], details: error.message };
  return { code: grpc.status.INTERNAL, details: "internal error" };
}

function deadlineMs(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Read options for a call. The signal is made only when the reader looks at it: a cache hit never
 * does, and an AbortController is a good part of a hit's cost.
 */
export function readOptionsOf(context: CallContext): { readonly signal: AbortSignal; timeoutMs?: number } {
  const options: { readonly signal: AbortSignal; timeoutMs?: number } = {
    get signal() {
      return context.signal;
    },
  };
  const left = context.timeLeftMs();
  if (left !== undefined) options.timeoutMs = left;
  return options;
}

export function runUnary<Req, Res>(method: string, logger: Logger, handler: UnaryHandler<Req, Res>, request: Req, call: UnaryCallSide<Res>): void {
  const deadline = call.deadlineMs;
  let controller: AbortController | undefined;
  let abortedWith: Error | undefined;
  const abort = (reason: Error): void => {
    abortedWith ??= reason;
    controller?.abort(reason);
  };
  const removeCancel = call.onCancel(() => abort(new Error("the client cancelled the call")));
  const timer = deadline === undefined ? undefined : setTimeout(() => abort(new Error("the call's deadline passed")), Math.max(0, deadline - Date.now()));
  const context: CallContext = {
    get signal() {
      if (controller === undefined) {
        controller = new AbortController();
        if (abortedWith !== undefined) controller.abort(abortedWith);
      }
      return controller.signal;
    },
    timeLeftMs: () => (deadline === undefined ? undefined : Math.max(0, deadline - Date.now())),
  };
  const finish = (): void => {
    if (timer) clearTimeout(timer);
    removeCancel();
  };
  let pending: Promise<Res>;
  try {
    pending = handler(request, context);
  } catch (error) {
    // Handlers may refuse a request synchronously (validation) before anything asynchronous starts.
    pending = Promise.reject(error);
  }
  pending.then(
    (response) => {
      finish();
      if (!call.isCancelled()) call.reply(response);
    },
    (error: unknown) => {
      finish();
      if (call.isCancelled()) return;
      const status = statusOf(error);
      if (status.code === grpc.status.INTERNAL) logger.error({ err: error, method }, "gRPC API call failed");
      call.fail(status);
    },
  );
}

export function unary<Req, Res>(method: string, logger: Logger, handler: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    runUnary(method, logger, handler, call.request, {
      deadlineMs: deadlineMs(call as grpc.ServerUnaryCall<unknown, unknown>),
      isCancelled: () => call.cancelled,
      onCancel(listener) {
        call.once("cancelled", listener);
        return () => call.removeListener("cancelled", listener);
      },
      reply: (response) => callback(null, response),
      fail: (status) => callback(status),
    });
  };
}
