// `entitlement-gate validate`: checks a filter configuration, an Envoy/Istio file that embeds one, and/or
// an entitlements file, printing every problem with its path. The filter configuration is checked by the
// built filter itself: the .wasm is loaded into our proxy-wasm host (test/host) and configured, so the
// verdict is exactly what Envoy would get from proxy_on_configure, never a second implementation that
// drifts from the filter as its fields grow.
import { existsSync, readFileSync } from "node:fs";
import { shippedFile } from "../shippedFile.ts";
import { parse, parseAllDocuments } from "yaml";
import { parseEntitlementsText } from "../upstream/offlineFile/entitlementsFile.ts";
import { envoyConfigProblems, envoyObjects } from "./envoySchema.ts";
import { optionHelp, resolveOptions, stringOption, type ConfigFile, type OptionSpec } from "./options.ts";
import { controlPlaneClusters, parseSnippet, type SnippetPlugin } from "./snippetPlugins.ts";

export const VALIDATE_OPTIONS: readonly OptionSpec[] = [
  { flag: "--filter-config", env: "EG_FILTER_CONFIG", help: "JSON file: an entitlement_gate (or, with --root-id, entitlement_sync) plugin configuration.", repeatable: true },
  { flag: "--root-id", env: "EG_ROOT_ID", help: "Which plugin --filter-config configures: entitlement_gate or entitlement_sync.", defaultText: "entitlement_gate" },
  { flag: "--envoy-config", env: "EG_ENVOY_CONFIG", help: "An Envoy bootstrap, Istio WasmPlugin/EnvoyFilter or Kubernetes YAML: Envoy objects are checked against Envoy's API protos, and every entitlement-gate plugin by the filter.", repeatable: true },
  { flag: "--entitlements", env: "ENTITLEMENTS_FILE", help: "An entitlements file (YAML or JSON).", repeatable: true },
  { flag: "--wasm", env: "EG_WASM", help: "The filter module that judges filter configurations.", defaultText: "build/entitlement_gate.wasm" },
  { flag: "--json", help: "Print one JSON object: {valid, problems: [{file, path?, message}]}.", boolean: true },
];

export interface Problem {
  file: string;
  /** Where in the file: the plugin (`#0.spec.pluginConfig`) or the dotted entitlements path. */
  where?: string;
  line?: number;
  message: string;
}

/** `file:line: where: message`, the shape editors and CI annotations pick up. */
export function formatProblem(p: Problem): string {
  return `${p.file}${p.line !== undefined ? `:${p.line}` : ""}: ${p.where ? `${p.where}: ` : ""}${p.message}`;
}

export function validateHelp(): string {
  return [
    "entitlement-gate validate: check filter configurations and entitlements files before deploying them.",
    "",
    "Usage: entitlement-gate validate [--filter-config f.json] [--envoy-config envoy.yaml] [--entitlements e.yaml] [--json]",
    "",
    "Filter configurations are judged by the built filter (proxy_on_configure in our proxy-wasm host), so the",
    "message is exactly the one Envoy would log; the filter stops at the first problem of a configuration.",
    "Entitlements files report every problem (up to 20) with its path and line.",
    "",
    ...optionHelp(VALIDATE_OPTIONS),
    "  --config <file.yaml>  options under a `validate:` section",
    "",
    "Exit codes: 0 everything valid, 1 problems found (or a file cannot be read), 2 invalid options.",
  ].join("\n");
}

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : typeof value === "string" ? [value] : [];
}

interface PluginCheck {
  file: string;
  where: string;
  rootId: string;
  vmId: string;
  configuration: string;
}

/** Configures each plugin in a fresh host; returns the filter's own rejection lines. */
async function judgeWithFilter(wasmPath: string, checks: readonly PluginCheck[]): Promise<Problem[]> {
  const { EnvoyHost } = await import("../../test/host/index.ts");
  const wasm = new Uint8Array(readFileSync(wasmPath));
  const problems: Problem[] = [];
  for (const check of checks) {
    // Clusters point at a closed port: configure may open the sync stream, which simply fails.
    const clusters: Record<string, { host: string; port: number }> = {};
    for (const name of controlPlaneClusters(check.configuration)) clusters[name] = { host: "127.0.0.1", port: 9 };
    const host = new EnvoyHost({ clusters, logLevel: "warn" });
    try {
      let accepted: boolean;
      if (check.rootId === "entitlement_sync") {
        accepted = (await host.addSingletonService({ vmId: check.vmId, rootId: check.rootId, wasm, configuration: check.configuration })).configureResult;
      } else {
        accepted = (await host.addHttpFilter({ vmId: check.vmId, rootId: check.rootId, wasm, configuration: check.configuration, workers: 1 })).configureResults[0] === true;
      }
      if (!accepted) {
        const lines = host.logs().filter((l) => l.level >= 4).map((l) => l.message.replace(/^[a-z_]+: rejected configuration: /, ""));
        problems.push({ file: check.file, where: check.where, message: lines.join("; ") || `${check.rootId} rejected the configuration` });
      }
    } catch (err) {
      problems.push({ file: check.file, where: check.where, message: err instanceof Error ? err.message : String(err) });
    } finally {
      await host.close();
    }
  }
  return problems;
}

