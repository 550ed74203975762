// Text for the short names and values plugins pass to host calls (header names, "allow", queue names).
// A plugin passes the same few byte strings on every request, usually from the same static data, so a
// small cache indexed by where the bytes are returns the string made last time when the bytes there are
// still the same: cheaper than decoding again, bounded (a slot is overwritten by the next string that
// maps to it), and never stale (the bytes are compared every time). Only ASCII is cached, where the bytes
// are their own UTF-8 text.

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
    // Fibonacci hashing of the address (and length); the top 8 bits pick one of the 256 slots.
    const slot = Math.imul(start ^ (length << 20), 0x9e3779b1) >>> 24;
    const key = this.keys[slot];
    if (key !== undefined && key.length === length) {
      let i = 0;
      while (i < length && key[i] === memory[start + i]) i++;
      if (i === length) return this.texts[slot]!;
    }
    for (let i = start; i < end; i++) if (memory[i]! >= 0x80) return decoder.decode(memory.subarray(start, end));
    const copy = memory.slice(start, end);
    const text = String.fromCharCode.apply(null, copy as unknown as number[]);
    this.keys[slot] = copy;
    this.texts[slot] = text;
    return text;
  }
}
