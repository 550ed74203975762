// Envoy removes a plugin (config reload, listener drain, hot restart) with the root's proxy_on_done. The
// sync role then holds metered usage the control plane has not acknowledged: it reports it once more and
// answers false, calling proxy_done when that report settles or after 2 s, counting what was lost. A
// worker holding the sync lease releases it there, so another worker takes the role on its next tick. A
// worker that loses the lease (stalled past its renewal) still reports the usage it had taken.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock, type HttpFilter, type HttpResult, type ServicePlugin } from "../host/index.ts";
import { RELEASE_WASM } from "./support/builtWasm.ts";
import { metered, seedCache } from "./support/cacheSeed.ts";
import { eventually, startControlPlaneRig, type ControlPlaneRig } from "./support/controlPlaneRig.ts";
import { SyncServer, waitFor } from "./support/syncServer.ts";
import { freePort } from "../support/freePort.ts";

const VM_ID = "eg";
const NOW = Date.parse("2026-11-25T12:00:00Z");
/** FINAL_REPORT_BOUND_MS in filter/assembly/plugin/syncEngine.ts. */
const FINAL_REPORT_BOUND_MS = 2000;
/** The gate root's tick (TICK_MS in gateFilter.ts). */
const GATE_TICK_MS = 50;
const CATALOGUE = `
customers:
  acme:
    entitlements:
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 1000, currentUsage: 0 }
`;
const GATE_RULES = [{ pathPrefix: "/search", feature: "search", requestedUsage: 1 }];
const REPORT_USAGE_PATH = "/entitlementgate.sync.v1.FilterSync/ReportUsage";

const search = (worker = 0): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", "/search"], [":authority", "shop.example"], ["x-customer-id", "acme"]],
  worker,
});

function allowed(result: HttpResult): void {
  assert.equal(result.kind, "continue", `expected an allow, got ${JSON.stringify(result)}`);
}

/** Whether `promise` has settled after the current event-loop turn. */
async function settled(promise: Promise<void>): Promise<boolean> {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
}

function usageInStore(rig: ControlPlaneRig): number {
  return rig.cp.store.get("acme")?.value.entitlements.find((e) => e.featureId === "search")?.currentUsage ?? -1;
}

function warnings(host: EnvoyHost): string[] {
  return host.logs().filter((l) => l.level === 3).map((l) => l.message);
}

/** Moves the clock in gate ticks, letting sockets and callbacks run after each. */
async function advance(clock: ManualClock, host: EnvoyHost, ms: number): Promise<void> {
  for (let done = 0; done < ms; done += GATE_TICK_MS) {
    await clock.advance(GATE_TICK_MS);
    await host.flush();
  }
}

/** The sync singleton (usage held for a minute between flushes) and one gate worker with acme in its cache. */
async function syncWithSeededGate(host: EnvoyHost): Promise<{ sync: ServicePlugin; gate: HttpFilter }> {
  const sync = await host.addSingletonService({
    vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
    configuration: JSON.stringify({ cluster: "control_plane", nodeId: "teardown", usageFlushMs: 60000 }),
  });
  const gate = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1, configuration: JSON.stringify({ rules: GATE_RULES }) });
  seedCache(host, VM_ID, [{ customerId: "acme", entitlements: [metered("search", 1000, 0)] }], NOW);
  return { sync, gate };
}

function leaseOf(host: EnvoyHost): { holder: string; expiryMs: number } {
  const text = Buffer.from(host.sharedData(VM_ID).get("eg1/sync/lease")?.value ?? new Uint8Array()).toString();
  const [holder = "", expiry = "-1"] = text.split(" ");
  return { holder, expiryMs: Number(expiry) };
}

