// Prometheus metrics of one control-plane instance. Each instance has its own registry (tests run
// several in one process). Stigg's documented `sidecar_*` counters keep their names so existing
// dashboards and alerts work; ours are prefixed `entitlement_gate_`. No customer or feature id is
// ever a label: labels are bounded enums.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { DecisionTally } from "./decisionTally.ts";

export type DecisionResult = "allow" | "deny" | "fallback";
export type DecisionApi = "sidecar" | "ext_authz" | "filter_fetch";

export class Metrics {
  readonly registry = new Registry();

  // Stigg Sidecar's names (reference section c).
  readonly initializationErrors = this.counter("sidecar_initialization_errors_total", "Initialization failures (invalid API key, misconfiguration).");
  readonly invalidApiKeyErrors = this.counter("sidecar_invalid_api_key_errors_total", "Upstream authentication failures.");
  readonly networkRequestErrors = this.counter("sidecar_network_request_errors_total", "Failed upstream requests (Edge, GraphQL, WebSocket).");
  readonly redisClientErrors = this.counter("sidecar_redis_client_errors_total", "Redis client errors.");
  readonly cacheHits = this.counter("sidecar_cache_hits_total", "Reads answered from the cache.");
  readonly cacheMisses = this.counter("sidecar_cache_misses_total", "Reads that missed the cache.");

  private readonly decisionTally = new DecisionTally();
  /** Read it (or scrape); count with `countDecision`, which the counter takes in when read. */
  readonly decisions: Counter<"api" | "result" | "reason"> = new Counter({
    name: "entitlement_gate_decisions_total",
    help: "Entitlement decisions by API, result and access-denied reason (empty when allowed).",
    labelNames: ["api", "result", "reason"] as const,
    registers: [this.registry],
    collect: () => this.decisionTally.flushInto(this.decisions),
  });
  readonly fallbacks = new Counter({
    name: "entitlement_gate_fallbacks_total",
    help: "Answers built from fallback values, by why.",
    labelNames: ["cause"] as const,
    registers: [this.registry],
  });
  readonly upstreamLatency = new Histogram({
    name: "entitlement_gate_upstream_request_duration_seconds",
    help: "Upstream request latency by endpoint and outcome.",
    labelNames: ["endpoint", "outcome"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly cacheEntries = this.gauge("entitlement_gate_cache_entries", "Customers (and customer + resource pairs) in the cache.");
  readonly cacheBytes = this.gauge("entitlement_gate_cache_bytes", "Bytes of encoded entries in the cache.");
  readonly syncClients = this.gauge("entitlement_gate_sync_clients", "Envoy filters connected to the sync stream.");
  readonly syncLagVersions = this.gauge("entitlement_gate_sync_lag_versions", "Largest gap between the store version and what a connected filter was last sent.");
  readonly eventStreamConnected = this.gauge("entitlement_gate_event_stream_connected", "1 while the Stigg event stream is connected.");
  readonly upstreamAuthValid = this.gauge("entitlement_gate_upstream_api_key_valid", "0 after Stigg rejected the API key; 1 otherwise.");

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.upstreamAuthValid.set(1);
  }

  /** One decision, counted on the hot path without prom-client's per-call label hashing. */
  countDecision(api: DecisionApi, result: DecisionResult, reason: string): void {
    this.decisionTally.count(api, result, reason);
  }

  /** Prometheus text exposition. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private counter(name: string, help: string): Counter {
    return new Counter({ name, help, registers: [this.registry] });
  }

  private gauge(name: string, help: string): Gauge {
    return new Gauge({ name, help, registers: [this.registry] });
  }
}
