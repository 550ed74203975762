// The two counters every allow moves (entitlement_gate_allowed, entitlement_gate_usage_enqueued) are
// counted in the worker's memory and added to the stats on the filter's tick: no metric host call on the
// request path, one per counter per tick, none on an idle tick.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "./support/builtWasm.ts";
import { boolean, metered, seedCache } from "./support/cacheSeed.ts";

const VM_ID = "eg";
const NOW = Date.parse("2026-11-25T12:00:00Z");
/** The gate root's tick period (TICK_MS in filter/assembly/plugin/gateFilter.ts). */
const TICK_MS = 50;
const GATE = JSON.stringify({
  rules: [
    { pathPrefix: "/reports", feature: "reports" },
    { pathPrefix: "/search", feature: "search", requestedUsage: 1 },
  ],
});

const req = (path: string): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", path], [":authority", "shop.example"], ["x-customer-id", "acme"]],
  worker: 0,
});

function allowed(result: HttpResult): HttpResult {
  assert.equal(result.kind, "continue", `expected an allow, got ${JSON.stringify(result)}`);
  return result;
}

describe("per-request counters", () => {
  it("counts allows and usage on the next tick with one metric call each", async () => {
    const clock = new ManualClock(NOW);
    const host = new EnvoyHost({ clock });
    try {
      // The sync role registers the usage queue, so metered allows are enqueued (its stream cannot
      // connect here, which does not matter: it runs in its own VM).
      const sync = await host.addSingletonService({
        vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM, configuration: JSON.stringify({ cluster: "control_plane", nodeId: "tick-counters" }),
      });
      assert.equal(sync.configureResult, true);
      const filter = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, configuration: GATE, workers: 1 });
      assert.deepEqual(filter.configureResults, [true]);
      seedCache(host, VM_ID, [{ customerId: "acme", entitlements: [boolean("reports"), metered("search", 1000, 0)] }], NOW);
      const worker = filter.workers[0]!;
      const tickHostCalls = async (): Promise<number> => {
        const before = worker.hostCallCount;
        await clock.advance(TICK_MS);
        return worker.hostCallCount - before;
      };
      const idleTick = await tickHostCalls();

      // The first metered request also resolves the usage queue; the ones after it are the steady state.
      allowed(filter.requestSync(req("/search")));
      const booleanRoute = allowed(filter.requestSync(req("/reports")));
      const meteredRoute = allowed(filter.requestSync(req("/search")));
      allowed(filter.requestSync(req("/reports")));
      assert.equal(booleanRoute.hostCalls, 4, "boolean route: headers, generation, entry, decision header");
      assert.equal(meteredRoute.hostCalls, 5, "metered route: the boolean route's calls and the enqueue");
      assert.equal(host.metric("entitlement_gate_allowed"), 0, "no metric call during a request");
      assert.equal(host.metric("entitlement_gate_usage_enqueued"), 0, "no metric call during a request");
      assert.equal(host.queueSize(VM_ID, "eg1/usage"), 2);

      assert.equal(await tickHostCalls(), idleTick + 2, "one increment per counter on the tick");
      assert.equal(host.metric("entitlement_gate_allowed"), 4);
      assert.equal(host.metric("entitlement_gate_usage_enqueued"), 2);

      assert.equal(await tickHostCalls(), idleTick, "nothing counted since: no metric call");
      assert.equal(host.metric("entitlement_gate_allowed"), 4);
      assert.equal(host.metric("entitlement_gate_usage_enqueued"), 2);
    } finally {
      await host.close();
    }
  });

  it("adds the counts since the last tick when the plugin is torn down before the next tick", async () => {
    const clock = new ManualClock(NOW);
    const host = new EnvoyHost({ clock });
    try {
      await host.addSingletonService({
        vmId: VM_ID, rootId: "entitlement_sync", wasm: RELEASE_WASM, configuration: JSON.stringify({ cluster: "control_plane", nodeId: "tick-counters" }),
      });
      const filter = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, configuration: GATE, workers: 2 });
      seedCache(host, VM_ID, [{ customerId: "acme", entitlements: [boolean("reports"), metered("search", 1000, 0)] }], NOW);
      allowed(filter.requestSync({ ...req("/search"), worker: 0 }));
      await clock.advance(TICK_MS);
      assert.equal(host.metric("entitlement_gate_allowed"), 1);
      assert.equal(host.metric("entitlement_gate_usage_enqueued"), 1);

      // Counted after the last tick, on both workers; then the listener's filter goes away.
      allowed(filter.requestSync({ ...req("/search"), worker: 0 }));
      allowed(filter.requestSync({ ...req("/reports"), worker: 0 }));
      allowed(filter.requestSync({ ...req("/search"), worker: 1 }));
      assert.equal(host.metric("entitlement_gate_allowed"), 1, "nothing added before the tick");
      await filter.teardown();

      assert.deepEqual(filter.workers.map((w) => w.rootState), ["deleted", "deleted"]);
      assert.equal(host.metric("entitlement_gate_allowed"), 4);
      assert.equal(host.metric("entitlement_gate_usage_enqueued"), 3);
      await clock.advance(TICK_MS * 4);
      assert.equal(host.metric("entitlement_gate_allowed"), 4, "nothing counted twice after the roots are deleted");
      assert.equal(host.metric("entitlement_gate_usage_enqueued"), 3);
    } finally {
      await host.close();
    }
  });
});
