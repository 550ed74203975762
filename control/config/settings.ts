// Control-plane settings from environment variables and equivalent command-line flags (a flag wins
// over its variable). Validated once at start; every error names the variable or flag it came from.
import { accessSync, constants } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import { shippedFile } from "../shippedFile.ts";

export const DEFAULT_ENTITLEMENTS_FILE = shippedFile("control/defaults/entitlements.yaml");

export interface ControlPlaneSettings {
  entitlementsFile: string;
  syncPort: number;
  httpPort: number;
  bindAddress: string;
  logLevel: LogLevel;
  healthEndpointUrl: string;
  readyEndpointUrl: string;
  syncHeartbeatMs: number;
}

type Parsed<T> = { value: T } | { error: string };

interface SettingSpec<K extends keyof ControlPlaneSettings = keyof ControlPlaneSettings> {
  key: K;
  env: string;
  flag: string;
  group: string;
  help: string;
  defaultText: string;
  defaultValue: ControlPlaneSettings[K];
  parse(raw: string): Parsed<ControlPlaneSettings[K]>;
}

function port(raw: string): Parsed<number> {
  const n = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (Number.isInteger(n) && n >= 0 && n <= 65535) return { value: n };
  return { error: `${JSON.stringify(raw)} is not a port number (1-65535, or 0 for any free port)` };
}

