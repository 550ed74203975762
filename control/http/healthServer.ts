// Liveness, readiness and /metrics over HTTP (Stigg Sidecar compatible: `{"status":"UP"}`). Liveness never
// depends on upstreams, so a Stigg outage cannot get the control plane restarted.
import Fastify, { type FastifyInstance } from "fastify";
import { registerMetricsRoute, type MetricsRouteOptions } from "./metricsRoute.ts";

export interface Readiness {
  ready: boolean;
  reason?: string;
}

export interface HealthServerOptions {
  host: string;
  port: number;
  livenessPath: string;
  readinessPath: string;
  readiness: () => Readiness;
  /** Serves GET /metrics when given. */
  metrics?: MetricsRouteOptions;
  /** Registers more routes (the status page) before the server listens. */
  extraRoutes?: (app: FastifyInstance) => void;
}

export interface HealthServerHandle {
  app: FastifyInstance;
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServerHandle> {
  // Request logging stays off: probes arrive every few seconds and would drown the useful lines.
  const app = Fastify({ logger: false });
  app.get(options.livenessPath, async () => ({ status: "UP" }));
  app.get(options.readinessPath, async (_request, reply) => {
    const { ready, reason } = options.readiness();
    if (ready) return { status: "UP" };
    return reply.code(503).send({ status: "DOWN", reason: reason ?? "not ready" });
  });
  if (options.metrics) registerMetricsRoute(app, options.metrics);
  options.extraRoutes?.(app);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  const port = typeof address === "object" && address !== null ? address.port : options.port;
  return { app, port, close: () => app.close() };
}
