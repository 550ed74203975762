// Every snippet under envoy/ runs as written: the plugins each one declares are loaded from the built
// filter into the proxy-wasm host with exactly the snippet's configuration, vm_id, root_id and cluster
// names (the cluster pointed at an in-process control plane), and a demo customer is allowed or denied.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { startControlPlane, type ControlPlane } from "../../control/controlPlane.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import { defaultEnvoyConfigOptions, renderEnvoyConfig } from "../../control/cli/envoyConfig.ts";
import * as grpc from "@grpc/grpc-js";
import { extAuthzServiceDefinition, type WireCheckRequest, type WireCheckResponse } from "../../control/api/extAuthzProto.ts";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";
import { loadFilterWasm } from "../filter/support/builtWasm.ts";
import { envoyConfigProblems } from "../../control/cli/envoySchema.ts";
import {
  controlPlaneClusters,
  parseIstioOutboundCluster,
  parseSnippet,
  type ParsedSnippet,
  type SnippetPlugin,
} from "../../control/cli/snippetPlugins.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const at = (path: string): string => join(ROOT, path);
const WASM = loadFilterWasm();

interface Running {
  cp: ControlPlane;
  envoy: EnvoyHost;
  filter: HttpFilter;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function waitFor(what: string, timeoutMs: number, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts a control plane on port 0 and the snippet's plugins in the host, clusters pointed at it. */
async function runSnippet(snippet: ParsedSnippet, entitlementsFile?: string): Promise<Running> {
  const cp = await startControlPlane({
    ...defaultSettings(),
    ...(entitlementsFile ? { entitlementsFile } : {}),
    syncPort: 0,
    grpcPort: 0,
    httpPort: 0,
    bindAddress: "127.0.0.1",
    logLevel: "error",
  });
  cleanups.push(() => cp.close());
  const clusters: Record<string, { host: string; port: number }> = {};
  for (const plugin of snippet.plugins) {
    for (const name of controlPlaneClusters(plugin.configuration)) clusters[name] = { host: "127.0.0.1", port: cp.syncPort };
  }
  assert.ok(Object.keys(clusters).length > 0, "some plugin names the control plane's cluster");
  const envoy = new EnvoyHost({ clusters });
  cleanups.push(() => envoy.close());

  const singletons = snippet.plugins.filter((p) => p.kind === "singleton");
  const filters = snippet.plugins.filter((p) => p.kind !== "singleton");
  assert.equal(filters.length, 1, "one HTTP filter plugin");
  for (const s of singletons) {
    const service = await envoy.addSingletonService({ vmId: s.vmId, rootId: s.rootId, wasm: WASM, configuration: s.configuration });
    assert.equal(service.configureResult, true, `${s.origin}: the sync role accepts the snippet's configuration: ${lastLog(envoy)}`);
  }
  const f = filters[0]!;
  const filter = await envoy.addHttpFilter({ vmId: f.vmId, rootId: f.rootId, wasm: WASM, configuration: f.configuration, workers: 2 });
  assert.deepEqual(filter.configureResults, [true, true], `${f.origin}: the filter accepts the snippet's configuration: ${lastLog(envoy)}`);
  const vmId = f.vmId;
  await waitFor(`the first snapshot in shared data of vm_id "${vmId}"`, 5000, () => envoy.sharedData(vmId).get("eg1/sync/gen") !== undefined);
  return { cp, envoy, filter };
}

function lastLog(envoy: EnvoyHost): string {
  return envoy.logs().map((l) => l.message).slice(-3).join(" | ");
}

function get(filter: HttpFilter, customer: string, path: string): Promise<HttpResult> {
  return filter.request({ headers: [[":method", "GET"], [":path", path], [":authority", "shop.example"], ["x-customer-id", customer]] });
}

async function assertDemoDecisions(filter: HttpFilter): Promise<void> {
  const allowed = await get(filter, "customer-free", "/reports/q3");
  assert.equal(allowed.kind, "continue", `customer-free may read reports: ${JSON.stringify(allowed)}`);
  const denied = await get(filter, "customer-archived", "/reports/q3");
  assert.equal(denied.kind, "localReply");
  if (denied.kind !== "localReply") return;
  assert.equal(denied.status, 403);
  assert.equal((JSON.parse(denied.body) as { reason: string }).reason, "CustomerIsArchived");
  // Not in the snapshot: the miss path asks the control plane through the snippet's miss cluster. A wrong
  // cluster would end in the fallback, which says so in x-entitlement-fallback.
  const unknown = await get(filter, "nobody-" + Date.now(), "/reports/q3");
  assert.equal(unknown.kind, "localReply");
  if (unknown.kind !== "localReply") return;
  assert.equal((JSON.parse(unknown.body) as { reason: string }).reason, "CustomerNotFound", unknown.body);
  assert.ok(!unknown.headers.some(([k, v]) => k === "x-entitlement-fallback" && v === "true"), "answered by the control plane, not the fallback");
}

function assertPluginRoots(snippet: ParsedSnippet): void {
  const ids = new Set(snippet.plugins.map((p) => p.vmId));
  assert.equal(ids.size, 1, `every plugin shares one vm_id (shared data is partitioned by it): ${[...ids].join(", ")}`);
  for (const p of snippet.plugins) {
    assert.equal(p.rootId, p.kind === "singleton" ? "entitlement_sync" : "entitlement_gate", `${p.origin}: root_id`);
  }
}

function assertHttp2Cluster(snippet: ParsedSnippet, plugin: SnippetPlugin): void {
  for (const name of controlPlaneClusters(plugin.configuration)) {
    const cluster = snippet.clusters.find((c) => c.name === name);
    assert.ok(cluster, `${plugin.origin}: cluster ${name} is defined in the snippet`);
    assert.equal(cluster.http2, true, `cluster ${name} speaks HTTP/2 (gRPC needs it)`);
  }
}

describe("envoy/standalone/envoy.yaml", () => {
  const path = at("envoy/standalone/envoy.yaml");
  const snippet = parseSnippet(path);

  it("is exactly what envoy-config renders with its defaults", () => {
    assert.equal(readFileSync(path, "utf8"), renderEnvoyConfig(defaultEnvoyConfigOptions("standalone")));
  });

  it("declares the singleton sync role and the HTTP filter on one vm_id, with a failure policy", () => {
    assert.deepEqual(snippet.plugins.map((p) => p.kind).sort(), ["httpFilter", "singleton"]);
    assertPluginRoots(snippet);
    const doc = parse(readFileSync(path, "utf8")) as { static_resources: unknown };
    assert.match(JSON.stringify(doc.static_resources), /"failure_policy":"FAIL_CLOSED"/);
  });

  it("defines every control-plane cluster the plugins use (sync stream, misses) with HTTP/2 on the sync port", () => {
    for (const p of snippet.plugins) assertHttp2Cluster(snippet, p);
    const cluster = snippet.clusters.find((c) => c.name === "control_plane");
    assert.deepEqual(cluster?.endpoints, [{ address: "control-plane", port: 9000 }]);
  });

  it("allows an entitled demo customer and denies an archived one when run as written", async () => {
    const { filter } = await runSnippet(snippet);
    await assertDemoDecisions(filter);
  });
});

/** context_extensions of every route that runs the ext_authz check, in route order. */
function routeExtensions(doc: Record<string, unknown>): Array<Record<string, string>> {
  type Route = { typed_per_filter_config?: Record<string, { disabled?: boolean; check_settings?: { context_extensions?: Record<string, string> } }> };
  const listeners = (doc.static_resources as { listeners: Array<{ filter_chains: Array<{ filters: Array<{ typed_config: { route_config: { virtual_hosts: Array<{ routes: Route[] }> } } }> }> }> }).listeners;
  const routes = listeners[0]!.filter_chains[0]!.filters[0]!.typed_config.route_config.virtual_hosts[0]!.routes;
  return routes
    .map((r) => r.typed_per_filter_config?.["envoy.filters.http.ext_authz"])
    .filter((c) => c !== undefined && c.disabled !== true)
    .map((c) => c!.check_settings?.context_extensions ?? {});
}

describe("envoy/ext-authz/envoy.yaml", () => {
  const path = at("envoy/ext-authz/envoy.yaml");
  const text = readFileSync(path, "utf8");
  const snippet = parseSnippet(path);
  const doc = parse(text) as Record<string, unknown>;

  it("is exactly what envoy-config --variant ext-authz renders with its defaults", () => {
    assert.equal(text, renderEnvoyConfig(defaultEnvoyConfigOptions("ext-authz")));
  });

  it("sends Check to an HTTP/2 cluster on GRPC_PORT, fails closed, and names a feature on every checked route", () => {
    const json = JSON.stringify(doc);
    assert.match(json, /"transport_api_version":"V3"/);
    assert.match(json, /"failure_mode_allow":false/);
    assert.match(json, /"envoy_grpc":\{"cluster_name":"control_plane"\}/);
    const cluster = snippet.clusters.find((c) => c.name === "control_plane");
    assert.equal(cluster?.http2, true);
    assert.deepEqual(cluster?.endpoints, [{ address: "control-plane", port: 8081 }]);
    assert.deepEqual(routeExtensions(doc).map((e) => e.entitlement_feature), ["feature-reports", "feature-api-calls"]);
    assert.equal(snippet.plugins.length, 0, "no Wasm in the ext_authz variant");
  });

  it("gets allow and deny from the control plane's Check with each route's context_extensions as written", async () => {
    const cp = await startControlPlane({ ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1", logLevel: "error" });
    cleanups.push(() => cp.close());
    const Client = grpc.makeGenericClientConstructor(extAuthzServiceDefinition(), "Authorization");
    const client = new Client(`127.0.0.1:${cp.grpcPort}`, grpc.credentials.createInsecure());
    cleanups.push(async () => client.close());
    const extensions = routeExtensions(doc)[0]!;
    assert.equal(extensions.entitlement_feature, "feature-reports");
    const unary = (customer: string): Promise<WireCheckResponse> =>
      new Promise((resolve, reject) => {
        const request: WireCheckRequest = {
          attributes: {
            request: { http: { method: "GET", path: "/reports/q3", host: "shop.example", headers: { "x-customer-id": customer } } },
            context_extensions: extensions,
          },
        };
        const call = (client as unknown as Record<string, (r: WireCheckRequest, cb: (e: grpc.ServiceError | null, r?: WireCheckResponse) => void) => void>).Check!;
        call.call(client, request, (e, r) => (e || !r ? reject(e ?? new Error("no response")) : resolve(r)));
      });
    const allowed = await unary("customer-free");
    assert.equal(allowed.status.code, 0, JSON.stringify(allowed));
    const denied = await unary("customer-archived");
    assert.notEqual(denied.status.code, 0);
    assert.match(denied.denied_response?.body ?? "", /CustomerIsArchived/);
  });
});

describe("envoy/kubernetes/shop.yaml", () => {
  const path = at("envoy/kubernetes/shop.yaml");
  const snippet = parseSnippet(path);
  const docs = snippet.documents;
  const configMap = (name: string): Record<string, string> =>
    (docs.find((d) => d.kind === "ConfigMap" && (d.metadata as { name: string }).name === name)?.data ?? {}) as Record<string, string>;

  it("embeds the envoy.yaml envoy-config renders for the sidecar shape", () => {
    const options = { ...defaultEnvoyConfigOptions("standalone"), upstreamHost: "127.0.0.1", upstreamPort: 3000, controlPlaneHost: "127.0.0.1", nodeId: "shop" };
    assert.equal(configMap("shop-envoy")["envoy.yaml"], renderEnvoyConfig(options));
    assertPluginRoots(snippet);
    for (const p of snippet.plugins) assertHttp2Cluster(snippet, p);
  });

  it("runs the app, Envoy and the control plane in one pod with probes on /livez and /readyz", () => {
    const deployment = docs.find((d) => d.kind === "Deployment") as { spec: { template: { spec: { containers: Array<Record<string, unknown>> } } } };
    const containers = deployment.spec.template.spec.containers;
    assert.deepEqual(containers.map((c) => c.name), ["app", "envoy", "control-plane"]);
    const cp = containers[2]!;
    assert.equal((cp.livenessProbe as { httpGet: { path: string } }).httpGet.path, "/livez");
    assert.equal((cp.readinessProbe as { httpGet: { path: string } }).httpGet.path, "/readyz");
    const env = Object.fromEntries((cp.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));
    assert.equal(env.SYNC_PORT, "9000", "the port envoy.yaml's control_plane cluster points at");
    assert.equal(env.ENTITLEMENTS_FILE, "/etc/entitlement-gate/entitlements.yaml");
  });

  it("gates requests from the entitlements ConfigMap when run as written", async () => {
    const dir = mkdtempSync(join(tmpdir(), "eg-k8s-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "entitlements.yaml");
    writeFileSync(file, configMap("shop-entitlements")["entitlements.yaml"]!);
    const { filter } = await runSnippet(snippet, file);
    await assertDemoDecisions(filter);
  });
});

describe("envoy/istio", () => {
  const controlPlane = parseSnippet(at("envoy/istio/control-plane.yaml"));

  /** Istio builds the outbound cluster from the Service; HTTP/2 when the port is gRPC. */
  function assertIstioCluster(name: string): void {
    const parsed = parseIstioOutboundCluster(name);
    assert.ok(parsed, `${name} is an Istio outbound cluster name`);
    const service = controlPlane.documents.find(
      (d) => d.kind === "Service" && (d.metadata as { name: string; namespace: string }).name === parsed.service
        && (d.metadata as { namespace: string }).namespace === parsed.namespace,
    ) as { spec: { ports: Array<{ name: string; port: number; appProtocol?: string }> } } | undefined;
    assert.ok(service, `envoy/istio/control-plane.yaml defines Service ${parsed.service}.${parsed.namespace}`);
    const port = service.spec.ports.find((p) => p.port === parsed.port);
    assert.ok(port, `the Service exposes port ${parsed.port}`);
    assert.ok(port.appProtocol === "grpc" || port.name.startsWith("grpc"), "the port is declared gRPC, so Istio uses HTTP/2");
  }

  it("uses only the WasmPlugin and EnvoyFilter fields and enum values Istio defines", () => {
    // extensions.istio.io/v1alpha1 WasmPlugin and networking.istio.io/v1alpha3 EnvoyFilter (proxy-wasm.md, section 3 (h)).
    const WASM_PLUGIN = ["selector", "targetRefs", "url", "sha256", "imagePullPolicy", "imagePullSecret", "pluginConfig", "pluginName", "phase", "priority", "vmConfig", "match", "failStrategy", "type"];
    const ENUMS: Record<string, string[]> = {
      phase: ["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"],
      failStrategy: ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"],
      imagePullPolicy: ["UNSPECIFIED_POLICY", "IfNotPresent", "Always"],
    };
    for (const file of ["envoy/istio/wasmplugin-lease.yaml", "envoy/istio/wasmplugin-bootstrap.yaml"]) {
      for (const doc of parseSnippet(at(file)).documents) {
        const spec = doc.spec as Record<string, unknown>;
        if (doc.kind === "WasmPlugin") {
          assert.equal(doc.apiVersion, "extensions.istio.io/v1alpha1");
          for (const key of Object.keys(spec)) assert.ok(WASM_PLUGIN.includes(key), `${file}: WasmPlugin has no field ${key}`);
          for (const [key, values] of Object.entries(ENUMS)) if (spec[key] !== undefined) assert.ok(values.includes(spec[key] as string), `${file}: ${key}: ${String(spec[key])}`);
          assert.match(spec.url as string, /^oci:\/\/[^\s:]+:[\w.-]+$/, "an oci:// URL with a tag");
        } else if (doc.kind === "EnvoyFilter") {
          assert.equal(doc.apiVersion, "networking.istio.io/v1alpha3");
          for (const key of Object.keys(spec)) assert.ok(["workloadSelector", "configPatches", "priority", "targetRefs"].includes(key), `${file}: EnvoyFilter has no field ${key}`);
          for (const patch of spec.configPatches as Array<Record<string, unknown>>) {
            for (const key of Object.keys(patch)) assert.ok(["applyTo", "match", "patch"].includes(key), `${file}: configPatches[] has no field ${key}`);
            assert.ok(["MERGE", "ADD", "INSERT_BEFORE", "INSERT_AFTER", "INSERT_FIRST", "REPLACE", "REMOVE"].includes((patch.patch as { operation: string }).operation));
          }
        } else assert.fail(`${file}: unexpected kind ${String(doc.kind)}`);
      }
    }
  });

  it("wasmplugin-lease.yaml: a WasmPlugin alone, holding the sync role through the lease, gates as written", async () => {
    const snippet = parseSnippet(at("envoy/istio/wasmplugin-lease.yaml"));
    assert.deepEqual(snippet.plugins.map((p) => p.kind), ["istioWasmPlugin"]);
    const plugin = snippet.plugins[0]!;
    assert.equal(plugin.rootId, "entitlement_gate");
    const clusters = controlPlaneClusters(plugin.configuration);
    assert.ok(JSON.parse(plugin.configuration).sync, "the gate configuration has a sync section");
    assert.ok(clusters.length > 0);
    for (const name of clusters) assertIstioCluster(name);
    const { filter } = await runSnippet(snippet);
    await assertDemoDecisions(filter);
  });

  it("wasmplugin-bootstrap.yaml: the WasmPlugin and the BOOTSTRAP singleton share the (empty) vm_id and gate as written", async () => {
    const snippet = parseSnippet(at("envoy/istio/wasmplugin-bootstrap.yaml"));
    assert.deepEqual(snippet.plugins.map((p) => p.kind).sort(), ["istioWasmPlugin", "singleton"]);
    assertPluginRoots(snippet);
    for (const p of snippet.plugins) for (const name of controlPlaneClusters(p.configuration)) assertIstioCluster(name);
    const filterPlugin = snippet.plugins.find((p) => p.kind === "istioWasmPlugin")!;
    assert.equal(JSON.parse(filterPlugin.configuration).sync, undefined, "the filter does not also hold a stream");
    const patch = snippet.documents.find((d) => d.kind === "EnvoyFilter");
    assert.match(JSON.stringify(patch), /"applyTo":"BOOTSTRAP"/);
    const { filter } = await runSnippet(snippet);
    await assertDemoDecisions(filter);
  });
});

describe("envoy/compose/compose.yaml", () => {
  const path = at("envoy/compose/compose.yaml");
  const compose = parse(readFileSync(path, "utf8")) as {
    services: Record<string, { image?: string; build?: { context: string; dockerfile: string }; volumes?: string[] }>;
  };

  it("runs the official Envoy image on the standalone snippet and the built filter", () => {
    const envoy = compose.services.envoy!;
    assert.match(envoy.image ?? "", /^envoyproxy\/envoy:v1\.3[4-9]/);
    const mounts = (envoy.volumes ?? []).map((v) => v.split(":"));
    assert.deepEqual(mounts.map(([, target]) => target).sort(), ["/etc/envoy/entitlement_gate.wasm", "/etc/envoy/envoy.yaml"]);
    for (const [source] of mounts) assert.ok(existsSync(resolve(dirname(path), source!)), `${source} exists`);
    const standalone = parseSnippet(at("envoy/standalone/envoy.yaml"));
    const cluster = standalone.clusters.find((c) => c.name === "control_plane")!;
    assert.ok(compose.services[cluster.endpoints[0]!.address], "the control_plane cluster's host is a compose service");
    const app = standalone.clusters.find((c) => c.name === "app")!;
    assert.ok(compose.services[app.endpoints[0]!.address], "the app cluster's host is a compose service");
  });

  it("builds the control plane from the repository's Dockerfile", () => {
    const build = compose.services["control-plane"]!.build!;
    assert.ok(existsSync(resolve(dirname(path), build.context, build.dockerfile)));
  });
});

// Rendered manifests, probed by path.
describe("Envoy's API protos", () => {
  const BOOTSTRAP = "envoy.config.bootstrap.v3.Bootstrap";
  const k8s = parseAllDocuments(readFileSync(at("envoy/kubernetes/shop.yaml"), "utf8")).map((d) => d.toJS() as Record<string, any>);
  const istio = parseAllDocuments(readFileSync(at("envoy/istio/wasmplugin-bootstrap.yaml"), "utf8")).map((d) => d.toJS() as Record<string, any>);
  const bootstraps: Array<[string, unknown]> = [
    ["envoy/standalone/envoy.yaml", parse(readFileSync(at("envoy/standalone/envoy.yaml"), "utf8"))],
    ["envoy/ext-authz/envoy.yaml", parse(readFileSync(at("envoy/ext-authz/envoy.yaml"), "utf8"))],
    ["envoy/kubernetes/shop.yaml (shop-envoy)", parse(k8s.find((d) => d.metadata?.name === "shop-envoy")!.data["envoy.yaml"])],
    ["envoy/helm/entitlement-gate/files/envoy-sidecar.yaml", parse(readFileSync(at("envoy/helm/entitlement-gate/files/envoy-sidecar.yaml"), "utf8"))],
    ["envoy/istio/wasmplugin-bootstrap.yaml (BOOTSTRAP patch)", istio.find((d) => d.kind === "EnvoyFilter")!.spec.configPatches[0].patch.value],
  ];

  for (const [name, bootstrap] of bootstraps) {
    it(`${name} uses only fields, types and enum values Envoy's Bootstrap defines`, () => {
      assert.deepEqual(envoyConfigProblems(BOOTSTRAP, bootstrap), []);
    });
  }

  it("reports a misspelt field and an unknown enum value (the check is not vacuous)", () => {
    const broken = parse(readFileSync(at("envoy/standalone/envoy.yaml"), "utf8")) as { static_resources: { clusters: Array<Record<string, unknown>> } };
    broken.static_resources.clusters[1]!.conect_timeout = "1s";
    broken.static_resources.clusters[1]!.type = "STRICT";
    const problems = envoyConfigProblems(BOOTSTRAP, broken);
    assert.equal(problems.length, 2, problems.join("\n"));
    assert.ok(problems.some((p) => /clusters\[1\]\.conect_timeout: no such field/.test(p)), problems.join("\n"));
    assert.ok(problems.some((p) => /clusters\[1\]\.type: "STRICT" is not a value/.test(p)), problems.join("\n"));
  });
});
