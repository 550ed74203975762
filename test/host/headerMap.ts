// The proxy-wasm map wire format (headers, trailers, gRPC metadata, local-reply and http-call headers):
// u32 count, count x (u32 key_len, u32 value_len), then each key and value followed by a NUL.
export type HeaderList = Array<[string, string]>;

const MAX_MAP_BYTES = 1 << 20;
const MAX_MAP_PAIRS = 1024;

const decoder = new TextDecoder();

/**
 * Builds the wire form of a map in two steps, so the host can copy it straight into the module's memory:
 * encode() returns its size (for the module's allocator), writeTo() then writes it. All keys and values
 * are joined with their NULs into one string and encoded by one native call: on a slow core, per-string
 * or per-character work made serializing 8 headers cost ~1-2.5 µs, most of a filter's hit path here.
 */
export class HeaderMapEncoder {
  private pairs: HeaderList = [];
  private data = Buffer.allocUnsafeSlow(1024);
  /** `data` as a plain Uint8Array: its subarrays are cheaper to make than a Buffer's. */
  private dataBytes = new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.length);
  private dataLength = 0;
  private ascii = true;

  /** Encodes `pairs` and returns the byte size of their wire form; call writeTo() before the next encode(). */
  encode(pairs: HeaderList): number {
    let joined = "";
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i]!;
      joined += pair[0] + "\0" + pair[1] + "\0";
    }
    if (this.data.length < joined.length * 3) {
      this.data = Buffer.allocUnsafeSlow(joined.length * 3);
      this.dataBytes = new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.length);
    }
    // A NUL never pairs with a surrogate, so each string encodes exactly as it would on its own.
    this.dataLength = this.data.write(joined, 0, "utf8");
    // As many bytes as UTF-16 units: every string is ASCII and its byte length is its length.
    this.ascii = this.dataLength === joined.length;
    this.pairs = pairs;
    return 4 + pairs.length * 8 + this.dataLength;
  }

  /** Writes the map last given to encode() at `offset` of `out` (every byte of its size); `view` is over `out`. */
  writeTo(out: Uint8Array, view: DataView, offset: number): void {
    const pairs = this.pairs;
    const count = pairs.length;
    view.setUint32(offset, count, true);
    let lengths = offset + 4;
    for (let i = 0; i < count; i++) {
      const pair = pairs[i]!;
      view.setUint32(lengths, this.ascii ? pair[0].length : Buffer.byteLength(pair[0], "utf8"), true);
      view.setUint32(lengths + 4, this.ascii ? pair[1].length : Buffer.byteLength(pair[1], "utf8"), true);
      lengths += 8;
    }
    out.set(this.dataBytes.subarray(0, this.dataLength), lengths);
    this.pairs = [];
  }
}

const sharedEncoder = new HeaderMapEncoder();

export function serializeHeaderMap(pairs: HeaderList): Uint8Array {
  const out = new Uint8Array(sharedEncoder.encode(pairs));
  sharedEncoder.writeTo(out, new DataView(out.buffer), 0);
  return out;
}

/** Returns undefined when the bytes are not a well-formed map (the host then answers BAD_ARGUMENT). */
export function deserializeHeaderMap(bytes: Uint8Array): HeaderList | undefined {
  if (bytes.length === 0 || (bytes.length === 1 && bytes[0] === 0)) return [];
  if (bytes.length < 4 || bytes.length > MAX_MAP_BYTES) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = view.getUint32(0, true);
  if (count > MAX_MAP_PAIRS || 4 + count * 8 > bytes.length) return undefined;
  const out: HeaderList = [];
  let data = 4 + count * 8;
  for (let i = 0; i < count; i++) {
    const kLen = view.getUint32(4 + i * 8, true);
    const vLen = view.getUint32(8 + i * 8, true);
    if (data + kLen + vLen + 2 > bytes.length) return undefined;
    const key = decoder.decode(bytes.subarray(data, data + kLen));
    data += kLen + 1;
    const value = decoder.decode(bytes.subarray(data, data + vLen));
    data += vLen + 1;
    out.push([key, value]);
  }
  return out;
}
