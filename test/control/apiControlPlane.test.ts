// The public gRPC port inside the whole control plane: Sidecar calls, ext_authz, health and the
// usage path from a Sidecar ReportUsage to a connected filter's sync stream.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { loadExtAuthzPackage } from "../../control/api/extAuthzProto.ts";
import { loadHealthPackage } from "../../control/api/grpcHealth.ts";
import { loadSidecarPackage } from "../../control/api/sidecarProto.ts";
import type { ControlPlane } from "../../control/controlPlane.ts";
import { unaryCall } from "./support/grpcUnary.ts";
import { startLoopbackControlPlane } from "./support/loopbackControlPlane.ts";
import { StreamReader, syncClient } from "./support/syncClient.ts";

function plane(t: TestContext): Promise<ControlPlane> {
  return startLoopbackControlPlane(t, { extAuthzRules: [{ pathPrefix: "/api/reports", feature: "feature-reports" }] });
}

function clients(t: TestContext, port: number): { sidecar: grpc.Client; authz: grpc.Client; health: grpc.Client } {
  const address = `127.0.0.1:${port}`;
  const insecure = grpc.credentials.createInsecure();
  const s = grpc.loadPackageDefinition(loadSidecarPackage()) as unknown as { stigg: { sidecar: { v1: { SidecarService: grpc.ServiceClientConstructor } } } };
  const e = grpc.loadPackageDefinition(loadExtAuthzPackage()) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };
  const h = grpc.loadPackageDefinition(loadHealthPackage()) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  const out = {
    sidecar: new s.stigg.sidecar.v1.SidecarService(address, insecure),
    authz: new e.envoy.service.auth.v3.Authorization(address, insecure),
    health: new h.grpc.health.v1.Health(address, insecure),
  };
  t.after(() => Object.values(out).forEach((c) => c.close()));
  return out;
}

test("serves the Sidecar API, ext_authz and health on GRPC_PORT, apart from the sync port", async (t) => {
  const cp = await plane(t);
  assert.notEqual(cp.grpcPort, cp.syncPort);
  const c = clients(t, cp.grpcPort);
  const boolean = await unaryCall(c.sidecar, "GetBooleanEntitlement", { customer_id: "customer-free", feature_id: "feature-reports" });
  assert.equal(boolean.has_access, true);
  const check = await unaryCall(c.authz, "Check", {
    attributes: { request: { http: { method: "GET", path: "/api/reports/q3", headers: { ":path": "/api/reports/q3", "x-customer-id": "customer-free" } } } },
  });
  assert.equal(check.http_response, "ok_response");
  assert.deepEqual(await unaryCall(c.health, "Check", { service: "stigg.sidecar.v1.SidecarService" }), { status: "SERVING" });
});

test("a Sidecar ReportUsage reaches a connected filter's sync stream as a DELTA", async (t) => {
  const cp = await plane(t);
  const c = clients(t, cp.grpcPort);
  const filter = syncClient(cp.syncPort);
  t.after(() => filter.close());
  const stream = new StreamReader(filter.Subscribe({ nodeId: "envoy-1" }));
  t.after(() => stream.cancel());
  await stream.snapshot();
  const before = cp.store.get("customer-free")!.value.entitlements.find((e) => e.featureId === "feature-api-calls")!.currentUsage;
  const ack = await unaryCall(c.sidecar, "ReportUsage", { customer_id: "customer-free", feature_id: "feature-api-calls", value: 3 });
  assert.equal(ack.current_usage, before + 3);
  const delta = await stream.next();
  assert.equal(delta.kind, "MESSAGE_KIND_DELTA");
  assert.deepEqual(delta.entries.map((e) => e.customerId), ["customer-free"]);
});
