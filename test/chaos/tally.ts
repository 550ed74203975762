// Turns one scenario's observations into its result row: wrong and stale answers for cached
// customers, fallbacks and errors (and whether each happened only where the design documents it),
// and the time from the end of the fault to the last unhealthy answer. Pure.
import type { Judgement, Observation, Oracle } from "./oracle.ts";

export interface Window {
  from: number;
  to: number;
}

/** Where a scenario's documentation allows something other than a fresh, real answer. */
export interface DocumentedEffects {
  /** Answers matching older data: e.g. events lost while the stream is down, until it is back. */
  stale?: Window;
  /** Which fallback answers the design documents for this fault. */
  fallback?: (observation: Observation) => boolean;
  /** Which failed calls are documented (a Sidecar call to a dead control plane). */
  error?: (observation: Observation) => boolean;
}

export interface ScenarioTiming {
  /** Traffic judged from here (the scenario's warm-up is not counted). */
  startedAt: number;
  faultStart: number;
  faultEnd: number;
  endedAt: number;
}

export interface ScenarioRow {
  scenario: string;
  fault: string;
  requests: number;
  /** Cached (warm) customers only: the count the suite expects to be zero. */
  wrongCached: number;
  wrongCold: number;
  staleDocumented: number;
  staleUndocumented: number;
  /** The oldest data a stale answer reflected: publish of the change → that answer. */
  maxStaleMs: number;
  fallbacksCached: number;
  fallbacksCold: number;
  fallbacksUndocumented: number;
  errors: number;
  errorsUndocumented: number;
  /** Recovered by itself: after the fault, a verification round and a change propagated. */
  recovered: boolean;
  /** Fault end → last unhealthy answer (0 when nothing was unhealthy after the fault). */
  recoveryMs: number;
  notes: string;
}

export interface Tallied {
  row: Omit<ScenarioRow, "recovered" | "notes">;
  /** A few undocumented or wrong observations, for the log. */
  examples: string[];
}

export const PROPAGATION_GRACE_MS = 1_500;

export function tally(
  scenario: string,
  fault: string,
  observations: readonly Observation[],
  oracle: Oracle,
  timing: ScenarioTiming,
  documented: DocumentedEffects,
  graceMs = PROPAGATION_GRACE_MS,
): Tallied {
  const row: Tallied["row"] = {
    scenario, fault, requests: 0, wrongCached: 0, wrongCold: 0, staleDocumented: 0, staleUndocumented: 0, maxStaleMs: 0,
    fallbacksCached: 0, fallbacksCold: 0, fallbacksUndocumented: 0, errors: 0, errorsUndocumented: 0, recoveryMs: 0,
  };
  const examples: string[] = [];
  let lastUnhealthyEnd = Number.NEGATIVE_INFINITY;
  const note = (judgement: Judgement, o: Observation): void => {
    if (examples.length >= 8) return;
    const got = o.outcome.kind === "error" ? `error ${o.outcome.message}` : `${o.outcome.verdict}${o.outcome.fallback ? " (fallback)" : ""}`;
    examples.push(`${judgement} ${o.api} ${o.customerId} ${o.check.featureId} at +${o.startedAt - timing.faultStart} ms: got ${got}, expected ${oracle.expected(o.customerId, o.check, o.startedAt)}`);
  };
  for (const o of observations) {
    if (o.startedAt < timing.startedAt || o.startedAt > timing.endedAt) continue;
    row.requests++;
    const judgement = oracle.judge(o, graceMs);
    if (judgement === "ok") continue;
    if (o.startedAt >= timing.faultStart) lastUnhealthyEnd = Math.max(lastUnhealthyEnd, o.endedAt);
    switch (judgement) {
      case "wrong":
        if (o.cold) row.wrongCold++;
        else row.wrongCached++;
        note(judgement, o);
        break;
      case "stale":
        row.maxStaleMs = Math.max(row.maxStaleMs, oracle.staleForMs(o));
        if (documented.stale && within(documented.stale)(o)) row.staleDocumented++;
        else {
          row.staleUndocumented++;
          note(judgement, o);
        }
        break;
      case "fallback":
        if (o.cold) row.fallbacksCold++;
        else row.fallbacksCached++;
        if (!documented.fallback?.(o)) {
          row.fallbacksUndocumented++;
          note(judgement, o);
        }
        break;
      case "error":
        row.errors++;
        if (!documented.error?.(o)) {
          row.errorsUndocumented++;
          note(judgement, o);
        }
        break;
    }
  }
  row.recoveryMs = Math.max(0, Math.round(lastUnhealthyEnd - timing.faultEnd));
  return { row, examples };
}

/** In flight at some moment of the window (plus a margin after its end). */
export function within(window: Window, marginMs = 0): (o: Observation) => boolean {
  return (o) => o.endedAt >= window.from && o.startedAt <= window.to + marginMs;
}
