// The sync role without a singleton (Istio WasmPlugin): with a `sync` section in entitlement_gate, the
// worker VMs compete for eg1/sync/lease; exactly one holds it and runs the stream and the usage queue.
// When the holder's VM dies, another worker takes over once the lease expires and resumes by version.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "./support/builtWasm.ts";
import { boolean } from "./support/cacheSeed.ts";
import { eventually, startControlPlaneRig, type ControlPlaneRig } from "./support/controlPlaneRig.ts";

const VM_ID = "eg";
const TTL_MS = 600;
const CATALOGUE = `
customers:
  acme:
    entitlements:
      reports: { featureType: BOOLEAN }
`;

const req = (customer: string, worker: number): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", "/reports"], [":authority", "shop.example"], ["x-customer-id", customer]],
  worker,
});
const decision = (r: HttpResult): string => (r.kind === "continue" ? "allow" : JSON.parse(r.body).reason);

describe("sync role elected by lease among workers", () => {
  let rig: ControlPlaneRig;
  let host: EnvoyHost;
  let filter: HttpFilter;
  const lease = (): string => Buffer.from(host.sharedData(VM_ID).get("eg1/sync/lease")?.value ?? new Uint8Array()).toString();
  const gen = (): number => {
    const v = host.sharedData(VM_ID).get("eg1/sync/gen")?.value;
    return v === undefined ? 0 : new DataView(v.buffer, v.byteOffset).getUint32(0, true);
  };

  before(async () => {
    rig = await startControlPlaneRig(CATALOGUE);
    host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: rig.cp.syncPort } } });
    filter = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 3,
      configuration: JSON.stringify({
        onMiss: { policy: "fallback" },
        rules: [{ pathPrefix: "/reports", feature: "reports" }],
        sync: { cluster: "control_plane", nodeId: "lease-test", leaseTtlMs: TTL_MS, reconnectMinMs: 20, reconnectMaxMs: 200 },
      }),
    });
    assert.deepEqual(filter.configureResults, [true, true, true]);
  });
  after(async () => {
    await host.close();
    await rig.close();
  });

  it("lets exactly one worker take the lease and fill the cache for all", async () => {
    await eventually("the first snapshot", () => gen() === 1);
    assert.equal(host.metric("entitlement_sync_lease_acquired"), 1);
    assert.match(lease(), /^w1-[0-9a-f]+ \d+$/);
    for (const worker of [0, 1, 2]) assert.equal(decision(await filter.request(req("acme", worker))), "allow");
    // Renewals keep it with the same holder well past one TTL.
    const holder = lease().split(" ")[0];
    await new Promise((resolve) => setTimeout(resolve, TTL_MS * 2));
    assert.equal(lease().split(" ")[0], holder);
    assert.equal(host.metric("entitlement_sync_lease_acquired"), 1);
    assert.equal(rig.cp.sync.subscriberCount, 1);
  });

  it("hands the role to another worker after the holder's VM dies, resuming by version", async () => {
    const before = lease().split(" ")[0];
    filter.killWorker(0);
    const killedAt = performance.now();
    await eventually("another worker to hold the lease", () => lease().split(" ")[0] !== before && (host.metric("entitlement_sync_lease_acquired") ?? 0) >= 2, 5000);
    const tookMs = performance.now() - killedAt;
    assert.ok(tookMs < TTL_MS + TTL_MS / 3 + 500, `takeover took ${tookMs.toFixed(0)} ms`);
    await eventually("the new holder's stream", () => rig.cp.sync.subscriberCount === 1 && (host.metric("entitlement_sync_messages") ?? 0) >= 2, 3000);
    // A change made now reaches the surviving workers through the new holder, without a new snapshot.
    rig.cp.store.upsert({ customerId: "globex", entitlements: [boolean("reports")] });
    await eventually("globex pushed", async () => decision(await filter.request(req("globex", 1))) === "allow");
    assert.equal(decision(await filter.request(req("globex", 2))), "allow");
    assert.equal(gen(), 1, "resumed from eg1/sync/state: no second snapshot");
  });
});
