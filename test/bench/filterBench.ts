// Section 1: the filter's hit path in the proxy-wasm host. Host calls and shared-data bytes are exact
// counts from the host; time is compared with a no-op plugin built from the same binding, run in the
// same host, interleaved batch by batch so machine noise hits both alike. As in production, the usage queue
// is registered (here by the bench, standing in for the sync role's VM) so metered allows enqueue a record;
// the bench drains it between batches, outside the timed loops.
import { encodeEntry } from "../../control/codec/entryCodec.ts";
import { EnvoyHost, ManualClock, type HttpFilter, type HttpResult, type SharedQueueConsumer } from "../host/index.ts";
import { benchCustomer, customerId, GATE_CONFIG, requestHeaders } from "./benchCustomers.ts";
import { profileSplit } from "./cpuProfile.ts";
import { bytes, count, figure, median, ratio, us, type SectionResult } from "./report.ts";
import { FILTER_WASM, NOOP_WASM } from "./wasmBuilds.ts";

const VM_ID = "entitlements";
const CUSTOMERS = 1_000;
const BATCH = 20_000;
const BATCHES = 7;
const MEMORY_REQUESTS = 1_000_000;
/** The queue the sync role registers and the filter resolves (USAGE_QUEUE_NAME in filter/assembly/plugin/syncEngine.ts). */
const USAGE_QUEUE = "eg1/usage";
/** Requests of the memory run between two drains of the usage queue. */
const MEMORY_CHUNK = 10_000;

function u32le(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function withGeneration(gen: number, entry: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + entry.length);
  out.set(u32le(gen), 0);
  out.set(entry, 4);
  return out;
}

function timeBatch(filter: HttpFilter, requests: ReadonlyArray<Array<[string, string]>>, n: number): number {
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) filter.requestSync({ headers: requests[i % requests.length]!, worker: 0 });
  return Number(process.hrtime.bigint() - started) / 1e6 / n;
}

/**
 * Empties the usage queue and lets the host's posted queue-ready callbacks run (one per enqueue, a no-op
 * for the bench's consumer), so neither the items nor the callbacks pile up into the next timed loop.
 */
async function drainUsage(host: EnvoyHost, usage: SharedQueueConsumer): Promise<number> {
  const taken = usage.drain();
  await host.flush();
  return taken;
}

function expectAllow(result: HttpResult, what: string): void {
  if (result.kind !== "continue") throw new Error(`${what}: expected the filter to allow, got ${JSON.stringify(result)}`);
}

