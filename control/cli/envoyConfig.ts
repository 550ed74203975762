// Renders ready-to-run Envoy bootstraps from the templates in envoy/templates/. The snippets under
// envoy/standalone and envoy/ext-authz are these templates rendered with the defaults below, so what
// the CLI prints and what the README shows cannot drift apart (test/envoy/snippets.test.ts).
import { readFileSync } from "node:fs";
import { shippedFile } from "../shippedFile.ts";

export const ENVOY_VARIANTS = ["standalone", "ext-authz"] as const;
export type EnvoyVariant = (typeof ENVOY_VARIANTS)[number];

export interface GateRuleSpec {
  pathPrefix: string;
  feature: string;
  requestedUsage?: number;
}

export type FailurePolicy = "FAIL_CLOSED" | "FAIL_OPEN" | "FAIL_RELOAD";

export interface EnvoyConfigOptions {
  variant: EnvoyVariant;
  nodeId: string;
  listenerPort: number;
  adminPort: number;
  upstreamCluster: string;
  upstreamHost: string;
  upstreamPort: number;
  controlPlaneCluster: string;
  controlPlaneHost: string;
  /** FilterSync port (standalone). */
  syncPort: number;
  /** Sidecar API + ext_authz port (ext-authz). */
  grpcPort: number;
  wasmPath: string;
  vmId: string;
  failurePolicy: FailurePolicy;
  customerHeader: string;
  rules: GateRuleSpec[];
  /** A complete `entitlement_gate` configuration; replaces customerHeader/rules when given. */
  gateConfig?: Record<string, unknown>;
  /** TLS (with a client certificate: mutual TLS) to the control plane, see RELIABILITY.md. */
  controlPlaneTls?: ControlPlaneTls;
}

export interface ControlPlaneTls {
  /** CA that signed the control plane's certificate (SYNC_TLS_CERT_FILE / GRPC_TLS_CERT_FILE). */
  caFile: string;
  /** Server name to send and to expect in the certificate's DNS SANs; defaults to the host. */
  serverName?: string;
  /** Envoy's client certificate and key, for a control plane that requires them (mutual TLS). */
  certFile?: string;
  keyFile?: string;
}

/** The demo: the embedded catalogue's features on the routes `npm run demo` uses. */
export const DEFAULT_RULES: readonly GateRuleSpec[] = [
  { pathPrefix: "/reports", feature: "feature-reports" },
  { pathPrefix: "/api", feature: "feature-api-calls", requestedUsage: 1 },
];

export function defaultEnvoyConfigOptions(variant: EnvoyVariant = "standalone"): EnvoyConfigOptions {
  return {
    variant,
    nodeId: "envoy",
    listenerPort: 10000,
    adminPort: 9901,
    upstreamCluster: "app",
    upstreamHost: "app",
    upstreamPort: 8080,
    controlPlaneCluster: "control_plane",
    controlPlaneHost: "control-plane",
    syncPort: 9000,
    // The container image moves GRPC_PORT off 80 so it can run as non-root (see Dockerfile).
    grpcPort: 8081,
    wasmPath: "/etc/envoy/entitlement_gate.wasm",
    vmId: "entitlement_gate",
    failurePolicy: "FAIL_CLOSED",
    customerHeader: "x-customer-id",
    rules: DEFAULT_RULES.map((r) => ({ ...r })),
  };
}

export function templatePath(variant: EnvoyVariant): string {
  return shippedFile(`envoy/templates/${variant}.envoy.yaml`);
}

/**
 * Replaces `{{name}}` with `values[name]`. A multi-line value is indented to the column of its
 * placeholder, so block scalars and lists land where the template put them. Unknown names are errors.
 */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  // A placeholder alone on its line that renders empty (an optional block) takes its line with it.
  const withoutEmptyBlocks = template.replace(/^[ \t]*\{\{(\w+)\}\}[ \t]*\n/gm, (line: string, name: string) => (values[name] === "" ? "" : line));
  return withoutEmptyBlocks.replace(/^([^\n]*?)\{\{(\w+)\}\}/gm, (match: string, before: string, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
    const indent = /^\s*$/.test(before) ? before : "";
    return before + value.split("\n").join("\n" + indent);
  }).replace(/\{\{(\w+)\}\}/g, (_match: string, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`template placeholder {{${name}}} has no value`);
    return value;
  });
}

