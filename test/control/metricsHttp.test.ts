import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { loadExtAuthzPackage } from "../../control/api/extAuthzProto.ts";
import { loadSidecarPackage } from "../../control/api/sidecarProto.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import { startControlPlane } from "../../control/controlPlane.ts";
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import { unaryCall } from "./support/grpcUnary.ts";
import { StreamReader, syncClient } from "./support/syncClient.ts";

/** One sample's value from Prometheus text, by metric name and exact label set. */
function sample(text: string, name: string, labels = ""): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(labels ? `${name}{${labels}} ` : `${name} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

test("/metrics counts decisions by api, result and reason, mirrors the cache and sync clients, and never labels a customer", async (t) => {
  const cp = await startControlPlane(
    { ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1" },
    { logger: createLogger("silent"), metrics: new Metrics() },
  );
  t.after(() => cp.close());
  const scrape = async (): Promise<{ status: number; type: string | null; text: string }> => {
    const response = await fetch(`http://127.0.0.1:${cp.httpPort}/metrics`);
    return { status: response.status, type: response.headers.get("content-type"), text: await response.text() };
  };

  const first = await scrape();
  assert.equal(first.status, 200);
  assert.match(first.type ?? "", /^text\/plain; version=0\.0\.4/);
  assert.equal(sample(first.text, "entitlement_gate_cache_entries"), cp.store.size);
  const bytes = cp.store.all().reduce((sum, e) => sum + e.bytes.length, 0);
  assert.ok(bytes > 0);
  assert.equal(sample(first.text, "entitlement_gate_cache_bytes"), bytes);
  assert.equal(sample(first.text, "entitlement_gate_sync_clients"), 0);
  assert.ok(sample(first.text, "process_cpu_user_seconds_total") !== undefined, "process metrics are exported");
  assert.equal(sample(first.text, "sidecar_cache_hits_total"), 0, "Stigg's documented counter names exist");

  const filter = syncClient(cp.syncPort);
  t.after(() => filter.close());
  const stream = new StreamReader(filter.Subscribe({ nodeId: "envoy-1" }));
  t.after(() => stream.cancel());
  await stream.snapshot();

  const insecure = grpc.credentials.createInsecure();
  const s = grpc.loadPackageDefinition(loadSidecarPackage()) as unknown as { stigg: { sidecar: { v1: { SidecarService: grpc.ServiceClientConstructor } } } };
  const e = grpc.loadPackageDefinition(loadExtAuthzPackage()) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };
  const sidecar = new s.stigg.sidecar.v1.SidecarService(`127.0.0.1:${cp.grpcPort}`, insecure);
  const authz = new e.envoy.service.auth.v3.Authorization(`127.0.0.1:${cp.grpcPort}`, insecure);
  t.after(() => {
    sidecar.close();
    authz.close();
  });
  await unaryCall(sidecar, "GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-reports" });
  await unaryCall(sidecar, "GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-reports" });
  await unaryCall(sidecar, "GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-region" });
  await unaryCall(sidecar, "GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-api-calls" });
  await unaryCall(authz, "Check", {
    attributes: {
      request: { http: { path: "/x", headers: { "x-customer-id": "customer-free" } } },
      context_extensions: { entitlement_feature: "feature-api-calls", entitlement_requested_usage: "1000000" },
    },
  });

  const after = (await scrape()).text;
  assert.equal(sample(after, "entitlement_gate_decisions_total", 'api="sidecar",result="allow",reason=""'), 2);
  assert.equal(sample(after, "entitlement_gate_decisions_total", 'api="sidecar",result="deny",reason="NoFeatureEntitlementInSubscription"'), 1);
  assert.equal(sample(after, "entitlement_gate_decisions_total", 'api="sidecar",result="fallback",reason="FeatureTypeMismatch"'), 1);
  assert.equal(sample(after, "entitlement_gate_fallbacks_total", 'cause="feature_type_mismatch"'), 1);
  assert.equal(sample(after, "entitlement_gate_decisions_total", 'api="ext_authz",result="deny",reason="RequestedUsageExceedingLimit"'), 1);
  assert.equal(sample(after, "entitlement_gate_sync_clients"), 1);
  // The filter has been sent everything; a change made this turn is not sent until the next one.
  assert.equal(sample(after, "entitlement_gate_sync_lag_versions"), 0);
  const free = cp.store.get("customer-free");
  assert.ok(free);
  cp.store.upsert({ ...free.value, entitlements: free.value.entitlements.slice(1) });
  assert.equal(cp.sync.maxLagVersions, 1);
  await stream.next();
  assert.equal(cp.sync.maxLagVersions, 0);
  assert.ok(!after.includes("customer-free"), "no customer id appears anywhere in the exposition");
});