describe("sync role teardown", () => {
  let host: EnvoyHost | undefined;
  let rig: ControlPlaneRig | undefined;
  let server: SyncServer | undefined;
  afterEach(async () => {
    await host?.close();
    await rig?.close();
    await server?.close();
    host = rig = server = undefined;
  });

  it("reports the usage it holds and still queued in a final report, then completes the teardown", async () => {
    rig = await startControlPlaneRig(CATALOGUE);
    const clock = new ManualClock(NOW);
    host = new EnvoyHost({ clock, clusters: { control_plane: { host: "127.0.0.1", port: rig.cp.syncPort } } });
    // A long flush interval keeps drained increments held; a batch of 3 makes the final report several calls.
    const sync = await host.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
      configuration: JSON.stringify({ cluster: "control_plane", nodeId: "teardown", usageFlushMs: 60000, usageBatchSize: 3 }),
    });
    const gate = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1, configuration: JSON.stringify({ rules: GATE_RULES }) });
    const h = host;
    await eventually("the first snapshot", () => h.sharedData(VM_ID).get("eg1/sync/gen") !== undefined);

    for (let i = 0; i < 4; i++) allowed(gate.requestSync(search()));
    // The sync role drains them: a full batch of 3 goes out at once (usually still unanswered when the
    // teardown starts, and then awaited first), one stays held.
    await host.flush();
    for (let i = 0; i < 3; i++) allowed(gate.requestSync(search()));
    assert.equal(host.queueSize(VM_ID, "eg1/usage"), 3, "three still queued when the teardown starts");

    const deleted = sync.teardown();
    assert.equal(sync.vm.rootState, "awaitingDone", "proxy_on_done deferred the teardown");
    assert.equal(host.queueSize(VM_ID, "eg1/usage"), 0, "the queue was drained into the final report");
    await deleted;

    // Only proxy_done moves a deferred root on to proxy_on_delete; the clock never moved, so the
    // acknowledgements did it, not the bound.
    assert.equal(sync.vm.rootState, "deleted");
    assert.equal(usageInStore(rig), 7);
    assert.equal(host.metric("entitlement_sync_usage_reported"), 7);
    assert.equal(host.metric("entitlement_sync_usage_dropped") ?? 0, 0);
    assert.deepEqual(warnings(host).filter((m) => /dropped/.test(m)), []);
  });

  it("completes within the bound when the control plane does not answer, counting the dropped increments", async () => {
    server = new SyncServer({ silentUnary: true });
    await server.listen();
    const clock = new ManualClock(NOW);
    host = new EnvoyHost({ clock, clusters: { control_plane: { host: "127.0.0.1", port: server.port } } });
    const { sync, gate } = await syncWithSeededGate(host);
    for (let i = 0; i < 3; i++) allowed(gate.requestSync(search()));
    await host.flush();

    const deleted = sync.teardown();
    assert.equal(sync.vm.rootState, "awaitingDone");
    const s = server;
    await waitFor(() => s.unaryPaths.includes(REPORT_USAGE_PATH), "the final ReportUsage at the control plane");
    await clock.advance(FINAL_REPORT_BOUND_MS - 100);
    assert.equal(await settled(deleted), false, "still waiting for the answer before the bound");
    assert.equal(sync.vm.rootState, "awaitingDone");

    await clock.advance(100);
    await deleted;
    assert.equal(sync.vm.rootState, "deleted");
    assert.equal(host.metric("entitlement_sync_usage_dropped"), 3);
    assert.equal(host.metric("entitlement_sync_usage_reported") ?? 0, 0);
    const dropped = warnings(host).filter((m) => /dropped/.test(m));
    assert.equal(dropped.length, 1);
    assert.match(dropped[0]!, /torn down with 3 usage increment\(s\) the control plane did not acknowledge; dropped \(no acknowledgement within 2000 ms\)/);
  });

  it("completes without waiting for the bound when the final report fails", async () => {
    const clock = new ManualClock(NOW);
    // Nothing listens on port 1: the report fails with UNAVAILABLE as soon as the connection is refused.
    host = new EnvoyHost({ clock, clusters: { control_plane: { host: "127.0.0.1", port: 1 } } });
    const { sync, gate } = await syncWithSeededGate(host);
    for (let i = 0; i < 4; i++) allowed(gate.requestSync(search()));

    await sync.teardown();
    assert.equal(sync.vm.rootState, "deleted");
    assert.equal(host.metric("entitlement_sync_usage_dropped"), 4);
    assert.match(warnings(host).find((m) => /dropped/.test(m)) ?? "", /torn down with 4 usage increment\(s\).*gRPC status 14/);
  });

  it("completes at once when nothing is pending", async () => {
    server = new SyncServer();
    await server.listen();
    const clock = new ManualClock(NOW);
    host = new EnvoyHost({ clock, clusters: { control_plane: { host: "127.0.0.1", port: server.port } } });
    const sync = await host.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
      configuration: JSON.stringify({ cluster: "control_plane", nodeId: "teardown" }),
    });
    const gate = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 2,
      configuration: JSON.stringify({ rules: GATE_RULES }),
    });
    const stream = await server.stream(0);
    await stream.subscribeRequest();

    const syncDeleted = sync.teardown();
    const gateDeleted = gate.teardown();
    // proxy_on_done answered true: proxy_on_delete ran inside teardown(), with no tick or callback needed.
    assert.equal(sync.vm.rootState, "deleted");
    assert.deepEqual(gate.workers.map((w) => w.rootState), ["deleted", "deleted"]);
    await Promise.all([syncDeleted, gateDeleted]);
    await stream.closed; // the Subscribe stream was cancelled
    assert.deepEqual(server.unaryPaths, [], "no report without usage");
    assert.equal(clock.pendingTimers(), 0);
    assert.equal(host.metric("entitlement_sync_usage_dropped") ?? 0, 0);
  });
});

