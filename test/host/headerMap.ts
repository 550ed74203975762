// The proxy-wasm map wire format (headers, trailers, gRPC metadata, local-reply and http-call headers):
// u32 count, count x (u32 key_len, u32 value_len), then each key and value followed by a NUL.
export type HeaderList = Array<[string, string]>;

const MAX_MAP_BYTES = 1 << 20;
const MAX_MAP_PAIRS = 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function serializeHeaderMap(pairs: HeaderList): Uint8Array {
  const encoded = pairs.map(([k, v]) => [encoder.encode(k), encoder.encode(v)] as const);
  let size = 4 + encoded.length * 8;
  for (const [k, v] of encoded) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, encoded.length, true);
  let pos = 4;
  for (const [k, v] of encoded) {
    view.setUint32(pos, k.length, true);
    view.setUint32(pos + 4, v.length, true);
    pos += 8;
  }
  for (const [k, v] of encoded) {
    out.set(k, pos);
    pos += k.length + 1;
    out.set(v, pos);
    pos += v.length + 1;
  }
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
