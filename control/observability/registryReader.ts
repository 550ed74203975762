// Reads current values out of a prom-client registry by metric name. The status page looks metrics
// up by name rather than holding the Counter objects, so it keeps working whoever increments them
// (and whichever module defines them).
import type { Registry } from "prom-client";

export interface LabelledValue {
  labels: Readonly<Record<string, string | number>>;
  value: number;
}

/** Every series of `name` (empty when the metric is not registered). */
export async function readSeries(registry: Registry, name: string): Promise<LabelledValue[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  const { values } = await metric.get();
  // Histograms report buckets, sum and count under derived names; keep only the metric's own series.
  return values
    .filter((v) => {
      const derived = (v as { metricName?: string }).metricName;
      return derived === undefined || derived === name;
    })
    .map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

/** Sum of every series of `name`; undefined when the metric is not registered. */
export async function readTotal(registry: Registry, name: string): Promise<number | undefined> {
  if (!registry.getSingleMetric(name)) return undefined;
  let total = 0;
  for (const series of await readSeries(registry, name)) total += series.value;
  return total;
}

/** Sums of `name` grouped by the value of one label (missing label = ""). */
export async function readByLabel(registry: Registry, name: string, label: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const series of await readSeries(registry, name)) {
    const key = String(series.labels[label] ?? "");
    out.set(key, (out.get(key) ?? 0) + series.value);
  }
  return out;
}
