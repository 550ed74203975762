// Envoy shared data: one key-value store per vm_id, shared by every VM with that id. Values are copied
// on every get and set; a set with cas 0 always writes, a non-zero cas must match the stored one.
import { proxy_get_shared_data, proxy_set_shared_data } from "./imports";
import { Status } from "./constants";
import {
  HostScratch, OUT_PTR, OUT_SIZE, OUT_WORD, clearOutSlots, discardHostBytes, dropScratch, fillScratch, takeHostBytes, takeScratch,
} from "./memory";

export class SharedValue {
  constructor(public status: i32, public value: ArrayBuffer | null, public cas: u32) {}
  get found(): bool { return this.status == Status.OK; }
}

export function getSharedDataRaw(keyPtr: usize, keyLength: i32): SharedValue {
  clearOutSlots();
  store<u32>(OUT_WORD, 0);
  const status = proxy_get_shared_data(keyPtr, <usize>keyLength, OUT_PTR, OUT_SIZE, OUT_WORD);
  if (status != Status.OK) {
    discardHostBytes();
    return new SharedValue(status, null, 0);
  }
  const cas = load<u32>(OUT_WORD);
  return new SharedValue(status, takeHostBytes(), cas);
}

/**
 * The hot-path read: the value is copied into `scratch` (its `length` bytes; 0 when absent or empty) and
 * nothing is allocated. Returns the host status.
 */
export function readSharedDataInto(keyPtr: usize, keyLength: i32, scratch: HostScratch): i32 {
  fillScratch(scratch);
  store<u32>(OUT_WORD, 0);
  const status = proxy_get_shared_data(keyPtr, <usize>keyLength, OUT_PTR, OUT_SIZE, OUT_WORD);
  if (status != Status.OK) {
    dropScratch(scratch);
    return status;
  }
  takeScratch(scratch);
  return status;
}

export function getSharedData(key: string): SharedValue {
  const bytes = String.UTF8.encode(key);
  return getSharedDataRaw(changetype<usize>(bytes), bytes.byteLength);
}

/** Returns the host status: OK, or CAS_MISMATCH when `cas` is non-zero and stale. */
export function setSharedDataRaw(keyPtr: usize, keyLength: i32, value: ArrayBuffer, cas: u32): i32 {
  return proxy_set_shared_data(keyPtr, <usize>keyLength, changetype<usize>(value), <usize>value.byteLength, cas);
}

export function setSharedData(key: string, value: ArrayBuffer, cas: u32 = 0): i32 {
  const bytes = String.UTF8.encode(key);
  return setSharedDataRaw(changetype<usize>(bytes), bytes.byteLength, value, cas);
}
