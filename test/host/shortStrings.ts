// Text for the short names and values plugins pass to host calls (header names, "allow", queue names).
// A plugin passes the same few byte strings on every request, so a small direct-mapped cache by content
// returns the string made last time: cheaper than decoding again, and bounded (a slot is overwritten by
// the next string that hashes to it). Only ASCII is cached, where the bytes are their own UTF-8 text.

const SLOTS = 256;
const MAX_LENGTH = 64;
const decoder = new TextDecoder();

export class ShortStringCache {
  private readonly keys: Array<Uint8Array | undefined> = new Array<Uint8Array | undefined>(SLOTS).fill(undefined);
  private readonly texts: string[] = new Array<string>(SLOTS).fill("");

  /** memory[start, end) as UTF-8 text, exactly as TextDecoder would decode it. */
  decode(memory: Uint8Array, start: number, end: number): string {
    const length = end - start;
    if (length > MAX_LENGTH) return decoder.decode(memory.subarray(start, end));
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) {
      const b = memory[i]!;
      if (b >= 0x80) return decoder.decode(memory.subarray(start, end));
      hash = Math.imul(hash ^ b, 16777619);
    }
    const slot = (hash >>> 0) & (SLOTS - 1);
    const key = this.keys[slot];
    if (key !== undefined && key.length === length) {
      let same = true;
      for (let i = 0; i < length; i++) {
        if (key[i] !== memory[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.texts[slot]!;
    }
    const copy = memory.slice(start, end);
    const text = String.fromCharCode.apply(null, copy as unknown as number[]);
    this.keys[slot] = copy;
    this.texts[slot] = text;
    return text;
  }
}
