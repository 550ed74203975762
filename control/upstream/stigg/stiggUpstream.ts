// Stigg as the control plane's upstream: Edge for cache misses, GraphQL for reloads and writes, the
// event stream for freshness, all feeding the bounded store the filters are synced from. Unlike the
// offline file it never loads "everything": entries arrive on demand and leave by LRU eviction.
import { randomUUID } from "node:crypto";
import { LruByteCache } from "../../cache/lruByteCache.ts";
import type { SecondLevelCache } from "../../cache/secondLevelCache.ts";
import type { Logger } from "../../log.ts";
import type { Metrics } from "../../metrics/metrics.ts";
import { StiggReader, type FetchedEntitlements, type StiggReadBackend } from "../../read/stiggReader.ts";
import type { EntitlementStore } from "../../store/entitlementStore.ts";
import type { EntitlementSink } from "../../store/storeTypes.ts";
import type { EntitlementSource, SourceStatus } from "../entitlementSource.ts";
import { DEFAULT_EDGE_API_URL, EdgeClient, sdkHeaders } from "./edgeClient.ts";
import { EventStream, DEFAULT_WS_URL } from "./eventStream.ts";
import { DEFAULT_API_URL, GraphqlClient } from "./graphqlClient.ts";

export interface StiggUpstreamOptions {
  apiKey: string;
  apiUrl?: string;
  edgeEnabled?: boolean;
  edgeApiUrl?: string;
  wsEnabled?: boolean;
  wsUrl?: string;
  /** CACHE_MAX_SIZE_BYTES. */
  cacheMaxSizeBytes: number;
  /** MISS_TIMEOUT_MS. */
  missTimeoutMs: number;
  /** MAX_STALENESS_SECONDS. */
  maxStalenessSeconds: number;
  /** EDGE_BUDGET_PER_MINUTE. */
  edgeBudgetPerMinute: number;
  store: EntitlementStore;
  logger: Logger;
  metrics: Metrics;
  secondLevelCache?: SecondLevelCache;
  /** Tuning for tests; production uses the defaults. */
  tuning?: {
    unstreamedTtlMs?: number;
    pingIntervalMs?: number;
    pongTimeoutMs?: number;
    reconnectBackoffBaseMs?: number;
    reconnectBackoffMaxMs?: number;
    rateLimitCooldownMs?: number;
    revalidationConcurrency?: number;
    keyCheckTimeoutMs?: number;
  };
}

export class StiggUpstream implements EntitlementSource {
  readonly description: string;
  readonly reader: StiggReader;
  readonly cache: LruByteCache;
  readonly edge: EdgeClient | undefined;
  readonly graphql: GraphqlClient;
  readonly stream: EventStream | undefined;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly options: StiggUpstreamOptions;
  private started = false;
  private authFailure: string | undefined;
  /** A refusal by the event stream or the start-up check is final; one seen on a request is not. */
  private authFailureFinal = false;
  private keyCheck: string | undefined;
  /** Entries fetched before this (i.e. read from the second-level cache) predate this process. */
  private readonly startedAtMs = Date.now();

