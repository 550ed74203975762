// Liveness, readiness and /metrics over HTTP (Stigg Sidecar compatible: `{"status":"UP"}`). Liveness never
// depends on upstreams, so a Stigg outage cannot get the control plane restarted.
import type { FastifyInstance } from "fastify";
import type { ReloadingCertificates } from "../security/certificateFiles.ts";
import { createHttpApp } from "../security/httpSecurity.ts";
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
  /** HTTPS (mTLS with a client CA) with a certificate re-read from its files; plain HTTP without. */
  tls?: ReloadingCertificates;
  /** Request hooks added before any route (admin token, in-flight cap); told the probe paths to exempt. */
  protect?: (app: FastifyInstance, probePaths: readonly string[]) => void;
}

export interface HealthServerHandle {
  app: FastifyInstance;
  port: number;
  close(): Promise<void>;
}

export async function startHealthServer(options: HealthServerOptions): Promise<HealthServerHandle> {
  // Request logging stays off: probes arrive every few seconds and would drown the useful lines.
  const app = createHttpApp({ logger: false }, options.tls);
  options.protect?.(app, [options.livenessPath, options.readinessPath]);
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
