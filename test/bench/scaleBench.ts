// Section 5: 100,000 customers × 10 features. The control plane runs as its own process (so its RSS
// is its own); a singleton sync VM in the proxy-wasm host connects and applies the full snapshot.
import { EnvoyHost } from "../host/index.ts";
import { parseJsonLine, processMemory, startNodeChild, startTsChild } from "./childProcess.ts";
import { compiledChild, ensureControlBuilt } from "./compiledChild.ts";
import { SERVER_NODE_FLAGS } from "./serverNodeFlags.ts";
import { writeEntitlementsFile } from "./entitlementsFileGen.ts";
import { VM_ID, waitUntil } from "./envoyPair.ts";
import { bytes, count, figure, ms, type SectionResult } from "./report.ts";
import { FILTER_WASM } from "./wasmBuilds.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const CUSTOMERS = 100_000;
const FILE_CUSTOMERS = 100_000;

interface Ready {
  syncPort: number;
  loadMs: number;
  entries: number;
  entryBytes: number;
}

async function pushSnapshot(syncPort: number): Promise<{ applyMs: number; sharedBytes: number; keys: number }> {
  const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: syncPort } } });
  try {
    const started = performance.now();
    const sync = await host.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: FILTER_WASM, configuration: JSON.stringify({ cluster: "control_plane", nodeId: "scale" }),
    });
    if (!sync.configureResult) throw new Error("the sync role rejected its configuration");
    await waitUntil("the full snapshot in shared data", 60_000, () => host.sharedData(VM_ID).get("eg1/sync/gen") !== undefined);
    const applyMs = performance.now() - started;
    if (sync.vm.failed) throw new Error(`the sync VM failed: ${sync.vm.failure}`);
    const shared = host.sharedData(VM_ID);
    let sharedBytes = 0;
    const keys = shared.keys();
    for (const key of keys) sharedBytes += Buffer.byteLength(key) + (shared.get(key)?.value.length ?? 0);
    return { applyMs, sharedBytes, keys: keys.length };
  } finally {
    await host.close();
  }
}

async function fileSourceLoad(log: (line: string) => void, customers: number): Promise<{ loadMs: number; peak: number; rss: number; fileBytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), "eg-bench-"));
  try {
    const path = join(dir, "entitlements.json");
    const fileBytes = await writeEntitlementsFile(path, customers);
    log(`   scale: the offline file source loading ${count(customers)} customers (${bytes(fileBytes)})`);
    const started = performance.now();
    const args = ["serve", "--entitlements-file", path, "--sync-port", "0", "--grpc-port", "0", "--http-port", "0", "--bind-address", "127.0.0.1"];
    // `entitlement-gate serve` from dist/ as the image runs it (the TypeScript sources if the build fails).
    const compiled = await ensureControlBuilt(log);
    const child = startNodeChild("entitlement-gate serve", [...SERVER_NODE_FLAGS, "bin/entitlement-gate.js", ...args], { ENTITLEMENT_GATE_USE_DIST: compiled ? "1" : "0" });
    try {
      await child.waitForLine((line) => parseJsonLine<{ syncPort: number }>(line, "syncPort"), 300_000);
      const loadMs = performance.now() - started;
      return { loadMs, fileBytes, ...processMemory(child.process.pid!) };
    } finally {
      await child.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function scaleBench(log: (line: string) => void, options: { quick: boolean }): Promise<SectionResult> {
  const customers = options.quick ? 10_000 : CUSTOMERS;
  log(`   scale: control plane child with ${count(customers)} customers`);
  const script = "test/bench/scaleControlPlane.ts";
  const compiled = await compiledChild(script, log);
  const flags = [...SERVER_NODE_FLAGS, "--expose-gc"];
  const child = compiled ? startNodeChild(script, [...flags, compiled, String(customers)]) : startTsChild(script, [String(customers)], { nodeFlags: flags });
  let ready: Ready;
  let idle: { rss: number; peak: number };
  let served: { rss: number; peak: number };
  let push: Awaited<ReturnType<typeof pushSnapshot>>;
  try {
    ready = await child.waitForLine((line) => parseJsonLine<Ready>(line, "syncPort"), 180_000);
    idle = processMemory(child.process.pid!);
    push = await pushSnapshot(ready.syncPort);
    child.process.stdin!.write("gc\n");
    await child.waitForLine((line) => (line === "collected" ? true : undefined), 10_000);
    served = processMemory(child.process.pid!);
  } finally {
    await child.stop();
  }
  const file = options.quick ? undefined : await fileSourceLoad(log, FILE_CUSTOMERS);
  // The issue states 400 MB: decimal megabytes, the stricter reading.
  const rssBudget = 400 * 1000 * 1000;
  const worstRss = Math.max(idle.rss, served.rss);
  const figures = [
    figure("control-plane RSS, loaded, idle (after GC)", bytes(idle.rss), { text: "≤ 400 MB", holds: idle.rss <= rssBudget }),
    figure("control-plane RSS after serving the snapshot (after GC)", bytes(served.rss), { text: "≤ 400 MB", holds: served.rss <= rssBudget }),
    figure("control-plane peak RSS (VmHWM)", bytes(Math.max(idle.peak, served.peak))),
    figure("store fill (encode + fingerprint every customer)", ms(ready.loadMs, 0)),
    figure("full snapshot -> applied in shared data", ms(push.applyMs, 0), { text: "≤ 2 s", holds: push.applyMs <= 2000 }),
    figure("shared-data footprint (keys + values)", bytes(push.sharedBytes)),
    figure("shared-data keys", count(push.keys)),
    figure("encoded entries in the control plane", bytes(ready.entryBytes)),
  ];
  if (file) {
    figures.push(
      figure(`offline file source: ${count(FILE_CUSTOMERS)}-customer JSON file (${bytes(file.fileBytes)}) to ready`, ms(file.loadMs, 0)),
      figure("offline file source: peak RSS", bytes(file.peak)),
    );
  }
  return {
    id: "scale",
    title: `${count(customers)} customers × 10 features`,
    load: `control plane as a child process (${compiled ? "compiled JavaScript" : "tsx"}, ${[...SERVER_NODE_FLAGS, "--expose-gc"].join(" ")}) holding ${count(customers)} customers of the benchmark plan fed directly into its store; one singleton sync VM in the proxy-wasm host subscribes from scratch; RSS from /proc/<pid>/status (${worstRss === served.rss ? "worst after serving" : "worst while idle"})`,
    figures,
    notes: [
      "The first figures put the 100,000 customers in the store directly, to measure the store and the push alone. The last two load the same customers from an offline entitlements file (JSON, one customer per line) through the file source: a valid JSON file is read with JSON.parse plus a duplicate-key scan and validation; YAML, or JSON with any problem, goes through the `yaml` document model, which reports lines but needs seconds and hundreds of MB per 10 MB of text.",
      `The control plane runs as compiled JavaScript on plain Node with the shipped flags (${SERVER_NODE_FLAGS.join(" ")}), as the container image runs it${compiled ? "" : " — except this run: the compile failed and it ran under tsx, whose loader thread adds ~35–45 MiB"}; its RSS includes Node, grpc-js, fastify and pino.`,
    ],
  };
}
