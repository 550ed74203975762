// The read and write paths every API of the control plane goes through (Stigg Sidecar v1, ext_authz,
// the filters' FetchCustomer). An upstream (the offline file, or Stigg) implements them; the store is
// the cache behind the reader.
import type { CustomerEntitlements } from "../model/entitlements.ts";

/**
 * Where a read was answered from:
 * - `cache`: the store held a fresh value;
 * - `upstream`: fetched just now (a miss, or an expired value);
 * - `stale`: upstream failed or timed out and the last known value is within max staleness;
 * - `unavailable`: nothing usable; the caller answers from fallbacks (`is_fallback`).
 */
export type ReadSource = "cache" | "upstream" | "stale" | "unavailable";

export interface ReadResult {
  /** Absent only when `source` is `unavailable`. A customer Stigg does not know is an entry with reason CustomerNotFound. */
  entry?: CustomerEntitlements;
  source: ReadSource;
  /** Why the read is `stale` or `unavailable` (for logs; never shown to end users). */
  error?: string;
}

export interface ReadOptions {
  /** The caller gave up (gRPC cancellation or deadline): stop waiting, but a shared fetch may go on for others. */
  signal?: AbortSignal;
  /** Upper bound for this read; defaults to the configured miss timeout. */
  timeoutMs?: number;
}

export interface EntitlementReader {
  read(customerId: string, resourceId: string | undefined, options?: ReadOptions): Promise<ReadResult>;
  /**
   * The answer `read` would give at once from what is held (a cache hit, the same result, metrics and
   * staleness rules), without a promise; undefined when `read` would have to wait (a miss, an expired
   * value, a fetch to start). Optional: readers without it are always read asynchronously.
   */
  readCached?(customerId: string, resourceId: string | undefined): ReadResult | undefined;
  /**
   * Re-fetches bypassing Edge (GraphQL `GetEntitlementsState`) for read-after-write consistency and
   * rewrites the cache. `entitledEntityExists` is true iff the fetch succeeded and the customer-wide
   * reason is absent or NoActiveSubscription (Stigg's ReloadEntitlements semantics).
   */
  reload(customerId: string, resourceId: string | undefined, options?: ReadOptions): Promise<{ entitledEntityExists: boolean }>;
}

export type UsageUpdateBehavior = "DELTA" | "SET";
export type DimensionValue = string | number | boolean;

export interface UsageReportInput {
  customerId: string;
  resourceId?: string;
  featureId: string;
  value: number;
  updateBehavior?: UsageUpdateBehavior;
  /** Epoch ms; Stigg's `createdAt`. */
  timestamp?: number;
  dimensions?: Record<string, DimensionValue>;
}

export interface UsageAck {
  measurementId: string;
  customerId: string;
  resourceId?: string;
  featureId: string;
  currentUsage?: number;
  /** Epoch ms. */
  usagePeriodStart?: number;
  usagePeriodEnd?: number;
}

export interface UsageEventInput {
  eventName: string;
  customerId: string;
  idempotencyKey: string;
  resourceId?: string;
  dimensions?: Record<string, DimensionValue>;
  /** Epoch ms. */
  timestamp?: number;
}

/** Writes go upstream and fail explicitly (Stigg: "errors are returned explicitly"). */
export interface UsageWriter {
  reportUsage(usage: UsageReportInput, options?: ReadOptions): Promise<UsageAck>;
  reportUsageBulk(usages: readonly UsageReportInput[], options?: ReadOptions): Promise<UsageAck[]>;
  reportEvents(events: readonly UsageEventInput[], options?: ReadOptions): Promise<void>;
}

/** A typed failure of a write, mapped to a gRPC status by the API layer. */
export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly kind: "unauthenticated" | "unavailable" | "timeout" | "rejected" | "internal",
  ) {
    super(message);
    this.name = "UpstreamError";
  }
}
