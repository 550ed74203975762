// The filter against a control plane that requires a bearer token on FilterSync (SYNC_AUTH_TOKEN): with
// the right `authToken` the snapshot arrives, misses are fetched and usage is reported; with a wrong token or
// none, the control plane refuses every call (UNAUTHENTICATED), nothing is written to shared data, the sync
// role keeps retrying with backoff (counted as errors), misses fall back, and the token is never logged.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "../filter/support/builtWasm.ts";
import { eventually, startControlPlaneRig, type ControlPlaneRig } from "../filter/support/controlPlaneRig.ts";
import { metered, seedCache } from "../filter/support/cacheSeed.ts";

const VM_ID = "entitlements";
const TOKEN = "eg-sync-token-0123456789abcdef+/=";
const WRONG_TOKEN = "eg-sync-token-0123456789abcdeX+/=";
const CATALOGUE = `
customers:
  acme:
    entitlements:
      reports: { featureType: BOOLEAN }
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 1000, currentUsage: 0 }
`;
const RULES = [
  { pathPrefix: "/reports", feature: "reports" },
  { pathPrefix: "/search", feature: "search", requestedUsage: 1 },
];
const FALLBACK = { reports: { hasAccess: true } };
/** Backoff bounds of the refused tests: delays are at least 50, 50, 100, 200, 400, 400... ms. */
const BACKOFF = { reconnectMinMs: 50, reconnectMaxMs: 400 };

