// The read and write paths in Stigg mode. A read is answered from the store while the value is
// fresh, otherwise from one shared fetch (Edge, or GraphQL with Edge disabled) bounded by the miss
// timeout and the caller, otherwise from the last known value within the staleness bound, otherwise
// `unavailable` (the caller then answers from fallbacks).
import { SingleFlight, WaitAbortedError, WaitTimeoutError } from "../concurrency/singleFlight.ts";
import { TokenBucket } from "../concurrency/tokenBucket.ts";
import type { LruByteCache } from "../cache/lruByteCache.ts";
import type { SecondLevelCache } from "../cache/secondLevelCache.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics/metrics.ts";
import { entityKey, type CustomerEntitlements, type FeatureEntitlement } from "../model/entitlements.ts";
import {
  UpstreamError,
  type EntitlementReader,
  type ReadOptions,
  type ReadResult,
  type UsageAck,
  type UsageEventInput,
  type UsageReportInput,
  type UsageWriter,
} from "./readTypes.ts";

/** What one upstream fetch returns. */
export interface FetchedEntitlements {
  entitlements: CustomerEntitlements;
  validUntil?: number;
}

/** Where values come from; the Stigg upstream provides Edge/GraphQL behind these. */
export interface StiggReadBackend {
  /** The cache-miss read (Edge, or GraphQL when Edge is disabled). Must settle within its own timeout. */
  fetch(customerId: string, resourceId: string | undefined): Promise<FetchedEntitlements>;
  /** GraphQL `GetEntitlementsState`, bypassing Edge's cache. */
  reload(customerId: string, resourceId: string | undefined, options: { signal?: AbortSignal; timeoutMs: number }): Promise<FetchedEntitlements>;
  reportUsage(usage: UsageReportInput, options: ReadOptions): Promise<UsageAck>;
  reportUsageBulk(usages: readonly UsageReportInput[], options: ReadOptions): Promise<UsageAck[]>;
  reportEvents(events: readonly UsageEventInput[], options: ReadOptions): Promise<void>;
  /** Which endpoint `fetch` uses, for the latency metric. */
  readonly fetchEndpoint: string;
}

export interface StiggReaderOptions {
  cache: LruByteCache;
  backend: StiggReadBackend;
  /** True while the event stream delivers updates (values need no TTL then). */
  streamHealthy: () => boolean;
  /** Bound for one read (MISS_TIMEOUT_MS). */
  missTimeoutMs: number;
  /** How old a last known value may be when served as `stale` (MAX_STALENESS_SECONDS · 1000); 0 = never. */
  maxStalenessMs: number;
  /** While the event stream is down, values older than this are re-fetched. Default 30 s. */
  unstreamedTtlMs?: number;
  /** Bound for a reload. Default 5 s. */
  reloadTimeoutMs?: number;
  /** Edge requests per minute for this key (EDGE_BUDGET_PER_MINUTE); revalidation uses a share of it. */
  edgeBudgetPerMinute: number;
  /** Share of the Edge budget revalidation may use, leaving the rest for live misses. Default 0.5. */
  revalidationShare?: number;
  /** Concurrent revalidation fetches. Default 4. */
  revalidationConcurrency?: number;
  secondLevelCache?: SecondLevelCache;
  /** Bound for one second-level cache read. Default 50 ms. */
  secondLevelTimeoutMs?: number;
  metrics: Metrics;
  logger: Logger;
  /** Reports an upstream refusal of the API key. */
  onUnauthenticated?: (message: string) => void;
  /** Reports an upstream call that succeeded (the key works again after a refusal). */
  onUpstreamSuccess?: () => void;
  now?: () => number;
}

export interface RevalidationStats {
  runs: number;
  refreshed: number;
  failed: number;
  running: boolean;
}

