// Promise forms of a grpc-js unary call, for tests that hold a client loaded from a .proto (methods by name,
// responses as plain objects) and either expect an answer or expect the call to fail.
import assert from "node:assert/strict";
import type * as grpc from "@grpc/grpc-js";

type Unary = (request: object, callback: (err: grpc.ServiceError | null, response: Record<string, unknown>) => void) => void;

/** Calls `method` (as the loaded client names it, e.g. "GetBooleanEntitlement") with no deadline or metadata. */
export function unaryCall(client: grpc.Client, method: string, request: object): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
    fn(request, (err, response) => (err ? reject(err) : resolve(response)));
  });
}

/** The error a call fails with; the test fails if the call succeeds. */
export async function rejection(promise: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (err) {
    return err as grpc.ServiceError;
  }
  assert.fail("expected the call to fail");
}