  constructor(options: StiggUpstreamOptions) {
    this.options = options;
    this.logger = options.logger.child({ component: "stigg" });
    this.metrics = options.metrics;
    const edgeEnabled = options.edgeEnabled ?? true;
    const wsEnabled = options.wsEnabled ?? true;
    const instanceId = randomUUID();
    const tuning = options.tuning ?? {};
    this.description = `Stigg ${edgeEnabled ? `Edge ${options.edgeApiUrl ?? DEFAULT_EDGE_API_URL}` : `GraphQL ${options.apiUrl ?? DEFAULT_API_URL}`}${wsEnabled ? ` + events ${options.wsUrl ?? DEFAULT_WS_URL}` : ""}`;

    this.graphql = new GraphqlClient({ apiKey: options.apiKey, readTimeoutMs: options.missTimeoutMs, instanceId, ...(options.apiUrl ? { apiUrl: options.apiUrl } : {}) });
    this.edge = edgeEnabled
      ? new EdgeClient({
          apiKey: options.apiKey,
          timeoutMs: options.missTimeoutMs,
          requestsPerMinute: options.edgeBudgetPerMinute,
          instanceId,
          ...(options.edgeApiUrl ? { edgeApiUrl: options.edgeApiUrl } : {}),
          ...(tuning.rateLimitCooldownMs !== undefined ? { rateLimitCooldownMs: tuning.rateLimitCooldownMs } : {}),
        })
      : undefined;
    this.cache = new LruByteCache(options.store, {
      maxBytes: options.cacheMaxSizeBytes,
      onSize: (entries, bytes) => {
        this.metrics.cacheEntries.set(entries);
        this.metrics.cacheBytes.set(bytes);
      },
    });

    const edge = this.edge;
    const graphql = this.graphql;
    const backend: StiggReadBackend = {
      fetchEndpoint: edge ? "edge" : "graphql",
      async fetch(customerId, resourceId): Promise<FetchedEntitlements> {
        const result = edge ? await edge.fetchEntitlements(customerId, resourceId) : await graphql.getEntitlementsState(customerId, resourceId);
        return fetched(result.entitlements, result.validUntil);
      },
      async reload(customerId, resourceId, callOptions): Promise<FetchedEntitlements> {
        const result = await graphql.getEntitlementsState(customerId, resourceId, callOptions);
        return fetched(result.entitlements, result.validUntil);
      },
      reportUsage: (usage, callOptions) => graphql.reportUsage(usage, callOptions),
      reportUsageBulk: (usages, callOptions) => graphql.reportUsageBulk(usages, callOptions),
      reportEvents: (events, callOptions) => graphql.reportEvents(events, callOptions),
    };

    this.stream = wsEnabled
      ? new EventStream({
          apiKey: options.apiKey,
          instanceId,
          ...(options.wsUrl ? { wsUrl: options.wsUrl } : {}),
          ...(tuning.pingIntervalMs !== undefined ? { pingIntervalMs: tuning.pingIntervalMs } : {}),
          ...(tuning.pongTimeoutMs !== undefined ? { pongTimeoutMs: tuning.pongTimeoutMs } : {}),
          ...(tuning.reconnectBackoffBaseMs !== undefined ? { backoffBaseMs: tuning.reconnectBackoffBaseMs, backoffMinMs: Math.min(100, tuning.reconnectBackoffBaseMs) } : {}),
          ...(tuning.reconnectBackoffMaxMs !== undefined ? { backoffMaxMs: tuning.reconnectBackoffMaxMs } : {}),
          handlers: {
            entitlementsUpdated: (update) => {
              if (update.purge || !update.state) this.reader.purge(update.customerId, update.resourceId);
              else this.reader.applyUpdate(update.state.entitlements, update.state.validUntil);
            },
            usageUpdated: (update) => this.reader.applyUsage(update.customerId, update.resourceId, update.featureId, update),
            packagePublished: (migrationType) => {
              this.logger.info({ migrationType }, "package published");
              if (migrationType === "ALL_CUSTOMERS") this.reader.clearAll();
            },
            connected: ({ reconnect }) => {
              this.metrics.eventStreamConnected.set(1);
              this.logger.info({ reconnect }, "Stigg event stream connected");
              if (reconnect) void this.reader.revalidate();
              // Entries taken from the second-level cache while the stream was starting may predate this
              // process and events it never saw: re-read them now, in the background, within the budget.
              else if (options.secondLevelCache) void this.reader.revalidate(this.startedAtMs);
            },
            disconnected: (reason, wasConnected) => {
              this.metrics.eventStreamConnected.set(0);
              this.metrics.networkRequestErrors.inc();
              // One warning per outage; the retries behind it are debug.
              if (wasConnected) this.logger.warn({ reason }, "Stigg event stream disconnected; cached values now age out");
              else this.logger.debug({ reason }, "Stigg event stream connection attempt failed");
            },
            authFailed: (reason) => {
              this.metrics.eventStreamConnected.set(0);
              this.metrics.invalidApiKeyErrors.inc();
              this.onUnauthenticated(`event stream: ${reason}`, true);
            },
            malformed: (what) => this.logger.warn({ what }, "Stigg event dropped"),
          },
        })
      : undefined;

    const stream = this.stream;
    this.reader = new StiggReader({
      cache: this.cache,
      backend,
      // While the stream makes its first connection, entries are trusted as if it were up (a restart is warm
      // from the second-level cache); what was taken then is revalidated once it connects (above).
      streamHealthy: () => (stream?.healthy ?? false) || (stream?.starting ?? false),
      missTimeoutMs: options.missTimeoutMs,
      maxStalenessMs: options.maxStalenessSeconds * 1000,
      edgeBudgetPerMinute: options.edgeBudgetPerMinute,
      metrics: options.metrics,
      logger: options.logger,
      onUnauthenticated: (message) => this.onUnauthenticated(message, false),
      onUpstreamSuccess: () => {
        if (this.authFailure === undefined || this.authFailureFinal) return;
        this.logger.info("Stigg accepts the API key again");
        this.authFailure = undefined;
        this.metrics.upstreamAuthValid.set(1);
      },
      ...(options.secondLevelCache ? { secondLevelCache: options.secondLevelCache } : {}),
      ...(tuning.unstreamedTtlMs !== undefined ? { unstreamedTtlMs: tuning.unstreamedTtlMs } : {}),
      ...(tuning.revalidationConcurrency !== undefined ? { revalidationConcurrency: tuning.revalidationConcurrency } : {}),
    });
  }

