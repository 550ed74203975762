// The filter end to end in the Istio shape (no bootstrap singleton): the `sync` section makes the worker
// VMs elect one sync-role holder through the shared-data lease. Killing the holder's VM hands the role to
// a surviving worker, which resumes the stream by version; traffic on the survivors never sees a wrong
// denial, and changes keep flowing.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "../filter/support/builtWasm.ts";
import { eventually, startControlPlaneRig, type ControlPlaneRig } from "../filter/support/controlPlaneRig.ts";

const VM_ID = "entitlements";
const TTL_MS = 900;
const CATALOGUE = `
customers:
  acme:
    entitlements:
      reports: { featureType: BOOLEAN }
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 1000, currentUsage: 0 }
  globex:
    entitlements:
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 10, currentUsage: 0 }
`;

const req = (customer: string, path: string, worker: number): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", path], [":authority", "shop.example"], ["x-customer-id", customer]],
  worker,
});
const decision = (r: HttpResult): string => (r.kind === "continue" ? "allow" : `${r.status} ${JSON.parse(r.body).reason}`);

describe("filter end to end with the sync role elected by lease", () => {
  let rig: ControlPlaneRig;
  let envoy: EnvoyHost;
  let filter: HttpFilter;
  const holder = (): string => Buffer.from(envoy.sharedData(VM_ID).get("eg1/sync/lease")?.value ?? new Uint8Array()).toString().split(" ")[0] ?? "";
  const searchUsage = (customer: string): number =>
    rig.cp.store.get(customer)?.value.entitlements.find((e) => e.featureId === "search")?.currentUsage ?? -1;

  before(async () => {
    rig = await startControlPlaneRig(CATALOGUE);
    envoy = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: rig.cp.syncPort } } });
    filter = await envoy.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 3,
      configuration: JSON.stringify({
        rules: [{ pathPrefix: "/reports", feature: "reports" }, { pathPrefix: "/search", feature: "search", requestedUsage: 1 }],
        sync: { cluster: "control_plane", nodeId: "istio-pod", leaseTtlMs: TTL_MS, usageFlushMs: 5, reconnectMinMs: 20, reconnectMaxMs: 200 },
      }),
    });
    assert.deepEqual(filter.configureResults, [true, true, true]);
    await eventually("the first snapshot", () => envoy.sharedData(VM_ID).get("eg1/sync/gen") !== undefined, 5000);
  });
  after(async () => {
    await envoy?.close();
    await rig?.close();
  });

  it("gates on every worker from the cache the single lease holder keeps", async () => {
    assert.equal(rig.cp.sync.subscriberCount, 1);
    for (const worker of [0, 1, 2]) {
      assert.equal(decision(await filter.request(req("acme", "/reports", worker))), "allow");
      assert.equal(decision(await filter.request(req("globex", "/reports", worker))), "403 NoFeatureEntitlementInSubscription");
    }
  });

  it("reports usage through the holder's queue", async () => {
    for (let i = 0; i < 6; i++) assert.equal(decision(await filter.request(req("acme", "/search", i % 3))), "allow");
    await eventually("usage at the control plane", () => searchUsage("acme") === 6);
  });

  it("moves the role to a surviving worker when the holder's VM is killed, with no wrong denial", async () => {
    const first = holder();
    assert.equal(first.startsWith("w1-"), true, `holder ${first}`);
    const wrong: string[] = [];
    let running = true;
    const traffic = (async () => {
      while (running) {
        for (const worker of [1, 2]) {
          const d = decision(await filter.request(req("acme", "/reports", worker)));
          if (d !== "allow") wrong.push(d);
        }
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    filter.killWorker(0);
    await eventually("a new lease holder", () => holder() !== first && holder() !== "", TTL_MS * 3);
    await eventually("the new holder's stream", () => rig.cp.sync.subscriberCount === 1, 3000);
    // Usage from the survivors reaches the control plane through the new holder.
    for (let i = 0; i < 4; i++) assert.equal(decision(await filter.request(req("acme", "/search", 1 + (i % 2)))), "allow");
    await eventually("usage through the new holder", () => searchUsage("acme") === 10, 3000);
    // A change after the takeover reaches both survivors.
    rig.cp.store.upsert({ customerId: "globex", entitlements: [{ featureId: "reports", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 }] });
    await eventually("globex's change pushed", async () =>
      decision(await filter.request(req("globex", "/reports", 1))) === "allow" && decision(await filter.request(req("globex", "/reports", 2))) === "allow");
    running = false;
    await traffic;
    assert.deepEqual(wrong, []);
    assert.equal(envoy.metric("entitlement_sync_lease_acquired"), 2);
  });
});