describe("the sync lease: released on teardown, and lost by a stalled worker", () => {
  let host: EnvoyHost | undefined;
  let rig: ControlPlaneRig | undefined;
  afterEach(async () => {
    await host?.close();
    await rig?.close();
    host = rig = undefined;
  });

  const leaseGate = (): string => JSON.stringify({
    onMiss: { policy: "fallback" },
    rules: GATE_RULES,
    sync: { cluster: "control_plane", nodeId: "lease-teardown", leaseTtlMs: 3000, usageFlushMs: 60000 },
  });

  // Two filter plugins on one vm_id, as during a config reload (old and new) or two listeners.
  async function twoFilters(clock: ManualClock): Promise<{ old: HttpFilter; next: HttpFilter }> {
    rig = await startControlPlaneRig(CATALOGUE);
    host = new EnvoyHost({ clock, clusters: { control_plane: { host: "127.0.0.1", port: rig.cp.syncPort } } });
    const old = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1, configuration: leaseGate() });
    const next = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1, configuration: leaseGate() });
    return { old, next };
  }

  it("releases the lease so another worker takes the sync role on its next tick, after reporting its usage", async () => {
    const clock = new ManualClock(NOW);
    const { old, next } = await twoFilters(clock);
    const h = host!;
    const r = rig!;
    await eventually("the holder's first snapshot", () => h.sharedData(VM_ID).get("eg1/sync/gen") !== undefined);
    const first = leaseOf(h);
    assert.match(first.holder, /^w1-/, "the first worker configured holds the lease");
    assert.equal(h.metric("entitlement_sync_lease_acquired"), 1);
    for (let i = 0; i < 3; i++) allowed(await old.request(search()));
    await h.flush();

    const oldDeleted = old.teardown();
    const released = leaseOf(h);
    assert.deepEqual(released, { holder: first.holder, expiryMs: 0 }, "released in proxy_on_done, before the final report settles");

    await clock.advance(GATE_TICK_MS);
    const taken = leaseOf(h);
    assert.match(taken.holder, /^w2-/, "the other worker took the lease on its next tick");
    assert.equal(taken.expiryMs, NOW + GATE_TICK_MS + 3000, "a fresh claim, 50 ms into a 3000 ms TTL: no waiting for expiry");
    assert.equal(h.metric("entitlement_sync_lease_acquired"), 2);

    await oldDeleted;
    assert.equal(old.workers[0]!.rootState, "deleted");
    assert.equal(usageInStore(r), 3, "the old holder's usage reached the control plane");
    // The new holder subscribes (resuming by version) and keeps reporting usage.
    await eventually("the new holder's stream", () => r.cp.sync.subscriberCount === 1 && (h.metric("entitlement_sync_messages") ?? 0) >= 2);
    assert.equal(next.workers[0]!.rootState, "active");
  });

  it("never overwrites a lease another worker took meanwhile", async () => {
    const clock = new ManualClock(NOW);
    const { old } = await twoFilters(clock);
    const h = host!;
    assert.match(leaseOf(h).holder, /^w1-/);
    // Someone else's claim landed after old's last check (old has not read it yet).
    h.sharedData(VM_ID).set("eg1/sync/lease", new TextEncoder().encode(`w9-abc ${NOW + 5000}`));
    await old.teardown();
    assert.deepEqual(leaseOf(h), { holder: "w9-abc", expiryMs: NOW + 5000 });
  });

  it("a worker that loses it still hands over the usage it took from the queue once the control plane answers, on the holder's flush rules", async () => {
    // The control plane is down while the holder takes the usage and loses the lease; it comes up later on
    // the same port. Nobody else would ever report what the old holder took from the queue.
    const port = await freePort();
    const clock = new ManualClock(NOW);
    host = new EnvoyHost({ clock, clusters: { control_plane: { host: "127.0.0.1", port } } });
    const gate = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1,
      configuration: JSON.stringify({ onMiss: { policy: "fallback" }, rules: GATE_RULES, sync: { cluster: "control_plane", nodeId: "lease-loss", leaseTtlMs: 3000, usageFlushMs: 200, usageBatchSize: 2 } }),
    });
    const h = host;
    seedCache(h, VM_ID, [{ customerId: "acme", entitlements: [metered("search", 1000, 0)] }], NOW);
    assert.match(leaseOf(h).holder, /^w1-/);
    for (let i = 0; i < 5; i++) allowed(gate.requestSync(search()));
    await advance(clock, h, 500);
    assert.ok((h.metric("entitlement_sync_usage_report_errors") ?? 0) > 0, "the holder's reports failed meanwhile");

    // Another worker's claim lands (this one was stalled past its renewal): found on the holder's next check.
    h.sharedData(VM_ID).set("eg1/sync/lease", new TextEncoder().encode(`w9-other ${NOW + 600_000}`));
    await advance(clock, h, 1100);
    assert.equal(h.metric("entitlement_sync_lease_lost"), 1, "the role was given up");

    rig = await startControlPlaneRig(CATALOGUE, port);
    const r = rig;
    for (let waited = 0; waited < 5000 && usageInStore(r) < 5; waited += GATE_TICK_MS) await advance(clock, h, GATE_TICK_MS);
    assert.equal(usageInStore(r), 5, "every increment reached the control plane without waiting for the lease");
    assert.equal(leaseOf(h).holder, "w9-other");
    assert.equal(h.metric("entitlement_sync_usage_dropped") ?? 0, 0);
  });
});
