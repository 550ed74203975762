// Bounds the entitlement store by the bytes of its encoded entries (what the filters hold in Envoy
// shared data), evicting the least recently used entry first. Evicting is a removal in the store, so
// the filters drop the entry too and fetch it again on their next miss.
//
// The store stays the single place values live; this keeps, per entry, what the reader needs to
// judge freshness (when it was fetched, until when Stigg said it is valid) and the recency order.
import { entityKey, type CustomerEntitlements } from "../model/entitlements.ts";
import type { EntitlementStore } from "../store/entitlementStore.ts";
import type { StoreChange, StoredEntry } from "../store/storeTypes.ts";

export interface CacheMeta {
  /** Epoch ms at which Stigg produced this value (fetch, event, or a second-level cache copy of one). */
  fetchedAtMs: number;
  /** Epoch ms after which the value must be re-fetched (earliest entitlement validUntil). */
  validUntil?: number;
  /** Encoded entry size. */
  bytes: number;
  /** Increases with every write through this cache; lets a slow fetch see that an event overtook it. */
  seq: number;
}

export interface CachedEntry {
  entry: StoredEntry;
  meta: Readonly<CacheMeta>;
}

export interface LruByteCacheOptions {
  /** Cap on the sum of encoded entry sizes. */
  maxBytes: number;
  now?: () => number;
  /** Called after each eviction pass with how many entries were removed. */
  onEvict?: (count: number) => void;
  /** Called whenever the totals change (for gauges). */
  onSize?: (entries: number, bytes: number) => void;
}

export class LruByteCache {
  readonly maxBytes: number;
  private readonly store: EntitlementStore;
  private readonly now: () => number;
  /** Map order is recency order: oldest first. */
  private readonly metas = new Map<string, CacheMeta>();
  private bytes = 0;
  private seqCounter = 0;
  private evictionScheduled = false;
  private readonly unsubscribe: () => void;
  private readonly onEvict: ((count: number) => void) | undefined;
  private readonly onSize: ((entries: number, bytes: number) => void) | undefined;
  /** Entries removed to stay under the cap since start. */
  evictions = 0;

  constructor(store: EntitlementStore, options: LruByteCacheOptions) {
    if (!(options.maxBytes > 0)) throw new RangeError("maxBytes must be > 0");
    this.store = store;
    this.maxBytes = options.maxBytes;
    this.now = options.now ?? Date.now;
    this.onEvict = options.onEvict;
    this.onSize = options.onSize;
    for (const entry of store.all()) this.track(entry.key, entry.bytes.length);
    // Accounting follows the store's own changes, so writes that do not come through here (usage
    // increments from the filters) are counted too.
    this.unsubscribe = store.onChange((changes) => this.onChanges(changes));
    this.scheduleEviction();
  }

  get size(): number {
    return this.metas.size;
  }

  get totalBytes(): number {
    return this.bytes;
  }

  /** Current write sequence; compare with `CacheMeta.seq` to see whether a key was written since. */
  get seq(): number {
    return this.seqCounter;
  }

  /** Looks up and marks as recently used. */
  get(customerId: string, resourceId: string | undefined): CachedEntry | undefined {
    const found = this.peek(customerId, resourceId);
    if (found) {
      this.metas.delete(found.entry.key);
      this.metas.set(found.entry.key, found.meta as CacheMeta);
    }
    return found;
  }

  /** Looks up without changing recency. */
  peek(customerId: string, resourceId: string | undefined): CachedEntry | undefined {
    const entry = this.store.get(customerId, resourceId || undefined);
    if (!entry) return undefined;
    const meta = this.metas.get(entry.key) ?? this.track(entry.key, entry.bytes.length);
    return { entry, meta };
  }

