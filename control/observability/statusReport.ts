// The document behind the status page (/status.json). Customer ids appear only in `recentChanges`,
// and only when the caller proved it holds the admin token.
import type { Registry } from "prom-client";
import type { MetricSampler, RateWindow } from "./metricSampler.ts";
import type { RecentChange, RecentChanges } from "./recentChanges.ts";
import { readTotal } from "./registryReader.ts";

export type UpstreamKind = "file" | "stigg" | "custom";

export interface UpstreamInfo {
  kind: UpstreamKind;
  /** The source's own description ("file /etc/eg/entitlements.yaml", "Stigg …"). */
  description: string;
  loaded: boolean;
  reason?: string;
  /** Stigg only: false when WS_ENABLED=0 (no event stream by design). */
  eventStreamEnabled?: boolean;
}

export interface FilterDetail {
  nodeId: string;
  /** Store versions not yet sent to this filter. */
  lagVersions?: number;
}

/** What the report reads from the store: counts and encoded sizes, never the entitlements. */
export interface StoreView {
  readonly size: number;
  readonly version: number;
  readonly epoch: string;
  all(): readonly { bytes: Uint8Array }[];
}

export interface StatusSources {
  registry: Registry;
  store: StoreView;
  filters: { readonly subscriberCount: number };
  /** Per-filter detail when the sync service can give it. */
  filterDetails?: () => readonly FilterDetail[];
  readiness: () => { ready: boolean; reason?: string };
  upstream: () => UpstreamInfo;
  sampler: MetricSampler;
  recentChanges: RecentChanges;
  startedAtUnixMs: number;
  /** How often the page should poll. */
  pollMs: number;
  now?: () => number;
}

export interface StatusReport {
  generatedAtUnixMs: number;
  startedAtUnixMs: number;
  pollMs: number;
  health: { live: true; ready: boolean; reason?: string };
  upstream: UpstreamInfo & {
    /** Stigg only; null when not applicable or unknown. */
    eventStreamConnected: boolean | null;
    apiKeyValid: boolean | null;
    errors: { initialization: number; invalidApiKey: number; network: number; redis: number };
  };
  store: { version: number; epoch: string };
  cache: {
    entries: number;
    bytes: number;
    /** Over the window when there were reads in it, else since start; null before any read. */
    hitRatio: number | null;
    hitRatioScope: "window" | "total" | null;
    hits: number;
    misses: number;
  };
  filters: { connected: number; maxLagVersions: number | null; nodes: FilterDetail[] | null };
  decisions: Omit<RateWindow, "fallbacksInWindow" | "cacheHitsInWindow" | "cacheMissesInWindow" | "totals"> & {
    totals: Record<string, number>;
    /** Rate over the last sampled interval. */
    latestPerSecond: Record<string, number>;
  };
  fallbacks: { windowSeconds: number; byCauseInWindow: Record<string, number>; totalInWindow: number; totals: Record<string, number> };
  admin: boolean;
  /** Why credentials that came with the request did not open the admin view. */
  adminError?: string;
  recentChanges?: RecentChange[];
}

/** Sums encoded entry sizes once per store version (a 100,000-customer store takes a few ms). */
export class StoreFootprint {
  private measured: { epoch: string; version: number; bytes: number } | undefined;

  bytes(store: StoreView): number {
    const m = this.measured;
    if (m && m.epoch === store.epoch && m.version === store.version) return m.bytes;
    let bytes = 0;
    for (const entry of store.all()) bytes += entry.bytes.byteLength;
    this.measured = { epoch: store.epoch, version: store.version, bytes };
    return bytes;
  }
}

async function gaugeFlag(registry: Registry, name: string): Promise<boolean | null> {
  const value = await readTotal(registry, name);
  return value === undefined ? null : value > 0;
}

