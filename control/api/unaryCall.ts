// Runs an async unary handler with the call's cancellation and deadline turned into an AbortSignal,
// and its failures turned into gRPC statuses. A cancelled call gets no answer (the client is gone)
// and its work is released through the signal.
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

const UPSTREAM_STATUS: Readonly<Record<UpstreamError["kind"], grpc.status>> = {
  unauthenticated: grpc.status.UNAUTHENTICATED,
  unavailable: grpc.status.UNAVAILABLE,
  timeout: grpc.status.DEADLINE_EXCEEDED,
  rejected: grpc.status.INVALID_ARGUMENT,
  internal: grpc.status.INTERNAL,
};

export function statusOf(error: unknown): Partial<grpc.StatusObject> {
  if (error instanceof RequestError) return { code: grpc.status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof UpstreamError) return { code: UPSTREAM_STATUS[error.kind], details: error.message };
  return { code: grpc.status.INTERNAL, details: "internal error" };
}

function deadlineMs(call: grpc.ServerUnaryCall<unknown, unknown>): number | undefined {
  const deadline = call.getDeadline();
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return Number.isFinite(ms) ? ms : undefined;
}

export function unary<Req, Res>(method: string, logger: Logger, handler: UnaryHandler<Req, Res>): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const controller = new AbortController();
    const deadline = deadlineMs(call as grpc.ServerUnaryCall<unknown, unknown>);
    const onCancel = (): void => controller.abort(new Error("the client cancelled the call"));
    call.once("cancelled", onCancel);
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(() => controller.abort(new Error("the call's deadline passed")), Math.max(0, deadline - Date.now()));
    const context: CallContext = {
      signal: controller.signal,
      timeLeftMs: () => (deadline === undefined ? undefined : Math.max(0, deadline - Date.now())),
    };
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      call.removeListener("cancelled", onCancel);
    };
    handler(call.request, context).then(
      (response) => {
        finish();
        if (!call.cancelled) callback(null, response);
      },
      (error: unknown) => {
        finish();
        if (call.cancelled) return;
        const status = statusOf(error);
        if (status.code === grpc.status.INTERNAL) logger.error({ err: error, method }, "gRPC API call failed");
        callback(status);
      },
    );
  };
}
