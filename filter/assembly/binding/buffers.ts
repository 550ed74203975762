// Host buffers: plugin/VM configuration, bodies, gRPC and HTTP call messages.
import { proxy_get_buffer_bytes, proxy_set_buffer_bytes } from "./imports";
import { Status } from "./constants";
import { OUT_PTR, OUT_SIZE, clearOutSlots, discardHostBytes, takeHostBytes } from "./memory";
import { logDebug } from "./log";

/** Bytes [start, start + maxSize) of a buffer; null when the host has no such buffer. */
export function getBufferBytes(bufferType: i32, start: u32, maxSize: u32): ArrayBuffer | null {
  if (maxSize == 0) return new ArrayBuffer(0);
  clearOutSlots();
  const status = proxy_get_buffer_bytes(bufferType, start, maxSize, OUT_PTR, OUT_SIZE);
  if (status != Status.OK) {
    discardHostBytes();
    logDebug("proxy_get_buffer_bytes(" + bufferType.toString() + ") returned status " + status.toString());
    return null;
  }
  return takeHostBytes();
}

export function setBufferBytes(bufferType: i32, start: u32, size: u32, value: ArrayBuffer): bool {
  return proxy_set_buffer_bytes(bufferType, start, size, changetype<usize>(value), <usize>value.byteLength) == Status.OK;
}
