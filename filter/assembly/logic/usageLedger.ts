// Per-worker usage not yet visible in the pushed cache. Each allowed metered request adds its requested
// usage here (and to the sync role's queue); the amount is added to the cached usage when this worker
// evaluates, until a push raises the cached usage by at least as much. A push that raises usage by d
// retires d of the local amount, whichever worker reported it: this can only under-count by what other
// workers reported, so the overshoot stays within what all workers allow during one push round trip.

/** Above this many keys the ledger starts over (a bound on memory, not a normal event). */
export const MAX_LEDGER_KEYS: i32 = 10000;

/** Buckets never exceed this (a power of two above MAX_LEDGER_KEYS). */
const MAX_BUCKETS: i32 = 16384;

class LedgerEntry {
  next: LedgerEntry | null = null;
  constructor(public key: ArrayBuffer, public hash: u32, public seenUsage: f64, public local: f64) {}
}

@inline function hashBytes(ptr: usize, length: i32): u32 {
  // FNV-1a: keys are short (customer, resource, feature ids), so a byte loop is enough.
  let hash: u32 = 2166136261;
  for (let i = 0; i < length; i++) hash = (hash ^ <u32>load<u8>(ptr + <usize>i)) * 16777619;
  return hash;
}

/**
 * Keyed by raw bytes (`customer \0 resource \0 feature`) in a chained hash table of its own, so a lookup
 * from the filter's scratch key allocates nothing; only a new key is copied.
 */
export class UsageLedger {
  private buckets: StaticArray<LedgerEntry | null> = new StaticArray<LedgerEntry | null>(64);
  private count: i32 = 0;

  static key(customerId: string, resourceId: string, featureId: string): string {
    return customerId + "\0" + resourceId + "\0" + featureId;
  }

  get size(): i32 { return this.count; }

  /** The local amount to add to `cachedUsage` (0 when nothing is pending). */
  pending(key: string, cachedUsage: f64): f64 {
    const bytes = String.UTF8.encode(key);
    return this.pendingBytes(changetype<usize>(bytes), bytes.byteLength, cachedUsage);
  }

  add(key: string, cachedUsage: f64, delta: f64): void {
    const bytes = String.UTF8.encode(key);
    this.addBytes(changetype<usize>(bytes), bytes.byteLength, cachedUsage, delta);
  }

  /** The hash pendingHashed() and addHashed() take: a caller with one key for both computes it once. */
  static hashKey(keyPtr: usize, keyLength: i32): u32 {
    return hashBytes(keyPtr, keyLength);
  }

  pendingBytes(keyPtr: usize, keyLength: i32, cachedUsage: f64): f64 {
    return this.pendingHashed(keyPtr, keyLength, hashBytes(keyPtr, keyLength), cachedUsage);
  }

  /** pendingBytes() with the key's hashKey() given. */
  pendingHashed(keyPtr: usize, keyLength: i32, hash: u32, cachedUsage: f64): f64 {
    const entry = this.find(keyPtr, keyLength, hash);
    if (entry === null) return 0;
    if (cachedUsage != entry.seenUsage) {
      const covered = cachedUsage - entry.seenUsage;
      // A lower cached usage is a reset (new period, plan change): nothing local survives it.
      entry.local = covered < 0 ? 0 : max(0, entry.local - covered);
      entry.seenUsage = cachedUsage;
      if (entry.local == 0) {
        this.remove(entry);
        return 0;
      }
    }
    return entry.local;
  }

  addBytes(keyPtr: usize, keyLength: i32, cachedUsage: f64, delta: f64): void {
    this.addHashed(keyPtr, keyLength, hashBytes(keyPtr, keyLength), cachedUsage, delta);
  }

  /** addBytes() with the key's hashKey() given. */
  addHashed(keyPtr: usize, keyLength: i32, hash: u32, cachedUsage: f64, delta: f64): void {
    const found = this.find(keyPtr, keyLength, hash);
    if (found !== null) {
      found.local += delta;
      return;
    }
    if (this.count >= MAX_LEDGER_KEYS) this.clear();
    if (this.count >= this.buckets.length && this.buckets.length < MAX_BUCKETS) this.grow();
    const key = new ArrayBuffer(keyLength);
    memory.copy(changetype<usize>(key), keyPtr, <usize>keyLength);
    const entry = new LedgerEntry(key, hash, cachedUsage, delta);
    const index = <i32>(hash & <u32>(this.buckets.length - 1));
    entry.next = unchecked(this.buckets[index]);
    unchecked(this.buckets[index] = entry);
    this.count++;
  }

  private find(keyPtr: usize, keyLength: i32, hash: u32): LedgerEntry | null {
    let entry = unchecked(this.buckets[<i32>(hash & <u32>(this.buckets.length - 1))]);
    while (entry !== null) {
      const key = entry.key;
      if (entry.hash == hash && key.byteLength == keyLength && memory.compare(changetype<usize>(key), keyPtr, <usize>keyLength) == 0) return entry;
      entry = entry.next;
    }
    return null;
  }

  private remove(target: LedgerEntry): void {
    const index = <i32>(target.hash & <u32>(this.buckets.length - 1));
    let entry = unchecked(this.buckets[index]);
    let previous: LedgerEntry | null = null;
    while (entry !== null) {
      if (entry === target) {
        if (previous === null) unchecked(this.buckets[index] = entry.next);
        else previous.next = entry.next;
        this.count--;
        return;
      }
      previous = entry;
      entry = entry.next;
    }
  }

  private grow(): void {
    const old = this.buckets;
    const buckets = new StaticArray<LedgerEntry | null>(old.length * 2);
    const mask = <u32>(buckets.length - 1);
    for (let i = 0; i < old.length; i++) {
      let entry = unchecked(old[i]);
      while (entry !== null) {
        const next = entry.next;
        const index = <i32>(entry.hash & mask);
        entry.next = unchecked(buckets[index]);
        unchecked(buckets[index] = entry);
        entry = next;
      }
    }
    this.buckets = buckets;
  }

  private clear(): void {
    this.buckets = new StaticArray<LedgerEntry | null>(64);
    this.count = 0;
  }
}