export async function buildStatusReport(sources: StatusSources, footprint: StoreFootprint, admin: boolean): Promise<StatusReport> {
  const { registry } = sources;
  const readiness = sources.readiness();
  const upstream = sources.upstream();
  const stigg = upstream.kind === "stigg";
  const [eventStreamConnected, apiKeyValid, initialization, invalidApiKey, network, redis, lag] = await Promise.all([
    stigg && upstream.eventStreamEnabled !== false ? gaugeFlag(registry, "entitlement_gate_event_stream_connected") : null,
    stigg ? gaugeFlag(registry, "entitlement_gate_upstream_api_key_valid") : null,
    readTotal(registry, "sidecar_initialization_errors_total"),
    readTotal(registry, "sidecar_invalid_api_key_errors_total"),
    readTotal(registry, "sidecar_network_request_errors_total"),
    readTotal(registry, "sidecar_redis_client_errors_total"),
    readTotal(registry, "entitlement_gate_sync_lag_versions"),
  ]);

  const window = sources.sampler.window();
  const { totals } = window;
  const windowReads = window.cacheHitsInWindow + window.cacheMissesInWindow;
  const totalReads = totals.cacheHits + totals.cacheMisses;
  const hitRatioScope = windowReads > 0 ? "window" : totalReads > 0 ? "total" : null;
  const hitRatio =
    hitRatioScope === "window" ? window.cacheHitsInWindow / windowReads : hitRatioScope === "total" ? totals.cacheHits / totalReads : null;

  const nodes = sources.filterDetails ? [...sources.filterDetails()] : null;
  const connected = sources.filters.subscriberCount;
  const nodeLags = (nodes ?? []).map((n) => n.lagVersions).filter((v): v is number => v !== undefined);
  const maxLagVersions = nodeLags.length > 0 ? Math.max(...nodeLags) : connected > 0 && lag !== undefined ? lag : null;

  const latestPerSecond: Record<string, number> = {};
  for (const [result, series] of Object.entries(window.decisionsPerSecond)) latestPerSecond[result] = series.at(-1) ?? 0;
  const totalInWindow = Object.values(window.fallbacksInWindow).reduce((a, b) => a + b, 0);

  const report: StatusReport = {
    generatedAtUnixMs: (sources.now ?? Date.now)(),
    startedAtUnixMs: sources.startedAtUnixMs,
    pollMs: sources.pollMs,
    health: readiness.ready ? { live: true, ready: true } : { live: true, ready: false, reason: readiness.reason ?? "not ready" },
    upstream: {
      ...upstream,
      eventStreamConnected,
      apiKeyValid,
      errors: { initialization: initialization ?? 0, invalidApiKey: invalidApiKey ?? 0, network: network ?? 0, redis: redis ?? 0 },
    },
    store: { version: sources.store.version, epoch: sources.store.epoch },
    cache: { entries: sources.store.size, bytes: footprint.bytes(sources.store), hitRatio, hitRatioScope, hits: totals.cacheHits, misses: totals.cacheMisses },
    filters: { connected, maxLagVersions, nodes },
    decisions: {
      intervalMs: window.intervalMs,
      windowSeconds: window.windowSeconds,
      times: window.times,
      decisionsPerSecond: window.decisionsPerSecond,
      decisionsInWindow: window.decisionsInWindow,
      totals: totals.decisions,
      latestPerSecond,
    },
    fallbacks: { windowSeconds: window.windowSeconds, byCauseInWindow: window.fallbacksInWindow, totalInWindow, totals: totals.fallbacks },
    admin,
  };
  if (admin) report.recentChanges = sources.recentChanges.list();
  return report;
}

/** The upstream line of the report, from any EntitlementSource-shaped source. */
export function describeUpstream(
  kind: UpstreamKind,
  source: { readonly description: string; status(): { loaded: boolean; reason?: string } },
  eventStreamEnabled?: boolean,
): UpstreamInfo {
  const status = source.status();
  const info: UpstreamInfo = { kind, description: source.description, loaded: status.loaded };
  if (status.reason !== undefined) info.reason = status.reason;
  if (eventStreamEnabled !== undefined) info.eventStreamEnabled = eventStreamEnabled;
  return info;
}
