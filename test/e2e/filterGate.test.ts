// The filter end to end, as an operator runs it with a bootstrap singleton: the control plane serves an
// entitlements file, the sync role pushes it, two filter workers gate per feature, count metered usage
// back to the control plane, fetch a customer whose cache entry is missing, run a shadow filter beside
// the enforcing one, and ride through a control-plane restart without one wrongly denied request.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "../filter/support/builtWasm.ts";
import { eventually, startControlPlaneRig, type ControlPlaneRig } from "../filter/support/controlPlaneRig.ts";

const VM_ID = "entitlements";
const CATALOGUE = `
customers:
  acme:
    entitlements:
      reports: { featureType: BOOLEAN }
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 100, currentUsage: 0 }
  globex:
    entitlements:
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 1000000, currentUsage: 5 }
  initech:
    accessDeniedReason: NoActiveSubscription
    entitlements:
      reports: { featureType: BOOLEAN }
`;
const RULES = [
  { pathPrefix: "/reports", feature: "reports" },
  { pathPattern: "/v1/*/search/**", methods: ["GET", "POST"], feature: "search", requestedUsage: 1 },
];

const req = (customer: string | undefined, path: string, worker: number): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", path], [":authority", "shop.example"], ...(customer ? [["x-customer-id", customer] as [string, string]] : [])],
  worker,
});
const decision = (r: HttpResult): string => (r.kind === "continue" ? "allow" : `${r.status} ${JSON.parse(r.body).reason}`);
const upstreamHeader = (r: HttpResult, name: string): string[] =>
  r.kind === "continue" ? r.upstreamHeaders.filter(([k]) => k === name).map(([, v]) => v) : [];

