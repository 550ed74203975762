// Control-plane settings from environment variables and equivalent command-line flags (a flag wins
// over its variable). Validated once at start; every error names the variable or flag it came from.
import { isIP } from "node:net";
import { getHeapStatistics } from "node:v8";
import { parseEntitlementsFallback, type EntitlementsFallback } from "../evaluation/fallback.ts";
import { parseExtAuthzRules, type ExtAuthzRule } from "../api/extAuthzRules.ts";
import { LOG_LEVELS, type LogLevel } from "../log.ts";
import { shippedFile } from "../shippedFile.ts";
import { readableFile } from "./readableFile.ts";
import { LIMIT_SETTINGS, type LimitSettings } from "../limits/limitSettings.ts";
import { TRANSPORT_SECURITY_SETTINGS, transportSecurityErrors, type TransportSecuritySettings } from "../security/securitySettings.ts";

export const DEFAULT_ENTITLEMENTS_FILE = shippedFile("control/defaults/entitlements.yaml");

/** TLS, tokens and limits are declared next to their code (control/security, control/limits). */
export interface ControlPlaneSettings extends TransportSecuritySettings, LimitSettings {
  entitlementsFile: string;
  /** Stigg server API key; set (and not OFFLINE) = Stigg is the upstream instead of the file. */
  serverApiKey?: string;
  apiUrl: string;
  edgeEnabled: boolean;
  edgeApiUrl: string;
  wsEnabled: boolean;
  wsUrl: string;
  entitlementsFallback: EntitlementsFallback;
  /** Cap on the encoded bytes of cached entries (LRU). */
  cacheMaxSizeBytes: number;
  offline: boolean;
  missTimeoutMs: number;
  /** Silence on the Stigg event stream before a ping; then the pong wait before reconnecting. */
  eventStreamPingMs: number;
  eventStreamPongTimeoutMs: number;
  /** 0 = a last known value is never served when Stigg cannot be reached. */
  maxStalenessSeconds: number;
  edgeBudgetPerMinute: number;
  syncPort: number;
  /** Stigg Sidecar API, ext_authz, grpc.health.v1 and reflection (plaintext HTTP/2). */
  grpcPort: number;
  /** GRPC_FAST_PATH: hot unary check methods on raw HTTP/2 (control/api/fastPath); false = grpc-js only. */
  grpcFastPath: boolean;
  httpPort: number;
  /** Lower-cased request header carrying the customer id for ext_authz Check. */
  extAuthzCustomerHeader: string;
  extAuthzRules: ExtAuthzRule[];
  bindAddress: string;
  logLevel: LogLevel;
  healthEndpointUrl: string;
  readyEndpointUrl: string;
  syncHeartbeatMs: number;
  /** Set = a second cache level in Redis under this key prefix (control/cache/redis/README.md). */
  redisEnvironmentPrefix?: string;
  redisHost: string;
  redisPort: number;
  redisDb: number;
  redisUsername?: string;
  redisPassword?: string;
  redisTls: boolean;
  /** Negative = keys never expire. */
  redisKeysTtlSecs: number;
  redisTimeoutMs: number;
  /** Set = `Authorization: Bearer <token>` on /status.json also lists recently changed customer ids. */
  statusAdminToken?: string;
}

export type Parsed<T> = { value: T } | { error: string };