export class StiggReader implements EntitlementReader, UsageWriter {
  private readonly cache: LruByteCache;
  private readonly backend: StiggReadBackend;
  private readonly streamHealthy: () => boolean;
  private readonly missTimeoutMs: number;
  private readonly maxStalenessMs: number;
  private readonly unstreamedTtlMs: number;
  private readonly reloadTimeoutMs: number;
  private readonly secondLevel: SecondLevelCache | undefined;
  private readonly secondLevelTimeoutMs: number;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly onUnauthenticated: ((message: string) => void) | undefined;
  private readonly onUpstreamSuccess: (() => void) | undefined;
  private readonly flights = new SingleFlight<string, CustomerEntitlements>();
  /** Keys an event wrote or purged while a fetch for them was in flight: that fetch's value is older. */
  private readonly overtaken = new Set<string>();
  private readonly inFlight = new Set<string>();
  private readonly revalidationBudget: TokenBucket;
  private readonly revalidationConcurrency: number;
  private revalidationGeneration = 0;
  private revalidating: Promise<void> | undefined;
  private closed = false;
  readonly revalidation: RevalidationStats = { runs: 0, refreshed: 0, failed: 0, running: false };

  constructor(options: StiggReaderOptions) {
    this.cache = options.cache;
    this.backend = options.backend;
    this.streamHealthy = options.streamHealthy;
    this.missTimeoutMs = options.missTimeoutMs;
    this.maxStalenessMs = options.maxStalenessMs;
    this.unstreamedTtlMs = options.unstreamedTtlMs ?? 30_000;
    this.reloadTimeoutMs = options.reloadTimeoutMs ?? 5_000;
    this.secondLevel = options.secondLevelCache;
    this.secondLevelTimeoutMs = options.secondLevelTimeoutMs ?? 50;
    this.metrics = options.metrics;
    this.logger = options.logger.child({ component: "stigg-reader" });
    this.now = options.now ?? Date.now;
    this.onUnauthenticated = options.onUnauthenticated;
    this.onUpstreamSuccess = options.onUpstreamSuccess;
    const share = options.revalidationShare ?? 0.5;
    const perMinute = Math.max(1, options.edgeBudgetPerMinute * share);
    this.revalidationBudget = new TokenBucket(perMinute, Math.max(1, Math.min(perMinute / 60, 10)));
    this.revalidationConcurrency = Math.max(1, options.revalidationConcurrency ?? 4);
  }

  async read(customerId: string, resourceId: string | undefined, options: ReadOptions = {}): Promise<ReadResult> {
    const resource = resourceId || undefined;
    const timeoutMs = Math.min(options.timeoutMs ?? this.missTimeoutMs, this.missTimeoutMs);
    // Reference d.1 step 5: a resource read also makes sure the customer-level entry is there.
    const parent = resource !== undefined && !this.cache.peek(customerId, undefined) ? this.shared(customerId, undefined, options.signal, timeoutMs) : undefined;
    const held = this.cache.get(customerId, resource);
    if (held && this.isFresh(held.meta)) {
      this.metrics.cacheHits.inc();
      // A hit is not held up by the customer-level fetch; it lands in the store when it is done.
      parent?.catch(() => undefined);
      return { entry: held.entry.value, source: "cache" };
    }
    this.metrics.cacheMisses.inc();
    try {
      const [entry] = await Promise.all([this.shared(customerId, resource, options.signal, timeoutMs), parent?.catch(() => undefined)]);
      return { entry, source: "upstream" };
    } catch (error) {
      return this.lastKnown(customerId, resource, describe(error));
    }
  }

  /**
   * `read`'s cache hit without a promise: a fresh held value (counted as a hit), unless a resource read
   * still has to fetch its customer-level entry, in which case `read` starts that fetch.
   */
  readCached(customerId: string, resourceId: string | undefined): ReadResult | undefined {
    const resource = resourceId || undefined;
    if (resource !== undefined && !this.cache.peek(customerId, undefined)) return undefined;
    // Marks the value recently used, as `read` does whether or not it is fresh.
    const held = this.cache.get(customerId, resource);
    if (!held || !this.isFresh(held.meta)) return undefined;
    this.metrics.cacheHits.inc();
    return { entry: held.entry.value, source: "cache" };
  }

