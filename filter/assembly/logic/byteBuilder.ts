// A growable byte buffer reused across requests: the filter builds its shared-data key, ledger key and
// header values in one of these instead of allocating a new ArrayBuffer each time.

export class ByteBuilder {
  buffer: ArrayBuffer;
  length: i32 = 0;

  constructor(capacity: i32) {
    this.buffer = new ArrayBuffer(capacity);
  }

  @inline get ptr(): usize { return changetype<usize>(this.buffer); }

  reset(): ByteBuilder {
    this.length = 0;
    return this;
  }

  @inline private reserve(extra: i32): void {
    const needed = this.length + extra;
    if (needed > this.buffer.byteLength) this.grow(needed);
  }

  private grow(needed: i32): void {
    let size = max<i32>(this.buffer.byteLength * 2, 16);
    while (size < needed) size *= 2;
    const grown = new ArrayBuffer(size);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buffer), <usize>this.length);
    this.buffer = grown;
  }

  byte(value: u32): ByteBuilder {
    this.reserve(1);
    store<u8>(this.ptr + <usize>this.length, <u8>value);
    this.length++;
    return this;
  }

  raw(ptr: usize, length: i32): ByteBuilder {
    this.reserve(length);
    memory.copy(this.ptr + <usize>this.length, ptr, <usize>length);
    this.length += length;
    return this;
  }

  bytes(value: ArrayBuffer): ByteBuilder {
    return this.raw(changetype<usize>(value), value.byteLength);
  }

  /** The decimal digits of `value`, as i64.toString() writes them. */
  decimal(value: i64): ByteBuilder {
    if (value < 0) {
      this.byte(0x2d);
      // i64.MIN_VALUE has no positive counterpart: its digits come from the unsigned value.
      return this.unsignedDecimal(<u64>(-(value + 1)) + 1);
    }
    return this.unsignedDecimal(<u64>value);
  }

  private unsignedDecimal(value: u64): ByteBuilder {
    let digits = 1;
    for (let rest = value / 10; rest > 0; rest /= 10) digits++;
    this.reserve(digits);
    let at = this.ptr + <usize>(this.length + digits);
    let rest = value;
    do {
      at--;
      store<u8>(at, <u8>(0x30 + <u32>(rest % 10)));
      rest /= 10;
    } while (rest > 0);
    this.length += digits;
    return this;
  }
}

/** True when every byte is ASCII (its UTF-8 decoding and re-encoding give the same bytes). */
export function isAscii(ptr: usize, length: i32): bool {
  for (let i = 0; i < length; i++) if (load<u8>(ptr + <usize>i) >= 0x80) return false;
  return true;
}