export interface SettingSpec<K extends keyof ControlPlaneSettings = keyof ControlPlaneSettings> {
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

function stiggBoolean(raw: string): Parsed<boolean> {
  const v = raw.trim().toLowerCase();
  if (v === "1" || v === "true") return { value: true };
  if (v === "0" || v === "false") return { value: false };
  return { error: `${JSON.stringify(raw)} is not a boolean (1, 0, true or false)` };
}

function wholeNumber(raw: string, min: number, max: number, unit: string): Parsed<number> {
  const n = /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (Number.isSafeInteger(n) && n >= min && n <= max) return { value: n };
  return { error: `${JSON.stringify(raw)} is not a whole number of ${unit} from ${min} to ${max}` };
}

function baseUrl(raw: string, protocols: readonly string[]): Parsed<string> {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { error: `${JSON.stringify(raw)} is not a URL` };
  }
  if (!protocols.includes(url.protocol)) return { error: `${JSON.stringify(raw)} must be a ${protocols.join(" or ").replaceAll(":", "")} URL` };
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "") {
    return { error: `${JSON.stringify(raw)} must not carry credentials, a query or a fragment` };
  }
  return { value: url.href.replace(/\/+$/, "") };
}

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
      return readableFile(raw);
    },
  }),
  // Stigg upstream: Stigg Sidecar's variable names and defaults (reference b.1), plus ours below.
  spec({
    key: "serverApiKey",
    env: "SERVER_API_KEY",
    flag: "--server-api-key",
    group: "Stigg upstream",
    help: "Stigg server API key. Set = entitlements come from Stigg (Edge + events); unset = the offline entitlements file. Never logged; prefer the variable.",
    defaultText: "unset (offline file)",
    defaultValue: undefined,
    parse(raw) {
      if (/^[\x21-\x7e]+$/.test(raw)) return { value: raw };
      return { error: "is not a usable API key (printable ASCII without spaces)" };
    },
  }),
  spec({
    key: "apiUrl",
    env: "API_URL",
    flag: "--api-url",
    group: "Stigg upstream",
    help: "Stigg API base; GraphQL (reloads, usage reports, reads with Edge disabled) is at {API_URL}/graphql.",
    defaultText: "https://api.stigg.io",
    defaultValue: "https://api.stigg.io",
    parse: (raw) => baseUrl(raw, ["http:", "https:"]),
  }),
  spec({
    key: "edgeEnabled",
    env: "EDGE_ENABLED",
    flag: "--edge-enabled",
    group: "Stigg upstream",
    help: "1 = cache misses read Stigg's Edge API; 0 = they read GraphQL GetEntitlementsState.",
    defaultText: "1",
    defaultValue: true,
    parse: stiggBoolean,
  }),
  spec({
    key: "edgeApiUrl",
    env: "EDGE_API_URL",
    flag: "--edge-api-url",
    group: "Stigg upstream",
    help: "Stigg Edge API base.",
    defaultText: "https://edge.api.stigg.io",
    defaultValue: "https://edge.api.stigg.io",
    parse: (raw) => baseUrl(raw, ["http:", "https:"]),
  }),
  spec({
    key: "wsEnabled",
    env: "WS_ENABLED",
    flag: "--ws-enabled",
    group: "Stigg upstream",
    help: "1 = subscribe to Stigg's real-time updates; 0 = cached values are re-fetched once older than 30 s.",
    defaultText: "1",
    defaultValue: true,
    parse: stiggBoolean,
  }),
  spec({
    key: "wsUrl",
    env: "WS_URL",
    flag: "--ws-url",
    group: "Stigg upstream",
    help: "Stigg WebSocket base; the event stream connects to {WS_URL}/graphql.",
    defaultText: "wss://api.stigg.io",
    defaultValue: "wss://api.stigg.io",
    parse: (raw) => baseUrl(raw, ["ws:", "wss:"]),
  }),
  spec({
    key: "entitlementsFallback",
    env: "ENTITLEMENTS_FALLBACK",
    flag: "--entitlements-fallback",
    group: "Stigg upstream",
    help: 'JSON object keyed by feature id: the answer when nothing usable is known, e.g. {"seats":{"hasAccess":true,"usageLimit":5}}.',
    defaultText: "none (deny with reason Unknown, is_fallback=true)",
    defaultValue: new Map(),
    parse(raw) {
      const parsed = parseEntitlementsFallback(raw);
      return parsed.ok ? { value: parsed.fallback } : { error: parsed.errors.join("; ") };
    },
  }),
  spec({
    key: "offline",
    env: "OFFLINE",
    flag: "--offline",
    group: "Stigg upstream",
    help: "1 = never call Stigg, even with SERVER_API_KEY set: serve the offline entitlements file.",
    defaultText: "0",
    defaultValue: false,
    parse: stiggBoolean,
  }),
  spec({
    key: "cacheMaxSizeBytes",
    env: "CACHE_MAX_SIZE_BYTES",
    flag: "--cache-max-size-bytes",
    group: "Stigg cache and resilience",
    help: "Cap on cached entries, counted as the encoded bytes the filters hold; least recently used entries are evicted (the filters drop them too). The default is 5% of the V8 heap limit because the control plane's own copy of an entry takes several times its encoded size.",
    defaultText: "5% of the V8 heap limit",
    defaultValue: Math.max(1024 * 1024, Math.floor(getHeapStatistics().heap_size_limit * 0.05)),
    parse: (raw) => wholeNumber(raw, 1024, Number.MAX_SAFE_INTEGER, "bytes"),
  }),
  spec({
    key: "missTimeoutMs",
    env: "MISS_TIMEOUT_MS",
    flag: "--miss-timeout-ms",
    group: "Stigg cache and resilience",
    help: "Bound for one read that misses the cache (Edge retries included); after it, the last known value or the fallback answers. Stigg waits 10 s.",
    defaultText: "1500",
    defaultValue: 1500,
    parse: (raw) => wholeNumber(raw, 10, 60_000, "milliseconds"),
  }),
  spec({
    key: "eventStreamPingMs",
    env: "EVENT_STREAM_PING_MS",
    flag: "--event-stream-ping-ms",
    group: "Stigg cache and resilience",
    help: "Silence on the Stigg event stream after which the control plane pings it. A stream that is open but silent hides changes for up to this plus EVENT_STREAM_PONG_TIMEOUT_MS; then it reconnects and re-reads what it holds.",
    defaultText: "10000",
    defaultValue: 10_000,
    parse: (raw) => wholeNumber(raw, 1_000, 300_000, "milliseconds"),
  }),
  spec({
    key: "eventStreamPongTimeoutMs",
    env: "EVENT_STREAM_PONG_TIMEOUT_MS",
    flag: "--event-stream-pong-timeout-ms",
    group: "Stigg cache and resilience",
    help: "How long a ping on the Stigg event stream may go unanswered before the stream counts as dead and reconnects.",
    defaultText: "5000",
    defaultValue: 5_000,
    parse: (raw) => wholeNumber(raw, 500, 60_000, "milliseconds"),
  }),
  spec({
    key: "maxStalenessSeconds",
    env: "MAX_STALENESS_SECONDS",
    flag: "--max-staleness-seconds",
    group: "Stigg cache and resilience",
    help: "How old a last known value may be and still be served while Stigg cannot be reached; 0 = never (fallbacks instead).",
    defaultText: "86400 (1 day)",
    defaultValue: 86_400,
    parse: (raw) => wholeNumber(raw, 0, 365 * 86_400, "seconds"),
  }),
  spec({
    key: "edgeBudgetPerMinute",
    env: "EDGE_BUDGET_PER_MINUTE",
    flag: "--edge-budget-per-minute",
    group: "Stigg cache and resilience",
    help: "Edge requests per minute this replica may send (Stigg allows 6,000 per API key across all replicas: divide it between them). Revalidation after a reconnect uses at most half.",
    defaultText: "6000",
    defaultValue: 6000,
    parse: (raw) => wholeNumber(raw, 1, 1_000_000, "requests per minute"),
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
    key: "grpcPort",
    env: "GRPC_PORT",
    flag: "--grpc-port",
    group: "Network",
    help: "Port of the public gRPC server: Stigg's SidecarService, Envoy ext_authz (envoy.service.auth.v3.Authorization), grpc.health.v1 and server reflection; plaintext HTTP/2 (Stigg's default port).",
    defaultText: "80",
    defaultValue: 80,
    parse: port,
  }),
  spec({
    key: "grpcFastPath",
    env: "GRPC_FAST_PATH",
    flag: "--grpc-fast-path",
    group: "Network",
    help: "1 = the hot unary check methods on GRPC_PORT (Sidecar Get*Entitlement, ext_authz Check) are answered on raw HTTP/2 with the same handlers, limits and statuses (control/api/fastPath; ~1.5x grpc-js's rate); 0 = @grpc/grpc-js answers every call.",
    defaultText: "1",
    defaultValue: true,
    parse: stiggBoolean,
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
    key: "extAuthzCustomerHeader",
    env: "EXT_AUTHZ_CUSTOMER_HEADER",
    flag: "--ext-authz-customer-header",
    group: "ext_authz",
    help: "Request header (as Envoy forwards it in the CheckRequest) carrying the Stigg customer id.",
    defaultText: "x-customer-id",
    defaultValue: "x-customer-id",
    parse(raw) {
      const name = raw.trim().toLowerCase();
      if (/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) return { value: name };
      return { error: `${JSON.stringify(raw)} is not an HTTP header name` };
    },
  }),
  spec({
    key: "extAuthzRules",
    env: "EXT_AUTHZ_RULES",
    flag: "--ext-authz-rules",
    group: "ext_authz",
    help: 'JSON path-prefix rules, the filter\'s shape: [{"pathPrefix":"/api/reports","feature":"reports","requestedUsage":1}]. A route\'s context_extensions entitlement_feature wins; no feature = allow.',
    defaultText: "[] (only context_extensions)",
    defaultValue: [],
    parse(raw) {
      const parsed = parseExtAuthzRules(raw, "");
      if (parsed.ok) return { value: parsed.rules };
      return { error: parsed.errors.map((e) => e.replace(/^: /, "")).join("; ") };
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
  // Redis second-level cache: Stigg Sidecar's variable names and defaults (reference b.1), plus REDIS_TIMEOUT_MS.
  spec({
    key: "redisEnvironmentPrefix",
    env: "REDIS_ENVIRONMENT_PREFIX",
    flag: "--redis-environment-prefix",
    group: "Redis cache",
    help: "Key prefix; setting it turns on the Redis second-level cache (shared by replicas, survives restarts).",
    defaultText: "unset (no Redis)",
    defaultValue: undefined,
    parse(raw) {
      if (raw.length > 256 || /[\s\u0000-\u001f\u007f*?[\]\\]/.test(raw)) {
        return { error: `${JSON.stringify(raw)} is not a key prefix (at most 256 characters, no spaces, control characters or * ? [ ] \\)` };
      }
      return { value: raw };
    },
  }),
  spec({
    key: "redisHost",
    env: "REDIS_HOST",
    flag: "--redis-host",
    group: "Redis cache",
    help: "Redis server host.",
    defaultText: "localhost",
    defaultValue: "localhost",
    parse(raw) {
      if (isIP(raw) !== 0 || HOSTNAME.test(raw)) return { value: raw };
      return { error: `${JSON.stringify(raw)} is not an IP address or host name` };
    },
  }),
  spec({
    key: "redisPort",
    env: "REDIS_PORT",
    flag: "--redis-port",
    group: "Redis cache",
    help: "Redis server port.",
    defaultText: "6379",
    defaultValue: 6379,
    parse(raw) {
      const parsed = port(raw);
      return "value" in parsed && parsed.value === 0 ? { error: `${JSON.stringify(raw)} is not a port number (1-65535)` } : parsed;
    },
  }),
  spec({
    key: "redisDb",
    env: "REDIS_DB",
    flag: "--redis-db",
    group: "Redis cache",
    help: "Redis database number.",
    defaultText: "0",
    defaultValue: 0,
    parse(raw) {
      const n = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (Number.isInteger(n)) return { value: n };
      return { error: `${JSON.stringify(raw)} is not a database number (a whole number from 0)` };
    },
  }),
  spec({
    key: "redisUsername",
    env: "REDIS_USERNAME",
    flag: "--redis-username",
    group: "Redis cache",
    help: "Redis ACL user (Redis 6 and later).",
    defaultText: "unset (the default user)",
    defaultValue: undefined,
    parse: (raw) => ({ value: raw }),
  }),
  spec({
    key: "redisPassword",
    env: "REDIS_PASSWORD",
    flag: "--redis-password",
    group: "Redis cache",
    help: "Redis password; never logged. Prefer the variable: a flag is visible in the process list.",
    defaultText: "unset",
    defaultValue: undefined,
    parse: (raw) => ({ value: raw }),
  }),
  spec({
    key: "redisTls",
    env: "REDIS_TLS",
    flag: "--redis-tls",
    group: "Redis cache",
    help: "1 = connect to Redis over TLS (server certificate checked against the system CAs and NODE_EXTRA_CA_CERTS).",
    defaultText: "0",
    defaultValue: false,
    parse: stiggBoolean,
  }),
  spec({
    key: "redisKeysTtlSecs",
    env: "REDIS_KEYS_TTL_IN_SECS",
    flag: "--redis-keys-ttl-in-secs",
    group: "Redis cache",
    help: "Lifetime of a cached entry in Redis; a negative number (e.g. -1) = never expires.",
    defaultText: "604800 (7 days)",
    defaultValue: 604_800,
    parse(raw) {
      const n = /^-?\d{1,10}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
      if (Number.isInteger(n) && n !== 0) return { value: n };
      return { error: `${JSON.stringify(raw)} is not a number of seconds (a positive whole number, or negative for no expiry)` };
    },
  }),
  spec({
    key: "redisTimeoutMs",
    env: "REDIS_TIMEOUT_MS",
    flag: "--redis-timeout-ms",
    group: "Redis cache",
    help: "A Redis read slower than this counts as a miss (the read goes on to Edge); keep it well under Edge latency.",
    defaultText: "50",
    defaultValue: 50,
    parse: (raw) => wholeNumber(raw, 1, 60_000, "milliseconds"),
  }),
  spec({
    key: "statusAdminToken",
    env: "STATUS_ADMIN_TOKEN",
    flag: "--status-admin-token",
    group: "Status page",
    help: "Bearer token for the status page's admin view (recently changed customer ids on /status.json), also required on every HTTP route under /admin/ (closed while unset). Never logged; prefer the variable.",
    defaultText: "unset (no customer data on the status page)",
    defaultValue: undefined,
    parse(raw) {
      if (/^[\x21-\x7e]{16,}$/.test(raw)) return { value: raw };
      return { error: "is not a usable token (at least 16 printable ASCII characters, no spaces)" };
    },
  }),
  ...TRANSPORT_SECURITY_SETTINGS,
  ...LIMIT_SETTINGS,
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
  if (errors.length === 0 && result.grpcPort !== 0 && (result.grpcPort === result.syncPort || result.grpcPort === result.httpPort)) {
    errors.push(`GRPC_PORT: ${result.grpcPort} is also ${result.grpcPort === result.syncPort ? "SYNC_PORT" : "HTTP_PORT"}; every server needs its own port`);
  }
  if (errors.length === 0 && result.syncPort !== 0 && result.syncPort === result.httpPort) {
    errors.push(`HTTP_PORT: ${result.httpPort} is also SYNC_PORT; the gRPC and HTTP servers need different ports`);
  }
  if (errors.length === 0) errors.push(...transportSecurityErrors(result));
  return errors.length > 0 ? { kind: "invalid", errors } : { kind: "run", settings: result };
}
