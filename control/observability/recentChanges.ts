// The customers whose entries changed most recently, newest first, one line per customer (and
// customer + resource). Bounded, so a reload of 100,000 customers costs at most `limit` entries.
import type { StoreChange } from "../store/storeTypes.ts";

export interface RecentChange {
  customerId: string;
  resourceId?: string;
  /** Store version of the latest change to this entry. */
  version: number;
  atUnixMs: number;
  removed: boolean;
}

export interface ChangeFeed {
  onChange(listener: (changes: readonly StoreChange[]) => void): () => void;
}

export class RecentChanges {
  readonly limit: number;
  /** Insertion order = recency: a changed key is deleted and set again. */
  private readonly byKey = new Map<string, RecentChange>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    limit = 50,
    private readonly now: () => number = Date.now,
  ) {
    this.limit = Math.max(1, limit);
  }

  follow(feed: ChangeFeed): void {
    this.unsubscribe?.();
    this.unsubscribe = feed.onChange((changes) => this.record(changes));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  record(changes: readonly StoreChange[]): void {
    const at = this.now();
    // Only the tail of a large batch can survive the bound.
    for (const change of changes.slice(-this.limit)) {
      const entry: RecentChange = { customerId: change.customerId, version: change.version, atUnixMs: at, removed: change.bytes.length === 0 };
      if (change.resourceId !== undefined) entry.resourceId = change.resourceId;
      this.byKey.delete(change.key);
      this.byKey.set(change.key, entry);
    }
    for (const key of this.byKey.keys()) {
      if (this.byKey.size <= this.limit) break;
      this.byKey.delete(key);
    }
  }

  /** Newest first. */
  list(): RecentChange[] {
    return [...this.byKey.values()].reverse();
  }
}
