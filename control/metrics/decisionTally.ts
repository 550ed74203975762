// Decisions are counted on every answered check. prom-client's `inc` hashes and validates its label
// object on every call (~0.2 µs and ~300 B of garbage per decision, at tens of thousands of decisions a
// second), so the hot paths count into plain numbers here and the counter takes the counts when it is
// read (a scrape, the status sampler): prom-client calls a metric's `collect` before every read.
import type { Counter } from "prom-client";

type DecisionLabel = "api" | "result" | "reason";

interface Cell {
  readonly labels: Record<DecisionLabel, string>;
  pending: number;
}

export class DecisionTally {
  /** api → result → reason → cell; the label values are a handful of constants, so this stays small. */
  private readonly cells = new Map<string, Map<string, Map<string, Cell>>>();

  count(api: string, result: string, reason: string): void {
    let byResult = this.cells.get(api);
    if (byResult === undefined) this.cells.set(api, (byResult = new Map()));
    let byReason = byResult.get(result);
    if (byReason === undefined) byResult.set(result, (byReason = new Map()));
    const cell = byReason.get(reason);
    if (cell === undefined) byReason.set(reason, { labels: { api, result, reason }, pending: 1 });
    else cell.pending++;
  }

  /** Adds what was counted since the last flush to `counter`. */
  flushInto(counter: Counter<DecisionLabel>): void {
    for (const byResult of this.cells.values()) {
      for (const byReason of byResult.values()) {
        for (const cell of byReason.values()) {
          if (cell.pending === 0) continue;
          counter.inc(cell.labels, cell.pending);
          cell.pending = 0;
        }
      }
    }
  }
}