const req = (path: string, worker = 0): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", path], [":authority", "shop.example"], ["x-customer-id", "acme"]],
  worker,
});
const decision = (r: HttpResult): string => (r.kind === "continue" ? "allow" : `${r.status} ${JSON.parse(r.body).reason}`);
const fallbackHeader = (r: HttpResult): string | undefined =>
  r.kind === "continue" ? r.upstreamHeaders.find(([k]) => k === "x-entitlement-fallback")?.[1] : undefined;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe("filter against a control plane requiring a bearer token", () => {
  let rig: ControlPlaneRig;
  let envoy: EnvoyHost | undefined;

  before(async () => {
    rig = await startControlPlaneRig(CATALOGUE, 0, { syncAuthToken: TOKEN });
  });
  after(async () => {
    await envoy?.close();
    await rig?.close();
  });

  const newEnvoy = (): EnvoyHost => {
    envoy = new EnvoyHost({ logLevel: "debug", clusters: { control_plane: { host: "127.0.0.1", port: rig.cp.syncPort } } });
    return envoy;
  };
  const closeEnvoy = async (): Promise<void> => {
    await envoy?.close();
    envoy = undefined;
  };
  const refusedBySync = async (): Promise<number> => {
    const metric = rig.cp.metrics.registry.getSingleMetric("entitlement_gate_refused_calls_total");
    const values = metric === undefined ? [] : (await metric.get()).values;
    return values.filter((v) => v.labels.server === "sync" && v.labels.reason === "unauthenticated").reduce((n, v) => n + v.value, 0);
  };
  const searchUsage = (): number | undefined =>
    rig.cp.store.get("acme")?.value.entitlements.find((e) => e.featureId === "search")?.currentUsage;
  const assertTokenNeverLogged = (host: EnvoyHost): void => {
    const lines = host.logs().map((l) => l.message);
    assert.ok(lines.length > 0);
    for (const line of lines) {
      assert.ok(!line.includes(TOKEN) && !line.includes(WRONG_TOKEN) && !line.includes("0123456789abcde"), line);
    }
  };

  it("with the right token: receives the snapshot, fetches misses and reports usage (singleton shape)", async () => {
    const host = newEnvoy();
    const sync = await host.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
      configuration: JSON.stringify({ cluster: "control_plane", authToken: TOKEN, usageFlushMs: 5, ...BACKOFF }),
    });
    const filter: HttpFilter = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1,
      configuration: JSON.stringify({ rules: RULES, fallback: FALLBACK, onMiss: { timeoutMs: 2000, authToken: TOKEN } }),
    });
    assert.deepEqual([sync.configureResult, ...filter.configureResults], [true, true]);
    await eventually("the first snapshot", () => host.sharedData(VM_ID).get("eg1/sync/gen") !== undefined, 5000);
    assert.equal(host.metric("entitlement_sync_errors") ?? 0, 0);

    host.sharedData(VM_ID).set("eg1/c/acme", new Uint8Array(0));
    const fetched = await filter.request(req("/reports"));
    assert.equal(decision(fetched), "allow");
    assert.equal(fallbackHeader(fetched), undefined);
    assert.equal(host.metric("entitlement_gate_fetches"), 1);
    assert.equal(host.metric("entitlement_gate_fetch_failures") ?? 0, 0);
    assert.ok(host.sharedData(VM_ID).get("eg1/c/acme")!.value.length > 4);

    for (let i = 0; i < 3; i++) assert.equal(decision(await filter.request(req("/search"))), "allow");
    await eventually("usage reported to the control plane", () => searchUsage() === 3, 5000);
    assert.equal(host.metric("entitlement_sync_usage_report_errors") ?? 0, 0);
    assertTokenNeverLogged(host);
    await closeEnvoy();
  });

  it("with the token in the gate's sync section: the lease holder subscribes and misses reuse the token (Istio shape)", async () => {
    const host = newEnvoy();
    const filter = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 2,
      configuration: JSON.stringify({
        rules: RULES, fallback: FALLBACK, onMiss: { timeoutMs: 2000 },
        sync: { cluster: "control_plane", authToken: TOKEN, leaseTtlMs: 900, ...BACKOFF },
      }),
    });
    assert.deepEqual(filter.configureResults, [true, true]);
    await eventually("the first snapshot", () => host.sharedData(VM_ID).get("eg1/sync/gen") !== undefined, 5000);
    host.sharedData(VM_ID).set("eg1/c/acme", new Uint8Array(0));
    const fetched = await filter.request(req("/reports", 1));
    assert.equal(decision(fetched), "allow");
    assert.equal(fallbackHeader(fetched), undefined);
    assert.equal(host.metric("entitlement_gate_fetches"), 1);
    assert.equal(host.metric("entitlement_gate_fetch_failures") ?? 0, 0);
    assertTokenNeverLogged(host);
    await closeEnvoy();
  });

  it("with a wrong token: ReportUsage is refused and counted, and the usage is kept for a later report", async () => {
    const host = newEnvoy();
    const usageBefore = searchUsage();
    // A cache from an earlier, authorized sync role, so metered requests are allowed and counted.
    seedCache(host, VM_ID, [{ customerId: "acme", entitlements: [metered("search", 1000, 0)] }]);
    const sync = await host.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
      configuration: JSON.stringify({ cluster: "control_plane", authToken: WRONG_TOKEN, usageFlushMs: 5, ...BACKOFF }),
    });
    const filter = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1,
      configuration: JSON.stringify({ rules: RULES }),
    });
    assert.deepEqual([sync.configureResult, ...filter.configureResults], [true, true]);
    for (let i = 0; i < 3; i++) assert.equal(decision(await filter.request(req("/search"))), "allow");
    // Counted on the filter's next tick (50 ms).
    await eventually("the enqueued usage counted", () => (host.metric("entitlement_gate_usage_enqueued") ?? 0) >= 3);
    assert.equal(host.metric("entitlement_gate_usage_enqueued"), 3);
    await eventually("a refused report", () => (host.metric("entitlement_sync_usage_report_errors") ?? 0) >= 1, 5000);
    assert.equal(host.metric("entitlement_sync_usage_reported") ?? 0, 0);
    assert.equal(host.metric("entitlement_sync_usage_dropped") ?? 0, 0);
    assert.equal(searchUsage(), usageBefore);
    assert.ok(host.logs().some((l) => l.message.includes("ReportUsage failed with gRPC status 16; the control plane refused authToken")));
    assertTokenNeverLogged(host);
    await closeEnvoy();
  });

  for (const [name, token] of [["a wrong token", WRONG_TOKEN], ["no token", undefined]] as const) {
    it(`with ${name}: writes nothing, retries with backoff counted as errors, and misses fall back`, async () => {
      const host = newEnvoy();
      const refusedBefore = await refusedBySync();
      const startedAt = Date.now();
      const sync = await host.addSingletonService({
        vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
        configuration: JSON.stringify({ cluster: "control_plane", ...(token ? { authToken: token } : {}), ...BACKOFF }),
      });
      const filter = await host.addHttpFilter({
        vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1,
        configuration: JSON.stringify({ rules: RULES, fallback: FALLBACK, onMiss: { timeoutMs: 2000, ...(token ? { authToken: token } : {}) } }),
      });
      assert.deepEqual([sync.configureResult, ...filter.configureResults], [true, true]);
      await eventually("two refused reconnects", () => (host.metric("entitlement_sync_reconnects") ?? 0) >= 2, 5000);
      await sleep(1000 - (Date.now() - startedAt));
      const elapsed = Date.now() - startedAt;
      const attempts = 1 + (host.metric("entitlement_sync_reconnects") ?? 0);
      // Every attempt failed and was counted. Backoff delays are at least 50, 50, 100, 200, 400, 400... ms, so
      // about 8 attempts fit in a second, against 20 at a constant reconnectMinMs.
      assert.ok((host.metric("entitlement_sync_errors") ?? 0) >= attempts - 1, `errors ${host.metric("entitlement_sync_errors")}, attempts ${attempts}`);
      assert.ok(attempts <= 3 + Math.floor(elapsed / 200), `${attempts} attempts in ${elapsed} ms`);
      assert.equal(host.metric("entitlement_sync_messages") ?? 0, 0);
      assert.equal(host.metric("entitlement_sync_connected") ?? 0, 0);
      assert.deepEqual(host.sharedData(VM_ID).keys().filter((k) => k.startsWith("eg1/c/") || k.startsWith("eg1/sync/")), []);

      const answered = await filter.request(req("/reports"));
      assert.equal(decision(answered), "allow");
      assert.equal(fallbackHeader(answered), "true");
      assert.equal(decision(await filter.request(req("/search"))), "403 Unknown");
      assert.equal(host.metric("entitlement_gate_fetches"), 2);
      assert.equal(host.metric("entitlement_gate_fetch_failures"), 2);
      assert.equal(host.metric("entitlement_gate_fallbacks"), 2);
      assert.deepEqual(host.sharedData(VM_ID).keys().filter((k) => k.startsWith("eg1/c/")), []);

      // The control plane refused each Subscribe and both FetchCustomer calls before any handler ran.
      assert.ok((await refusedBySync()) - refusedBefore >= attempts + 2 - 1);
      const warnings = host.logs().filter((l) => l.message.includes("UNAUTHENTICATED") || l.message.includes("status 16"));
      assert.ok(warnings.some((l) => l.message.includes(token ? "refused authToken" : "set authToken")), JSON.stringify(warnings.slice(0, 3)));
      assertTokenNeverLogged(host);
      await closeEnvoy();
    });
  }
});

