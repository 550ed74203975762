// Splits the filter-vs-no-op ratio of `npm run bench -- filter` into what the TypeScript test host charges
// for host calls and what the filter's own wasm costs. Two measurements, all interleaved batch by batch
// in one process so machine noise hits every variant alike:
//   1. time per request of the filter (and of any older builds given), the no-op plugin, and the probe
//      plugin (probePlugin.as) with no calls;
//   2. time per host call: the probe repeating one host call the filter makes COUNT times per request,
//      minus the probe with no calls, divided by COUNT.
// Run: node --import tsx test/filter/perf/hostCallCost.ts [--quick] [other.wasm ...]
import { readFile } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { encodeEntry } from "../../../control/codec/entryCodec.ts";
import { EnvoyHost, ManualClock, type HttpFilter } from "../../host/index.ts";
import { benchCustomer, customerId, GATE_CONFIG, requestHeaders } from "../../bench/benchCustomers.ts";
import { FILTER_WASM, NOOP_WASM, compilePlugin, ensureFilterBuilt, ensureNoopBuilt } from "../../bench/wasmBuilds.ts";

const PROBE_ENTRY = "test/filter/perf/probePlugin.as";
const CUSTOMERS = 1_000;
const COUNT = 20;
/**
 * The host calls of the filter's metered route as the bench runs it: no sync role registered the usage
 * queue (so a resolve and the dropped counter instead of an enqueue and the enqueued counter), the
 * usage period ends days later (no clock read).
 */
const METERED_ROUTE_CALLS: Record<string, number> = { pairs: 1, shared: 2, time: 0, add: 1, resolve: 1, metric: 2 };
const OPS = ["metric", "time", "shared", "pairs", "add", "resolve"] as const;

function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeBatch(filter: HttpFilter, requests: ReadonlyArray<Array<[string, string]>>, n: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) filter.requestSync({ headers: requests[i % requests.length]!, worker: 0 });
  return Number(process.hrtime.bigint() - started) / 1e3 / n;
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick");
  const others = process.argv.slice(2).filter((a) => !a.startsWith("--"));
  const batch = quick ? 2_000 : 20_000;
  const rounds = quick ? 3 : 7;
  ensureFilterBuilt(console.log);
  await ensureNoopBuilt(console.log);
  const probe = await compilePlugin(PROBE_ENTRY, "probe.wasm");
  const nowMs = Date.now();
  const host = new EnvoyHost({ clock: new ManualClock(nowMs) });
  try {
    const variants: Array<{ name: string; filter: HttpFilter }> = [];
    const gates: Array<{ name: string; wasm: string | Uint8Array }> = [
      { name: "filter (build/entitlement_gate.wasm)", wasm: FILTER_WASM },
      ...others.map((path) => ({ name: `filter (${basename(path)})`, wasm: resolve(path) })),
    ];
    for (const [i, gate] of gates.entries()) {
      const vmId = `entitlements-${i}`;
      const wasm = typeof gate.wasm === "string" ? new Uint8Array(await readFile(gate.wasm)) : gate.wasm;
      const filter = await host.addHttpFilter({ vmId, rootId: "entitlement_gate", wasm, configuration: GATE_CONFIG, workers: 1 });
      if (!filter.configureResults[0]) throw new Error(`${gate.name} rejected its configuration`);
      const shared = host.sharedData(vmId);
      shared.set("eg1/sync/gen", u32le(1));
      for (let c = 0; c < CUSTOMERS; c++) {
        const entry = encodeEntry(benchCustomer(c, nowMs));
        const value = new Uint8Array(4 + entry.length);
        value.set(u32le(1), 0);
        value.set(entry, 4);
        shared.set(`eg1/c/${customerId(c)}`, value);
      }
      variants.push({ name: gate.name, filter });
    }
    const noop = await host.addHttpFilter({ vmId: "noop", rootId: "bench_noop", wasm: new Uint8Array(await readFile(NOOP_WASM)), configuration: "{}", workers: 1 });
    variants.push({ name: "no-op plugin", filter: noop });
    const probes = new Map<string, HttpFilter>();
    const probeShared = host.sharedData("probe");
    probeShared.set("eg1/c/customer-000007", host.sharedData("entitlements-0").get("eg1/c/customer-000007")!.value);
    probeShared.set("eg1/sync/gen", u32le(1));
    for (const op of ["none", ...OPS, "mix"]) {
      const configuration = op === "mix" ? "mix 1" : `${op} ${COUNT}`;
      const filter = await host.addHttpFilter({ vmId: "probe", rootId: "probe", wasm: probe, configuration, workers: 1 });
      if (!filter.configureResults[0]) throw new Error(`probe ${op} rejected its configuration`);
      probes.set(op, filter);
    }
    variants.push({ name: "probe, no host call", filter: probes.get("none")! });
    variants.push({ name: "probe, the metered route's 7 calls once", filter: probes.get("mix")! });

    const requests = Array.from({ length: CUSTOMERS }, (_, i) => requestHeaders(customerId(i), "/api/search?q=envoy"));
    const all = [...variants.map((v) => v.filter), ...OPS.map((op) => probes.get(op)!)];
    for (const filter of all) timeBatch(filter, requests, batch); // warm-up
    const times = all.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) all.forEach((filter, i) => times[i]!.push(timeBatch(filter, requests, batch)));
    const perRequest = times.map(median);

    const noopUs = perRequest[variants.length - 3]!;
    const probeNoneUs = perRequest[variants.length - 2]!;
    const probeMixUs = perRequest[variants.length - 1]!;
    console.log(`\ntime per request (median of ${rounds} interleaved batches of ${batch}), metered route, ${CUSTOMERS} customers:`);
    variants.forEach((v, i) => console.log(`  ${v.name.padEnd(44)} ${perRequest[i]!.toFixed(2).padStart(7)} µs  ${(perRequest[i]! / noopUs).toFixed(2)}× no-op`));
    console.log(`\ntest-host cost per host call (probe with ${COUNT} calls per request minus the probe with none):`);
    let hostUs = 0;
    OPS.forEach((op, i) => {
      const perCall = (perRequest[variants.length + i]! - probeNoneUs) / COUNT;
      const uses = METERED_ROUTE_CALLS[op] ?? 0;
      hostUs += perCall * uses;
      console.log(`  ${op.padEnd(8)} ${(perCall * 1000).toFixed(0).padStart(6)} ns  × ${uses} on the metered route`);
    });
    const filterUs = perRequest[0]!;
    const callsUs = probeMixUs - probeNoneUs;
    const ownUs = filterUs - probeMixUs;
    console.log(`  sum over the metered route's calls: ${hostUs.toFixed(2)} µs; the same calls made once per request (mix probe − none): ${callsUs.toFixed(2)} µs`);
    console.log(`\nfilter − no-op: ${(filterUs - noopUs).toFixed(2)} µs = the metered route's host calls in this host ${callsUs.toFixed(2)} µs`
      + ` + the filter's own work (filter − mix probe) ${ownUs.toFixed(2)} µs`);
    console.log(`filter / no-op with the host calls at zero cost: ${((filterUs - callsUs) / noopUs).toFixed(2)}×`);
  } finally {
    await host.close();
  }
}

await main();
