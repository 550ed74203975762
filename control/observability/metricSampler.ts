// Samples the decision, fallback and cache counters once per interval into a bounded ring, so the
// status page can show rates over the last few minutes without a Prometheus server. Counters are
// read by name from the registry (see registryReader.ts).
import type { Registry } from "prom-client";
import { readByLabel, readTotal } from "./registryReader.ts";

export const DECISIONS_METRIC = "entitlement_gate_decisions_total";
export const FALLBACKS_METRIC = "entitlement_gate_fallbacks_total";
export const CACHE_HITS_METRIC = "sidecar_cache_hits_total";
export const CACHE_MISSES_METRIC = "sidecar_cache_misses_total";

/** Always present in the output (zero when nothing was decided), so the chart keeps its legend. */
export const DECISION_RESULTS = ["allow", "deny", "fallback"] as const;

export interface MetricSamplerOptions {
  registry: Registry;
  /** Defaults to 1000. */
  intervalMs?: number;
  /** How far back the window reaches; defaults to 300 (five minutes). */
  windowSeconds?: number;
  now?: () => number;
}

interface Sample {
  atMs: number;
  decisions: Map<string, number>;
  fallbacks: Map<string, number>;
  cacheHits: number;
  cacheMisses: number;
}

export interface RateWindow {
  intervalMs: number;
  windowSeconds: number;
  /** End of each sampled interval (unix ms), oldest first. */
  times: number[];
  /** Decisions per second by result, one value per entry of `times`. */
  decisionsPerSecond: Record<string, number[]>;
  /** Decisions counted inside the window, by result. */
  decisionsInWindow: Record<string, number>;
  /** Fallback answers counted inside the window, by cause. */
  fallbacksInWindow: Record<string, number>;
  cacheHitsInWindow: number;
  cacheMissesInWindow: number;
  /** Since the process started. */
  totals: { decisions: Record<string, number>; fallbacks: Record<string, number>; cacheHits: number; cacheMisses: number };
}

/** A counter that went down was reset (a new registry): everything it now holds is new. */
function increase(current: number, previous: number): number {
  return current >= previous ? current - previous : current;
}

function mapIncrease(current: Map<string, number>, previous: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [key, value] of current) out.set(key, increase(value, previous.get(key) ?? 0));
  return out;
}

function toRecord(map: Map<string, number>, always: readonly string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of always) out[key] = 0;
  for (const [key, value] of map) out[key] = value;
  return out;
}

export class MetricSampler {
  readonly intervalMs: number;
  readonly windowSeconds: number;
  private readonly registry: Registry;
  private readonly now: () => number;
  private readonly capacity: number;
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  private sampling: Promise<void> | undefined;

  constructor(options: MetricSamplerOptions) {
    this.registry = options.registry;
    this.intervalMs = Math.max(10, options.intervalMs ?? 1000);
    this.windowSeconds = Math.max(1, options.windowSeconds ?? 300);
    this.now = options.now ?? Date.now;
    // One more sample than intervals: N intervals need N + 1 readings.
    this.capacity = Math.min(10_000, Math.ceil((this.windowSeconds * 1000) / this.intervalMs) + 1);
  }

  /** Takes a first sample now, then one per interval. The timer never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    void this.sampleNow();
    this.timer = setInterval(() => void this.sampleNow(), this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the counters once; overlapping calls share one reading. */
  sampleNow(): Promise<void> {
    this.sampling ??= this.read().finally(() => {
      this.sampling = undefined;
    });
    return this.sampling;
  }

  window(): RateWindow {
    const decisionsPerSecond: Record<string, number[]> = {};
    for (const result of DECISION_RESULTS) decisionsPerSecond[result] = [];
    const times: number[] = [];
    const decisionsInWindow = new Map<string, number>();
    const fallbacksInWindow = new Map<string, number>();
    let cacheHitsInWindow = 0;
    let cacheMissesInWindow = 0;

    for (let i = 1; i < this.samples.length; i++) {
      const previous = this.samples[i - 1]!;
      const current = this.samples[i]!;
      const seconds = Math.max(0.001, (current.atMs - previous.atMs) / 1000);
      const decided = mapIncrease(current.decisions, previous.decisions);
      for (const key of decided.keys()) decisionsPerSecond[key] ??= new Array<number>(times.length).fill(0);
      for (const [key, series] of Object.entries(decisionsPerSecond)) {
        const count = decided.get(key) ?? 0;
        series.push(count / seconds);
        decisionsInWindow.set(key, (decisionsInWindow.get(key) ?? 0) + count);
      }
      for (const [cause, count] of mapIncrease(current.fallbacks, previous.fallbacks)) {
        if (count > 0) fallbacksInWindow.set(cause, (fallbacksInWindow.get(cause) ?? 0) + count);
      }
      cacheHitsInWindow += increase(current.cacheHits, previous.cacheHits);
      cacheMissesInWindow += increase(current.cacheMisses, previous.cacheMisses);
      times.push(current.atMs);
    }

    const last = this.samples.at(-1);
    return {
      intervalMs: this.intervalMs,
      windowSeconds: this.windowSeconds,
      times,
      decisionsPerSecond,
      decisionsInWindow: toRecord(decisionsInWindow, DECISION_RESULTS),
      fallbacksInWindow: toRecord(fallbacksInWindow),
      cacheHitsInWindow,
      cacheMissesInWindow,
      totals: {
        decisions: toRecord(last?.decisions ?? new Map(), DECISION_RESULTS),
        fallbacks: toRecord(last?.fallbacks ?? new Map()),
        cacheHits: last?.cacheHits ?? 0,
        cacheMisses: last?.cacheMisses ?? 0,
      },
    };
  }

  private async read(): Promise<void> {
    const [decisions, fallbacks, cacheHits, cacheMisses] = await Promise.all([
      readByLabel(this.registry, DECISIONS_METRIC, "result"),
      readByLabel(this.registry, FALLBACKS_METRIC, "cause"),
      readTotal(this.registry, CACHE_HITS_METRIC),
      readTotal(this.registry, CACHE_MISSES_METRIC),
    ]);
    this.samples.push({ atMs: this.now(), decisions, fallbacks, cacheHits: cacheHits ?? 0, cacheMisses: cacheMisses ?? 0 });
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }
}