  async reload(customerId: string, resourceId: string | undefined, options: ReadOptions = {}): Promise<{ entitledEntityExists: boolean }> {
    const resource = resourceId || undefined;
    const key = entityKey(customerId, resource);
    const started = this.cache.seq;
    const reloadOptions: { signal?: AbortSignal; timeoutMs: number } = { timeoutMs: options.timeoutMs ?? this.reloadTimeoutMs };
    if (options.signal) reloadOptions.signal = options.signal;
    const timer = this.metrics.upstreamLatency.startTimer({ endpoint: "graphql" });
    try {
      const fetched = await this.backend.reload(customerId, resource, reloadOptions);
      timer({ outcome: "ok" });
      this.onUpstreamSuccess?.();
      this.store(key, fetched, started);
      const reason = fetched.entitlements.accessDeniedReason;
      return { entitledEntityExists: reason === undefined || reason === "NoActiveSubscription" };
    } catch (error) {
      timer({ outcome: "error" });
      this.countFailure(error);
      this.logger.warn({ customerId, resourceId: resource, err: describe(error) }, "reload failed");
      return { entitledEntityExists: false };
    }
  }

  async reportUsage(usage: UsageReportInput, options: ReadOptions = {}): Promise<UsageAck> {
    const ack = await this.write("ReportUsage", () => this.backend.reportUsage(usage, options));
    this.applyAck(ack);
    return ack;
  }

  async reportUsageBulk(usages: readonly UsageReportInput[], options: ReadOptions = {}): Promise<UsageAck[]> {
    const acks = await this.write("ReportUsageBulk", () => this.backend.reportUsageBulk(usages, options));
    for (const ack of acks) this.applyAck(ack);
    return acks;
  }

  async reportEvents(events: readonly UsageEventInput[], options: ReadOptions = {}): Promise<void> {
    // Events are aggregated by Stigg; the usage change arrives later as a usageUpdatedV2 event.
    await this.write("ReportEvent", () => this.backend.reportEvents(events, options));
  }

  // ---- event stream hooks -------------------------------------------------------------------

  /** entitlementsUpdatedV2: replaces a cached (or in-flight) entry. */
  applyUpdate(value: CustomerEntitlements, validUntil: number | undefined): void {
    const key = entityKey(value.customerId, value.resourceId || undefined);
    const fetchedAtMs = this.now();
    if (this.inFlight.has(key)) this.overtaken.add(key);
    if (this.cache.peek(value.customerId, value.resourceId) || this.inFlight.has(key)) {
      this.cache.put(value, validUntil === undefined ? { fetchedAtMs } : { fetchedAtMs, validUntil });
    }
    void this.secondLevel?.set(value, fetchedAtMs, validUntil);
  }

  /** An empty update: forget the entry; the next read fetches it. */
  purge(customerId: string, resourceId: string | undefined): void {
    const key = entityKey(customerId, resourceId || undefined);
    if (this.inFlight.has(key)) this.overtaken.add(key);
    this.cache.remove(customerId, resourceId);
    void this.secondLevel?.delete(customerId, resourceId);
  }

  /** usageUpdatedV2: patches usage if cached. */
  applyUsage(customerId: string, resourceId: string | undefined, featureId: string, usage: { currentUsage: number; usagePeriodStart?: number; usagePeriodEnd?: number }): void {
    const patched = this.cache.patch(customerId, resourceId, (value) => withUsage(value, featureId, usage));
    // Another replica's copy in the second-level cache would now carry old usage.
    if (!patched) void this.secondLevel?.delete(customerId, resourceId);
    else {
      const entry = this.cache.peek(customerId, resourceId);
      if (entry) void this.secondLevel?.set(entry.entry.value, entry.meta.fetchedAtMs, entry.meta.validUntil);
    }
  }

  /** packagePublished ALL_CUSTOMERS: every entry may have changed. */
  clearAll(): void {
    for (const key of this.inFlight) this.overtaken.add(key);
    this.cache.clear();
    void this.secondLevel?.clear();
  }

