// Reads an Envoy bootstrap, an Istio WasmPlugin/EnvoyFilter or a Kubernetes ConfigMap holding an envoy.yaml
// the way the proxy would, and lists the Wasm plugins it declares (the exact configuration string, vm_id
// and root_id handed to the module) and the clusters it defines. `validate --envoy-config` and the
// snippets test use it.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

export const WASM_FILTER_TYPE = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
export const WASM_SERVICE_TYPE = "type.googleapis.com/envoy.extensions.wasm.v3.WasmService";
const STRING_VALUE_TYPE = "type.googleapis.com/google.protobuf.StringValue";

export interface SnippetPlugin {
  /** Where it was found, for assertion messages. */
  origin: string;
  kind: "httpFilter" | "singleton" | "istioWasmPlugin";
  vmId: string;
  rootId: string;
  configuration: string;
}

export interface SnippetCluster {
  name: string;
  http2: boolean;
  endpoints: Array<{ address: string; port: number }>;
}

export interface ParsedSnippet {
  documents: Record<string, unknown>[];
  plugins: SnippetPlugin[];
  clusters: SnippetCluster[];
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function get(value: unknown, ...path: string[]): unknown {
  let current = value;
  for (const key of path) current = isObject(current) ? current[key] : undefined;
  return current;
}

/** Envoy hands StringValue/BytesValue to the plugin raw and serializes a Struct to JSON. */
function configurationString(configuration: unknown, origin: string): string {
  if (configuration === undefined) return "";
  if (!isObject(configuration)) throw new Error(`${origin}: configuration is not an Any`);
  if (configuration["@type"] === STRING_VALUE_TYPE) {
    if (typeof configuration.value !== "string") throw new Error(`${origin}: StringValue without a string value`);
    return configuration.value;
  }
  throw new Error(`${origin}: configuration type ${String(configuration["@type"])} is not handled here`);
}

function pluginConfig(config: unknown, kind: SnippetPlugin["kind"], origin: string): SnippetPlugin {
  const vmId = get(config, "vm_config", "vm_id");
  const rootId = get(config, "root_id");
  return {
    origin,
    kind,
    vmId: typeof vmId === "string" ? vmId : "",
    rootId: typeof rootId === "string" ? rootId : "",
    configuration: configurationString(get(config, "configuration"), origin),
  };
}

function isHttp2(cluster: Json): boolean {
  const options = get(cluster, "typed_extension_protocol_options", "envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
  if (get(options, "explicit_http_config", "http2_protocol_options") !== undefined) return true;
  return cluster.http2_protocol_options !== undefined;
}

function walk(value: unknown, path: string, visit: (node: Json, path: string) => void): void {
  if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${path}[${i}]`, visit));
  else if (isObject(value)) {
    visit(value, path);
    for (const [key, child] of Object.entries(value)) walk(child, `${path}.${key}`, visit);
  }
}

/** Plugins and clusters of one Envoy bootstrap (or EnvoyFilter patch) object. */
function collectEnvoy(root: unknown, origin: string, out: ParsedSnippet): void {
  walk(root, origin, (node, path) => {
    if (node["@type"] === WASM_FILTER_TYPE) out.plugins.push(pluginConfig(node.config, "httpFilter", path));
    if (node["@type"] === WASM_SERVICE_TYPE) {
      if (node.singleton !== true) throw new Error(`${path}: WasmService without singleton: true`);
      out.plugins.push(pluginConfig(node.config, "singleton", path));
    }
  });
  const clusters = get(root, "static_resources", "clusters");
  if (Array.isArray(clusters)) {
    for (const cluster of clusters) {
      if (!isObject(cluster) || typeof cluster.name !== "string") continue;
      const endpoints: SnippetCluster["endpoints"] = [];
      walk(get(cluster, "load_assignment"), "", (node) => {
        const socket = node.socket_address;
        if (isObject(socket) && typeof socket.address === "string" && typeof socket.port_value === "number") {
          endpoints.push({ address: socket.address, port: socket.port_value });
        }
      });
      out.clusters.push({ name: cluster.name, http2: isHttp2(cluster), endpoints });
    }
  }
}

export function parseSnippetText(text: string, origin: string): ParsedSnippet {
  const out: ParsedSnippet = { documents: [], plugins: [], clusters: [] };
  parseAllDocuments(text).forEach((doc, index) => {
    if (doc.errors.length > 0) throw new Error(`${origin} document ${index}: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS();
    if (!isObject(value)) return;
    out.documents.push(value);
    const where = `${origin}#${index}`;
    if (value.kind === "WasmPlugin") {
      const spec = get(value, "spec");
      const rootId = get(spec, "pluginName");
      // Istio serializes pluginConfig (a Struct) to JSON and sets no vm_id.
      out.plugins.push({
        origin: where,
        kind: "istioWasmPlugin",
        vmId: "",
        rootId: typeof rootId === "string" ? rootId : "",
        configuration: JSON.stringify(get(spec, "pluginConfig") ?? {}),
      });
      return;
    }
    if (value.kind === "ConfigMap") {
      const data = get(value, "data");
      if (isObject(data)) {
        for (const [key, content] of Object.entries(data)) {
          if (key.endsWith("envoy.yaml") && typeof content === "string") {
            const nested = parseSnippetText(content, `${where}.data.${key}`);
            out.plugins.push(...nested.plugins);
            out.clusters.push(...nested.clusters);
          }
        }
      }
      return;
    }
    collectEnvoy(value, where, out);
  });
  return out;
}

export function parseSnippet(path: string): ParsedSnippet {
  return parseSnippetText(readFileSync(path, "utf8"), path);
}

/**
 * The control-plane clusters a plugin configuration uses: the sync role's `cluster`; for the gate, the lease
 * holder's `sync.cluster` and the miss path's `onMiss.cluster` (default `control_plane`, unless misses go
 * straight to the fallback).
 */
export function controlPlaneClusters(configuration: string): string[] {
  let config: unknown;
  try {
    config = JSON.parse(configuration);
  } catch {
    return [];
  }
  const names: unknown[] = [get(config, "cluster"), get(config, "sync", "cluster")];
  if (get(config, "rules") !== undefined && get(config, "onMiss", "policy") !== "fallback") names.push(get(config, "onMiss", "cluster") ?? "control_plane");
  return [...new Set(names.filter((c): c is string => typeof c === "string"))];
}

/** Istio's name for a Service port's cluster: outbound|<port>||<name>.<namespace>.svc.cluster.local. */
export function parseIstioOutboundCluster(name: string): { port: number; service: string; namespace: string } | undefined {
  const match = /^outbound\|(\d+)\|\|([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(name);
  return match ? { port: Number(match[1]), service: match[2]!, namespace: match[3]! } : undefined;
}
