// Section 2: how long a change takes to reach the shared data every worker reads, on two Envoys fed
// by one control plane. Events go one at a time (the next after the previous landed everywhere), so
// each sample is one change's end-to-end latency, not a queueing effect.
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { benchCustomer, customerId, FEATURES, requestHeaders } from "./benchCustomers.ts";
import { startBenchControlPlane } from "./controlPlaneInProcess.ts";
import { holdsEntry, startEnvoy, waitUntil, type BenchEnvoy } from "./envoyPair.ts";
import { count, figure, ms, percentile, type Figure, type SectionResult } from "./report.ts";
import { emulatedPlan, startStiggWorld } from "./stiggControlPlane.ts";
import { tenFeaturePlan } from "./benchCustomers.ts";
import * as grpc from "@grpc/grpc-js";
import { booleanRequest, SIDECAR_SERVICE } from "./grpcWire.ts";

const STIGG_CUSTOMERS = 50;

function warm(client: grpc.Client, customer: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    client.makeUnaryRequest(`/${SIDECAR_SERVICE}/GetBooleanEntitlement`, (b: Uint8Array) => Buffer.from(b), (b: Buffer) => b,
      booleanRequest(customer, FEATURES.boolean), (error) => (error ? reject(error) : resolve()));
  });
}

/** Stigg emulator event -> control plane (event stream, cache, store) -> both Envoys' shared data. */
async function fromEmulator(events: number): Promise<{ latest: number[]; first: number[] }> {
  const world = await startStiggWorld(STIGG_CUSTOMERS, 0, true);
  const envoys: BenchEnvoy[] = [];
  const client = new grpc.Client(`127.0.0.1:${world.cp.grpcPort}`, grpc.credentials.createInsecure());
  try {
    await world.stigg.waitForSubscription("entitlementsUpdatedV2", 1, 10_000);
    // Stigg mode holds customers on demand: a first check puts each in the cache the filters get.
    for (let i = 0; i < STIGG_CUSTOMERS; i++) await warm(client, customerId(i));
    envoys.push(await startEnvoy(world.cp.syncPort, "envoy-a", WORKERS), await startEnvoy(world.cp.syncPort, "envoy-b", WORKERS));
    await waitUntil("the first snapshot on both Envoys", 10_000, () =>
      envoys.every((e) => holdsEntry(e, customerId(STIGG_CUSTOMERS - 1), world.cp.store.get(customerId(STIGG_CUSTOMERS - 1))!.bytes)),
    );
    const granted = new Map<number, boolean>();
    const latest: number[] = [];
    const first: number[] = [];
    for (let i = 0; i < events; i++) {
      const index = (i * 7) % STIGG_CUSTOMERS;
      const id = customerId(index);
      const grant = !(granted.get(index) ?? true);
      granted.set(index, grant);
      const previous = world.cp.store.get(id)?.bytes;
      const plan = tenFeaturePlan(index).filter((e) => grant || e.featureId !== FEATURES.boolean);
      const started = performance.now();
      world.stigg.setCustomer(id, { entitlements: emulatedPlan(plan) });
      let firstAt = 0;
      await waitUntil(`event ${i} on both Envoys`, 5_000, () => {
        const now = world.cp.store.get(id)?.bytes;
        if (now === undefined || now === previous) return false;
        const landed = envoys.filter((e) => holdsEntry(e, id, now)).length;
        if (landed > 0 && firstAt === 0) firstAt = performance.now();
        return landed === envoys.length;
      });
      latest.push(performance.now() - started);
      first.push(firstAt - started);
      if (i < 20 || i % 100 === 0) checkDecisions(envoys, id, grant);
    }
    return { latest, first };
  } finally {
    client.close();
    for (const e of envoys) await e.host.close();
    await world.close();
  }
}

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
    log(`   propagation: ${events} events published in the Stigg emulator -> both Envoys`);
    let emulatorFigures: Figure[];
    let emulatorNote: string;
    try {
      const stigg = await fromEmulator(events);
      const stiggP99 = percentile(stigg.latest, 99);
      emulatorFigures = [
        figure("emulator event -> both Envoys, p50", ms(percentile(stigg.latest, 50))),
        figure("emulator event -> both Envoys, p99", ms(stiggP99), { text: "< 50 ms", holds: stiggP99 < 50 }),
        figure("emulator event -> both Envoys, max", ms(Math.max(...stigg.latest))),
        figure("emulator event -> first Envoy, p50", ms(percentile(stigg.first, 50))),
      ];
      emulatorNote = `Emulator rows: ${count(events)} setCustomer calls in the Stigg emulator (a feature granted or revoked, ${STIGG_CUSTOMERS} customers held by the control plane after one check each), through the graphql-transport-ws event stream, the control plane's cache and store, FilterSync, to both hosts' shared data.`;
    } catch (err) {
      emulatorFigures = [];
      emulatorNote = `The emulator -> shared data measurement failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    return {
      id: "propagation",
      title: "a change -> shared data of every worker on two Envoys",
      load: `one in-process control plane (Stigg mode for the emulator rows; ${count(CUSTOMERS)} customers × 10 features in its store for the store rows), two proxy-wasm hosts each with the singleton sync role and ${WORKERS} filter workers, ${count(events)} changes of each kind made one after the other (a feature granted or revoked); latency = emulator setCustomer / store.upsert -> the new entry bytes present in both hosts' shared data (checked every event-loop turn); decisions checked on every worker for a sample of changes`,
      figures: [
        ...emulatorFigures,
        figure("store change -> both Envoys, p50", ms(percentile(latest, 50))),
        figure("store change -> both Envoys, p99", ms(p99), { text: "< 50 ms", holds: p99 < 50 }),
        figure("store change -> both Envoys, max", ms(Math.max(...latest))),
        figure("store change -> first Envoy, p50", ms(percentile(first, 50))),
      ],
      notes: [
        emulatorNote,
        "Store rows: the same, starting at the control plane's store (offline-file mode), i.e. without the Stigg event stream.",
        "Control plane, both hosts and this driver share one Node process and event loop, as the test host requires; separate processes would only remove contention.",
      ],
    };
  } finally {
    for (const e of envoys) await e.host.close();
    await cp.close();
  }
}
