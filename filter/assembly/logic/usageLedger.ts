// Per-worker usage not yet visible in the pushed cache. Each allowed metered request adds its requested
// usage here (and to the sync role's queue); the amount is added to the cached usage when this worker
// evaluates, until a push raises the cached usage by at least as much. A push that raises usage by d
// retires d of the local amount, whichever worker reported it: this can only under-count by what other
// workers reported, so the overshoot stays within what all workers allow during one push round trip.

/** Above this many keys the ledger starts over (a bound on memory, not a normal event). */
export const MAX_LEDGER_KEYS: i32 = 10000;

class LedgerEntry {
  constructor(public seenUsage: f64, public local: f64) {}
}

export class UsageLedger {
  private entries: Map<string, LedgerEntry> = new Map<string, LedgerEntry>();

  static key(customerId: string, resourceId: string, featureId: string): string {
    return customerId + "\0" + resourceId + "\0" + featureId;
  }

  get size(): i32 { return this.entries.size; }

  /** The local amount to add to `cachedUsage` (0 when nothing is pending). */
  pending(key: string, cachedUsage: f64): f64 {
    if (!this.entries.has(key)) return 0;
    const entry = this.entries.get(key);
    if (cachedUsage != entry.seenUsage) {
      const covered = cachedUsage - entry.seenUsage;
      // A lower cached usage is a reset (new period, plan change): nothing local survives it.
      entry.local = covered < 0 ? 0 : max(0, entry.local - covered);
      entry.seenUsage = cachedUsage;
      if (entry.local == 0) {
        this.entries.delete(key);
        return 0;
      }
    }
    return entry.local;
  }

  add(key: string, cachedUsage: f64, delta: f64): void {
    if (this.entries.has(key)) {
      const entry = this.entries.get(key);
      entry.local += delta;
      return;
    }
    if (this.entries.size >= MAX_LEDGER_KEYS) this.entries.clear();
    this.entries.set(key, new LedgerEntry(cachedUsage, delta));
  }
}