describe("filter with a token against a control plane without SYNC_AUTH_TOKEN", () => {
  let rig: ControlPlaneRig | undefined;
  let envoy: EnvoyHost | undefined;
  after(async () => {
    await envoy?.close();
    await rig?.close();
  });

  it("is served as usual (the metadata is ignored), so filters can get the token before the control plane", async () => {
    rig = await startControlPlaneRig(CATALOGUE);
    const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: rig.cp.syncPort } } });
    envoy = host;
    const sync = await host.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
      configuration: JSON.stringify({ cluster: "control_plane", authToken: TOKEN, ...BACKOFF }),
    });
    const filter = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1,
      configuration: JSON.stringify({ rules: RULES, onMiss: { timeoutMs: 2000, authToken: TOKEN } }),
    });
    assert.deepEqual([sync.configureResult, ...filter.configureResults], [true, true]);
    await eventually("the first snapshot", () => host.sharedData(VM_ID).get("eg1/sync/gen") !== undefined, 5000);
    host.sharedData(VM_ID).set("eg1/c/acme", new Uint8Array(0));
    assert.equal(decision(await filter.request(req("/reports"))), "allow");
    assert.equal(host.metric("entitlement_gate_fetch_failures") ?? 0, 0);
    assert.equal(host.metric("entitlement_sync_errors") ?? 0, 0);
  });
});
