// The Helm chart (envoy/helm/entitlement-gate) rendered like `helm template`, without helm (not
// installable here; see support/helmTemplate.ts), and checked for the fields that decide whether it works.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { defaultEnvoyConfigOptions, renderEnvoyConfig } from "../../control/cli/envoyConfig.ts";
import { controlPlaneClusters, parseIstioOutboundCluster, parseSnippet, parseSnippetText } from "../../control/cli/snippetPlugins.ts";
import { parseEntitlementsText } from "../../control/upstream/offlineFile/entitlementsFile.ts";
import { ROOT } from "../cli/support/runCli.ts";
import { renderChart, renderTemplateText } from "./support/helmTemplate.ts";

const CHART = join(ROOT, "envoy/helm/entitlement-gate");

// Rendered manifests, probed field by field.
type Doc = Record<string, any>;

function docs(overrides: Record<string, unknown> = {}, release = { Name: "entitlement-gate", Namespace: "entitlement-gate" }): Doc[] {
  const out: Doc[] = [];
  for (const [file, text] of renderChart(CHART, overrides, release)) {
    for (const doc of parseAllDocuments(text)) {
      assert.deepEqual(doc.errors.map((e) => e.message), [], `${file} renders valid YAML`);
      const value = doc.toJS() as Doc | null;
      if (value) out.push(value);
    }
  }
  return out;
}

const find = (list: Doc[], kind: string): Doc => {
  const found = list.find((d) => d.kind === kind);
  assert.ok(found, `renders a ${kind}`);
  return found;
};

function container(deployment: Doc, name: string): Doc {
  const c = (deployment.spec.template.spec.containers as Doc[]).find((x) => x.name === name);
  assert.ok(c, `container ${name}`);
  return c;
}

const envOf = (c: Doc): Record<string, string> => Object.fromEntries((c.env as Array<{ name: string; value: string }>).map((e) => [e.name, e.value]));

describe("Helm chart, standalone mode (default values)", () => {
  const list = docs();
  const deployment = find(list, "Deployment");
  const service = find(list, "Service");
  const cp = container(deployment, "control-plane");

  it("renders exactly a Deployment and a Service", () => {
    assert.deepEqual(list.map((d) => d.kind).sort(), ["Deployment", "Service"]);
  });

  it("wires liveness to /livez and readiness to /readyz on the container's HTTP port", () => {
    assert.equal(cp.livenessProbe.httpGet.path, "/livez");
    assert.equal(cp.readinessProbe.httpGet.path, "/readyz");
    const http = (cp.ports as Doc[]).find((p) => p.name === cp.livenessProbe.httpGet.port);
    assert.equal(http?.containerPort, Number(envOf(cp).HTTP_PORT), "the probe port is the one HTTP_PORT opens");
    assert.equal(envOf(cp).HEALTH_ENDPOINT_URL, "/livez");
    assert.equal(envOf(cp).READY_ENDPOINT_URL, "/readyz");
  });

  it("requests 100m CPU and 128Mi, with a memory limit", () => {
    assert.deepEqual(cp.resources.requests, { cpu: "100m", memory: "128Mi" });
    assert.equal(cp.resources.limits.memory, "256Mi");
  });

  it("runs non-root, read-only, with a grace period longer than the drain", () => {
    const pod = deployment.spec.template.spec;
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(cp.securityContext.readOnlyRootFilesystem, true);
    assert.ok(pod.terminationGracePeriodSeconds * 1000 > Number(envOf(cp).SHUTDOWN_GRACE_MS));
    assert.equal(cp.image, "ghcr.io/example/entitlement-gate:0.1.0", "the tag defaults to the chart's appVersion");
  });

  it("exposes the sync and API ports as gRPC (HTTP/2 in a mesh), selecting the Deployment's pods", () => {
    for (const [key, value] of Object.entries(service.spec.selector as Record<string, string>)) {
      assert.equal(deployment.spec.template.metadata.labels[key], value, `selector ${key}`);
    }
    const ports = service.spec.ports as Doc[];
    const containerPorts = new Map((cp.ports as Doc[]).map((p) => [p.name, p.containerPort]));
    for (const p of ports) assert.ok(containerPorts.has(p.targetPort), `${p.name} targets a named container port`);
    const sync = ports.find((p) => p.name === "grpc-sync")!;
    assert.equal(sync.appProtocol, "grpc");
    assert.equal(containerPorts.get(sync.targetPort), Number(envOf(cp).SYNC_PORT));
    const api = ports.find((p) => p.name === "grpc-api")!;
    assert.equal(api.port, 80, "Stigg's SDKs default to port 80");
    assert.equal(containerPorts.get(api.targetPort), Number(envOf(cp).GRPC_PORT));
  });

  it("is the Service the Istio lease snippet streams from, when installed as entitlement-gate in entitlement-gate", () => {
    const plugin = parseSnippet(join(ROOT, "envoy/istio/wasmplugin-lease.yaml")).plugins[0]!;
    const target = parseIstioOutboundCluster(controlPlaneClusters(plugin.configuration)[0]!)!;
    assert.equal(service.metadata.name, target.service);
    assert.equal(service.metadata.namespace, target.namespace);
    assert.ok((service.spec.ports as Doc[]).some((p) => p.port === target.port && p.appProtocol === "grpc"));
  });
});