describe("filter end to end with a singleton sync role", () => {
  let rig: ControlPlaneRig;
  let envoy: EnvoyHost;
  let filter: HttpFilter;
  let shadow: HttpFilter;

  before(async () => {
    rig = await startControlPlaneRig(CATALOGUE);
    envoy = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: rig.cp.syncPort } } });
    const sync = await envoy.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
      configuration: JSON.stringify({ cluster: "control_plane", nodeId: "e2e", usageFlushMs: 5, reconnectMinMs: 20, reconnectMaxMs: 200 }),
    });
    assert.equal(sync.configureResult, true);
    filter = await envoy.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 2,
      configuration: JSON.stringify({ rules: RULES, onMiss: { policy: "fetch", timeoutMs: 1000 }, injectHeaders: ["x-entitlement-decision", "x-entitlement-remaining"] }),
    });
    shadow = await envoy.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1,
      configuration: JSON.stringify({ rules: RULES, shadow: true }),
    });
    assert.deepEqual([...filter.configureResults, ...shadow.configureResults], [true, true, true]);
    await eventually("the first snapshot", () => envoy.sharedData(VM_ID).get("eg1/sync/gen") !== undefined, 5000);
  });
  after(async () => {
    await envoy?.close();
    await rig?.close();
  });

  it("gates each route by its feature on both workers", async () => {
    for (const worker of [0, 1]) {
      assert.equal(decision(await filter.request(req("acme", "/reports/q3", worker))), "allow");
      assert.equal(decision(await filter.request(req("globex", "/reports", worker))), "403 NoFeatureEntitlementInSubscription");
      assert.equal(decision(await filter.request(req("initech", "/reports", worker))), "403 NoActiveSubscription");
      assert.equal(decision(await filter.request(req(undefined, "/reports", worker))), "403 MissingCustomerId");
      const search = await filter.request(req("globex", "/v1/eu/search/items", worker));
      assert.equal(decision(search), "allow");
      assert.equal(decision(await filter.request(req("acme", "/healthz", worker))), "allow");
    }
  });

  it("fetches a customer whose cache entry is gone on its first request, then serves it from cache", async () => {
    envoy.sharedData(VM_ID).set("eg1/c/acme", new Uint8Array(0));
    const fetchesBefore = envoy.metric("entitlement_gate_fetches") ?? 0;
    assert.equal(decision(await filter.request(req("acme", "/reports", 0))), "allow");
    assert.equal(envoy.metric("entitlement_gate_fetches"), fetchesBefore + 1);
    assert.ok(envoy.sharedData(VM_ID).get("eg1/c/acme")!.value.length > 4);
    assert.equal(decision(filter.requestSync(req("acme", "/reports", 1))), "allow");
  });

  it("shows the shadow filter's verdicts without blocking anything", async () => {
    const denied = await shadow.request(req("initech", "/reports", 0));
    assert.equal(denied.kind, "continue");
    assert.deepEqual(upstreamHeader(denied, "x-entitlement-shadow-decision"), ["deny:NoActiveSubscription"]);
    assert.deepEqual(upstreamHeader(await shadow.request(req("acme", "/reports", 0)), "x-entitlement-shadow-decision"), ["allow"]);
    assert.ok((envoy.metric("entitlement_gate_shadow_disagreements") ?? 0) >= 1);
  });

  it("holds acme's limit of 100 searches across two workers within the documented bound", async () => {
    let allowed = 0;
    for (let i = 0; i < 300; i++) {
      if ((await filter.request(req("acme", "/v1/us/search", i % 2))).kind === "continue") allowed++;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    assert.ok(allowed >= 100 && allowed <= 120, `allowed ${allowed}`);
    await eventually("usage reported and pushed", () =>
      rig.cp.store.get("acme")?.value.entitlements.find((e) => e.featureId === "search")?.currentUsage === allowed);
    assert.equal(decision(await filter.request(req("acme", "/v1/us/search", 0))), "429 RequestedUsageExceedingLimit");
  });

  it("keeps serving cached customers through a control-plane restart, with no wrong denial", async () => {
    const wrong: string[] = [];
    let served = 0;
    let running = true;
    const traffic = (async () => {
      while (running) {
        for (const worker of [0, 1]) {
          const d = decision(await filter.request(req("acme", "/reports", worker)));
          served++;
          if (d !== "allow") wrong.push(d);
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await rig.cp.close();
    await new Promise((resolve) => setTimeout(resolve, 150));
    const reconnectsBefore = envoy.metric("entitlement_sync_reconnects") ?? 0;
    await rig.restart();
    await eventually("the sync role back on the new control plane", () => rig.cp.sync.subscriberCount === 1, 5000);
    await eventually("a message from the new control plane", () => (envoy.metric("entitlement_sync_reconnects") ?? 0) > reconnectsBefore, 5000);
    // Changes flow again.
    rig.cp.store.upsert({ customerId: "hooli", entitlements: [{ featureId: "reports", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 }] });
    await eventually("hooli pushed", () => envoy.sharedData(VM_ID).get("eg1/c/hooli") !== undefined, 3000);
    running = false;
    await traffic;
    assert.ok(served > 50, `only ${served} requests during the restart`);
    assert.deepEqual(wrong, []);
    assert.equal(decision(await filter.request(req("hooli", "/reports", 1))), "allow");
  });

  it("exposes the sync state, staleness and decision counters as Envoy stats", async () => {
    await eventually("a tick after the last message", () => envoy.metric("entitlement_sync_staleness_ms") !== undefined);
    assert.equal(envoy.metric("entitlement_sync_connected"), 1);
    assert.ok((envoy.metric("entitlement_sync_staleness_ms") ?? Infinity) < 5000);
    assert.ok((envoy.metric("entitlement_sync_reconnects") ?? 0) >= 1);
    // Allows are counted on the filter's 50 ms tick.
    await eventually("the allows counted", () => (envoy.metric("entitlement_gate_allowed") ?? 0) > 100);
    assert.ok((envoy.metric("entitlement_gate_denied_RequestedUsageExceedingLimit") ?? 0) >= 100);
    assert.ok((envoy.metric("entitlement_gate_misses") ?? 0) >= 1);
  });
});
