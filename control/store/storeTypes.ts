import type { CustomerEntitlements } from "../model/entitlements.ts";

/** One customer (or customer + resource) as the store holds it. */
export interface StoredEntry {
  /** `entityKey(customerId, resourceId)`. */
  key: string;
  customerId: string;
  resourceId?: string;
  value: CustomerEntitlements;
  /** The compact entry (proto/ENTRY_FORMAT.md), encoded once per change. */
  bytes: Uint8Array;
}

/** One versioned change; `bytes` is empty when the entry was removed. */
export interface StoreChange {
  version: number;
  key: string;
  customerId: string;
  resourceId?: string;
  bytes: Uint8Array;
}

/** Called once per batch of changes made by one store call (a file reload is one batch). */
export type ChangeListener = (changes: readonly StoreChange[]) => void;

/** What an upstream source feeds; the store implements it. */
export interface EntitlementSink {
  /** The source's complete current content: entries not in `customers` are removed. */
  replaceAll(customers: readonly CustomerEntitlements[]): ReplaceResult;
  upsert(customer: CustomerEntitlements): boolean;
  remove(customerId: string, resourceId?: string): boolean;
}

export interface ReplaceResult {
  upserted: number;
  removed: number;
  unchanged: number;
}
