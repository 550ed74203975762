// `check` against a running control plane's Sidecar API and `validate` judged by the built filter,
// through the real bin.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../../control/controlPlane.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import * as grpc from "@grpc/grpc-js";
import { sidecarServiceDefinition } from "../../control/api/sidecarProto.ts";
import { cleanEnv, runCli } from "./support/runCli.ts";

const dir = mkdtempSync(join(tmpdir(), "eg-cli-check-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("entitlement-gate check", () => {
  let cp: ControlPlane;
  let address: string;
  before(async () => {
    cp = await startControlPlane({ ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1", logLevel: "error" });
    address = `127.0.0.1:${cp.grpcPort}`;
  });
  after(() => cp?.close());

  it("exits 0 and prints ALLOWED for an entitled customer", async () => {
    const r = await runCli(["check", "--customer", "customer-free", "--feature", "feature-reports", "--address", address]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /decision\s+ALLOWED/);
    assert.match(r.stdout, /fallback\s+no/);
  });

  it("exits 3 with Stigg's reason for a denied customer", async () => {
    const r = await runCli(["check", "--customer", "customer-archived", "--feature", "feature-reports", "--address", address]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stdout, /decision\s+DENIED/);
    assert.match(r.stdout, /reason\s+CustomerIsArchived/);
  });

  it("checks requested usage against a metered limit and answers in JSON with --json", async () => {
    const r = await runCli(["check", "--customer", "customer-at-limit", "--feature", "feature-api-calls", "--requested-usage", "1", "--address", address, "--json"]);
    assert.equal(r.code, 3, r.stderr);
    const answer = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(answer.allowed, false);
    assert.equal(answer.reason, "RequestedUsageExceedingLimit");
    assert.equal(answer.isFallback, false);
    assert.equal(answer.requestedUsage, 1);
    assert.equal(answer.entitlementType, "metered");
  });

  it("finds the control plane through GRPC_PORT when no --address is given", async () => {
    const r = await runCli(["check", "--customer", "customer-free", "--feature", "feature-reports", "--json"], cleanEnv({ GRPC_PORT: String(cp.grpcPort) }));
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { allowed: boolean }).allowed, true);
  });

  it("exits 1 and says so when nothing listens at the address", async () => {
    const r = await runCli(["check", "--customer", "c", "--feature", "f", "--address", "127.0.0.1:9", "--timeout-ms", "2000"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach 127\.0\.0\.1:9|no answer from 127\.0\.0\.1:9/);
  });

  it("falls back to GetMeteredEntitlement on a sidecar older than GetEntitlement (3.56)", async () => {
    // Stands in for an old Stigg Sidecar: only the typed calls exist, GetEntitlement is UNIMPLEMENTED.
    const server = new grpc.Server();
    const seen: unknown[] = [];
    server.addService(sidecarServiceDefinition(), {
      GetMeteredEntitlement: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        seen.push(call.request);
        callback(null, { has_access: true, is_fallback: true, entitlement: { usage_limit: 10, current_usage: 3, is_unlimited: false } });
      },
    });
    const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    try {
      const r = await runCli(["check", "--customer", "acme", "--feature", "api-calls", "--requested-usage", "2", "--address", `127.0.0.1:${port}`, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      const answer = JSON.parse(r.stdout) as { allowed: boolean; isFallback: boolean };
      assert.equal(answer.allowed, true);
      assert.equal(answer.isFallback, true, "the fallback flag is reported");
      assert.equal(seen.length, 1);
      const request = seen[0] as { customer_id: string; feature_id: string; options: { requested_usage: number } };
      assert.deepEqual([request.customer_id, request.feature_id, request.options.requested_usage], ["acme", "api-calls", 2]);
    } finally {
      server.forceShutdown();
    }
  });

  it("exits 2 without a customer or feature", async () => {
    const r = await runCli(["check", "--feature", "f"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--customer: required/);
  });
});

describe("entitlement-gate validate", () => {
  const write = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("accepts a good filter configuration, the envoy/ snippets and the demo catalogue", async () => {
    const good = write("good.json", JSON.stringify({ customerHeader: "x-customer-id", rules: [{ pathPrefix: "/reports", feature: "feature-reports" }] }));
    const r = await runCli([
      "validate", "--filter-config", good,
      "--envoy-config", "envoy/standalone/envoy.yaml", "--envoy-config", "envoy/istio/wasmplugin-lease.yaml", "--envoy-config", "envoy/kubernetes/shop.yaml",
      "--entitlements", "control/defaults/entitlements.yaml", "--json",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { valid: true, checked: 7, problems: [] });
  });

  it("reports the filter's own rejection, with its field path, and exits 1", async () => {
    const bad = write("bad.json", JSON.stringify({ rules: [{ pathPrefix: "/ok", feature: "a" }, { pathPrefix: "reports", feature: "b" }] }));
    const r = await runCli(["validate", "--filter-config", bad]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /bad\.json: rules\[1\]\.pathPrefix: /);
    assert.match(r.stdout, /1 problem/);
  });

  it("judges an entitlement_sync configuration with --root-id", async () => {
    const bad = write("sync.json", JSON.stringify({ cluster: "" }));
    const r = await runCli(["validate", "--root-id", "entitlement_sync", "--filter-config", bad, "--json"]);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as { problems: Array<{ message: string }> };
    assert.match(out.problems[0]!.message, /cluster/);
  });

  it("lists every problem of an entitlements file with its path and line", async () => {
    const bad = write("entitlements.yaml", "customers:\n  acme:\n    entitlements:\n      seats: { featureType: NUMBER, usageLimit: lots }\n      region: { featureType: COLOUR }\n");
    const r = await runCli(["validate", "--entitlements", bad]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /entitlements\.yaml:4: customers\.acme\.entitlements\.seats\.usageLimit: /);
    assert.match(r.stdout, /entitlements\.yaml:5: customers\.acme\.entitlements\.region\.featureType: /);
    assert.match(r.stdout, /2 problems/);
  });

  it("reports a field Envoy's API does not have, with its path", async () => {
    const text = (await import("node:fs")).readFileSync("envoy/standalone/envoy.yaml", "utf8").replace("connect_timeout: 1s\n    typed_extension", "conect_timeout: 1s\n    typed_extension");
    const r = await runCli(["validate", "--envoy-config", write("typo.yaml", text)]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /typo\.yaml: #0\.static_resources\.clusters\[1\]\.conect_timeout: no such field in envoy\.config\.cluster\.v3\.Cluster/);
  });

  it("flags an Envoy file whose plugins do not share a vm_id", async () => {
    const text = (await import("node:fs")).readFileSync("envoy/standalone/envoy.yaml", "utf8").replace("vm_id: entitlement_gate", "vm_id: other");
    const r = await runCli(["validate", "--envoy-config", write("split.yaml", text)]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /different vm_ids/);
  });

  it("exits 2 when given nothing to validate", async () => {
    const r = await runCli(["validate"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /nothing to validate/);
  });
});
