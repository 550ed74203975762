// Memory handed to and received from the host. The host asks the module for a block
// (proxy_on_memory_allocate), copies its bytes there and writes the block's address and size into two
// out-params. Each block is an ArrayBuffer pinned so the GC cannot free it while only the host knows it;
// takeHostBytes() unpins it exactly once, after which the returned ArrayBuffer is an ordinary object.

// Out-param slots. The module is single-threaded and a host call never re-enters plugin code other than
// the allocator, which does not touch them, so one set of static slots is enough.
export const OUT_PTR: usize = memory.data(8);
export const OUT_SIZE: usize = memory.data(8);
export const OUT_WORD: usize = memory.data(8);

// Blocks handed to the host and not yet taken back. Normally zero or one entry; it lets takeHostBytes()
// refuse an address the module never handed out (instead of trapping in __unpin) and release blocks a
// failed host call allocated but never returned.
const outstanding = new Array<usize>();

/**
 * A reusable buffer a host call can copy its bytes into instead of a fresh ArrayBuffer, so the filter's
 * hot path allocates nothing: only `length` bytes are meaningful, and they stay valid until the next
 * call that uses the same scratch. Held by a module-level variable, so the GC never frees it under the host.
 */
export class HostScratch {
  buffer: ArrayBuffer;
  length: i32 = 0;
  constructor(capacity: i32) { this.buffer = new ArrayBuffer(capacity); }
  @inline get ptr(): usize { return changetype<usize>(this.buffer); }
}

// The scratch the next proxy_on_memory_allocate fills (one per host call; cleared once used).
let scratchTarget: HostScratch | null = null;

export function allocateForHost(size: usize): usize {
  // A zero-size ArrayBuffer is still a distinct object with a valid address.
  if (size > <usize>0x3fffffff) return 0;
  const target = scratchTarget;
  if (target !== null) {
    scratchTarget = null;
    if (<usize>target.buffer.byteLength < size) target.buffer = new ArrayBuffer(max<i32>(<i32>size, target.buffer.byteLength * 2));
    return target.ptr;
  }
  const buffer = new ArrayBuffer(<i32>size);
  const ptr = changetype<usize>(buffer);
  __pin(ptr);
  outstanding.push(ptr);
  return ptr;
}

/** Unpins every outstanding block except `keep`; returns whether `keep` was outstanding. */
function releaseOutstanding(keep: usize): bool {
  let found = false;
  for (let i = 0, n = outstanding.length; i < n; i++) {
    const ptr = unchecked(outstanding[i]);
    if (ptr == keep) found = true;
    __unpin(ptr);
  }
  outstanding.length = 0;
  return found;
}

export function clearOutSlots(): void {
  store<usize>(OUT_PTR, 0);
  store<u32>(OUT_SIZE, 0);
}

/**
 * The block the host last returned through OUT_PTR/OUT_SIZE, unpinned. An address the module did not
 * hand out (0 when the host had nothing to copy) gives an empty buffer.
 */
export function takeHostBytes(): ArrayBuffer {
  const ptr = load<usize>(OUT_PTR);
  const size = load<u32>(OUT_SIZE);
  store<usize>(OUT_PTR, 0);
  const known = releaseOutstanding(ptr);
  if (ptr == 0 || !known) return new ArrayBuffer(0);
  const buffer = changetype<ArrayBuffer>(ptr);
  if (<u32>buffer.byteLength == size) return buffer;
  // The host wrote fewer bytes than it asked for: hand back exactly what it reported.
  const copyLength = min<i32>(buffer.byteLength, <i32>size);
  return buffer.slice(0, copyLength);
}

/** Before a host call that returns bytes: they go into `scratch` (see takeScratch). */
export function fillScratch(scratch: HostScratch): void {
  store<usize>(OUT_PTR, 0);
  store<u32>(OUT_SIZE, 0);
  scratch.length = 0;
  scratchTarget = scratch;
}

/**
 * After a successful host call prepared with fillScratch: sets `scratch.length` to what the host wrote
 * (0 when it had nothing to copy); false when the host returned an address that is not the scratch.
 */
export function takeScratch(scratch: HostScratch): bool {
  scratchTarget = null;
  const ptr = load<usize>(OUT_PTR);
  const size = load<u32>(OUT_SIZE);
  store<usize>(OUT_PTR, 0);
  if (outstanding.length > 0) releaseOutstanding(0);
  scratch.length = 0;
  if (ptr == 0) return true;
  if (ptr != scratch.ptr || size > <u32>scratch.buffer.byteLength) return false;
  scratch.length = <i32>size;
  return true;
}

/** After a failed host call prepared with fillScratch. */
export function dropScratch(scratch: HostScratch): void {
  scratchTarget = null;
  scratch.length = 0;
  discardHostBytes();
}

/** Drops a host block without reading it (after an error status that still returned one). */
export function discardHostBytes(): void {
  store<usize>(OUT_PTR, 0);
  releaseOutstanding(0);
}

export function stringToUtf8(value: string): ArrayBuffer {
  return String.UTF8.encode(value);
}

export function utf8ToString(buffer: ArrayBuffer): string {
  return String.UTF8.decode(buffer);
}

@inline export function bufferPtr(buffer: ArrayBuffer): usize {
  return changetype<usize>(buffer);
}
