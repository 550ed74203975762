// `entitlement-gate envoy-config`: prints (or writes) a ready envoy.yaml from envoy/templates/.
import { readFileSync, writeFileSync } from "node:fs";
import {
  defaultEnvoyConfigOptions,
  ENVOY_VARIANTS,
  renderEnvoyConfig,
  type EnvoyConfigOptions,
  type EnvoyVariant,
  type FailurePolicy,
  type GateRuleSpec,
} from "./envoyConfig.ts";
import { numberOption, optionHelp, resolveOptions, stringOption, type ConfigFile, type OptionSpec } from "./options.ts";

const d = defaultEnvoyConfigOptions();

export const ENVOY_CONFIG_OPTIONS: readonly OptionSpec[] = [
  { flag: "--variant", env: "EG_ENVOY_VARIANT", help: `Which Envoy setup: ${ENVOY_VARIANTS.join(" (Wasm filter + singleton sync role) or ")} (no Wasm, one Check call per request).`, defaultText: "standalone" },
  { flag: "--listener-port", env: "EG_LISTENER_PORT", help: "Port Envoy listens on for the app's traffic.", defaultText: String(d.listenerPort) },
  { flag: "--admin-port", env: "EG_ADMIN_PORT", help: "Envoy admin port (bound to 127.0.0.1).", defaultText: String(d.adminPort) },
  { flag: "--upstream-host", env: "EG_UPSTREAM_HOST", help: "Host of the app Envoy protects.", defaultText: d.upstreamHost },
  { flag: "--upstream-port", env: "EG_UPSTREAM_PORT", help: "Port of the app.", defaultText: String(d.upstreamPort) },
  { flag: "--upstream-cluster", env: "EG_UPSTREAM_CLUSTER", help: "Envoy cluster name of the app.", defaultText: d.upstreamCluster },
  { flag: "--control-plane-host", env: "EG_CONTROL_PLANE_HOST", help: "Host of the control plane.", defaultText: d.controlPlaneHost },
  { flag: "--control-plane-cluster", env: "EG_CONTROL_PLANE_CLUSTER", help: "Envoy cluster name of the control plane (HTTP/2).", defaultText: d.controlPlaneCluster },
  { flag: "--sync-port", env: "SYNC_PORT", help: "Control plane's FilterSync port (standalone).", defaultText: String(d.syncPort) },
  { flag: "--grpc-port", env: "GRPC_PORT", help: "Control plane's Sidecar API + ext_authz port (ext-authz).", defaultText: `${d.grpcPort} (the container image's GRPC_PORT)` },
  { flag: "--wasm-path", env: "EG_WASM_PATH", help: "Where Envoy finds entitlement_gate.wasm.", defaultText: d.wasmPath },
  { flag: "--vm-id", env: "EG_VM_ID", help: "vm_id shared by the filter and the sync role (they share data only with the same one).", defaultText: d.vmId },
  { flag: "--node-id", env: "EG_NODE_ID", help: "Envoy node id, also the name the sync role gives the control plane.", defaultText: d.nodeId },
  { flag: "--failure-policy", env: "EG_FAILURE_POLICY", help: "FAIL_CLOSED, FAIL_RELOAD or FAIL_OPEN: what Envoy does when the filter's VM fails.", defaultText: d.failurePolicy },
  { flag: "--customer-header", env: "EG_CUSTOMER_HEADER", help: "Request header with the customer id.", defaultText: d.customerHeader },
  { flag: "--rule", env: "EG_RULES", help: "A route rule PATH_PREFIX=FEATURE[:REQUESTED_USAGE]; repeat for more (replaces the demo rules).", defaultText: d.rules.map((r) => `${r.pathPrefix}=${r.feature}${r.requestedUsage ? `:${r.requestedUsage}` : ""}`).join(" "), repeatable: true },
  { flag: "--gate-config", env: "EG_GATE_CONFIG", help: "JSON file with a complete entitlement_gate configuration (every filter field); replaces --customer-header and --rule." },
  { flag: "--tls-ca-file", env: "EG_TLS_CA_FILE", help: "TLS to the control plane: the CA file (in Envoy) that signed its certificate. Plaintext when absent." },
  { flag: "--tls-server-name", env: "EG_TLS_SERVER_NAME", help: "Name sent as SNI and required in the control plane certificate's DNS SANs.", defaultText: "--control-plane-host" },
  { flag: "--tls-cert-file", env: "EG_TLS_CERT_FILE", help: "Mutual TLS: Envoy's client certificate chain file (with --tls-key-file)." },
  { flag: "--tls-key-file", env: "EG_TLS_KEY_FILE", help: "Mutual TLS: Envoy's client private key file." },
  { flag: "--output", env: "EG_OUTPUT", help: "Write to this file instead of stdout." },
];

export function envoyConfigHelp(): string {
  return [
    "entitlement-gate envoy-config: render a ready envoy.yaml (the envoy/standalone and envoy/ext-authz snippets are its defaults).",
    "",
    "Usage: entitlement-gate envoy-config [--variant standalone|ext-authz] [options] [--output envoy.yaml]",
    "",
    ...optionHelp(ENVOY_CONFIG_OPTIONS),
    "  --config <file.yaml>  options under an `envoy-config:` section",
    "",
    "Exit codes: 0 written, 1 a file cannot be read or written, 2 invalid options.",
  ].join("\n");
}

function parseRule(text: string): GateRuleSpec | string {
  const match = /^(\/[^=\s]*)=([^:\s]+)(?::(\d+(?:\.\d+)?))?$/.exec(text.trim());
  if (!match) return `${JSON.stringify(text)} is not PATH_PREFIX=FEATURE[:REQUESTED_USAGE] (e.g. /api=feature-api-calls:1)`;
  return { pathPrefix: match[1]!, feature: match[2]!, ...(match[3] !== undefined ? { requestedUsage: Number(match[3]) } : {}) };
}