function urlPath(raw: string): Parsed<string> {
  if (/^\/[^\s?#]*$/.test(raw)) return { value: raw };
  return { error: `${JSON.stringify(raw)} is not a URL path (it must start with / and have no spaces, query or fragment)` };
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

function spec<K extends keyof ControlPlaneSettings>(s: SettingSpec<K>): SettingSpec<K> {
  return s;
}

export const SETTINGS: readonly SettingSpec[] = [
  spec({
    key: "entitlementsFile",
    env: "ENTITLEMENTS_FILE",
    flag: "--entitlements-file",
    group: "Source",
    help: "YAML or JSON entitlements file, watched for changes (format: control/upstream/offlineFile/README.md).",
    defaultText: "the embedded demo catalogue (control/defaults/entitlements.yaml)",
    defaultValue: DEFAULT_ENTITLEMENTS_FILE,
    parse(raw) {
      if (raw.trim() === "") return { error: "must not be empty" };
      const path = resolve(raw);
      try {
        accessSync(path, constants.R_OK);
      } catch (err) {
        return { error: `${JSON.stringify(raw)} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
      }
      return { value: path };
    },
  }),
  spec({
    key: "syncPort",
    env: "SYNC_PORT",
    flag: "--sync-port",
    group: "Network",
    help: "Port of the gRPC server (FilterSync API) for the Envoy filters.",
    defaultText: "9000",
    defaultValue: 9000,
    parse: port,
  }),
  spec({
    key: "httpPort",
    env: "HTTP_PORT",
    flag: "--http-port",
    group: "Network",
    help: "Port of the HTTP server (liveness and readiness).",
    defaultText: "8080",
    defaultValue: 8080,
    parse: port,
  }),
  spec({
    key: "bindAddress",
    env: "BIND_ADDRESS",
    flag: "--bind-address",
    group: "Network",
    help: "Address both servers listen on (0.0.0.0 = every IPv4 interface, :: = every interface).",
    defaultText: "0.0.0.0",
    defaultValue: "0.0.0.0",
    parse(raw) {
      if (isIP(raw) !== 0 || HOSTNAME.test(raw)) return { value: raw };
      return { error: `${JSON.stringify(raw)} is not an IP address or host name` };
    },
  }),
  spec({
    key: "logLevel",
    env: "LOG_LEVEL",
    flag: "--log-level",
    group: "Logging",
    help: "Least severe level written (JSON lines on stdout).",
    defaultText: "info",
    defaultValue: "info",
    parse(raw) {
      const level = raw.trim().toLowerCase();
      if ((LOG_LEVELS as readonly string[]).includes(level)) return { value: level as LogLevel };
      return { error: `${JSON.stringify(raw)} is not a log level (${LOG_LEVELS.join(", ")})` };
    },
  }),
  spec({
    key: "healthEndpointUrl",
    env: "HEALTH_ENDPOINT_URL",
    flag: "--health-endpoint-url",
    group: "Health",
    help: 'Liveness path: 200 {"status":"UP"} while the process runs.',
    defaultText: "/livez",
    defaultValue: "/livez",
    parse: urlPath,
  }),
  spec({
    key: "readyEndpointUrl",
    env: "READY_ENDPOINT_URL",
    flag: "--ready-endpoint-url",
    group: "Health",
    help: 'Readiness path: 200 {"status":"UP"} once entitlements are loaded and the gRPC server listens, else 503.',
    defaultText: "/readyz",
    defaultValue: "/readyz",
    parse: urlPath,
  }),
  spec({
    key: "syncHeartbeatMs",
    env: "SYNC_HEARTBEAT_MS",
    flag: "--sync-heartbeat-ms",
    group: "Sync",
    help: "A HEARTBEAT is sent on a Subscribe stream that carried nothing else for this long (filters treat 3x as a dead stream).",
    defaultText: "5000",
    defaultValue: 5000,
    parse(raw) {
      const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (Number.isInteger(n) && n >= 10 && n <= 3_600_000) return { value: n };
      return { error: `${JSON.stringify(raw)} is not a whole number of milliseconds from 10 to 3600000` };
    },
  }),
];

export type SettingsResult =
  | { kind: "run"; settings: ControlPlaneSettings }
  | { kind: "help"; text: string }
  | { kind: "invalid"; errors: string[] };

export function defaultSettings(): ControlPlaneSettings {
  const out: Partial<Record<keyof ControlPlaneSettings, unknown>> = {};
  for (const s of SETTINGS) out[s.key] = s.defaultValue;
  return out as ControlPlaneSettings;
}

export function helpText(): string {
  const lines = [
    "entitlement-gate control plane: pushes entitlements to the Envoy filters over gRPC.",
    "",
    "Usage: npm start -- [options]      (node --import tsx control/main.ts [options])",
    "",
    "Every option can also be set by its environment variable; a command-line flag wins.",
  ];
  let group = "";
  for (const s of SETTINGS) {
    if (s.group !== group) {
      group = s.group;
      lines.push("", `${group}:`);
    }
    lines.push(`  ${s.flag} <value>  (env ${s.env})`, `      ${s.help}`, `      default: ${s.defaultText}`);
  }
  lines.push("", "  -h, --help  print this text and exit", "", "Exit codes: 0 clean shutdown, 1 runtime failure, 2 invalid settings.");
  return lines.join("\n");
}

/** Reads settings from `env` and `argv` (the arguments after the script name). */
export function parseSettings(env: Readonly<Record<string, string | undefined>>, argv: readonly string[]): SettingsResult {
  const errors: string[] = [];
  const fromFlags = new Map<string, string>();
  const byFlag = new Map(SETTINGS.map((s) => [s.flag, s]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") return { kind: "help", text: helpText() };
    const eq = arg.indexOf("=");
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const s = byFlag.get(flag);
    if (!s) {
      errors.push(`${JSON.stringify(arg)}: unknown option (see --help)`);
      continue;
    }
    let value: string | undefined = eq > 0 ? arg.slice(eq + 1) : argv[i + 1];
    if (eq < 0) {
      if (value === undefined || value.startsWith("--")) {
        errors.push(`${flag}: needs a value`);
        continue;
      }
      i++;
    }
    fromFlags.set(s.flag, value ?? "");
  }

  const settings = defaultSettings() as unknown as Record<string, unknown>;
  for (const s of SETTINGS) {
    const flagValue = fromFlags.get(s.flag);
    const envValue = env[s.env];
    const [name, raw] = flagValue !== undefined ? [s.flag, flagValue] : [s.env, envValue];
    // An empty variable means "not set", as in most container tooling.
    if (raw === undefined || (raw === "" && name === s.env)) continue;
    const parsed = s.parse(raw);
    if ("error" in parsed) errors.push(`${name}: ${parsed.error}`);
    else settings[s.key] = parsed.value;
  }
  const result = settings as unknown as ControlPlaneSettings;
  if (errors.length === 0 && result.healthEndpointUrl === result.readyEndpointUrl) {
    errors.push(`READY_ENDPOINT_URL: ${JSON.stringify(result.readyEndpointUrl)} is also the liveness path; they must differ`);
  }
  if (errors.length === 0 && result.syncPort !== 0 && result.syncPort === result.httpPort) {
    errors.push(`HTTP_PORT: ${result.httpPort} is also SYNC_PORT; the gRPC and HTTP servers need different ports`);
  }
  return errors.length > 0 ? { kind: "invalid", errors } : { kind: "run", settings: result };
}
