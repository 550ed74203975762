// `npm run chaos [-- --write] [--only kill-9,ws-silent]`: the chaos suite. Faults injected one after
// the other under steady traffic against a real control-plane process, the Stigg emulator, the built
// filter in our proxy-wasm host and a Sidecar client; every answer judged by the oracle. Loopback only,
// bounded (a watchdog ends the run at 10 minutes), exit 0 only when every scenario met its expectations.
import events from "node:events";
import { existsSync } from "node:fs";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { join } from "node:path";
import { writeSubsection } from "./report.ts";
import { chaosTable, rowPasses } from "./chaosTable.ts";
import { REPO_ROOT, sleep } from "./processes.ts";
import { SCENARIOS, type Scenario } from "./scenarios.ts";
import { tally, PROPAGATION_GRACE_MS, type ScenarioRow } from "./tally.ts";
import { Traffic, DEFAULT_RATES } from "./traffic.ts";
import { FILTER_WASM, MISS_TIMEOUT_MS, World } from "./world.ts";
import { FILTER_ROUTES, SIDECAR_CHECKS } from "./customers.ts";
import type { Observation } from "./oracle.ts";

const SUITE_LIMIT_MS = 10 * 60_000;
const RECOVERY_LIMIT_MS = 60_000;

interface Args {
  write: boolean;
  only?: Set<string>;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { write: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--write") args.write = true;
    else if (a === "--only") args.only = new Set((argv[++i] ?? "").split(",").filter(Boolean));
    else if (a.startsWith("--only=")) args.only = new Set(a.slice(7).split(",").filter(Boolean));
    else if (a === "--help" || a === "-h") {
      process.stdout.write(`npm run chaos [-- --write] [--only ${SCENARIOS.map((s) => s.name).join(",")}]\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

async function waitColdRecovered(world: World, sink: (o: Observation) => void, timeoutMs: number): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const a = world.takeColdCustomer();
    const f = await world.filterRequest(a.id, FILTER_ROUTES[0]!, a.cold);
    const b = world.takeColdCustomer();
    const s = await world.sidecarCall(b.id, SIDECAR_CHECKS[0]!.rpc, SIDECAR_CHECKS[0]!.check, b.cold);
    sink(f);
    sink(s);
    if (world.oracle.judge(f, 0) === "ok" && world.oracle.judge(s, 0) === "ok") return performance.now() - started;
    await sleep(250);
  }
  return undefined;
}

async function runScenario(world: World, scenario: Scenario, setSink: (sink: (o: Observation) => void) => void): Promise<ScenarioRow> {
  const notes = (await scenario.setup?.(world)) ?? [];
  const settled = await world.waitHealthy(20_000);
  if (settled === undefined) notes.push("did not settle before the fault");
  const observations: Observation[] = [];
  const sink = (o: Observation): void => void observations.push(o);
  setSink(sink);
  const startedAt = Date.now();
  // This process hosts the emulator, the filter VMs and the traffic: its own event-loop delay tells
  // whether a slow answer was the system under test or the harness.
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const reconnectsBefore = world.host.metric("entitlement_sync_reconnects") ?? 0;
  await sleep(2_000);
  const run = await scenario.run(world);
  const healthyMs = await world.waitHealthy(RECOVERY_LIMIT_MS);
  const coldMs = run.coldMustRecover ? await waitColdRecovered(world, sink, RECOVERY_LIMIT_MS) : 0;
  const canaryMs = await world.canaryPropagation(10_000);
  await sleep(1_000);
  const endedAt = Date.now();
  setSink(() => {});
  const { row, examples } = tally(scenario.name, scenario.fault, observations, world.oracle, { startedAt, faultStart: run.faultStart, faultEnd: run.faultEnd, endedAt }, run.documented);
  loop.disable();
  notes.push(...run.notes);
  const coldFilter = observations.filter((o) => o.cold && o.api === "filter").map((o) => o.endedAt - o.startedAt).sort((a, b) => a - b);
  if (coldFilter.length > 0) notes.push(`filter misses: median ${coldFilter[coldFilter.length >> 1]} ms, max ${coldFilter.at(-1)} ms`);
  notes.push(`filter sync reconnects: ${(world.host.metric("entitlement_sync_reconnects") ?? 0) - reconnectsBefore}`);
  notes.push(`harness event-loop delay p99 ${(loop.percentile(99) / 1e6).toFixed(0)} ms, max ${(loop.max / 1e6).toFixed(0)} ms`);
  notes.push(`fault ${((run.faultEnd - run.faultStart) / 1000).toFixed(1)} s`);
  notes.push(healthyMs === undefined ? "cached customers NOT right again within 60 s" : `cached customers right on both APIs ${Math.round(healthyMs)} ms after the fault`);
  if (run.coldMustRecover) notes.push(coldMs === undefined ? "misses NOT answered for real within 60 s" : `misses answered for real again ${Math.round(coldMs)} ms after that`);
  notes.push(canaryMs === undefined ? "a new change did NOT propagate within 10 s" : `a new change reached filter + Sidecar in ${Math.round(canaryMs)} ms`);
  const result: ScenarioRow = { ...row, recovered: healthyMs !== undefined && coldMs !== undefined && canaryMs !== undefined, notes: notes.join("; ") };
  process.stdout.write(`\n[${scenario.name}] ${scenario.fault}\n  ${JSON.stringify({ ...row, recovered: result.recovered })}\n  ${result.notes}\n`);
  for (const e of examples) process.stdout.write(`  ! ${e}\n`);
  return result;
}

function sectionBody(rows: readonly ScenarioRow[], skipped: readonly string[], totalMs: number): string {
  return [
    `Run: \`npm run chaos -- --write\` on ${new Date().toISOString().slice(0, 10)} (${Math.round(totalMs / 1000)} s; Node ${process.version}, loopback only).`,
    "",
    "Set-up: the control plane as a child process (`node --import tsx control/main.ts`, Stigg mode against the in-process",
    `Stigg emulator, MISS_TIMEOUT_MS ${MISS_TIMEOUT_MS}, default event-stream keep-alive), our proxy-wasm host running`,
    "`build/entitlement_gate.wasm` (singleton sync role, reconnect 250 ms–2 s, + 2 workers, `onMiss.timeoutMs` 200, fallback",
    "`feature-reports: hasAccess`), a Sidecar client (reconnect 100 ms–1 s). Traffic: " +
      `${DEFAULT_RATES.filter} filter requests/s and ${DEFAULT_RATES.sidecar} Sidecar checks/s over 11 cached customers (every`,
    `denial reason, a limit reached, 3 customers whose plan changes), plus ${DEFAULT_RATES.cold} cold customers/s that must miss.`,
    "",
    `Every answer is judged against the emulator's data at the time of the request (a change counts from the moment it is`,
    `published; ${PROPAGATION_GRACE_MS} ms grace for the push): *wrong* = matches no version, *stale* = matches an older one`,
    "(documented only where a fault hides events, until the reconnect re-fetch), *fallback* = `is_fallback` / `x-entitlement-fallback`",
    "(documented for misses while Stigg or the control plane cannot answer), *errors* = failed Sidecar calls (documented while the",
    "process is dead). *Recovered by itself* = without any action: every cached customer right on both APIs, misses answered",
    "for real again, and a new change published in Stigg reaches the filter and the Sidecar API within 10 s. *Time to recover* =",
    "fault removed (process ready again, for kill -9) → last unhealthy answer (stale, fallback, error).",
    "",
    chaosTable(rows),
    "",
    ...rows.map((r) => `- **${r.scenario}** — ${r.fault}. ${r.notes}.`),
    ...skipped.map((s) => `- skipped: ${s}`),
  ].join("\n");
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // The emulator's latency fault holds every request on one abort signal; dozens held at once are the
  // point of the scenario, not a listener leak.
  events.defaultMaxListeners = 1_000;
  if (!existsSync(FILTER_WASM)) throw new Error(`${FILTER_WASM} is missing: run npm run build:filter first`);
  const started = performance.now();
  const rows: ScenarioRow[] = [];
  const skipped: string[] = [];
  let world: World | undefined;
  let traffic: Traffic | undefined;
  const watchdog = setTimeout(() => {
    process.stderr.write(`chaos: the suite exceeded ${SUITE_LIMIT_MS / 60_000} minutes, stopping\n`);
    if (rows.length > 0) process.stdout.write(`${chaosTable(rows)}\n`);
    void (async () => {
      await traffic?.stop();
      await world?.close();
      process.exit(1);
    })();
    setTimeout(() => process.exit(1), 10_000).unref();
  }, SUITE_LIMIT_MS);
  try {
    world = await World.start({ coldPool: 4_000, redis: false });
    process.stdout.write(`chaos: control plane pid ${world.controlPlane.pid}, ports ${JSON.stringify(world.controlPlane.ports)}, logs in ${world.logDir}\n`);
    if ((await world.waitHealthy(30_000)) === undefined) throw new Error("the cached customers never answered right before any fault");
    let sink: (o: Observation) => void = () => {};
    traffic = new Traffic(world, (o) => sink(o));
    traffic.start();
    for (const scenario of SCENARIOS) {
      if (args.only && !args.only.has(scenario.name)) continue;
      const reason = scenario.skipReason?.();
      if (reason) {
        process.stdout.write(`\n[${scenario.name}] skipped: ${reason}\n`);
        skipped.push(`${scenario.name} (${reason})`);
        continue;
      }
      rows.push(await runScenario(world, scenario, (s) => (sink = s)));
    }
  } finally {
    await traffic?.stop();
    await world?.close();
    clearTimeout(watchdog);
  }
  const totalMs = performance.now() - started;
  process.stdout.write(`\n${chaosTable(rows)}\n${skipped.map((s) => `skipped: ${s}\n`).join("")}chaos: ${Math.round(totalMs / 1000)} s\n`);
  if (args.write) {
    writeSubsection(join(REPO_ROOT, "RELIABILITY.md"), "Chaos suite", sectionBody(rows, skipped, totalMs));
    process.stdout.write("chaos: wrote the Chaos suite block of RELIABILITY.md\n");
  }
  process.exitCode = rows.every(rowPasses) ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
