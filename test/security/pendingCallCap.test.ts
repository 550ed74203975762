// MAX_INFLIGHT_UPSTREAM on the API port during a Stigg outage: waiting misses fill the cap, and a
// customer the control plane already holds is still answered, on both transports.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { setTimeout as sleep } from "node:timers/promises";
import { loadSidecarPackage } from "../../control/api/sidecarProto.ts";
import { startStiggEmulator } from "../stigg/emulator.ts";
import { ACME } from "../control/stiggUpstreamHarness.ts";
import { rejection, unaryCall } from "../control/support/grpcUnary.ts";
import { startLoopbackControlPlane } from "../control/support/loopbackControlPlane.ts";
import { stiggUpstreamSettings } from "../stigg/upstreamSettings.ts";

for (const fastPath of [true, false]) {
  test(`with the cap full of calls waiting on Stigg, a cached customer is still answered and another miss is refused (${fastPath ? "fast path" : "grpc-js only"})`, async (t) => {
    const stigg = await startStiggEmulator({ customers: { acme: ACME, "cold-1": ACME, "cold-2": ACME, "cold-3": ACME } });
    t.after(() => stigg.close());
    const cp = await startLoopbackControlPlane(t, {
      ...stiggUpstreamSettings(stigg),
      wsEnabled: false,
      maxInflightUpstream: 2,
      grpcFastPath: fastPath,
    });
    const pkg = grpc.loadPackageDefinition(loadSidecarPackage()) as unknown as { stigg: { sidecar: { v1: { SidecarService: grpc.ServiceClientConstructor } } } };
    const client = new pkg.stigg.sidecar.v1.SidecarService(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
    t.after(() => client.close());
    const check = (customer: string): Promise<Record<string, unknown>> => unaryCall(client, "GetBooleanEntitlement", { customer_id: customer, feature_id: "sso" });

    assert.equal((await check("acme"))["has_access"], true);
    // Stigg stops answering: two misses wait (up to MISS_TIMEOUT_MS) and hold both slots.
    stigg.setFault("edge", { latencyMs: 10_000 });
    const waiting = [check("cold-1"), check("cold-2")];
    await sleep(200);

    const hit = await check("acme");
    assert.equal(hit["has_access"], true, "a cached customer is answered while the cap is full");
    const refused = await rejection(check("cold-3"));
    assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.equal(refused.details, "server overloaded: 2 calls already in progress (MAX_INFLIGHT_UPSTREAM); retry with backoff");

    // The waiting calls end with the miss timeout (a fallback answer), and their slots come back.
    stigg.clearFaults();
    await Promise.allSettled(waiting);
    const metrics = await cp.metrics.registry.getSingleMetricAsString("entitlement_gate_refused_calls_total");
    assert.match(metrics, /entitlement_gate_refused_calls_total\{server="grpc",reason="overloaded"\} 1/);
    assert.equal((await check("acme"))["has_access"], true);
  });
}