  /**
   * After the event stream reconnects, events may have been missed: re-fetch what was cached before,
   * most recently used first, in the background and within a share of the Edge budget. Nothing is
   * flushed, so reads keep hitting the cache meanwhile. `fetchedBeforeMs` limits it to older entries
   * (default: everything fetched until now).
   */
  revalidate(fetchedBeforeMs?: number): Promise<void> {
    const generation = ++this.revalidationGeneration;
    const cutoff = fetchedBeforeMs ?? this.now();
    const queue = this.cache.byRecency().filter((item) => item.meta.fetchedAtMs < cutoff);
    this.revalidation.runs += 1;
    this.revalidation.running = true;
    const worker = async (): Promise<void> => {
      for (;;) {
        if (this.closed || generation !== this.revalidationGeneration) return;
        const item = queue.shift();
        if (!item) return;
        const current = this.cache.peek(item.customerId, item.resourceId);
        if (!current || current.meta.fetchedAtMs >= cutoff) continue;
        const wait = this.revalidationBudget.reserve(Number.POSITIVE_INFINITY) ?? 0;
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
        if (this.closed || generation !== this.revalidationGeneration) return;
        try {
          // From Stigg itself: the second-level cache may hold the very value being doubted (every
          // replica lost the stream, or this one wrote it before a restart).
          await this.shared(item.customerId, item.resourceId, undefined, this.missTimeoutMs * 4, true);
          this.revalidation.refreshed += 1;
        } catch {
          this.revalidation.failed += 1;
        }
      }
    };
    const run = Promise.all(Array.from({ length: this.revalidationConcurrency }, worker)).then(() => {
      if (generation === this.revalidationGeneration) this.revalidation.running = false;
    });
    this.revalidating = run;
    return run;
  }

  close(): void {
    this.closed = true;
    this.revalidationGeneration++;
  }

  /** Waits for a background revalidation (tests, shutdown). */
  async idle(): Promise<void> {
    await this.revalidating;
  }

  // ---- internals ----------------------------------------------------------------------------

  private isFresh(meta: { fetchedAtMs: number; validUntil?: number }): boolean {
    const now = this.now();
    if (meta.validUntil !== undefined && meta.validUntil <= now) return false;
    return this.streamHealthy() || now - meta.fetchedAtMs < this.unstreamedTtlMs;
  }

  /** One fetch per key, shared by every reader; each waiter stops at its own bound. */
  private shared(customerId: string, resourceId: string | undefined, signal: AbortSignal | undefined, timeoutMs: number, upstreamOnly = false): Promise<CustomerEntitlements> {
    const key = entityKey(customerId, resourceId);
    const wait: { signal?: AbortSignal; timeoutMs: number } = { timeoutMs };
    if (signal) wait.signal = signal;
    return this.flights.run(key, () => this.fetchAndStore(key, customerId, resourceId, upstreamOnly), wait);
  }

  private async fetchAndStore(key: string, customerId: string, resourceId: string | undefined, upstreamOnly: boolean): Promise<CustomerEntitlements> {
    this.overtaken.delete(key);
    this.inFlight.add(key);
    try {
      return await this.fetchAndStoreOnce(key, customerId, resourceId, upstreamOnly);
    } finally {
      this.inFlight.delete(key);
      this.overtaken.delete(key);
    }
  }

  private async fetchAndStoreOnce(key: string, customerId: string, resourceId: string | undefined, upstreamOnly: boolean): Promise<CustomerEntitlements> {
    const started = this.cache.seq;
    const fromSecondLevel = upstreamOnly ? undefined : await this.fromSecondLevel(customerId, resourceId);
    if (fromSecondLevel) {
      this.store(key, fromSecondLevel.fetched, started, fromSecondLevel.fetchedAtMs);
      return fromSecondLevel.fetched.entitlements;
    }
    const timer = this.metrics.upstreamLatency.startTimer({ endpoint: this.backend.fetchEndpoint });
    try {
      const fetched = await this.backend.fetch(customerId, resourceId);
      timer({ outcome: "ok" });
      this.onUpstreamSuccess?.();
      const fetchedAtMs = this.now();
      this.store(key, fetched, started, fetchedAtMs);
      void this.secondLevel?.set(fetched.entitlements, fetchedAtMs, fetched.validUntil);
      return fetched.entitlements;
    } catch (error) {
      timer({ outcome: "error" });
      this.countFailure(error);
      throw error;
    }
  }

  private async fromSecondLevel(customerId: string, resourceId: string | undefined): Promise<{ fetched: FetchedEntitlements; fetchedAtMs: number } | undefined> {
    if (!this.secondLevel) return undefined;
    const hit = await this.secondLevel.get(customerId, resourceId, this.secondLevelTimeoutMs).catch(() => undefined);
    // Past its validUntil, a shared copy grants what has ended (a promotion, a credit grant): Edge instead.
    if (!hit || !this.isFresh(hit)) return undefined;
    return { fetched: hit.validUntil === undefined ? { entitlements: hit.entry } : { entitlements: hit.entry, validUntil: hit.validUntil }, fetchedAtMs: hit.fetchedAtMs };
  }

