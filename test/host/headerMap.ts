// The proxy-wasm map wire format (headers, trailers, gRPC metadata, local-reply and http-call headers):
// u32 count, count x (u32 key_len, u32 value_len), then each key and value followed by a NUL.
export type HeaderList = Array<[string, string]>;

const MAX_MAP_BYTES = 1 << 20;
const MAX_MAP_PAIRS = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Sizes first, then one allocation written in place: this runs on every header read of every request,
// and encoding each string separately made it the largest cost of a filter's hit path in benchmarks.
export function serializeHeaderMap(pairs: HeaderList): Uint8Array {
  let size = 4 + pairs.length * 8;
  for (const [k, v] of pairs) size += Buffer.byteLength(k, "utf8") + Buffer.byteLength(v, "utf8") + 2;
  // Buffer.alloc is zero-filled (the NUL after each string) and never pooled (byteOffset 0).
  const out = Buffer.alloc(size);
  out.writeUInt32LE(pairs.length, 0);
  let lengths = 4;
  let pos = 4 + pairs.length * 8;
  for (const [k, v] of pairs) {
    const keyLength = out.write(k, pos, "utf8");
    pos += keyLength + 1;
    const valueLength = out.write(v, pos, "utf8");
    pos += valueLength + 1;
    out.writeUInt32LE(keyLength, lengths);
    out.writeUInt32LE(valueLength, lengths + 4);
    lengths += 8;
  }
  return new Uint8Array(out.buffer, 0, size);
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
