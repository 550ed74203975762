// Splits the filter-vs-no-op ratio of `npm run bench -- filter` into what the TypeScript test host charges
// for host calls and what the filter's own wasm costs. Two measurements, all interleaved batch by batch
// in one process so machine noise hits every variant alike:
//   1. time per request of the filter (and of any older builds given), the no-op plugin, and the probe
//      plugin (probePlugin.as) with no calls;
//   2. time per host call: the probe repeating one host call the filter makes COUNT times per request,
//      minus the probe with no calls, divided by COUNT.
// With `--host DIR` everything also runs, in the same process and the same rounds, on a second copy of the
// test host (DIR holds its index.ts, e.g. an older commit's test/host from `git archive`), so a change to
// the host is measured before/after side by side. Two copies of the same host measured this way differ by
// 5-10% in every figure, the copy set up second being slower; the baseline is set up first, so that bias
// works against the change being measured, and the ratios within each host are not affected by it.
// Run: node --import tsx test/filter/perf/hostCallCost.ts [--quick] [--host DIR] [other.wasm ...]
import { readFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { basename, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { encodeEntry } from "../../../control/codec/entryCodec.ts";
import * as workingTreeHost from "../../host/index.ts";
import type { HttpFilter } from "../../host/index.ts";
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

/** The parts of the host's public surface this script uses (both copies must have them). */
interface HostModule {
  EnvoyHost: typeof workingTreeHost.EnvoyHost;
  ManualClock: typeof workingTreeHost.ManualClock;
}

interface Variant {
  name: string;
  filter: HttpFilter;
}

/** Everything measured on one host: the filter builds, the no-op, and the probes. */
interface HostSetup {
  label: string;
  host: InstanceType<HostModule["EnvoyHost"]>;
  gates: Variant[];
  noop: HttpFilter;
  probes: Map<string, HttpFilter>;
}

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

async function setUp(
  label: string,
  mod: HostModule,
  gates: Array<{ name: string; wasm: Uint8Array }>,
  noopWasm: Uint8Array,
  probe: Uint8Array,
  nowMs: number,
): Promise<HostSetup> {
  const host = new mod.EnvoyHost({ clock: new mod.ManualClock(nowMs) });
  const variants: Variant[] = [];
  for (const [i, gate] of gates.entries()) {
    const vmId = `entitlements-${i}`;
    const filter = await host.addHttpFilter({ vmId, rootId: "entitlement_gate", wasm: gate.wasm, configuration: GATE_CONFIG, workers: 1 });
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
  const noop = await host.addHttpFilter({ vmId: "noop", rootId: "bench_noop", wasm: noopWasm, configuration: "{}", workers: 1 });
  const probes = new Map<string, HttpFilter>();
  const probeShared = host.sharedData("probe");
  for (let c = 0; c < CUSTOMERS; c++) probeShared.set(`eg1/c/${customerId(c)}`, host.sharedData("entitlements-0").get(`eg1/c/${customerId(c)}`)!.value);
  probeShared.set("eg1/sync/gen", u32le(1));
  for (const op of ["none", ...OPS, "mix"]) {
    const configuration = op === "mix" ? "mix 1" : `${op} ${COUNT}`;
    const filter = await host.addHttpFilter({ vmId: "probe", rootId: "probe", wasm: probe, configuration, workers: 1 });
    if (!filter.configureResults[0]) throw new Error(`probe ${op} rejected its configuration`);
    probes.set(op, filter);
  }
  return { label, host, gates: variants, noop, probes };
}

function report(setup: HostSetup, time: (filter: HttpFilter) => number, rounds: number, batch: number): void {
  const noopUs = time(setup.noop);
  const probeNoneUs = time(setup.probes.get("none")!);
  const probeMixUs = time(setup.probes.get("mix")!);
  console.log(`\n${setup.label}: time per request (median of ${rounds} interleaved batches of ${batch}), metered route, ${CUSTOMERS} customers:`);
  const rows: Array<[string, number]> = [
    ...setup.gates.map((g): [string, number] => [g.name, time(g.filter)]),
    ["no-op plugin", noopUs],
    ["probe, no host call", probeNoneUs],
    ["probe, the metered route's 7 calls once", probeMixUs],
  ];
  for (const [name, us] of rows) console.log(`  ${name.padEnd(44)} ${us.toFixed(2).padStart(7)} µs  ${(us / noopUs).toFixed(2)}× no-op`);
  console.log(`test-host cost per host call (probe with ${COUNT} calls per request minus the probe with none):`);
  let hostUs = 0;
  for (const op of OPS) {
    const perCall = (time(setup.probes.get(op)!) - probeNoneUs) / COUNT;
    const uses = METERED_ROUTE_CALLS[op] ?? 0;
    hostUs += perCall * uses;
    console.log(`  ${op.padEnd(8)} ${(perCall * 1000).toFixed(0).padStart(6)} ns  × ${uses} on the metered route`);
  }
  const filterUs = time(setup.gates[0]!.filter);
  const callsUs = probeMixUs - probeNoneUs;
  console.log(`  sum over the metered route's calls: ${hostUs.toFixed(2)} µs; the same calls made once per request (mix probe − none): ${callsUs.toFixed(2)} µs`);
  console.log(`filter − no-op: ${(filterUs - noopUs).toFixed(2)} µs = the metered route's host calls in this host ${callsUs.toFixed(2)} µs`
    + ` + the filter's own work (filter − mix probe) ${(filterUs - probeMixUs).toFixed(2)} µs`);
  console.log(`filter / no-op with the host calls at zero cost: ${((filterUs - callsUs) / noopUs).toFixed(2)}×`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes("--quick");
  const hostFlag = args.indexOf("--host");
  const baselineDir = hostFlag >= 0 ? args[hostFlag + 1] : undefined;
  if (hostFlag >= 0 && baselineDir === undefined) throw new Error("--host needs a directory holding a test host's index.ts");
  const others = args.filter((a, i) => !a.startsWith("--") && (hostFlag < 0 || i !== hostFlag + 1));
  const batch = quick ? 2_000 : 20_000;
  const rounds = quick ? 3 : 7;
  ensureFilterBuilt(console.log);
  await ensureNoopBuilt(console.log);
  console.log(`load average at start: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  const probe = await compilePlugin(PROBE_ENTRY, "probe.wasm");
  const noopWasm = new Uint8Array(await readFile(NOOP_WASM));
  const gates = [
    { name: "filter (build/entitlement_gate.wasm)", wasm: new Uint8Array(await readFile(FILTER_WASM)) },
    ...(await Promise.all(others.map(async (path) => ({ name: `filter (${basename(path)})`, wasm: new Uint8Array(await readFile(resolve(path))) })))),
  ];
  const nowMs = Date.now();
  const setups: HostSetup[] = [];
  if (baselineDir !== undefined) {
    const baseline = (await import(pathToFileURL(join(resolve(baselineDir), "index.ts")).href)) as HostModule;
    setups.push(await setUp(`baseline test host (${baselineDir})`, baseline, gates, noopWasm, probe, nowMs));
  }
  setups.push(await setUp("this test host", workingTreeHost, gates, noopWasm, probe, nowMs));
  try {
    const requests = Array.from({ length: CUSTOMERS }, (_, i) => requestHeaders(customerId(i), "/api/search?q=envoy"));
    const all = setups.flatMap((s) => [...s.gates.map((g) => g.filter), s.noop, ...s.probes.values()]);
    for (const filter of all) timeBatch(filter, requests, batch); // warm-up
    const times = new Map<HttpFilter, number[]>(all.map((f) => [f, []]));
    for (let r = 0; r < rounds; r++) for (const filter of all) times.get(filter)!.push(timeBatch(filter, requests, batch));
    const time = (filter: HttpFilter): number => median(times.get(filter)!);
    for (const setup of setups) report(setup, time, rounds, batch);
    console.log(`\nload average at end: ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  } finally {
    for (const setup of setups) await setup.host.close();
  }
}

await main();
