// GET /metrics: Prometheus text exposition of the control plane's registry. Gauges that mirror
// state held elsewhere (cache size, connected filters) are refreshed at scrape time.
import type { FastifyInstance } from "fastify";
import type { Metrics } from "../metrics/metrics.ts";

export const METRICS_PATH = "/metrics";

export interface MetricsRouteOptions {
  metrics: Metrics;
  /** Sets the state-mirroring gauges just before each scrape. */
  beforeScrape?: () => void;
}

export function registerMetricsRoute(app: FastifyInstance, options: MetricsRouteOptions): void {
  app.get(METRICS_PATH, async (_request, reply) => {
    options.beforeScrape?.();
    const body = await options.metrics.render();
    return reply.header("content-type", options.metrics.contentType).send(body);
  });
}
