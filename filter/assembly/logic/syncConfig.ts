// Configuration of the sync role (root_id `entitlement_sync`).
import { parseJsonBytes } from "./json";
import { ConfigErrors, ObjectFields } from "./configFields";

export class SyncConfig {
  cluster: string = "";
  nodeId: string = "envoy";
  reconnectMinMs: u32 = 250;
  reconnectMaxMs: u32 = 10000;
}

export class SyncConfigResult {
  constructor(public config: SyncConfig | null, public error: string) {}
}

const MAX_RECONNECT_MS: f64 = 3_600_000;

export function parseSyncConfig(bytes: ArrayBuffer): SyncConfigResult {
  const parsed = parseJsonBytes(bytes);
  const root = parsed.value;
  if (root === null) {
    return new SyncConfigResult(null, "configuration: invalid JSON at byte " + parsed.offset.toString() + ": " + parsed.error);
  }
  if (!root.isObject) return new SyncConfigResult(null, "configuration: must be a JSON object, got " + root.describe());
  const errors = new ConfigErrors();
  const fields = new ObjectFields(root, "", errors);
  const config = new SyncConfig();
  config.cluster = fields.string("cluster", "", true);
  if (!errors.failed && config.cluster.length == 0) errors.add("cluster", "must be a non-empty string");
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
    errors.add("reconnectMaxMs", "must be >= reconnectMinMs");
  }
  fields.rejectUnknown();
  if (errors.failed) return new SyncConfigResult(null, errors.message);
  return new SyncConfigResult(config, "");
}
