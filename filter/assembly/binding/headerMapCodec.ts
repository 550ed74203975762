// The ABI's serialized header map: u32 count; count x (u32 keyLength, u32 valueLength); then each key
// and value followed by a NUL. Host-free, so it can be tested without a host.

export class HeaderPair {
  constructor(public key: string, public value: string) {}
}

/**
 * Bounds-checked view over a serialized map, without copying: callers compare raw key bytes and decode
 * only the values they need. An ill-formed buffer gives a view with zero pairs (`valid` false).
 */
export class HeaderMapView {
  valid: bool = false;
  count: i32 = 0;
  /** Per pair: key offset, key length, value offset, value length; kept and reused by reset(). */
  private layout: StaticArray<i32> = new StaticArray<i32>(0);

  constructor(public buffer: ArrayBuffer) {
    this.parse(buffer.byteLength);
  }

  /** Re-reads the view over the first `size` bytes of `buffer` (the filter reuses one view per VM). */
  reset(buffer: ArrayBuffer, size: i32): void {
    this.buffer = buffer;
    this.valid = false;
    this.count = 0;
    this.parse(size);
  }

  private parse(size: i32): void {
    const buffer = this.buffer;
    if (size < 4) { this.valid = size <= 1; return; }
    const base = changetype<usize>(buffer);
    const count = load<u32>(base);
    // Each pair needs at least 8 header bytes and two NULs.
    if (count > <u32>((size - 4) / 10)) return;
    const n = <i32>count;
    let layout = this.layout;
    if (layout.length < n * 4) {
      layout = new StaticArray<i32>(max<i32>(n * 4, 64));
      this.layout = layout;
    }
    let data: i64 = 4 + <i64>n * 8;
    for (let i = 0; i < n; i++) {
      const keyLength = load<u32>(base + 4 + <usize>i * 8);
      const valueLength = load<u32>(base + 8 + <usize>i * 8);
      const keyEnd = data + <i64>keyLength;
      const valueStart = keyEnd + 1;
      const valueEnd = valueStart + <i64>valueLength;
      if (valueEnd + 1 > <i64>size) return;
      unchecked(layout[i * 4] = <i32>data);
      unchecked(layout[i * 4 + 1] = <i32>keyLength);
      unchecked(layout[i * 4 + 2] = <i32>valueStart);
      unchecked(layout[i * 4 + 3] = <i32>valueLength);
      data = valueEnd + 1;
    }
    this.count = n;
    this.valid = true;
  }

  // Callers pass 0 <= i < count.
  @inline keyPtr(i: i32): usize { return changetype<usize>(this.buffer) + <usize>unchecked(this.layout[i * 4]); }
  @inline keyLength(i: i32): i32 { return unchecked(this.layout[i * 4 + 1]); }
  @inline valuePtr(i: i32): usize { return changetype<usize>(this.buffer) + <usize>unchecked(this.layout[i * 4 + 2]); }
  @inline valueLength(i: i32): i32 { return unchecked(this.layout[i * 4 + 3]); }

  key(i: i32): string { return String.UTF8.decodeUnsafe(this.keyPtr(i), <usize>this.keyLength(i)); }
  value(i: i32): string { return String.UTF8.decodeUnsafe(this.valuePtr(i), <usize>this.valueLength(i)); }

  toPairs(): HeaderPair[] {
    const pairs = new Array<HeaderPair>(this.count);
    for (let i = 0; i < this.count; i++) unchecked(pairs[i] = new HeaderPair(this.key(i), this.value(i)));
    return pairs;
  }
}

export function serializeHeaderMap(pairs: HeaderPair[]): ArrayBuffer {
  const n = pairs.length;
  const keys = new Array<ArrayBuffer>(n);
  const values = new Array<ArrayBuffer>(n);
  let size = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const pair = unchecked(pairs[i]);
    const key = String.UTF8.encode(pair.key);
    const value = String.UTF8.encode(pair.value);
    unchecked(keys[i] = key);
    unchecked(values[i] = value);
    size += key.byteLength + value.byteLength + 2;
  }
  const out = new ArrayBuffer(size);
  const base = changetype<usize>(out);
  store<u32>(base, <u32>n);
  let data = base + 4 + <usize>n * 8;
  for (let i = 0; i < n; i++) {
    const key = unchecked(keys[i]);
    const value = unchecked(values[i]);
    store<u32>(base + 4 + <usize>i * 8, <u32>key.byteLength);
    store<u32>(base + 8 + <usize>i * 8, <u32>value.byteLength);
    memory.copy(data, changetype<usize>(key), <usize>key.byteLength);
    data += <usize>key.byteLength + 1; // NUL already zero
    memory.copy(data, changetype<usize>(value), <usize>value.byteLength);
    data += <usize>value.byteLength + 1;
  }
  return out;
}