export async function runValidate(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, file?: ConfigFile): Promise<number> {
  const options = resolveOptions(VALIDATE_OPTIONS, argv, env, file, "validate");
  if (options.help) {
    process.stdout.write(validateHelp() + "\n");
    return 0;
  }
  const filterConfigs = list(options.values.get("--filter-config"));
  const envoyConfigs = list(options.values.get("--envoy-config"));
  // Bare file arguments: .json is a filter configuration, anything else an entitlements file.
  const entitlements = list(options.values.get("--entitlements"));
  for (const p of options.positionals) (p.endsWith(".json") ? filterConfigs : entitlements).push(p);
  const rootId = stringOption(options, "--root-id") ?? "entitlement_gate";
  if (!["entitlement_gate", "entitlement_sync"].includes(rootId)) options.errors.push(`--root-id: ${JSON.stringify(rootId)} is not entitlement_gate or entitlement_sync`);
  if (filterConfigs.length + envoyConfigs.length + entitlements.length === 0) options.errors.push("nothing to validate: give --filter-config, --envoy-config and/or --entitlements");
  if (options.errors.length > 0) {
    for (const e of options.errors) process.stderr.write(`entitlement-gate validate: ${e}\n`);
    return 2;
  }
  const json = options.values.get("--json") === true;
  const wasmPath = stringOption(options, "--wasm") ?? shippedFile("build/entitlement_gate.wasm");

  const problems: Problem[] = [];
  const checks: PluginCheck[] = [];
  let checked = 0;
  for (const path of filterConfigs) {
    try {
      checks.push({ file: path, where: "", rootId, vmId: "validate", configuration: readFileSync(path, "utf8") });
    } catch (err) {
      problems.push({ file: path, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
    }
  }
  for (const path of envoyConfigs) {
    let plugins: SnippetPlugin[];
    try {
      plugins = parseSnippet(path).plugins;
    } catch (err) {
      problems.push({ file: path, message: err instanceof Error ? err.message : String(err) });
      continue;
    }
    // Envoy's own schema first: a misspelt field makes Envoy reject the whole file.
    try {
      const documents = parseAllDocuments(readFileSync(path, "utf8")).map((d) => d.toJS() as unknown);
      for (const object of envoyObjects(documents, "", (text) => parse(text) as unknown)) {
        for (const problem of envoyConfigProblems(object.typeName, object.value, object.where || "bootstrap")) problems.push({ file: path, message: problem });
      }
    } catch (err) {
      problems.push({ file: path, message: `cannot check against Envoy's API: ${err instanceof Error ? err.message : String(err)}` });
    }
    const ours = plugins.filter((p) => p.rootId === "entitlement_gate" || p.rootId === "entitlement_sync");
    if (ours.length === 0) problems.push({ file: path, message: "declares no entitlement_gate or entitlement_sync plugin" });
    const vmIds = new Set(ours.map((p) => p.vmId));
    if (vmIds.size > 1) problems.push({ file: path, message: `the plugins use different vm_ids (${[...vmIds].map((v) => JSON.stringify(v)).join(", ")}); they share the cache only with the same one` });
    for (const p of ours) checks.push({ file: path, where: p.origin.slice(path.length), rootId: p.rootId, vmId: p.vmId, configuration: p.configuration });
  }
  if (checks.length > 0) {
    if (!existsSync(wasmPath)) {
      problems.push({ file: wasmPath, message: "the filter module is missing (npm run build:filter, or --wasm <path>)" });
    } else {
      try {
        problems.push(...(await judgeWithFilter(wasmPath, checks)));
        checked += checks.length;
      } catch (err) {
        problems.push({ file: wasmPath, message: `cannot run the filter to judge configurations: ${err instanceof Error ? err.message : String(err)}` });
      }
    }
  }
  for (const path of entitlements) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      problems.push({ file: path, message: `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}` });
      continue;
    }
    const result = parseEntitlementsText(text, { nowMs: Date.now() });
    checked++;
    if (!result.ok) {
      for (const issue of result.issues) {
        problems.push({ file: path, ...(issue.path ? { where: issue.path } : {}), ...(issue.line !== undefined ? { line: issue.line } : {}), message: issue.message });
      }
    }
  }
  if (json) process.stdout.write(JSON.stringify({ valid: problems.length === 0, checked, problems }) + "\n");
  else if (problems.length === 0) process.stdout.write(`valid: ${checked} checked\n`);
  else {
    for (const p of problems) process.stdout.write(formatProblem(p) + "\n");
    process.stdout.write(`${problems.length} problem${problems.length === 1 ? "" : "s"}\n`);
  }
  return problems.length === 0 ? 0 : 1;
}
