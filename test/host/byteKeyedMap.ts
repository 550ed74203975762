// Lookups by the exact bytes a plugin passed (a shared-data key, a queue name), without decoding them into
// a string first: making that string cost more than the rest of such a host call. Keys are compared byte
// for byte, so two keys are the same exactly when their bytes are.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;

/** FNV-1a over bytes[start, end), cut to 30 bits so that V8 keeps it a small integer (a Map key with no boxing). */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = FNV_OFFSET;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return h & 0x3fffffff;
}

/** One key and its value; set() hands it back so a caller can keep it and change `value` in place. */
export interface Keyed<T> {
  readonly key: Uint8Array;
  value: T;
}

function sameBytes(key: Uint8Array, bytes: Uint8Array, start: number, end: number): boolean {
  if (key.length !== end - start) return false;
  for (let i = 0; i < key.length; i++) if (key[i] !== bytes[start + i]) return false;
  return true;
}

/** A map from byte strings to values; there is no delete (neither shared data nor queues have one). */
export class ByteKeyedMap<T> {
  // Almost every bucket holds one key, so it is stored as is; a list only after a hash collision.
  private readonly buckets = new Map<number, Keyed<T> | Array<Keyed<T>>>();

  /** The value stored under bytes[start, end). */
  get(bytes: Uint8Array, start: number, end: number): T | undefined {
    const bucket = this.buckets.get(hashBytes(bytes, start, end));
    if (bucket === undefined) return undefined;
    if (!Array.isArray(bucket)) return sameBytes(bucket.key, bytes, start, end) ? bucket.value : undefined;
    for (const item of bucket) if (sameBytes(item.key, bytes, start, end)) return item.value;
    return undefined;
  }

  /** Stores `value` under `key` (a private copy the map keeps), replacing any value stored there. */
  set(key: Uint8Array, value: T): Keyed<T> {
    const hash = hashBytes(key, 0, key.length);
    const bucket = this.buckets.get(hash);
    if (bucket === undefined) {
      const created = { key, value };
      this.buckets.set(hash, created);
      return created;
    }
    const items = Array.isArray(bucket) ? bucket : [bucket];
    let item = items.find((candidate) => sameBytes(candidate.key, key, 0, key.length));
    if (item !== undefined) item.value = value;
    else items.push((item = { key, value }));
    if (!Array.isArray(bucket)) this.buckets.set(hash, items);
    return item;
  }
}
