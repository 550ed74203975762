// Shared queues (keyed by vm_id and name). Not used by the filter yet; kept for the usage-report path.
import {
  proxy_dequeue_shared_queue, proxy_enqueue_shared_queue, proxy_register_shared_queue, proxy_resolve_shared_queue,
} from "./imports";
import { Status } from "./constants";
import { OUT_PTR, OUT_SIZE, OUT_WORD, clearOutSlots, discardHostBytes, takeHostBytes } from "./memory";

/** The queue id, or -1 when registration failed. */
export function registerSharedQueue(name: string): i64 {
  const bytes = String.UTF8.encode(name);
  const status = proxy_register_shared_queue(changetype<usize>(bytes), <usize>bytes.byteLength, OUT_WORD);
  return status == Status.OK ? <i64>load<u32>(OUT_WORD) : -1;
}

/** The queue id, or -1 when no VM with that vm_id registered it. */
export function resolveSharedQueue(vmId: string, name: string): i64 {
  const vm = String.UTF8.encode(vmId);
  const bytes = String.UTF8.encode(name);
  const status = proxy_resolve_shared_queue(
    changetype<usize>(vm), <usize>vm.byteLength, changetype<usize>(bytes), <usize>bytes.byteLength, OUT_WORD);
  return status == Status.OK ? <i64>load<u32>(OUT_WORD) : -1;
}

/** resolveSharedQueue with the vm_id and name already in UTF-8 (no allocation per call). */
export function resolveSharedQueueRaw(vmId: ArrayBuffer, name: ArrayBuffer): i64 {
  const status = proxy_resolve_shared_queue(
    changetype<usize>(vmId), <usize>vmId.byteLength, changetype<usize>(name), <usize>name.byteLength, OUT_WORD);
  return status == Status.OK ? <i64>load<u32>(OUT_WORD) : -1;
}

export function enqueueSharedQueue(queueId: u32, value: ArrayBuffer): i32 {
  return proxy_enqueue_shared_queue(queueId, changetype<usize>(value), <usize>value.byteLength);
}

export function enqueueSharedQueueRaw(queueId: u32, ptr: usize, length: i32): i32 {
  return proxy_enqueue_shared_queue(queueId, ptr, <usize>length);
}

/** The next item, or null when the queue is empty (EMPTY) or unknown. */
export function dequeueSharedQueue(queueId: u32): ArrayBuffer | null {
  clearOutSlots();
  const status = proxy_dequeue_shared_queue(queueId, OUT_PTR, OUT_SIZE);
  if (status != Status.OK) {
    discardHostBytes();
    return null;
  }
  return takeHostBytes();
}