  /** Writes a fetched value unless an event for the key arrived while it was being fetched. */
  private store(key: string, fetched: FetchedEntitlements, startedSeq: number, fetchedAtMs = this.now()): void {
    const { customerId, resourceId } = fetched.entitlements;
    if (this.overtaken.delete(key)) return;
    const current = this.cache.peek(customerId, resourceId);
    if (current && current.meta.seq > startedSeq && current.meta.fetchedAtMs > fetchedAtMs) return;
    this.cache.put(fetched.entitlements, fetched.validUntil === undefined ? { fetchedAtMs } : { fetchedAtMs, validUntil: fetched.validUntil });
  }

  private lastKnown(customerId: string, resourceId: string | undefined, error: string): ReadResult {
    const held = this.cache.peek(customerId, resourceId);
    const now = this.now();
    if (held && this.maxStalenessMs > 0 && now - held.meta.fetchedAtMs <= this.maxStalenessMs) {
      // A value past its validUntil granted something that has ended; serving it would over-grant.
      if (held.meta.validUntil === undefined || held.meta.validUntil > now) {
        return { entry: held.entry.value, source: "stale", error };
      }
    }
    return { source: "unavailable", error };
  }

  private async write<T>(operation: string, send: () => Promise<T>): Promise<T> {
    const timer = this.metrics.upstreamLatency.startTimer({ endpoint: "graphql" });
    try {
      const result = await send();
      timer({ outcome: "ok" });
      this.onUpstreamSuccess?.();
      return result;
    } catch (error) {
      timer({ outcome: "error" });
      this.countFailure(error);
      if (error instanceof UpstreamError) throw error;
      throw new UpstreamError(`${operation}: ${describe(error)}`, "internal");
    }
  }

  private applyAck(ack: UsageAck): void {
    if (ack.currentUsage === undefined) return;
    const usage: { currentUsage: number; usagePeriodStart?: number; usagePeriodEnd?: number } = { currentUsage: ack.currentUsage };
    if (ack.usagePeriodStart !== undefined) usage.usagePeriodStart = ack.usagePeriodStart;
    if (ack.usagePeriodEnd !== undefined) usage.usagePeriodEnd = ack.usagePeriodEnd;
    this.cache.patch(ack.customerId, ack.resourceId, (value) => withUsage(value, ack.featureId, usage));
  }

  private countFailure(error: unknown): void {
    this.metrics.networkRequestErrors.inc();
    if (isUnauthenticated(error)) {
      this.metrics.invalidApiKeyErrors.inc();
      this.onUnauthenticated?.(describe(error));
    }
  }
}

function withUsage(
  value: CustomerEntitlements,
  featureId: string,
  usage: { currentUsage: number; usagePeriodStart?: number; usagePeriodEnd?: number },
): CustomerEntitlements {
  const index = value.entitlements.findIndex((e) => e.featureId === featureId);
  const feature = value.entitlements[index];
  if (!feature) return value;
  const next: FeatureEntitlement = { ...feature, currentUsage: usage.currentUsage };
  if (usage.usagePeriodStart !== undefined) next.usagePeriodStart = usage.usagePeriodStart;
  if (usage.usagePeriodEnd !== undefined) next.usagePeriodEnd = usage.usagePeriodEnd;
  const entitlements = [...value.entitlements];
  entitlements[index] = next;
  return { ...value, entitlements };
}

function isUnauthenticated(error: unknown): boolean {
  if (error instanceof UpstreamError) return error.kind === "unauthenticated";
  return typeof error === "object" && error !== null && (error as { kind?: unknown }).kind === "unauthorized";
}

function describe(error: unknown): string {
  if (error instanceof WaitTimeoutError) return `upstream did not answer within ${error.timeoutMs} ms`;
  if (error instanceof WaitAbortedError) return "the caller gave up";
  return error instanceof Error ? error.message : String(error);
}
