// A fixed-size ring of the most recent store changes, so a reconnecting filter can resume with
// deltas instead of a full snapshot.
import type { StoreChange } from "./storeTypes.ts";

export class DeltaRing {
  private readonly slots: (StoreChange | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be >= 1, got ${capacity}`);
    this.slots = new Array<StoreChange | undefined>(capacity);
  }

  push(change: StoreChange): void {
    this.slots[this.next] = change;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Version of the oldest change still held, or undefined when empty. */
  get oldestVersion(): number | undefined {
    if (this.count === 0) return undefined;
    return this.at(0).version;
  }

  private at(i: number): StoreChange {
    const start = (this.next - this.count + this.capacity) % this.capacity;
    return this.slots[(start + i) % this.capacity]!;
  }

  /**
   * Every change with a version greater than `afterVersion`, oldest first, or undefined when some of
   * them have already been overwritten. Versions are contiguous (one per change).
   */
  since(afterVersion: number, currentVersion: number): StoreChange[] | undefined {
    if (afterVersion > currentVersion) return undefined;
    if (afterVersion === currentVersion) return [];
    const oldest = this.oldestVersion;
    if (oldest === undefined || oldest > afterVersion + 1) return undefined;
    const out: StoreChange[] = [];
    // Binary search would do; resumes are rare and the ring is small.
    for (let i = 0; i < this.count; i++) {
      const change = this.at(i);
      if (change.version > afterVersion) out.push(change);
    }
    return out;
  }
}
