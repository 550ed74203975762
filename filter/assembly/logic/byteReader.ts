// Bounds-checked reading of a byte range. Every read past `end` sets `failed` and returns 0 instead of
// touching memory outside the range, so decoders check `failed` once per step rather than trapping.

/** Largest integer a varint may carry (ENTRY_FORMAT.md): 2^53, the f64-exact range. */
export const MAX_SAFE_VARINT: u64 = 9007199254740992;

export class ByteReader {
  failed: bool = false;
  base: usize;

  constructor(public buffer: ArrayBuffer, public pos: i32, public end: i32) {
    this.base = changetype<usize>(buffer);
    this.check();
  }

  /** Points the reader at another range (the filter reuses one reader per VM). */
  reset(buffer: ArrayBuffer, pos: i32, end: i32): void {
    this.buffer = buffer;
    this.base = changetype<usize>(buffer);
    this.pos = pos;
    this.end = end;
    this.failed = false;
    this.check();
  }

  private check(): void {
    if (this.pos < 0 || this.end > this.buffer.byteLength || this.pos > this.end) {
      this.failed = true;
      this.pos = 0;
      this.end = 0;
    }
  }

  @inline get remaining(): i32 { return this.end - this.pos; }
  @inline get atEnd(): bool { return this.pos >= this.end; }

  fail(): void { this.failed = true; this.pos = this.end; }

  u8(): u32 {
    if (this.pos >= this.end) { this.fail(); return 0; }
    const value = <u32>load<u8>(this.base + <usize>this.pos);
    this.pos++;
    return value;
  }

  u32le(): u32 {
    if (this.end - this.pos < 4) { this.fail(); return 0; }
    const value = load<u32>(this.base + <usize>this.pos);
    this.pos += 4;
    return value;
  }

  u64le(): u64 {
    if (this.end - this.pos < 8) { this.fail(); return 0; }
    const value = load<u64>(this.base + <usize>this.pos);
    this.pos += 8;
    return value;
  }

  f64le(): f64 {
    return reinterpret<f64>(this.u64le());
  }

  /** Unsigned LEB128, at most 10 bytes; an overlong or unterminated varint fails. */
  varint(): u64 {
    let result: u64 = 0;
    let shift: u64 = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) { this.fail(); return 0; }
      const b = <u64>load<u8>(this.base + <usize>this.pos);
      this.pos++;
      if (i == 9 && b > 1) { this.fail(); return 0; }
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) == 0) return result;
      shift += 7;
    }
    this.fail();
    return 0;
  }

  /** A varint that must fit in `limit` (inclusive). */
  varintUpTo(limit: u64): u64 {
    const value = this.varint();
    if (value > limit) { this.fail(); return 0; }
    return value;
  }

  /** Skips `length` bytes; returns the start offset of the skipped range. */
  skip(length: u64): i32 {
    const start = this.pos;
    if (length > <u64>(this.end - this.pos)) { this.fail(); return start; }
    this.pos += <i32>length;
    return start;
  }

  @inline ptrAt(offset: i32): usize { return this.base + <usize>offset; }

  utf8(offset: i32, length: i32): string {
    return String.UTF8.decodeUnsafe(this.base + <usize>offset, <usize>length);
  }
}

/** Bytewise comparison of two ranges: <0, 0 or >0. */
export function compareBytes(a: usize, aLength: i32, b: usize, bLength: i32): i32 {
  const n = min(aLength, bLength);
  for (let i = 0; i < n; i++) {
    const x = <i32>load<u8>(a + <usize>i);
    const y = <i32>load<u8>(b + <usize>i);
    if (x != y) return x - y;
  }
  return aLength - bLength;
}

export function startsWithBytes(ptr: usize, length: i32, prefix: usize, prefixLength: i32): bool {
  if (length < prefixLength) return false;
  return memory.compare(ptr, prefix, <usize>prefixLength) == 0;
}