  /** Writes a value (a new store version if it changed) and marks it most recently used. */
  put(value: CustomerEntitlements, meta: { fetchedAtMs: number; validUntil?: number }): void {
    const key = entityKey(value.customerId, value.resourceId || undefined);
    this.store.upsert(value);
    const stored = this.store.get(value.customerId, value.resourceId || undefined);
    if (!stored) return;
    const existing = this.metas.get(key);
    if (existing) {
      this.metas.delete(key);
      this.bytes -= existing.bytes;
    }
    const next: CacheMeta = { fetchedAtMs: meta.fetchedAtMs, bytes: stored.bytes.length, seq: ++this.seqCounter };
    if (meta.validUntil !== undefined) next.validUntil = meta.validUntil;
    this.metas.set(key, next);
    this.bytes += next.bytes;
    this.changed();
  }

  /**
   * Rewrites a cached value in place (usage updates). Keeps its fetch time and recency; does nothing
   * when the key is not cached. Returns whether it was.
   */
  patch(customerId: string, resourceId: string | undefined, update: (value: CustomerEntitlements) => CustomerEntitlements): boolean {
    const entry = this.store.get(customerId, resourceId || undefined);
    if (!entry) return false;
    this.store.upsert(update(entry.value));
    const meta = this.metas.get(entry.key);
    if (meta) meta.seq = ++this.seqCounter;
    return true;
  }

  remove(customerId: string, resourceId: string | undefined): void {
    this.store.remove(customerId, resourceId || undefined);
  }

  /** Removes everything (one batch of removals for the filters). */
  clear(): void {
    this.store.replaceAll([]);
  }

  /** Cached keys, most recently used first, with their metadata. */
  byRecency(): { customerId: string; resourceId?: string; meta: Readonly<CacheMeta> }[] {
    const out: { customerId: string; resourceId?: string; meta: Readonly<CacheMeta> }[] = [];
    for (const [key, meta] of [...this.metas.entries()].reverse()) {
      const split = key.indexOf("\u0000");
      if (split < 0) out.push({ customerId: key, meta });
      else out.push({ customerId: key.slice(0, split), resourceId: key.slice(split + 1), meta });
    }
    return out;
  }

  close(): void {
    this.unsubscribe();
  }

  private track(key: string, bytes: number): CacheMeta {
    const meta: CacheMeta = { fetchedAtMs: this.now(), bytes, seq: ++this.seqCounter };
    this.metas.set(key, meta);
    this.bytes += bytes;
    return meta;
  }

  private onChanges(changes: readonly StoreChange[]): void {
    for (const change of changes) {
      const meta = this.metas.get(change.key);
      if (change.bytes.length === 0) {
        if (meta) {
          this.metas.delete(change.key);
          this.bytes -= meta.bytes;
        }
      } else if (meta) {
        this.bytes += change.bytes.length - meta.bytes;
        meta.bytes = change.bytes.length;
      } else {
        this.track(change.key, change.bytes.length);
      }
    }
    this.changed();
  }

  private changed(): void {
    this.onSize?.(this.metas.size, this.bytes);
    if (this.bytes > this.maxBytes) this.scheduleEviction();
  }

  /**
   * Evicts on a microtask: the store calls listeners synchronously, and a removal made from inside
   * a listener would reach later listeners before the change that caused it.
   */
  private scheduleEviction(): void {
    if (this.evictionScheduled) return;
    this.evictionScheduled = true;
    queueMicrotask(() => {
      this.evictionScheduled = false;
      this.evict();
    });
  }

  private evict(): void {
    let removed = 0;
    // The most recent entry always stays, even alone over the cap: it is the one being read.
    while (this.bytes > this.maxBytes && this.metas.size > 1) {
      const oldest = this.metas.keys().next().value;
      if (oldest === undefined) break;
      const entry = this.lookup(oldest);
      if (entry) this.store.remove(entry.customerId, entry.resourceId);
      else {
        const meta = this.metas.get(oldest);
        this.metas.delete(oldest);
        if (meta) this.bytes -= meta.bytes;
      }
      removed++;
    }
    if (removed > 0) {
      this.evictions += removed;
      this.onEvict?.(removed);
      this.onSize?.(this.metas.size, this.bytes);
    }
  }

  private lookup(key: string): StoredEntry | undefined {
    const split = key.indexOf("\u0000");
    return split < 0 ? this.store.get(key) : this.store.get(key.slice(0, split), key.slice(split + 1));
  }
}
