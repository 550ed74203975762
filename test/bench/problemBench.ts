// Section 6: the problem entitlement-gate solves. One stream of requests (a few customers, each seen
// many times) decided three ways, each with its own customers so no path warms another's cache:
// (a) calling Stigg's Edge API on every check, (b) Envoy ext_authz to the control plane, (c) the
// filter deciding in the proxy. Stigg's Edge answers after ~100 ms in all three.
import * as grpc from "@grpc/grpc-js";
import { customerId, FEATURES } from "./benchCustomers.ts";
import { checkRequest, EXT_AUTHZ_SERVICE } from "./grpcWire.ts";
import { startEnvoy } from "./envoyPair.ts";
import { count, figure, ms, percentile, ratio, us, type SectionResult } from "./report.ts";
import { startStiggWorld } from "./stiggControlPlane.ts";

const CUSTOMERS_PER_PATH = 10;
const REQUESTS = 200;
const EDGE_LATENCY_MS = 100;

interface PathResult {
  name: string;
  latenciesMs: number[];
  upstreamCalls: number;
}

function stream(offset: number): string[] {
  return Array.from({ length: REQUESTS }, (_, i) => customerId(offset + (i % CUSTOMERS_PER_PATH)));
}

function checkOnce(client: grpc.Client, customer: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(
      `/${EXT_AUTHZ_SERVICE}/Check`, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b, checkRequest(customer, "/reports/q3"),
      (error, response) => {
        // An allow that went through a rule carries the decision header in ok_response.
        if (error || response === undefined) reject(error ?? new Error("no response"));
        else if (!response.includes("x-entitlement-decision") || response.includes("entitlement_denied")) reject(new Error(`${customer}: ext_authz did not allow`));
        else resolve();
      },
    );
  });
}

export async function problemBench(log: (line: string) => void, options: { quick: boolean }): Promise<SectionResult> {
  const world = await startStiggWorld(3 * CUSTOMERS_PER_PATH, EDGE_LATENCY_MS);
  const edgeCalls = (): number => world.stigg.requestCount("entitlements-state") + world.stigg.requestCount("entitlements");
  const results: PathResult[] = [];
  const requests = options.quick ? 50 : REQUESTS;
  try {
    log(`   problem: (a) Edge API on every check, ${requests} requests`);
    {
      const before = edgeCalls();
      const latencies: number[] = [];
      for (const customer of stream(0).slice(0, requests)) {
        const started = performance.now();
        const response = await fetch(`${world.stigg.edgeUrl}/v1/c/${encodeURIComponent(customer)}/entitlements-state.json`, {
          headers: { "X-API-KEY": world.stigg.apiKey },
        });
        const body = (await response.json()) as { data?: { entitlementsState?: { entitlements?: Array<{ feature?: { refId?: string }; isGranted?: boolean }> } } };
        const granted = body.data?.entitlementsState?.entitlements?.some((e) => e.feature?.refId === FEATURES.boolean && e.isGranted !== false);
        if (!granted) throw new Error(`(a) ${customer}: the Edge answer does not grant ${FEATURES.boolean}`);
        latencies.push(performance.now() - started);
      }
      results.push({ name: "(a) Stigg Edge API on every check", latenciesMs: latencies, upstreamCalls: edgeCalls() - before });
    }

    log(`   problem: (b) ext_authz Check to the control plane`);
    {
      const client = new grpc.Client(`127.0.0.1:${world.cp.grpcPort}`, grpc.credentials.createInsecure());
      try {
        await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 5_000, (e) => (e ? reject(e) : resolve())));
        const before = edgeCalls();
        const latencies: number[] = [];
        for (const customer of stream(CUSTOMERS_PER_PATH).slice(0, requests)) {
          const started = performance.now();
          await checkOnce(client, customer);
          latencies.push(performance.now() - started);
        }
        results.push({ name: "(b) ext_authz (control plane, cached after a miss)", latenciesMs: latencies, upstreamCalls: edgeCalls() - before });
      } finally {
        client.close();
      }
    }

    log(`   problem: (c) the filter in the proxy`);
    {
      const envoy = await startEnvoy(world.cp.syncPort, "problem", 1, {
        customerHeader: "x-customer-id",
        rules: [{ pathPrefix: "/reports", feature: FEATURES.boolean }],
        onMiss: { policy: "fetch", timeoutMs: 2_000, cluster: "control_plane" },
      });
      try {
        const before = edgeCalls();
        const latencies: number[] = [];
        for (const customer of stream(2 * CUSTOMERS_PER_PATH).slice(0, requests)) {
          const headers: Array<[string, string]> = [[":method", "GET"], [":path", "/reports/q3"], [":authority", "shop.example.com"], ["x-customer-id", customer]];
          const started = performance.now();
          const result = await envoy.filter.request({ headers, timeoutMs: 5_000 });
          latencies.push(performance.now() - started);
          if (result.kind !== "continue") throw new Error(`(c) ${customer}: the filter answered ${JSON.stringify(result)}`);
        }
        results.push({ name: "(c) the filter (shared data, fetch on a miss)", latenciesMs: latencies, upstreamCalls: edgeCalls() - before });
      } finally {
        await envoy.host.close();
      }
    }
  } finally {
    await world.close();
  }

  const filter = results[2]!;
  const fmt = (v: number): string => (v < 1 ? us(v) : ms(v));
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const table = [["path", "p50", "p99", "mean", "upstream calls", "p50 vs (c)", "mean vs (c)"]];
  for (const r of results) {
    table.push([
      r.name, fmt(percentile(r.latenciesMs, 50)), fmt(percentile(r.latenciesMs, 99)), fmt(mean(r.latenciesMs)), count(r.upstreamCalls),
      ratio(percentile(r.latenciesMs, 50) / percentile(filter.latenciesMs, 50), 0), ratio(mean(r.latenciesMs) / mean(filter.latenciesMs), 1),
    ]);
  }
  return {
    id: "problem",
    title: "the problem we solve: the same requests decided three ways",
    load: `${count(requests)} requests one after another, round-robin over ${CUSTOMERS_PER_PATH} customers per path (each path its own customers, all entitled); Stigg emulator with an Edge latency fault of ${EDGE_LATENCY_MS} ms; one control plane in Stigg mode (event stream off); (c) runs the built filter in the proxy-wasm host (1 worker + sync role) with onMiss fetch`,
    figures: results.map((r) => figure(`${r.name}: p50, upstream calls`, `${fmt(percentile(r.latenciesMs, 50))}, ${count(r.upstreamCalls)}`)),
    table,
    notes: [
      "(b) and (c) pay one Edge round trip per customer on first sight and none after; (a) pays it on every request. With more requests per customer the gap grows; the p50 ratio is the steady state.",
    ],
  };
}
