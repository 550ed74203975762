// Minimal protobuf wire format (proto3): a reader that skips unknown fields of every wire type, including
// legacy groups, and a writer for the few messages the filter sends.
import { ByteReader } from "./byteReader";

export namespace WireType {
  export const VARINT: u32 = 0;
  export const FIXED64: u32 = 1;
  export const LENGTH_DELIMITED: u32 = 2;
  export const START_GROUP: u32 = 3;
  export const END_GROUP: u32 = 4;
  export const FIXED32: u32 = 5;
}

const MAX_GROUP_DEPTH: i32 = 32;

export class ProtoReader extends ByteReader {
  field: u32 = 0;
  wireType: u32 = 0;

  /** Reads the next tag; false at the end of the range or on a malformed tag (then `failed`). */
  next(): bool {
    if (this.failed || this.atEnd) return false;
    const tag = this.varint();
    if (this.failed) return false;
    const field = tag >> 3;
    if (field == 0 || field > 0x1fffffff) { this.fail(); return false; }
    this.field = <u32>field;
    this.wireType = <u32>(tag & 7);
    return true;
  }

  /** The range [offset, offset + length) of a length-delimited value; -1 offset when malformed. */
  bytesRange(): i32 {
    const length = this.varint();
    if (this.failed) return -1;
    const start = this.skip(length);
    return this.failed ? -1 : start;
  }

  string(): string {
    const length = this.varint();
    const start = this.skip(length);
    if (this.failed) return "";
    return this.utf8(start, <i32>length);
  }

  /** Skips the value of the current field. */
  skipField(): void {
    this.skipValue(this.wireType, this.field, 0);
  }

  private skipValue(wireType: u32, field: u32, depth: i32): void {
    switch (wireType) {
      case WireType.VARINT: this.varint(); break;
      case WireType.FIXED64: this.skip(8); break;
      case WireType.LENGTH_DELIMITED: this.skip(this.varint()); break;
      case WireType.FIXED32: this.skip(4); break;
      case WireType.START_GROUP: {
        if (depth >= MAX_GROUP_DEPTH) { this.fail(); return; }
        while (true) {
          if (this.atEnd) { this.fail(); return; }
          const tag = this.varint();
          if (this.failed) return;
          const innerField = <u32>(tag >> 3);
          const innerType = <u32>(tag & 7);
          if (innerType == WireType.END_GROUP) {
            if (innerField != field) this.fail();
            return;
          }
          this.skipValue(innerType, innerField, depth + 1);
          if (this.failed) return;
        }
        break;
      }
      default: this.fail(); // END_GROUP without a start, or wire types 6 and 7
    }
  }
}

/** A growable byte buffer with protobuf field writers. */
export class ProtoWriter {
  private buffer: ArrayBuffer = new ArrayBuffer(64);
  length: i32 = 0;

  private reserve(extra: i32): void {
    const needed = this.length + extra;
    if (needed <= this.buffer.byteLength) return;
    let size = this.buffer.byteLength * 2;
    while (size < needed) size *= 2;
    const grown = new ArrayBuffer(size);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buffer), <usize>this.length);
    this.buffer = grown;
  }

  /** Starts over, keeping the buffer (a writer reused per message allocates only to grow). */
  reset(): void { this.length = 0; }

  /** Where the written bytes start; valid until the next write. */
  get dataPtr(): usize { return changetype<usize>(this.buffer); }

  rawByte(value: u32): void {
    this.reserve(1);
    store<u8>(changetype<usize>(this.buffer) + <usize>this.length, <u8>value);
    this.length++;
  }

  rawVarint(value: u64): void {
    while (value >= 0x80) {
      this.rawByte(<u32>(value & 0x7f) | 0x80);
      value >>= 7;
    }
    this.rawByte(<u32>value);
  }

  rawBytes(ptr: usize, length: i32): void {
    this.reserve(length);
    memory.copy(changetype<usize>(this.buffer) + <usize>this.length, ptr, <usize>length);
    this.length += length;
  }

  tag(field: u32, wireType: u32): void {
    this.rawVarint((<u64>field << 3) | <u64>wireType);
  }

  /** Proto3 omits default values; so does this writer. */
  uint64(field: u32, value: u64): void {
    if (value == 0) return;
    this.tag(field, WireType.VARINT);
    this.rawVarint(value);
  }

  int64(field: u32, value: i64): void {
    this.uint64(field, <u64>value);
  }

  bool(field: u32, value: bool): void {
    this.uint64(field, value ? 1 : 0);
  }

  /** A double (wire type FIXED64), omitted when 0. */
  double(field: u32, value: f64): void {
    if (value == 0) return;
    this.tag(field, WireType.FIXED64);
    this.reserve(8);
    store<f64>(changetype<usize>(this.buffer) + <usize>this.length, value);
    this.length += 8;
  }

  /** A length-delimited field from raw bytes [ptr, ptr + length). */
  rawField(field: u32, ptr: usize, length: i32): void {
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.rawVarint(<u64>length);
    this.rawBytes(ptr, length);
  }

  bytes(field: u32, value: ArrayBuffer): void {
    if (value.byteLength == 0) return;
    this.tag(field, WireType.LENGTH_DELIMITED);
    this.rawVarint(<u64>value.byteLength);
    this.rawBytes(changetype<usize>(value), value.byteLength);
  }

  string(field: u32, value: string): void {
    this.bytes(field, String.UTF8.encode(value));
  }

  finish(): ArrayBuffer {
    return this.buffer.slice(0, this.length);
  }
}