export async function filterBench(log: (line: string) => void, options: { quick: boolean }): Promise<SectionResult> {
  const nowMs = Date.now();
  const host = new EnvoyHost({ clock: new ManualClock(nowMs) });
  try {
    const gate = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: FILTER_WASM, configuration: GATE_CONFIG, workers: 1 });
    const noop = await host.addHttpFilter({ vmId: "noop", rootId: "bench_noop", wasm: NOOP_WASM, configuration: "{}", workers: 1 });
    if (!gate.configureResults[0] || !noop.configureResults[0]) throw new Error("a plugin rejected its configuration");
    const shared = host.sharedData(VM_ID);
    shared.set("eg1/sync/gen", u32le(1));
    let entryBytes = 0;
    for (let i = 0; i < CUSTOMERS; i++) {
      const entry = encodeEntry(benchCustomer(i, nowMs));
      if (i === 0) entryBytes = entry.length + 4;
      shared.set(`eg1/c/${customerId(i)}`, withGeneration(1, entry));
    }
    const worker = gate.workers[0]!;
    const usage = host.registerSharedQueue(VM_ID, USAGE_QUEUE);
    // The first metered request also resolves the usage queue (once per configuration); the counts below
    // are the steady state.
    expectAllow(gate.requestSync({ headers: requestHeaders(customerId(7), "/api/search?q=envoy"), worker: 0 }), "warm-up");
    if ((await drainUsage(host, usage)) !== 1) throw new Error("the metered warm-up request enqueued no usage record");

    // Exact per-request counts, one request of each route.
    const measureOne = (path: string): { calls: number; read: number } => {
      const before = worker.sharedDataBytesRead;
      const result = gate.requestSync({ headers: requestHeaders(customerId(7), path), worker: 0 });
      expectAllow(result, path);
      return { calls: result.hostCalls, read: worker.sharedDataBytesRead - before };
    };
    const booleanRoute = measureOne("/reports/q3?format=csv");
    const meteredRoute = measureOne("/api/search?q=envoy");
    if ((await drainUsage(host, usage)) !== 1) throw new Error("the metered request enqueued no usage record");
    const noopCalls = noop.requestSync({ headers: requestHeaders(customerId(7), "/api/search?q=envoy"), worker: 0 }).hostCalls;

    // Time: the metered route (the longest hit path), customers round-robin.
    const gateRequests = Array.from({ length: CUSTOMERS }, (_, i) => requestHeaders(customerId(i), "/api/search?q=envoy"));
    const batch = options.quick ? 2_000 : BATCH;
    log(`   filter: timing ${BATCHES} interleaved batches of ${count(batch)} requests per plugin`);
    timeBatch(gate, gateRequests, batch);
    await drainUsage(host, usage);
    timeBatch(noop, gateRequests, batch);
    const gateTimes: number[] = [];
    const noopTimes: number[] = [];
    let drainedRecords = 0;
    for (let b = 0; b < BATCHES; b++) {
      gateTimes.push(timeBatch(gate, gateRequests, batch));
      drainedRecords += await drainUsage(host, usage);
      noopTimes.push(timeBatch(noop, gateRequests, batch));
    }
    if (drainedRecords !== BATCHES * batch) throw new Error(`expected one usage record per timed request, drained ${drainedRecords}`);
    const gateMs = median(gateTimes);
    const noopMs = median(noopTimes);
    const timeRatio = gateMs / noopMs;
    // Where the filter's time goes, to tell the plugin's own cost from the TypeScript host's.
    const gateSplit = await profileSplit(() => timeBatch(gate, gateRequests, batch * 2));
    await drainUsage(host, usage);
    const noopSplit = await profileSplit(() => timeBatch(noop, gateRequests, batch * 2));
    const gateWasmMs = gateSplit.wasmShare * gateMs;
    const noopWasmMs = noopSplit.wasmShare * noopMs;
    const gateHostFnMs = gateSplit.hostFunctionShare * gateMs;

    // Memory: allows on both routes plus a denial in every ten (the deny path allocates a body).
    const memoryRequests = options.quick ? 100_000 : MEMORY_REQUESTS;
    const mix = Array.from({ length: 100 }, (_, i) =>
      i % 10 === 9 ? requestHeaders("nobody", "/reports") : requestHeaders(customerId(i), i % 2 === 0 ? "/reports/x" : "/api/x"),
    );
    for (let i = 0; i < 10_000; i++) gate.requestSync({ headers: mix[i % mix.length]!, worker: 0 });
    await drainUsage(host, usage);
    const memoryBefore = worker.memoryBytes();
    log(`   filter: ${count(memoryRequests)} requests for the memory figure, the usage queue drained every ${count(MEMORY_CHUNK)}`);
    // Only the request loops are timed; the drains between them are not.
    let memoryMs = 0;
    for (let done = 0; done < memoryRequests; ) {
      const chunkEnd = Math.min(memoryRequests, done + MEMORY_CHUNK);
      const started = performance.now();
      for (let i = done; i < chunkEnd; i++) gate.requestSync({ headers: mix[i % mix.length]!, worker: 0 });
      memoryMs += performance.now() - started;
      done = chunkEnd;
      await drainUsage(host, usage);
    }
    const memoryAfter = worker.memoryBytes();
    if (worker.failed) throw new Error(`the filter VM failed: ${worker.failure}`);

    return {
      id: "filter",
      title: "the filter's hit path (proxy-wasm host, one worker VM)",
      load: `${count(CUSTOMERS)} customers × 10 features in shared data; 8-header GET requests; the usage queue registered as the sync role would and drained between batches (untimed); time = median of ${BATCHES} interleaved batches of ${count(batch)} synchronous requests per plugin (whole stream: create, request headers, response headers, done/log/delete); memory after ${count(memoryRequests)} mixed requests (45% boolean allow, 45% metered allow, 10% deny)`,
      figures: [
        figure("host calls per request, metered route", count(meteredRoute.calls), { text: "≤ 8", holds: meteredRoute.calls <= 8 }),
        figure("host calls per request, boolean route", count(booleanRoute.calls), { text: "≤ 8", holds: booleanRoute.calls <= 8 }),
        figure("host calls per request, no-op plugin", count(noopCalls)),
        figure("shared-data bytes read per request", bytes(meteredRoute.read)),
        figure("10-feature customer entry (with generation)", bytes(entryBytes), { text: "≤ 256 B", holds: entryBytes <= 256 }),
        figure("time per request, filter", us(gateMs, 2)),
        figure("time per request, no-op plugin", us(noopMs, 2)),
        figure("filter / no-op", ratio(timeRatio), { text: "≤ 1.5×", holds: timeRatio <= 1.5 }),
        figure("added by the filter per request (filter − no-op)", us(gateMs - noopMs, 2)),
        figure("  of which inside the filter's wasm (sampled)", us(gateWasmMs, 2)),
        figure("  of which in host functions (the test host's TypeScript)", us(gateHostFnMs, 2)),
        figure("  no-op: inside its wasm (sampled)", us(noopWasmMs, 2)),
        figure("filter / no-op without host-function time (derived)", ratio((gateMs - gateHostFnMs) / noopMs)),
        figure("linear memory after warm-up", bytes(memoryBefore)),
        figure(`linear memory after ${count(memoryRequests)} more requests`, bytes(memoryAfter), { text: "flat", holds: memoryAfter === memoryBefore }),
        figure("mixed requests per second (memory run)", count((memoryRequests / memoryMs) * 1000)),
      ],
      notes: [
        "Both plugins run in the same TypeScript host and pay its per-stream bookkeeping (about the no-op's whole time). The filter additionally pays its host calls, which this host implements in TypeScript (header-map serialization, buffer copies) and Envoy in C++; the sampled split above separates the plugin's own wasm time from that.",
      ],
    };
  } finally {
    await host.close();
  }
}
