// gRPC calls and streams through Envoy's async client. Messages are plain protobuf bytes: Envoy adds and
// strips the gRPC length prefix. Callbacks arrive on the root context that opened the call.
import { proxy_grpc_call, proxy_grpc_cancel, proxy_grpc_close, proxy_grpc_send, proxy_grpc_stream, proxy_get_status } from "./imports";
import { Status } from "./constants";
import { OUT_PTR, OUT_SIZE, OUT_WORD, clearOutSlots, discardHostBytes, takeHostBytes } from "./memory";

export class GrpcStart {
  constructor(public status: i32, public token: u32) {}
  get ok(): bool { return this.status == Status.OK; }
}

export function grpcStream(cluster: string, service: string, method: string, initialMetadata: ArrayBuffer): GrpcStart {
  const upstream = String.UTF8.encode(cluster);
  const serviceBytes = String.UTF8.encode(service);
  const methodBytes = String.UTF8.encode(method);
  store<u32>(OUT_WORD, 0);
  const status = proxy_grpc_stream(
    changetype<usize>(upstream), <usize>upstream.byteLength,
    changetype<usize>(serviceBytes), <usize>serviceBytes.byteLength,
    changetype<usize>(methodBytes), <usize>methodBytes.byteLength,
    changetype<usize>(initialMetadata), <usize>initialMetadata.byteLength,
    OUT_WORD,
  );
  return new GrpcStart(status, status == Status.OK ? load<u32>(OUT_WORD) : 0);
}

export function grpcCall(
  cluster: string, service: string, method: string, initialMetadata: ArrayBuffer, message: ArrayBuffer, timeoutMs: u32,
): GrpcStart {
  const upstream = String.UTF8.encode(cluster);
  const serviceBytes = String.UTF8.encode(service);
  const methodBytes = String.UTF8.encode(method);
  store<u32>(OUT_WORD, 0);
  const status = proxy_grpc_call(
    changetype<usize>(upstream), <usize>upstream.byteLength,
    changetype<usize>(serviceBytes), <usize>serviceBytes.byteLength,
    changetype<usize>(methodBytes), <usize>methodBytes.byteLength,
    changetype<usize>(initialMetadata), <usize>initialMetadata.byteLength,
    changetype<usize>(message), <usize>message.byteLength,
    timeoutMs, OUT_WORD,
  );
  return new GrpcStart(status, status == Status.OK ? load<u32>(OUT_WORD) : 0);
}

export function grpcSend(token: u32, message: ArrayBuffer, endStream: bool): i32 {
  return proxy_grpc_send(token, changetype<usize>(message), <usize>message.byteLength, endStream ? 1 : 0);
}

/** Stops a call or stream without a close callback. */
export function grpcCancel(token: u32): i32 {
  return proxy_grpc_cancel(token);
}

/** Half-closes (stream) or closes (call). */
export function grpcClose(token: u32): i32 {
  return proxy_grpc_close(token);
}

/** The status message Envoy attaches to the last gRPC close or failed call ("" if none). */
export function lastStatusMessage(): string {
  clearOutSlots();
  store<u32>(OUT_WORD, 0);
  const status = proxy_get_status(OUT_WORD, OUT_PTR, OUT_SIZE);
  if (status != Status.OK) {
    discardHostBytes();
    return "";
  }
  return String.UTF8.decode(takeHostBytes());
}
