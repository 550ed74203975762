// The versioned store every upstream source feeds and the sync service reads. One version per
// change, so a subscriber can resume from any version the delta ring still covers.
import { randomUUID } from "node:crypto";
import { encodeEntry } from "../codec/entryCodec.ts";
import { entityKey, isMetered, type CustomerEntitlements } from "../model/entitlements.ts";
import { DeltaRing } from "./deltaRing.ts";
import { fingerprint } from "./fingerprint.ts";
import type { ChangeListener, EntitlementSink, ReplaceResult, StoreChange, StoredEntry } from "./storeTypes.ts";

export const DEFAULT_DELTA_RING_SIZE = 10_000;

export interface EntitlementStoreOptions {
  /** How many recent changes are kept for resumes. */
  deltaRingSize?: number;
  /** Fixed epoch (tests); a random id per store otherwise. */
  epoch?: string;
}

export type UsageResult = "applied" | "customer-not-found" | "feature-not-metered";

interface Held extends StoredEntry {
  fingerprint: string;
}

export class EntitlementStore implements EntitlementSink {
  readonly epoch: string;
  private currentVersion = 0;
  private readonly entries = new Map<string, Held>();
  private readonly ring: DeltaRing;
  private readonly listeners = new Set<ChangeListener>();

  constructor(options: EntitlementStoreOptions = {}) {
    this.epoch = options.epoch ?? randomUUID();
    this.ring = new DeltaRing(options.deltaRingSize ?? DEFAULT_DELTA_RING_SIZE);
  }

  get version(): number {
    return this.currentVersion;
  }

  get size(): number {
    return this.entries.size;
  }

  get(customerId: string, resourceId?: string): StoredEntry | undefined {
    return this.entries.get(entityKey(customerId, resourceId || undefined));
  }

  /** Every entry, in insertion order. Callers must not mutate what they get. */
  all(): StoredEntry[] {
    return [...this.entries.values()];
  }

  /** Changes after `afterVersion`, or undefined when the ring no longer holds all of them. */
  changesSince(afterVersion: number): StoreChange[] | undefined {
    return this.ring.since(afterVersion, this.currentVersion);
  }

  /** Returns a function that removes the listener. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  upsert(customer: CustomerEntitlements): boolean {
    const change = this.applyUpsert(customer);
    if (change) this.emit([change]);
    return change !== undefined;
  }

  remove(customerId: string, resourceId?: string): boolean {
    const change = this.applyRemove(entityKey(customerId, resourceId || undefined));
    if (change) this.emit([change]);
    return change !== undefined;
  }

  replaceAll(customers: readonly CustomerEntitlements[]): ReplaceResult {
    const changes: StoreChange[] = [];
    const keep = new Set<string>();
    let unchanged = 0;
    for (const customer of customers) {
      keep.add(entityKey(customer.customerId, customer.resourceId || undefined));
      const change = this.applyUpsert(customer);
      if (change) changes.push(change);
      else unchanged++;
    }
    const upserted = changes.length;
    for (const key of [...this.entries.keys()]) {
      if (keep.has(key)) continue;
      const change = this.applyRemove(key);
      if (change) changes.push(change);
    }
    if (changes.length > 0) this.emit(changes);
    return { upserted, removed: changes.length - upserted, unchanged };
  }

  /**
   * Adds `delta` to the current usage of a metered feature (a new version, so every filter sees the
   * new usage).
   */
  addUsage(customerId: string, resourceId: string | undefined, featureId: string, delta: number): UsageResult {
    const entry = this.get(customerId, resourceId);
    if (!entry) return "customer-not-found";
    const index = entry.value.entitlements.findIndex((e) => e.featureId === featureId);
    const feature = entry.value.entitlements[index];
    if (!feature || !isMetered(feature)) return "feature-not-metered";
    const entitlements = [...entry.value.entitlements];
    entitlements[index] = { ...feature, currentUsage: feature.currentUsage + delta };
    if (delta !== 0) this.upsert({ ...entry.value, entitlements });
    return "applied";
  }

  private applyUpsert(customer: CustomerEntitlements): StoreChange | undefined {
    const resourceId = customer.resourceId || undefined;
    const value: CustomerEntitlements = { ...customer };
    if (resourceId === undefined) delete value.resourceId;
    const key = entityKey(customer.customerId, resourceId);
    const print = fingerprint(value);
    if (this.entries.get(key)?.fingerprint === print) return undefined;
    const bytes = encodeEntry(value);
    const held: Held = { key, customerId: customer.customerId, value, bytes, fingerprint: print };
    if (resourceId !== undefined) held.resourceId = resourceId;
    this.entries.set(key, held);
    return this.record({ key, customerId: customer.customerId, resourceId, bytes });
  }

  private applyRemove(key: string): StoreChange | undefined {
    const held = this.entries.get(key);
    if (!held) return undefined;
    this.entries.delete(key);
    return this.record({ key, customerId: held.customerId, resourceId: held.resourceId, bytes: new Uint8Array(0) });
  }

  private record(partial: Omit<StoreChange, "version" | "resourceId"> & { resourceId: string | undefined }): StoreChange {
    this.currentVersion++;
    const change: StoreChange = { version: this.currentVersion, key: partial.key, customerId: partial.customerId, bytes: partial.bytes };
    if (partial.resourceId !== undefined) change.resourceId = partial.resourceId;
    this.ring.push(change);
    return change;
  }

  private emit(changes: readonly StoreChange[]): void {
    for (const listener of [...this.listeners]) listener(changes);
  }
}
