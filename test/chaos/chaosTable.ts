// The chaos suite's result table and its pass rule (zero wrong answers, nothing undocumented,
// recovered without help). Pure.
import { markdownTable } from "./report.ts";
import type { ScenarioRow } from "./tally.ts";

export function rowPasses(row: ScenarioRow): boolean {
  return row.wrongCached === 0 && row.wrongCold === 0 && row.staleUndocumented === 0 && row.fallbacksUndocumented === 0 && row.errorsUndocumented === 0 && row.recovered;
}

export function chaosTable(rows: readonly ScenarioRow[]): string {
  return markdownTable(
    ["scenario", "requests", "wrong (cached)", "wrong (cold)", "stale: documented / not", "longest stale", "fallbacks cached / cold", "only where documented", "errors (undocumented)", "recovered by itself", "time to recover", "pass"],
    rows.map((r) => [
      r.scenario, r.requests, r.wrongCached, r.wrongCold, `${r.staleDocumented} / ${r.staleUndocumented}`, `${(r.maxStaleMs / 1000).toFixed(1)} s`,
      `${r.fallbacksCached} / ${r.fallbacksCold}`, r.fallbacksUndocumented === 0 ? "yes" : `no (${r.fallbacksUndocumented})`,
      `${r.errors} (${r.errorsUndocumented})`, r.recovered ? "yes" : "NO", `${(r.recoveryMs / 1000).toFixed(1)} s`, rowPasses(r) ? "yes" : "NO",
    ]),
  );
}
