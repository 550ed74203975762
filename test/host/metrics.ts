// Envoy stats defined by plugins. One stat per name for the whole host, shared by every VM that
// defines it (each VM gets its own ids), like wasmcustom.<name> in one Envoy stats scope.
export type MetricKind = "counter" | "gauge" | "histogram";

export interface MetricValue {
  type: MetricKind;
  /** counter: total; gauge: current value; histogram: sum of recorded values. */
  value: number;
  /** histogram only: every recorded value, in order. */
  samples?: number[];
}

const KIND_BY_TYPE: MetricKind[] = ["counter", "gauge", "histogram"];

export function metricKind(type: number): MetricKind | undefined {
  return KIND_BY_TYPE[type];
}

export class MetricRegistry {
  private readonly stats = new Map<string, MetricValue>();

  /** Returns the stat or undefined when the name is already a stat of another kind. */
  define(name: string, kind: MetricKind): MetricValue | undefined {
    const existing = this.stats.get(name);
    if (existing !== undefined) return existing.type === kind ? existing : undefined;
    const stat: MetricValue = kind === "histogram" ? { type: kind, value: 0, samples: [] } : { type: kind, value: 0 };
    this.stats.set(name, stat);
    return stat;
  }

  get(name: string): MetricValue | undefined {
    return this.stats.get(name);
  }

  snapshot(): Map<string, MetricValue> {
    const out = new Map<string, MetricValue>();
    for (const [name, stat] of this.stats) {
      out.set(name, stat.samples ? { ...stat, samples: [...stat.samples] } : { ...stat });
    }
    return out;
  }
}
