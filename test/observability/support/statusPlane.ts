// A whole control plane on free loopback ports with the status page sampling fast, plus a Sidecar
// API client to drive real decisions through it.
import type { TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { loadSidecarPackage } from "../../../control/api/sidecarProto.ts";
import { defaultSettings, type ControlPlaneSettings } from "../../../control/config/settings.ts";
import { startControlPlane, type ControlPlane } from "../../../control/controlPlane.ts";
import type { StatusPageTuning } from "../../../control/http/status/statusRoutes.ts";
import { createLogger } from "../../../control/log.ts";
import { Metrics } from "../../../control/metrics/metrics.ts";
import type { StatusReport } from "../../../control/observability/statusReport.ts";

export interface StatusPlane {
  cp: ControlPlane;
  baseUrl: string;
  /** A unary SidecarService call (snake_case fields, as on the wire). */
  sidecar(method: string, request: object): Promise<Record<string, unknown>>;
  status(headers?: Record<string, string>): Promise<StatusReport>;
}

type Unary = (request: object, callback: (err: grpc.ServiceError | null, response: Record<string, unknown>) => void) => void;

export async function startStatusPlane(
  t: TestContext,
  settings: Partial<ControlPlaneSettings> = {},
  tuning: StatusPageTuning = { sampleIntervalMs: 100, pollMs: 200, windowSeconds: 60 },
): Promise<StatusPlane> {
  const cp = await startControlPlane(
    { ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1", ...settings },
    { logger: createLogger("silent"), metrics: new Metrics({ processMetrics: false }), statusPage: tuning },
  );
  const pkg = grpc.loadPackageDefinition(loadSidecarPackage()) as unknown as {
    stigg: { sidecar: { v1: { SidecarService: grpc.ServiceClientConstructor } } };
  };
  const client = new pkg.stigg.sidecar.v1.SidecarService(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    await cp.close(200);
  });
  const baseUrl = `http://127.0.0.1:${cp.httpPort}`;
  return {
    cp,
    baseUrl,
    sidecar: (method, request) =>
      new Promise((resolve, reject) => {
        const fn = (client as unknown as Record<string, Unary>)[method]!.bind(client);
        fn(request, (err, response) => (err ? reject(err) : resolve(response)));
      }),
    async status(headers = {}) {
      const response = await fetch(`${baseUrl}/status.json`, { headers });
      if (response.status !== 200) throw new Error(`/status.json answered ${response.status}`);
      return (await response.json()) as StatusReport;
    },
  };
}

/** Polls `read` until `done` holds for its value; fails with the last value after `timeoutMs`. */
export async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 4000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await read();
  while (!done(value)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 50));
    value = await read();
  }
  return value;
}

/** One allow, one deny (feature not in the plan) and one fallback (type mismatch) per round. */
export async function driveDecisions(plane: StatusPlane, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await Promise.all([
      plane.sidecar("GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-reports" }),
      plane.sidecar("GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-no-such-thing" }),
      plane.sidecar("GetNumericEntitlement", { customer_id: "customer-free", feature_id: "feature-reports" }),
    ]);
  }
}

export interface DrivenCounts {
  allow: number;
  deny: number;
  fallback: number;
}

/**
 * Traffic with a changing mix for `durationMs`: allows throughout, denies rising, fallbacks only in
 * the second half (so the chart's three lines differ). Returns what was sent.
 */
export async function driveTraffic(plane: StatusPlane, durationMs: number): Promise<DrivenCounts> {
  const counts: DrivenCounts = { allow: 0, deny: 0, fallback: 0 };
  const start = Date.now();
  for (let step = 0; Date.now() - start < durationMs; step++) {
    const progress = (Date.now() - start) / durationMs;
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) calls.push(plane.sidecar("GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-reports" }));
    counts.allow += 4;
    const denies = Math.round(progress * 3);
    for (let i = 0; i < denies; i++) calls.push(plane.sidecar("GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-no-such-thing" }));
    counts.deny += denies;
    if (progress > 0.5 && step % 2 === 0) {
      calls.push(plane.sidecar("GetNumericEntitlement", { customer_id: "customer-free", feature_id: "feature-reports" }));
      counts.fallback += 1;
    }
    await Promise.all(calls);
    await new Promise((r) => setTimeout(r, 40));
  }
  return counts;
}
