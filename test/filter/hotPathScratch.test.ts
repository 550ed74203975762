// The hit path decides from per-VM scratch buffers (headers, keys, usage record) that the next request
// overwrites. These check what that must never change: a request that pauses keeps its own ids until it
// resumes, and usage is reported under the exact customer id bytes, ASCII or not.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "./support/builtWasm.ts";
import { boolean, seedCache } from "./support/cacheSeed.ts";
import { eventually, startControlPlaneRig, type ControlPlaneRig } from "./support/controlPlaneRig.ts";

const VM_ID = "eg";
const CATALOGUE = `
customers:
  acme:
    entitlements:
      reports: { featureType: BOOLEAN }
  "kunde-müller":
    entitlements:
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 100, currentUsage: 0 }
  plain-ascii:
    entitlements:
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 100, currentUsage: 0 }
`;

const req = (customer: string, path: string, worker = 0): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", path], [":authority", "shop.example"], ["x-customer-id", customer]],
  worker,
});

function upstream(result: HttpResult, name: string): string[] {
  assert.equal(result.kind, "continue", `expected continue, got ${JSON.stringify(result)}`);
  return result.kind === "continue" ? result.upstreamHeaders.filter(([k]) => k === name).map(([, v]) => v) : [];
}

describe("hit-path scratch buffers", () => {
  let rig: ControlPlaneRig;
  let host: EnvoyHost;
  let filter: HttpFilter;

  before(async () => {
    rig = await startControlPlaneRig(CATALOGUE);
    host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: rig.cp.syncPort } } });
    const sync = await host.addSingletonService({
      vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM,
      configuration: JSON.stringify({ cluster: "control_plane", nodeId: "scratch-test", usageFlushMs: 5 }),
    });
    assert.equal(sync.configureResult, true);
    filter = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 1,
      configuration: JSON.stringify({
        onMiss: { policy: "fetch", timeoutMs: 2000 },
        injectHeaders: ["x-entitlement-decision", "x-entitlement-customer", "x-entitlement-remaining"],
        rules: [{ pathPrefix: "/reports", feature: "reports" }, { pathPrefix: "/search", feature: "search", requestedUsage: 1 }],
      }),
    });
    assert.deepEqual(filter.configureResults, [true]);
    await eventually("the first snapshot", () => host.sharedData(VM_ID).get("eg1/sync/gen") !== undefined);
  });
  after(async () => {
    await host.close();
    await rig.close();
  });

  it("resumes a paused request with its own customer id after other requests reused the header buffer", async () => {
    // The snapshot holds acme: drop it so acme misses and waits for FetchCustomer.
    host.sharedData(VM_ID).set("eg1/c/acme", new Uint8Array(0));
    seedCache(host, VM_ID, [{ customerId: "cached-customer-with-a-longer-id", entitlements: [boolean("reports")] }]);
    const paused = filter.request(req("acme", "/reports"));
    for (let i = 0; i < 5; i++) {
      const hit = filter.requestSync(req("cached-customer-with-a-longer-id", "/reports"));
      assert.deepEqual(upstream(hit, "x-entitlement-customer"), ["cached-customer-with-a-longer-id"]);
    }
    assert.deepEqual(upstream(await paused, "x-entitlement-customer"), ["acme"]);
    assert.equal(host.metric("entitlement_gate_fetches"), 1, "acme waited for FetchCustomer");
  });

  it("reports usage under the exact customer id, for non-ASCII ids as for ASCII ones", async () => {
    for (const customer of ["kunde-müller", "plain-ascii"]) {
      for (let i = 0; i < 3; i++) {
        const result = await filter.request(req(customer, "/search"));
        assert.deepEqual(upstream(result, "x-entitlement-decision"), ["allow"]);
      }
    }
    const usage = (id: string): number =>
      rig.cp.store.get(id)?.value.entitlements.find((e) => e.featureId === "search")?.currentUsage ?? -1;
    await eventually("both customers' usage reported", () => usage("kunde-müller") === 3 && usage("plain-ascii") === 3);
    // Counted on the filter's next tick (50 ms, real clock here).
    await eventually("the enqueued usage counted", () => (host.metric("entitlement_gate_usage_enqueued") ?? 0) >= 6);
    assert.equal(host.metric("entitlement_gate_usage_enqueued"), 6);
  });
});
