// A shared, optional cache that sits between this replica's in-memory store and Stigg's Edge API.
// Several control-plane replicas share it so a customer fetched by one is a hit for the others.
// It is an optimisation only: every method must fail soft, because a slow or broken second-level
// cache must never make a read slower than going to Edge directly.
import type { CustomerEntitlements } from "../model/entitlements.ts";

export interface SecondLevelCacheHit {
  entry: CustomerEntitlements;
  /** Epoch ms at which the entry was fetched from Stigg (not when it was cached). */
  fetchedAtMs: number;
  /** Epoch ms after which the entry must be re-fetched (its earliest entitlement validUntil), if any. */
  validUntil?: number;
}

export interface SecondLevelCacheStatus {
  connected: boolean;
  lastError?: string;
}

export interface SecondLevelCache {
  /** Never throws; resolves undefined on a miss, an error, or after timeoutMs. */
  get(customerId: string, resourceId: string | undefined, timeoutMs: number): Promise<SecondLevelCacheHit | undefined>;
  /** Never throws; last writer by fetchedAtMs wins. `validUntil` is kept with the entry and returned by get. */
  set(entry: CustomerEntitlements, fetchedAtMs: number, validUntil?: number): Promise<void>;
  /** Never throws. */
  delete(customerId: string, resourceId: string | undefined): Promise<void>;
  /** Never throws; drops every entry this deployment wrote (a packagePublished ALL_CUSTOMERS event). */
  clear(): Promise<void>;
  status(): SecondLevelCacheStatus;
  close(): Promise<void>;
}
