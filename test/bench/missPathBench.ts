// Section 4: 1,000 concurrent checks for one customer the control plane has never seen, with Stigg's
// Edge answering after ~100 ms: single-flight must turn them into one Edge request, and a check should
// wait about one Edge round trip. The same burst on a cached customer, in the same run, shows what
// 1,000 simultaneous calls cost without any upstream.
import { customerId, FEATURES } from "./benchCustomers.ts";
import { booleanRequest, grpcFrame, SIDECAR_SERVICE } from "./grpcWire.ts";
import { h2loadAvailable, runH2load, type LoadResult } from "./h2load.ts";
import { count, figure, ms, percentile, type SectionResult } from "./report.ts";
import { startStiggWorld } from "./stiggControlPlane.ts";

const CONCURRENT = 1_000;
const CONNECTIONS = 10;
const EDGE_LATENCY_MS = 100;

export async function missPathBench(log: (line: string) => void, _options: { quick: boolean }): Promise<SectionResult> {
  const h2load = await h2loadAvailable();
  if (h2load === undefined) {
    return { id: "miss", title: "the miss path (not run)", load: "-", figures: [], notes: ["h2load is not installed: `apt-get install nghttp2-client`."] };
  }
  const world = await startStiggWorld(4, EDGE_LATENCY_MS);
  try {
    const url = `http://127.0.0.1:${world.cp.grpcPort}/${SIDECAR_SERVICE}/GetBooleanEntitlement`;
    const edgeRequests = (customer: string): number =>
      world.stigg.requestCount("entitlements-state", { customerId: customer }) + world.stigg.requestCount("entitlements", { customerId: customer });
    const burst = (customer: string): Promise<LoadResult> =>
      runH2load({ url, body: grpcFrame(booleanRequest(customer, FEATURES.boolean)), clients: CONNECTIONS, streamsPerClient: CONCURRENT / CONNECTIONS, requests: CONCURRENT });

    // One miss alone, then the customer is cached: its burst is the no-upstream baseline.
    const single = await runH2load({ url, body: grpcFrame(booleanRequest(customerId(0), FEATURES.boolean)), clients: 1, streamsPerClient: 1, requests: 1 });
    log(`   miss: ${count(CONCURRENT)} concurrent checks (${CONNECTIONS} connections × ${CONCURRENT / CONNECTIONS} streams), cached customer then an uncached one`);
    const hit = await burst(customerId(0));
    const target = customerId(2);
    const before = edgeRequests(target);
    const miss = await burst(target);
    const edge = edgeRequests(target) - before;
    if (miss.failed > 0 || hit.failed > 0) throw new Error(`failed requests: miss ${miss.failed}, hit ${hit.failed}`);
    const p50 = percentile(miss.latenciesMs, 50);
    const hitP50 = percentile(hit.latenciesMs, 50);
    const budget = EDGE_LATENCY_MS + 5;
    return {
      id: "miss",
      title: "the miss path: 1,000 concurrent checks for an uncached customer",
      load: `Stigg emulator with an Edge latency fault of ${EDGE_LATENCY_MS} ms; control plane in Stigg mode (event stream off) answering GetBooleanEntitlement on GRPC_PORT; h2load (${h2load}) sends ${count(CONCURRENT)} requests at once over ${CONNECTIONS} connections × ${CONCURRENT / CONNECTIONS} streams, from its own process`,
      figures: [
        figure("Edge requests for the customer", count(edge), { text: "exactly 1", holds: edge === 1 }),
        figure("one miss alone", ms(percentile(single.latenciesMs, 50))),
        figure("burst on the uncached customer, p50", ms(p50), { text: `≤ Edge + 5 ms = ${budget} ms`, holds: p50 <= budget }),
        figure("burst on the uncached customer, max", ms(Math.max(...miss.latenciesMs))),
        figure("same burst on a cached customer, p50 / max", `${ms(hitP50)} / ${ms(Math.max(...hit.latenciesMs))}`),
        figure("uncached minus cached p50 (time the burst waited on Stigg)", ms(p50 - hitP50), { text: `≤ ${budget} ms`, holds: p50 - hitP50 <= budget }),
      ],
      notes: [
        "A burst of 1,000 simultaneous calls costs the server time even when every answer is cached (the cached-customer row); the difference between the two bursts is what the miss added.",
      ],
    };
  } finally {
    await world.close();
  }
}
