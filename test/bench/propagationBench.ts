// Section 2: how long a change takes to reach the shared data every worker reads, on two Envoys fed
// by one control plane. Events go one at a time (the next after the previous landed everywhere), so
// each sample is one change's end-to-end latency, not a queueing effect.
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { benchCustomer, customerId, FEATURES, requestHeaders } from "./benchCustomers.ts";
import { startBenchControlPlane } from "./controlPlaneInProcess.ts";
import { holdsEntry, startEnvoy, waitUntil, type BenchEnvoy } from "./envoyPair.ts";
import { count, figure, ms, percentile, type SectionResult } from "./report.ts";

const CUSTOMERS = 1_000;
const EVENTS = 1_000;
const WORKERS = 2;

function withReports(customer: CustomerEntitlements, granted: boolean): CustomerEntitlements {
  return { ...customer, entitlements: customer.entitlements.filter((e) => granted || e.featureId !== FEATURES.boolean) };
}

/** Every worker of both Envoys answers the way the latest change says. */
function checkDecisions(envoys: BenchEnvoy[], id: string, granted: boolean): void {
  for (const envoy of envoys) {
    for (let worker = 0; worker < WORKERS; worker++) {
      const result = envoy.filter.requestSync({ headers: requestHeaders(id, "/reports/q3"), worker });
      if ((result.kind === "continue") !== granted) throw new Error(`worker ${worker} decided ${result.kind} for ${id}; the change says granted=${granted}`);
    }
  }
}

export async function propagationBench(log: (line: string) => void, options: { quick: boolean }): Promise<SectionResult> {
  const events = options.quick ? 200 : EVENTS;
  const store = new EntitlementStore();
  const nowMs = Date.now();
  const customers = Array.from({ length: CUSTOMERS }, (_, i) => benchCustomer(i, nowMs));
  store.replaceAll(customers);
  const cp = await startBenchControlPlane({ store });
  const envoys: BenchEnvoy[] = [];
  try {
    envoys.push(await startEnvoy(cp.syncPort, "envoy-a", WORKERS), await startEnvoy(cp.syncPort, "envoy-b", WORKERS));
    await waitUntil("the first snapshot on both Envoys", 10_000, () =>
      envoys.every((e) => e.host.sharedData("entitlements").get("eg1/sync/gen") !== undefined),
    );

    log(`   propagation: ${events} changes, one at a time, store -> both Envoys`);
    const latest: number[] = [];
    const first: number[] = [];
    for (let i = 0; i < events; i++) {
      const index = (i * 7) % 100;
      const id = customerId(index);
      const granted = !customers[index]!.entitlements.some((e) => e.featureId === FEATURES.boolean);
      const changed = withReports(benchCustomer(index, nowMs), granted);
      customers[index] = changed;
      const started = performance.now();
      if (!store.upsert(changed)) throw new Error(`change ${i} did not change the store`);
      const entry = store.get(id)!.bytes;
      let firstAt = 0;
      await waitUntil(`change ${i} on both Envoys`, 5_000, () => {
        const landed = envoys.filter((e) => holdsEntry(e, id, entry)).length;
        if (landed > 0 && firstAt === 0) firstAt = performance.now();
        return landed === envoys.length;
      });
      latest.push(performance.now() - started);
      first.push(firstAt - started);
      if (i < 20 || i % 100 === 0) checkDecisions(envoys, id, granted);
    }
    const p99 = percentile(latest, 99);
    return {
      id: "propagation",
      title: "a change -> shared data of every worker on two Envoys",
      load: `one in-process control plane (${count(CUSTOMERS)} customers × 10 features), two proxy-wasm hosts each with the singleton sync role and ${WORKERS} filter workers, ${count(events)} changes made one after the other (a feature granted or revoked); latency = store.upsert -> the new entry bytes present in both hosts' shared data (checked every event-loop turn); decisions checked on every worker for a sample of changes`,
      figures: [
        figure("p50, both Envoys", ms(percentile(latest, 50))),
        figure("p99, both Envoys", ms(p99), { text: "< 50 ms", holds: p99 < 50 }),
        figure("max, both Envoys", ms(Math.max(...latest))),
        figure("p50, first Envoy", ms(percentile(first, 50))),
      ],
      notes: [
        "Measured from the store change, not from an event published in the Stigg emulator: the Stigg event-stream source was not part of the control plane when this section was written (see BENCHMARKS.md).",
        "Control plane, both hosts and this driver share one Node process and event loop, as the test host requires; separate processes would only remove contention.",
      ],
    };
  } finally {
    for (const e of envoys) await e.host.close();
    await cp.close();
  }
}
