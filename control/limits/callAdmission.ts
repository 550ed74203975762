// The limits a gRPC call passes before its handler runs, as plain calls: admit at the call's start
// (rate limit, in-flight cap), check each request message, bound each status on its way out, give
// back what admit took when the call ends. grpc-js gets each step as a server interceptor built from
// it (`admissionInterceptor`); the raw HTTP/2 fast path (control/api/fastPath/) makes the same calls
// on the same instances directly, without grpc-js's per-call listener and responder objects.
import * as grpc from "@grpc/grpc-js";

export interface Refusal {
  code: grpc.status;
  details: string;
}

/** A status on its way out (grpc-js's StatusObject, metadata optional). */
export type OutgoingStatus = Parameters<grpc.ServerInterceptingCallInterface["sendStatus"]>[0];

/** What a step may look at when admitting a call. */
export interface AdmissionCall {
  /** The client's address without the port: every connection from one client shares it. */
  peerAddress(): string;
}

/** One step for one method. Every part is optional; a call passes the steps of a list in order. */
export interface MethodAdmission {
  /** At the call's start: a refusal, or undefined to let it in. What it takes, `release` gives back. */
  admit?(call: AdmissionCall): Refusal | undefined;
  /** The call ended (its status went out or the client went away) after `admit` let it in. Once per call. */
  release?(): void;
  /** Each request message: a refusal, or undefined to pass it on. */
  checkMessage?(message: unknown): Refusal | undefined;
  /** Each status on its way out, including refusals by the steps after this one. */
  outgoing?(status: OutgoingStatus): OutgoingStatus;
}

export interface AdmissionStep {
  /** The step for a method path (`/package.Service/Method`); undefined when it does not apply. */
  forMethod(path: string): MethodAdmission | undefined;
}

const STEPS = new WeakMap<grpc.ServerInterceptor, AdmissionStep>();

/** The plain step an interceptor was built from (admissionInterceptor); undefined for any other interceptor. */
export function admissionStepOf(interceptor: grpc.ServerInterceptor): AdmissionStep | undefined {
  return STEPS.get(interceptor);
}

/** Address without the port, as grpc-js reports the call's connection. */
export function peerAddressOf(call: grpc.ServerInterceptingCallInterface): string {
  return call.getConnectionInfo().remoteAddress ?? call.getPeer();
}

/**
 * The step as a grpc-js server interceptor. Incoming events pass interceptors in list order and
 * statuses in reverse, so a refusal by this step passes only the steps before it, as in the fast path.
 */
export function admissionInterceptor(step: AdmissionStep): grpc.ServerInterceptor {
  const interceptor: grpc.ServerInterceptor = (method, call) => {
    const admission = step.forMethod(method.path);
    if (admission === undefined) return new grpc.ServerInterceptingCall(call);
    let owed = false;
    const end = (): void => {
      if (!owed) return;
      owed = false;
      admission.release?.();
    };
    const listener = new grpc.ServerListenerBuilder();
    if (admission.admit) {
      const admit = admission.admit.bind(admission);
      const admissionCall: AdmissionCall = { peerAddress: () => peerAddressOf(call) };
      listener.withOnReceiveMetadata((metadata, next) => {
        const refusal = admit(admissionCall);
        if (refusal) {
          call.sendStatus(refusal);
          return;
        }
        owed = true;
        next(metadata);
      });
    }
    if (admission.checkMessage) {
      const check = admission.checkMessage.bind(admission);
      listener.withOnReceiveMessage((message: unknown, next) => {
        const refusal = check(message);
        if (refusal) call.sendStatus(refusal);
        else next(message);
      });
    }
    listener.withOnCancel(end);
    const responder = new grpc.ResponderBuilder()
      .withStart((next) => next(listener.build()))
      .withSendStatus((status, next) => {
        end();
        next(admission.outgoing ? admission.outgoing(status) : status);
      })
      .build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
  STEPS.set(interceptor, step);
  return interceptor;
}