export function runEnvoyConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, file?: ConfigFile): number {
  const options = resolveOptions(ENVOY_CONFIG_OPTIONS, argv, env, file, "envoy-config");
  if (options.help) {
    process.stdout.write(envoyConfigHelp() + "\n");
    return 0;
  }
  const variant = stringOption(options, "--variant") ?? "standalone";
  if (!(ENVOY_VARIANTS as readonly string[]).includes(variant)) options.errors.push(`${options.origins.get("--variant")}: ${JSON.stringify(variant)} is not one of ${ENVOY_VARIANTS.join(", ")}`);
  const config: EnvoyConfigOptions = defaultEnvoyConfigOptions(variant as EnvoyVariant);
  const port = (flag: string): number | undefined => numberOption(options, flag, 1, 65535);
  config.listenerPort = port("--listener-port") ?? config.listenerPort;
  config.adminPort = port("--admin-port") ?? config.adminPort;
  config.upstreamPort = port("--upstream-port") ?? config.upstreamPort;
  config.syncPort = port("--sync-port") ?? config.syncPort;
  config.grpcPort = port("--grpc-port") ?? config.grpcPort;
  const name = (flag: string, pattern: RegExp, what: string): string | undefined => {
    const v = stringOption(options, flag);
    if (v !== undefined && !pattern.test(v)) {
      options.errors.push(`${options.origins.get(flag)}: ${JSON.stringify(v)} is not ${what}`);
      return undefined;
    }
    return v;
  };
  const HOST = /^[A-Za-z0-9.:-]+$/;
  const IDENT = /^[A-Za-z0-9_.|-]+$/;
  config.upstreamHost = name("--upstream-host", HOST, "a host name or IP") ?? config.upstreamHost;
  config.upstreamCluster = name("--upstream-cluster", IDENT, "a cluster name") ?? config.upstreamCluster;
  config.controlPlaneHost = name("--control-plane-host", HOST, "a host name or IP") ?? config.controlPlaneHost;
  config.controlPlaneCluster = name("--control-plane-cluster", IDENT, "a cluster name") ?? config.controlPlaneCluster;
  config.wasmPath = name("--wasm-path", /^\/\S+$/, "an absolute path") ?? config.wasmPath;
  config.vmId = name("--vm-id", /^[A-Za-z0-9_.-]*$/, "a vm_id (letters, digits, _ . -)") ?? config.vmId;
  config.nodeId = name("--node-id", IDENT, "a node id") ?? config.nodeId;
  config.customerHeader = name("--customer-header", /^[a-z0-9!#$%&'*+.^_`|~-]+$/, "a lower-case header name") ?? config.customerHeader;
  const policy = stringOption(options, "--failure-policy");
  if (policy !== undefined) {
    if (["FAIL_CLOSED", "FAIL_RELOAD", "FAIL_OPEN"].includes(policy)) config.failurePolicy = policy as FailurePolicy;
    else options.errors.push(`${options.origins.get("--failure-policy")}: ${JSON.stringify(policy)} is not FAIL_CLOSED, FAIL_RELOAD or FAIL_OPEN`);
  }
  const rules = options.values.get("--rule");
  if (rules !== undefined) {
    const texts = (Array.isArray(rules) ? rules : [String(rules)]).flatMap((r) => r.split(/[\s,]+/)).filter(Boolean);
    const parsed = texts.map(parseRule);
    for (const p of parsed) if (typeof p === "string") options.errors.push(`${options.origins.get("--rule")}: ${p}`);
    config.rules = parsed.filter((p): p is GateRuleSpec => typeof p !== "string");
  }
  const gateConfigPath = stringOption(options, "--gate-config");
  if (gateConfigPath !== undefined) {
    try {
      const value: unknown = JSON.parse(readFileSync(gateConfigPath, "utf8"));
      if (typeof value !== "object" || value === null || Array.isArray(value)) options.errors.push(`--gate-config ${gateConfigPath}: must be a JSON object`);
      else config.gateConfig = value as Record<string, unknown>;
    } catch (err) {
      options.errors.push(`--gate-config ${gateConfigPath}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const caFile = name("--tls-ca-file", /^\/\S+$/, "an absolute path");
  const serverName = name("--tls-server-name", HOST, "a host name");
  const certFile = name("--tls-cert-file", /^\/\S+$/, "an absolute path");
  const keyFile = name("--tls-key-file", /^\/\S+$/, "an absolute path");
  if ((certFile === undefined) !== (keyFile === undefined)) options.errors.push("--tls-cert-file and --tls-key-file: give both or neither");
  if (caFile === undefined && (serverName ?? certFile ?? keyFile) !== undefined) options.errors.push("--tls-ca-file: required with the other --tls-* options");
  if (caFile !== undefined) {
    config.controlPlaneTls = { caFile, ...(serverName ? { serverName } : {}), ...(certFile && keyFile ? { certFile, keyFile } : {}) };
  }
  if (options.positionals.length > 0) options.errors.push(`${JSON.stringify(options.positionals[0])}: unexpected argument`);
  if (options.errors.length > 0) {
    for (const e of options.errors) process.stderr.write(`entitlement-gate envoy-config: ${e}\n`);
    return 2;
  }
  const text = renderEnvoyConfig(config);
  const output = stringOption(options, "--output");
  if (output === undefined) {
    process.stdout.write(text);
    return 0;
  }
  try {
    writeFileSync(output, text);
  } catch (err) {
    process.stderr.write(`entitlement-gate envoy-config: cannot write ${output}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  process.stderr.write(`wrote ${output}\n`);
  return 0;
}
