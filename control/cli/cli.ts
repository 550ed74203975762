// The `entitlement-gate` command: serve (default), check, validate, envoy-config. No side effects on
// import: control/cli/main.ts (the bin) and control/main.ts (npm start) call runCli.
import { readFileSync } from "node:fs";
import { shippedFile } from "../shippedFile.ts";
import { loadConfigFile, takeConfigFlag, type ConfigFile } from "./options.ts";

export const COMMANDS = ["serve", "check", "validate", "envoy-config"] as const;

export function version(): string {
  try {
    return (JSON.parse(readFileSync(shippedFile("package.json"), "utf8")) as { version?: string }).version ?? "unknown";
  } catch {
    return "unknown";
  }
}

export function mainHelp(): string {
  return [
    `entitlement-gate ${version()}: Stigg-compatible entitlement enforcement for Envoy.`,
    "",
    "Usage: entitlement-gate [command] [options]",
    "",
    "Commands:",
    "  serve         run the control plane (the default command)",
    "  check         ask a running control plane whether a customer may use a feature (exit 0 allowed, 3 denied)",
    "  validate      check a filter configuration, an Envoy/Istio file and/or an entitlements file",
    "  envoy-config  render a ready envoy.yaml (standalone Wasm or ext_authz)",
    "",
    "Options for every command:",
    "  --config <file.yaml>  settings file: top-level keys are settings (SYNC_PORT: 9100, or sync-port / syncPort),",
    "                        sections serve:, check:, validate:, envoy-config: hold a command's options by flag name",
    "  -h, --help            help for the command",
    "  -v, --version         print the version",
    "",
    "Precedence: flag > environment variable > --config file > default.",
    "Run `entitlement-gate <command> --help` for a command's options.",
  ].join("\n");
}

/** The names a setting or option may have in a config file: variable, flag without dashes, camelCase. */
function names(spec: { env?: string; flag: string; key?: string }): string[] {
  const flag = spec.flag.replace(/^--/, "");
  return [spec.env, flag, flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase()), spec.key].filter((n): n is string => typeof n === "string" && n !== "");
}

/** Keys of a config file that no command knows: a typo there must not be silently ignored. */
async function unknownConfigKeys(file: ConfigFile): Promise<string[]> {
  const [{ SETTINGS }, tables, { VALIDATE_OPTIONS }, { ENVOY_CONFIG_OPTIONS }] = await Promise.all([
    import("../config/settings.ts"),
    import("./optionTables.ts"),
    import("./validate.ts"),
    import("./envoyConfigCommand.ts"),
  ]);
  const perCommand: Record<string, Set<string>> = {
    serve: new Set([...SETTINGS, ...tables.SERVE_EXTRA_OPTIONS].flatMap(names)),
    check: new Set(tables.CHECK_OPTIONS.flatMap(names)),
    validate: new Set(VALIDATE_OPTIONS.flatMap(names)),
    "envoy-config": new Set(ENVOY_CONFIG_OPTIONS.flatMap(names)),
  };
  const everywhere = new Set(Object.values(perCommand).flatMap((set) => [...set]));
  const unknown = [...file.global.keys()].filter((k) => !everywhere.has(k));
  for (const [command, section] of file.sections) unknown.push(...[...section.keys()].filter((k) => !perCommand[command]?.has(k)).map((k) => `${command}.${k}`));
  return unknown;
}

/** Runs a command; resolves to the exit code, or undefined when the command keeps running (serve). */
export async function runCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): Promise<number | undefined> {
  const first = argv[0];
  if (first === "--version" || first === "-v" || first === "version") {
    process.stdout.write(version() + "\n");
    return 0;
  }
  if (first === "--help" || first === "-h" || first === "help") {
    process.stdout.write(mainHelp() + "\n");
    return 0;
  }
  const isCommand = first !== undefined && (COMMANDS as readonly string[]).includes(first);
  if (first !== undefined && !isCommand && !first.startsWith("-")) {
    process.stderr.write(`entitlement-gate: unknown command ${JSON.stringify(first)} (commands: ${COMMANDS.join(", ")})\n`);
    return 2;
  }
  const command = isCommand ? first : "serve";
  const taken = takeConfigFlag(isCommand ? argv.slice(1) : argv);
  if (taken.error) {
    process.stderr.write(`entitlement-gate: ${taken.error}\n`);
    return 2;
  }
  let file: ConfigFile | undefined;
  if (taken.path !== undefined) {
    const loaded = loadConfigFile(taken.path);
    if ("error" in loaded) {
      process.stderr.write(`entitlement-gate: ${loaded.error}\n`);
      return 2;
    }
    file = loaded.file;
    const unknown = await unknownConfigKeys(file);
    if (unknown.length > 0) {
      for (const key of unknown) process.stderr.write(`entitlement-gate: --config ${file.path}: ${key}: not a setting or option (see --help of the command)\n`);
      return 2;
    }
  }
  // Each command loads only its own modules: `envoy-config` and `check` start in a fraction of the
  // time the whole control plane takes to import.
  switch (command) {
    case "check":
      return (await import("./check.ts")).runCheck(taken.rest, env, file);
    case "validate":
      return (await import("./validate.ts")).runValidate(taken.rest, env, file);
    case "envoy-config":
      return (await import("./envoyConfigCommand.ts")).runEnvoyConfig(taken.rest, env, file);
    default:
      await (await import("./serve.ts")).runServe(taken.rest, env, file);
      return undefined;
  }
}

