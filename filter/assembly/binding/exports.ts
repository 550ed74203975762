// Every function Envoy calls, with the ABI 0.2.1 signatures, dispatched to the context registry. A
// callback for a context the registry does not know is answered with the neutral value (CONTINUE / true)
// instead of trapping.
import { Action } from "./constants";
import { allocateForHost } from "./memory";
import { createContext, deleteContext, findRoot, findStream } from "./contexts";

export function proxy_abi_version_0_2_1(): void {}

export function proxy_on_memory_allocate(size: usize): usize {
  return allocateForHost(size);
}

export function proxy_on_context_create(contextId: u32, parentContextId: u32): void {
  createContext(contextId, parentContextId);
}

export function proxy_on_vm_start(rootContextId: u32, vmConfigurationSize: u32): bool {
  const root = findRoot(rootContextId);
  return root === null ? true : root.onVmStart(vmConfigurationSize);
}

export function proxy_on_configure(rootContextId: u32, configurationSize: u32): bool {
  const root = findRoot(rootContextId);
  return root === null ? false : root.onConfigure(configurationSize);
}

export function proxy_on_tick(rootContextId: u32): void {
  const root = findRoot(rootContextId);
  if (root !== null) root.onTick();
}

export function proxy_on_request_headers(contextId: u32, numHeaders: u32, endOfStream: u32): i32 {
  const stream = findStream(contextId);
  return stream === null ? Action.CONTINUE : stream.onRequestHeaders(numHeaders, endOfStream != 0);
}

export function proxy_on_request_body(contextId: u32, bodySize: u32, endOfStream: u32): i32 {
  const stream = findStream(contextId);
  return stream === null ? Action.CONTINUE : stream.onRequestBody(bodySize, endOfStream != 0);
}

export function proxy_on_request_trailers(contextId: u32, numTrailers: u32): i32 {
  const stream = findStream(contextId);
  return stream === null ? Action.CONTINUE : stream.onRequestTrailers(numTrailers);
}

export function proxy_on_response_headers(contextId: u32, numHeaders: u32, endOfStream: u32): i32 {
  const stream = findStream(contextId);
  return stream === null ? Action.CONTINUE : stream.onResponseHeaders(numHeaders, endOfStream != 0);
}

export function proxy_on_response_body(contextId: u32, bodySize: u32, endOfStream: u32): i32 {
  const stream = findStream(contextId);
  return stream === null ? Action.CONTINUE : stream.onResponseBody(bodySize, endOfStream != 0);
}

export function proxy_on_response_trailers(contextId: u32, numTrailers: u32): i32 {
  const stream = findStream(contextId);
  return stream === null ? Action.CONTINUE : stream.onResponseTrailers(numTrailers);
}

export function proxy_on_http_call_response(rootContextId: u32, token: u32, numHeaders: u32, bodySize: u32, numTrailers: u32): void {
  const root = findRoot(rootContextId);
  if (root !== null) root.onHttpCallResponse(token, numHeaders, bodySize, numTrailers);
}

export function proxy_on_grpc_receive_initial_metadata(rootContextId: u32, token: u32, numElements: u32): void {
  const root = findRoot(rootContextId);
  if (root !== null) root.onGrpcReceiveInitialMetadata(token, numElements);
}

export function proxy_on_grpc_receive(rootContextId: u32, token: u32, messageSize: u32): void {
  const root = findRoot(rootContextId);
  if (root !== null) root.onGrpcReceive(token, messageSize);
}

export function proxy_on_grpc_receive_trailing_metadata(rootContextId: u32, token: u32, numElements: u32): void {
  const root = findRoot(rootContextId);
  if (root !== null) root.onGrpcReceiveTrailingMetadata(token, numElements);
}

export function proxy_on_grpc_close(rootContextId: u32, token: u32, statusCode: u32): void {
  const root = findRoot(rootContextId);
  if (root !== null) root.onGrpcClose(token, statusCode);
}

export function proxy_on_queue_ready(rootContextId: u32, queueId: u32): void {
  const root = findRoot(rootContextId);
  if (root !== null) root.onQueueReady(queueId);
}

export function proxy_on_done(contextId: u32): bool {
  const stream = findStream(contextId);
  if (stream !== null) return stream.onDone();
  const root = findRoot(contextId);
  return root === null ? true : root.onDone();
}

export function proxy_on_log(contextId: u32): void {
  const stream = findStream(contextId);
  if (stream !== null) stream.onLog();
}

export function proxy_on_delete(contextId: u32): void {
  deleteContext(contextId);
}
