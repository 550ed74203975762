// Objects by u32 id (the live stream contexts). AssemblyScript's Map reallocates its buffers every few
// inserts when entries come and go (one stream per request), which is GC work every few requests; this
// open-addressing table with backward-shift deletion allocates only when it grows. Host-free.

export class IdTable<T> {
  private ids: StaticArray<u32> = new StaticArray<u32>(16);
  // A null value marks an empty slot (ids themselves may be any u32).
  private values: StaticArray<T | null> = new StaticArray<T | null>(16);
  private count: i32 = 0;

  get size(): i32 { return this.count; }

  @inline private home(id: u32, mask: i32): i32 {
    // Fibonacci hashing spreads consecutive ids.
    return <i32>((id * 2654435769) >>> 16) & mask;
  }

  private slotOf(id: u32): i32 {
    const mask = this.values.length - 1;
    let i = this.home(id, mask);
    while (true) {
      if (unchecked(this.values[i]) === null) return -1;
      if (unchecked(this.ids[i]) == id) return i;
      i = (i + 1) & mask;
    }
  }

  get(id: u32): T | null {
    const slot = this.slotOf(id);
    return slot < 0 ? null : unchecked(this.values[slot]);
  }

  set(id: u32, value: T): void {
    const existing = this.slotOf(id);
    if (existing >= 0) {
      unchecked(this.values[existing] = value);
      return;
    }
    if ((this.count + 1) * 2 > this.values.length) this.grow();
    this.insert(id, value);
    this.count++;
  }

  private insert(id: u32, value: T): void {
    const mask = this.values.length - 1;
    let i = this.home(id, mask);
    while (unchecked(this.values[i]) !== null) i = (i + 1) & mask;
    unchecked(this.ids[i] = id);
    unchecked(this.values[i] = value);
  }

  delete(id: u32): void {
    let hole = this.slotOf(id);
    if (hole < 0) return;
    const mask = this.values.length - 1;
    unchecked(this.values[hole] = null);
    this.count--;
    // Pull later entries of the same probe run back into the hole, so lookups never need tombstones.
    let j = hole;
    while (true) {
      j = (j + 1) & mask;
      const value = unchecked(this.values[j]);
      if (value === null) return;
      const home = this.home(unchecked(this.ids[j]), mask);
      // The entry at j may move to the hole unless its home lies cyclically in (hole, j].
      const stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
      if (stays) continue;
      unchecked(this.ids[hole] = unchecked(this.ids[j]));
      unchecked(this.values[hole] = value);
      unchecked(this.values[j] = null);
      hole = j;
    }
  }

  private grow(): void {
    const oldIds = this.ids;
    const oldValues = this.values;
    const capacity = oldValues.length * 2;
    this.ids = new StaticArray<u32>(capacity);
    this.values = new StaticArray<T | null>(capacity);
    for (let i = 0; i < oldValues.length; i++) {
      const value = unchecked(oldValues[i]);
      if (value !== null) this.insert(unchecked(oldIds[i]), value);
    }
  }
}
