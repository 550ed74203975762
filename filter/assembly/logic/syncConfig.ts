// Configuration of the sync role: the `entitlement_sync` plugin's whole configuration, or the `sync`
// section of `entitlement_gate` (worker VMs electing one holder through a lease).
import { JsonValue, parseJsonBytes } from "./json";
import { ConfigErrors, ObjectFields, fieldPath } from "./configFields";
import { NO_METADATA, readAuthToken } from "./bearerMetadata";

export class SyncConfig {
  cluster: string = "";
  nodeId: string = "envoy";
  reconnectMinMs: u32 = 250;
  reconnectMaxMs: u32 = 10000;
  /** How long usage increments wait before a ReportUsage call. */
  usageFlushMs: u32 = 100;
  /** A batch this large is sent at once. */
  usageBatchSize: u32 = 500;
  /** Lease only: how long a holder's claim lasts without renewal. */
  leaseTtlMs: u32 = 3000;
  /**
   * Initial metadata of every Subscribe and ReportUsage: `authorization: Bearer <authToken>` serialized
   * once here, or empty without a token. The token is kept nowhere else.
   */
  grpcMetadata: ArrayBuffer = NO_METADATA;

  get hasAuthToken(): bool { return this.grpcMetadata.byteLength > 0; }
}

export class SyncConfigResult {
  constructor(public config: SyncConfig | null, public error: string) {}
}

const MAX_RECONNECT_MS: f64 = 3_600_000;

/** Reads a sync configuration object; `withLease` accepts `leaseTtlMs` (the gate's `sync` section). */
export function readSyncConfig(root: JsonValue, path: string, withLease: bool, errors: ConfigErrors): SyncConfig {
  const config = new SyncConfig();
  if (!root.isObject) {
    errors.add(path.length == 0 ? "configuration" : path, "must be a JSON object, got " + root.describe());
    return config;
  }
  const fields = new ObjectFields(root, path, errors);
  config.cluster = fields.string("cluster", "", true);
  if (!errors.failed && config.cluster.length == 0) errors.add(fieldPath(path, "cluster"), "must be a non-empty string");
  config.nodeId = fields.string("nodeId", config.nodeId);
  config.reconnectMinMs = <u32>fields.number(
    "reconnectMinMs", <f64>config.reconnectMinMs, 1, MAX_RECONNECT_MS, true, "must be an integer from 1 to 3600000");
  config.reconnectMaxMs = <u32>fields.number(
    "reconnectMaxMs", <f64>config.reconnectMaxMs, 1, MAX_RECONNECT_MS, true, "must be an integer from 1 to 3600000");
  // An explicit minimum above the default maximum raises the maximum rather than failing.
  if (root.get("reconnectMaxMs") === null && config.reconnectMaxMs < config.reconnectMinMs) {
    config.reconnectMaxMs = config.reconnectMinMs;
  }
  if (!errors.failed && config.reconnectMaxMs < config.reconnectMinMs) {
    errors.add(fieldPath(path, "reconnectMaxMs"), "must be >= reconnectMinMs");
  }
  config.usageFlushMs = <u32>fields.number("usageFlushMs", <f64>config.usageFlushMs, 1, 60000, true, "must be an integer from 1 to 60000");
  config.usageBatchSize = <u32>fields.number("usageBatchSize", <f64>config.usageBatchSize, 1, 100000, true, "must be an integer from 1 to 100000");
  const metadata = readAuthToken(fields, path, errors);
  if (metadata !== null) config.grpcMetadata = metadata;
  if (withLease) {
    config.leaseTtlMs = <u32>fields.number("leaseTtlMs", <f64>config.leaseTtlMs, 300, 600000, true, "must be an integer from 300 to 600000");
  }
  fields.rejectUnknown();
  return config;
}

export function parseSyncConfig(bytes: ArrayBuffer): SyncConfigResult {
  const parsed = parseJsonBytes(bytes);
  const root = parsed.value;
  if (root === null) {
    return new SyncConfigResult(null, "configuration: invalid JSON at byte " + parsed.offset.toString() + ": " + parsed.error);
  }
  if (!root.isObject) return new SyncConfigResult(null, "configuration: must be a JSON object, got " + root.describe());
  const errors = new ConfigErrors();
  const config = readSyncConfig(root, "", false, errors);
  if (errors.failed) return new SyncConfigResult(null, errors.message);
  return new SyncConfigResult(config, "");
}
