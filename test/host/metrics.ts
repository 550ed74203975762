// Envoy stats defined by plugins: one stat per (kind, name) for the whole host, shared by every VM
// that defines it (each define hands out its own id), like wasmcustom.<name> in one Envoy stats scope.
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

  define(name: string, kind: MetricKind): MetricValue {
    const key = `${kind}\0${name}`;
    let stat = this.stats.get(key);
    if (stat === undefined) {
      stat = kind === "histogram" ? { type: kind, value: 0, samples: [] } : { type: kind, value: 0 };
      this.stats.set(key, stat);
    }
    return stat;
  }

  /** Without a kind: the counter, else the gauge, else the histogram of that name. */
  get(name: string, kind?: MetricKind): MetricValue | undefined {
    if (kind !== undefined) return this.stats.get(`${kind}\0${name}`);
    for (const k of KIND_BY_TYPE) {
      const stat = this.stats.get(`${k}\0${name}`);
      if (stat !== undefined) return stat;
    }
    return undefined;
  }

  /** Keyed by name; a name used by several kinds appears as "name" and "name#<kind>". */
  snapshot(): Map<string, MetricValue> {
    const out = new Map<string, MetricValue>();
    for (const [key, stat] of this.stats) {
      const name = key.slice(key.indexOf("\0") + 1);
      const copy = stat.samples ? { ...stat, samples: [...stat.samples] } : { ...stat };
      out.set(out.has(name) ? `${name}#${stat.type}` : name, copy);
    }
    return out;
  }
}