export function gateConfiguration(options: EnvoyConfigOptions): Record<string, unknown> {
  if (options.gateConfig) return options.gateConfig;
  return {
    customerHeader: options.customerHeader,
    rules: options.rules.map((r) => ({
      pathPrefix: r.pathPrefix,
      feature: r.feature,
      ...(r.requestedUsage !== undefined && r.requestedUsage !== 0 ? { requestedUsage: r.requestedUsage } : {}),
    })),
    // A customer not yet in shared data is fetched from the same control plane the sync role streams from.
    onMiss: { policy: "fetch", timeoutMs: 200, cluster: options.controlPlaneCluster },
  };
}

export function syncConfiguration(options: EnvoyConfigOptions): Record<string, unknown> {
  return { cluster: options.controlPlaneCluster, nodeId: options.nodeId };
}

/** YAML flow-free route list for the ext_authz variant: one route per rule, then a catch-all without a check. */
function extAuthzRoutes(options: EnvoyConfigOptions): string {
  const lines: string[] = [];
  for (const rule of options.rules) {
    lines.push(`- match: { prefix: ${JSON.stringify(rule.pathPrefix)} }`);
    lines.push(`  route: { cluster: ${options.upstreamCluster} }`);
    lines.push(`  typed_per_filter_config:`);
    lines.push(`    envoy.filters.http.ext_authz:`);
    lines.push(`      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute`);
    lines.push(`      check_settings:`);
    lines.push(`        context_extensions:`);
    lines.push(`          entitlement_feature: ${JSON.stringify(rule.feature)}`);
    if (rule.requestedUsage !== undefined && rule.requestedUsage !== 0) {
      lines.push(`          entitlement_requested_usage: ${JSON.stringify(String(rule.requestedUsage))}`);
    }
  }
  lines.push(`- match: { prefix: "/" }`);
  lines.push(`  route: { cluster: ${options.upstreamCluster} }`);
  lines.push(`  typed_per_filter_config:`);
  lines.push(`    envoy.filters.http.ext_authz:`);
  lines.push(`      "@type": type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute`);
  lines.push(`      disabled: true`);
  return lines.join("\n");
}

/** The control_plane cluster's transport_socket (YAML lines at the cluster's indentation), or "" for plaintext. */
function transportSocket(options: EnvoyConfigOptions): string {
  const tls = options.controlPlaneTls;
  if (!tls) return "";
  const name = tls.serverName ?? options.controlPlaneHost;
  const lines = [
    "transport_socket:",
    "  name: envoy.transport_sockets.tls",
    "  typed_config:",
    '    "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    `    sni: ${name}`,
    "    common_tls_context:",
    "      validation_context:",
    `        trusted_ca: { filename: ${tls.caFile} }`,
    `        match_typed_subject_alt_names: [{ san_type: DNS, matcher: { exact: ${name} } }]`,
  ];
  if (tls.certFile && tls.keyFile) {
    lines.push("      tls_certificates:", `      - certificate_chain: { filename: ${tls.certFile} }`, `        private_key: { filename: ${tls.keyFile} }`);
  }
  return lines.join("\n");
}

export function renderEnvoyConfig(options: EnvoyConfigOptions): string {
  const values: Record<string, string> = {
    nodeId: options.nodeId,
    listenerPort: String(options.listenerPort),
    adminPort: String(options.adminPort),
    upstreamCluster: options.upstreamCluster,
    upstreamHost: options.upstreamHost,
    upstreamPort: String(options.upstreamPort),
    controlPlaneCluster: options.controlPlaneCluster,
    controlPlaneHost: options.controlPlaneHost,
    syncPort: String(options.syncPort),
    grpcPort: String(options.grpcPort),
    wasmPath: options.wasmPath,
    vmId: options.vmId,
    failurePolicy: options.failurePolicy,
    gateConfigJson: JSON.stringify(gateConfiguration(options), null, 2),
    syncConfigJson: JSON.stringify(syncConfiguration(options), null, 2),
    extAuthzRoutes: extAuthzRoutes(options),
    controlPlaneTransportSocket: transportSocket(options),
  };
  return renderTemplate(readFileSync(templatePath(options.variant), "utf8"), values);
}
