// Calls any method of a loaded service definition by name, with metadata and a deadline, the way a
// foreign client would (also with raw bytes as the request, for malformed-message tests).
import * as grpc from "@grpc/grpc-js";

export interface CallOptions {
  metadata?: grpc.Metadata;
  /** Every call in these tests has a deadline: a hang fails as DEADLINE_EXCEEDED, never blocks a test. */
  deadlineMs?: number;
}

function method(definition: grpc.ServiceDefinition, name: string): grpc.MethodDefinition<unknown, unknown> {
  const m = definition[name];
  if (!m) throw new Error(`no method ${name} in the service definition`);
  return m as grpc.MethodDefinition<unknown, unknown>;
}

export function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set("authorization", `Bearer ${token}`);
  return md;
}

export function unaryCall<Res = Record<string, unknown>>(
  client: grpc.Client,
  definition: grpc.ServiceDefinition,
  name: string,
  request: unknown,
  options: CallOptions = {},
): Promise<Res> {
  const m = method(definition, name);
  return call(client, m, m.requestSerialize, request, options) as Promise<Res>;
}

/** Sends `bytes` as the serialized request message, unchecked. */
export function rawUnaryCall(client: grpc.Client, definition: grpc.ServiceDefinition, name: string, bytes: Buffer, options: CallOptions = {}): Promise<unknown> {
  return call(client, method(definition, name), (b: Buffer) => b, bytes, options);
}

function call<Req>(client: grpc.Client, m: grpc.MethodDefinition<unknown, unknown>, serialize: (request: Req) => Buffer, request: Req, options: CallOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      m.path,
      serialize,
      m.responseDeserialize,
      request,
      options.metadata ?? new grpc.Metadata(),
      { deadline: Date.now() + (options.deadlineMs ?? 3000) },
      (err, response) => (err ? reject(err) : resolve(response)),
    );
  });
}

/** The first message of a server stream, then cancels it; rejects with the call's error. */
export function firstStreamMessage<Res = Record<string, unknown>>(
  client: grpc.Client,
  definition: grpc.ServiceDefinition,
  name: string,
  request: unknown,
  options: CallOptions = {},
): Promise<Res> {
  const m = method(definition, name);
  return new Promise((resolve, reject) => {
    const call = client.makeServerStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, request, options.metadata ?? new grpc.Metadata(), {
      deadline: Date.now() + (options.deadlineMs ?? 3000),
    });
    call.once("data", (message: Res) => {
      call.removeAllListeners("error");
      call.on("error", () => {});
      call.cancel();
      resolve(message);
    });
    call.once("error", reject);
  });
}

export async function failure(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error("expected the call to fail");
}