describe("Helm chart options", () => {
  it("serves an entitlements file from a ConfigMap when `entitlements` is set", () => {
    const file = "customers:\n  acme:\n    entitlements:\n      reports: { featureType: BOOLEAN }\n";
    const list = docs({ entitlements: file });
    const configMap = find(list, "ConfigMap");
    assert.equal(configMap.data["entitlements.yaml"].trim(), file.trim());
    assert.equal(parseEntitlementsText(configMap.data["entitlements.yaml"], { nowMs: Date.now() }).ok, true);
    const deployment = find(list, "Deployment");
    const cp = container(deployment, "control-plane");
    assert.equal(envOf(cp).ENTITLEMENTS_FILE, "/etc/entitlement-gate/entitlements.yaml");
    assert.equal(cp.volumeMounts[0].mountPath, "/etc/entitlement-gate");
    assert.equal(deployment.spec.template.spec.volumes[0].configMap.name, configMap.metadata.name);
  });

  it("loads SERVER_API_KEY from an existing Secret", () => {
    const cp = container(find(docs({ existingSecret: "stigg-keys" }), "Deployment"), "control-plane");
    assert.deepEqual(cp.envFrom, [{ secretRef: { name: "stigg-keys" } }]);
  });
});

describe("Helm chart, sidecar mode", () => {
  const list = docs({ mode: "sidecar" }, { Name: "shop", Namespace: "shop" });
  const deployment = find(list, "Deployment");

  it("puts the app, Envoy and the control plane in one pod", () => {
    assert.deepEqual((deployment.spec.template.spec.containers as Doc[]).map((c) => c.name), ["app", "envoy", "control-plane"]);
    const service = find(list, "Service");
    assert.equal(service.spec.ports[0].targetPort, "envoy", "traffic enters through Envoy");
  });

  it("gives Envoy the envoy.yaml envoy-config renders for a pod, pointed at the control plane's SYNC_PORT", () => {
    const configMap = list.find((d) => d.kind === "ConfigMap" && d.metadata.name === "shop-envoy");
    assert.ok(configMap);
    const expected = renderEnvoyConfig({ ...defaultEnvoyConfigOptions("standalone"), upstreamHost: "127.0.0.1", upstreamPort: 3000, controlPlaneHost: "127.0.0.1", nodeId: "sidecar" });
    assert.equal(readFileSync(join(CHART, "files/envoy-sidecar.yaml"), "utf8"), expected);
    assert.equal(configMap.data["envoy.yaml"].trimEnd(), expected.trimEnd());
    const snippet = parseSnippetText(configMap.data["envoy.yaml"], "shop-envoy");
    const cluster = snippet.clusters.find((c) => c.name === "control_plane")!;
    assert.equal(cluster.http2, true);
    assert.equal(String(cluster.endpoints[0]!.port), envOf(container(deployment, "control-plane")).SYNC_PORT);
    const app = snippet.clusters.find((c) => c.name === "app")!;
    assert.equal(app.endpoints[0]!.port, container(deployment, "app").ports[0].containerPort);
  });

  it("mounts the filter module and the Envoy configuration", () => {
    const volumes = deployment.spec.template.spec.volumes as Doc[];
    assert.deepEqual(volumes.map((v) => v.configMap.name).sort(), ["entitlement-gate-wasm", "shop-envoy"]);
    const mounts = (container(deployment, "envoy").volumeMounts as Doc[]).map((m) => m.mountPath).sort();
    assert.deepEqual(mounts, ["/etc/envoy/entitlement_gate.wasm", "/etc/envoy/envoy.yaml"]);
  });
});

describe("the template renderer", () => {
  it("refuses template features it does not implement instead of rendering them wrong", () => {
    const ctx = { Values: { list: [1] }, Release: { Name: "r", Namespace: "n" }, Chart: {}, chartDir: CHART };
    assert.throws(() => renderTemplateText("{{ range .Values.list }}x{{ end }}", ctx), /unsupported/);
    assert.throws(() => renderTemplateText("{{ include \"x\" . }}", ctx), /unsupported/);
    assert.equal(renderTemplateText("a\n{{- if .Values.list }}\nb{{ \"c\" | quote }}\n{{- end }}", ctx), "a\nb\"c\"");
  });
});
