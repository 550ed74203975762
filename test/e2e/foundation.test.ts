// The first end-to-end slice, as a user runs it: the control plane serves an entitlements file, an
// Envoy (our proxy-wasm host) runs the built filter with two workers and the singleton sync role,
// and requests are gated from the pushed cache. Editing the file changes decisions live.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../../control/controlPlane.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";

const WASM = readFileSync(new URL("../../build/entitlement_gate.wasm", import.meta.url));
const VM_ID = "entitlements";

const CATALOGUE = (reportsForAcme: boolean): string => `
customers:
  acme:
    entitlements:
${reportsForAcme ? "      reports: { featureType: BOOLEAN }\n" : ""}      search:
        featureType: NUMBER
        meterType: Incremental
        usageLimit: 100
        currentUsage: 100
  globex:
    entitlements:
      search: { featureType: NUMBER, meterType: Incremental, usageLimit: 100, currentUsage: 3 }
`;

const FILTER_CONFIG = JSON.stringify({
  customerHeader: "x-customer-id",
  rules: [
    { pathPrefix: "/reports", feature: "reports" },
    { pathPrefix: "/search", feature: "search", requestedUsage: 1 },
  ],
});

function request(filter: HttpFilter, customer: string | undefined, path: string, worker: number): Promise<HttpResult> {
  const headers: Array<[string, string]> = [
    [":method", "GET"],
    [":path", path],
    [":authority", "shop.example"],
    ["x-entitlement-decision", "allow"], // a client trying to forge the upstream's view
  ];
  if (customer !== undefined) headers.push(["x-customer-id", customer]);
  return filter.request({ headers, worker });
}

function header(list: Array<[string, string]>, name: string): string[] {
  return list.filter(([k]) => k === name).map(([, v]) => v);
}

async function waitFor(what: string, timeoutMs: number, condition: () => Promise<boolean> | boolean): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await condition()) return performance.now() - started;
    if (performance.now() - started > timeoutMs) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("foundation end to end: file -> control plane -> sync role -> filter workers", () => {
  let dir: string;
  let file: string;
  let cp: ControlPlane;
  let envoy: EnvoyHost;
  let filter: HttpFilter;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "eg-e2e-"));
    file = join(dir, "entitlements.yaml");
    writeFileSync(file, CATALOGUE(true));
    cp = await startControlPlane(
      { ...defaultSettings(), entitlementsFile: file, syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1", logLevel: "error" },
    );
    envoy = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: cp.syncPort } } });
    const sync = await envoy.addSingletonService({
      vmId: VM_ID,
      rootId: "entitlement_sync",
      wasm: WASM,
      configuration: JSON.stringify({ cluster: "control_plane", nodeId: "e2e" }),
    });
    assert.equal(sync.configureResult, true, "the sync role accepts its configuration");
    filter = await envoy.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: WASM, configuration: FILTER_CONFIG, workers: 2 });
    assert.deepEqual(filter.configureResults, [true, true], "both workers accept the filter configuration");
    await waitFor("the first snapshot in shared data", 5000, () => envoy.sharedData(VM_ID).get("eg1/sync/gen") !== undefined);
  });

  after(async () => {
    await envoy?.close();
    await cp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lets an entitled customer through on every worker, with the decision header and no forged one", async () => {
    for (const worker of [0, 1]) {
      const result = await request(filter, "acme", "/reports/monthly?format=csv", worker);
      assert.equal(result.kind, "continue", `worker ${worker}: ${JSON.stringify(result)}`);
      if (result.kind !== "continue") return;
      assert.deepEqual(header(result.upstreamHeaders, "x-entitlement-decision"), ["allow"]);
    }
  });

  it("denies a customer without the feature with 403 and a JSON body naming feature and reason", async () => {
    const result = await request(filter, "globex", "/reports", 0);
    assert.equal(result.kind, "localReply");
    if (result.kind !== "localReply") return;
    assert.equal(result.status, 403);
    assert.deepEqual(JSON.parse(result.body), {
      error: "entitlement_denied",
      feature: "reports",
      reason: "NoFeatureEntitlementInSubscription",
    });
    assert.deepEqual(header(result.headers, "content-type"), ["application/json"]);
  });

  it("denies an unknown customer as CustomerNotFound", async () => {
    const result = await request(filter, "initech", "/reports", 1);
    assert.equal(result.kind, "localReply");
    if (result.kind !== "localReply") return;
    assert.equal(result.status, 403);
    assert.equal(JSON.parse(result.body).reason, "CustomerNotFound");
  });

  it("answers 429 when a metered quota is used up, and passes a customer with quota left", async () => {
    const exhausted = await request(filter, "acme", "/search?q=x", 0);
    assert.equal(exhausted.kind, "localReply");
    if (exhausted.kind === "localReply") {
      assert.equal(exhausted.status, 429);
      assert.equal(JSON.parse(exhausted.body).reason, "RequestedUsageExceedingLimit");
    }
    assert.equal((await request(filter, "globex", "/search?q=x", 1)).kind, "continue");
  });

  it("passes requests that match no rule untouched", async () => {
    const result = await request(filter, undefined, "/healthz", 0);
    assert.equal(result.kind, "continue");
  });

  it("flips a decision within one second of an edit to the file, nothing restarted", async () => {
    assert.equal((await request(filter, "acme", "/reports", 0)).kind, "continue");
    // Editors write a temporary file and rename it over the original; the watcher must see that.
    const temporary = join(dir, ".entitlements.yaml.swp");
    writeFileSync(temporary, CATALOGUE(false));
    const edited = performance.now();
    renameSync(temporary, file);
    const tookMs = await waitFor("acme to lose reports on both workers", 1000, async () => {
      const [a, b] = await Promise.all([request(filter, "acme", "/reports", 0), request(filter, "acme", "/reports", 1)]);
      return a.kind === "localReply" && b.kind === "localReply";
    });
    assert.ok(performance.now() - edited < 1000, `took ${tookMs.toFixed(0)} ms`);
    const denied = await request(filter, "acme", "/reports", 1);
    assert.equal(denied.kind === "localReply" && JSON.parse(denied.body).reason, "NoFeatureEntitlementInSubscription");
  });
});