  /** The reader is also the usage writer. */
  get usage(): StiggReader {
    return this.reader;
  }

  /** `sink` must be the store given to the constructor: the reader writes to it directly. */
  async start(sink: EntitlementSink): Promise<void> {
    if (sink !== this.options.store) throw new Error("StiggUpstream must be started with the store it was built with");
    this.stream?.start();
    await this.checkKey();
    this.started = true;
  }

  async stop(): Promise<void> {
    this.reader.close();
    this.stream?.stop();
    this.edge?.close();
    this.graphql.close();
    this.cache.close();
    await this.options.secondLevelCache?.close();
  }

  status(): SourceStatus {
    if (this.authFailure) return { loaded: false, reason: `Stigg refused the API key (SERVER_API_KEY): ${this.authFailure}` };
    if (!this.started) return { loaded: false, reason: "checking the Stigg API key" };
    const problems: string[] = [];
    if (this.keyCheck) problems.push(this.keyCheck);
    if (this.stream && !this.stream.healthy) problems.push(`event stream ${this.stream.state}${this.stream.error ? `: ${this.stream.error}` : ""}`);
    return problems.length > 0 ? { loaded: true, reason: problems.join("; ") } : { loaded: true };
  }

  private onUnauthenticated(message: string, final: boolean): void {
    if (this.authFailure === undefined) this.logger.error({ reason: message }, "Stigg refused the API key; serving cache and fallbacks");
    this.authFailure ??= message;
    this.authFailureFinal ||= final;
    this.metrics.upstreamAuthValid.set(0);
  }

  /** What the SDK does at start: fetch the SDK configuration, which fails on a bad key. */
  private async checkKey(): Promise<void> {
    const timeoutMs = this.options.tuning?.keyCheckTimeoutMs ?? 5_000;
    try {
      if (this.edge) {
        const base = new URL(this.options.edgeApiUrl ?? DEFAULT_EDGE_API_URL);
        const url = `${base.origin}${base.pathname.replace(/\/+$/, "")}/v1/config/server-sdk-configuration.json`;
        const response = await fetch(url, { headers: sdkHeaders(this.options.apiKey, "NODE_SERVER_SDK", randomUUID()), signal: AbortSignal.timeout(timeoutMs) });
        await response.body?.cancel();
        if (response.status === 401 || response.status === 403) {
          this.metrics.invalidApiKeyErrors.inc();
          this.metrics.initializationErrors.inc();
          this.onUnauthenticated(`Edge answered ${response.status} to the SDK configuration request`, true);
          return;
        }
        if (!response.ok) throw new Error(`Edge answered ${response.status} to the SDK configuration request`);
      } else {
        await this.graphql.sdkConfiguration({ timeoutMs });
      }
      this.keyCheck = undefined;
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.metrics.initializationErrors.inc();
      if ((error as { kind?: unknown }).kind === "unauthenticated") {
        this.metrics.invalidApiKeyErrors.inc();
        this.onUnauthenticated(message, true);
        return;
      }
      this.metrics.networkRequestErrors.inc();
      // Like Stigg's Sidecar: keep running on start-up errors and serve cache and fallbacks.
      this.keyCheck = `the API key could not be checked: ${message}`;
      this.logger.warn({ err: message }, "Stigg API key check failed; continuing");
    }
  }
}

function fetched(entitlements: FetchedEntitlements["entitlements"], validUntil: number | undefined): FetchedEntitlements {
  return validUntil === undefined ? { entitlements } : { entitlements, validUntil };
}
