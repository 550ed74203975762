// Configuration of the HTTP filter (root_id `entitlement_gate`), from the plugin configuration JSON.
// Each section has its own reader so later fields (methods, hosts, JWT claims, shadow mode, ...) slot in
// without touching the others.
import { JsonValue, parseJsonBytes } from "./json";
import { ConfigErrors, ObjectFields, fieldPath, indexPath } from "./configFields";
import { GateRule } from "./rules";

export const DEFAULT_CUSTOMER_HEADER = "x-customer-id";

export class GateConfig {
  customerHeader: string = DEFAULT_CUSTOMER_HEADER;
  customerHeaderBytes: ArrayBuffer = String.UTF8.encode(DEFAULT_CUSTOMER_HEADER);
  rules: GateRule[] = [];
}

export class GateConfigResult {
  constructor(public config: GateConfig | null, public error: string) {}
}

/** RFC 9110 token characters, the only ones a header name may use. */
function isHeaderName(name: string): bool {
  if (name.length == 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
      c == 0x21 || c == 0x23 || c == 0x24 || c == 0x25 || c == 0x26 || c == 0x27 || c == 0x2a || c == 0x2b ||
      c == 0x2d || c == 0x2e || c == 0x5e || c == 0x5f || c == 0x60 || c == 0x7c || c == 0x7e;
    if (!ok) return false;
  }
  return true;
}

function readRule(value: JsonValue, path: string, errors: ConfigErrors): GateRule | null {
  if (!value.isObject) {
    errors.add(path, "must be an object, got " + value.describe());
    return null;
  }
  const fields = new ObjectFields(value, path, errors);
  const rule = new GateRule();
  const prefix = fields.take("pathPrefix");
  if (prefix === null) errors.add(fieldPath(path, "pathPrefix"), "required");
  else if (!prefix.isString || !prefix.text.startsWith("/")) {
    errors.add(fieldPath(path, "pathPrefix"), "must be a string starting with \"/\"");
  } else {
    rule.pathPrefix = prefix.text;
    rule.pathPrefixBytes = String.UTF8.encode(prefix.text);
  }
  const feature = fields.take("feature");
  if (feature === null) errors.add(fieldPath(path, "feature"), "required");
  else if (!feature.isString || feature.text.length == 0) {
    errors.add(fieldPath(path, "feature"), "must be a non-empty string");
  } else {
    rule.feature = feature.text;
    rule.featureBytes = String.UTF8.encode(feature.text);
  }
  rule.requestedUsage = fields.number("requestedUsage", 0, 0, Infinity, false, "must be a number >= 0");
  fields.rejectUnknown();
  return errors.failed ? null : rule;
}

export function parseGateConfig(bytes: ArrayBuffer): GateConfigResult {
  const parsed = parseJsonBytes(bytes);
  const root = parsed.value;
  if (root === null) {
    return new GateConfigResult(null, "configuration: invalid JSON at byte " + parsed.offset.toString() + ": " + parsed.error);
  }
  if (!root.isObject) return new GateConfigResult(null, "configuration: must be a JSON object, got " + root.describe());
  const errors = new ConfigErrors();
  const fields = new ObjectFields(root, "", errors);
  const config = new GateConfig();

  const header = fields.take("customerHeader");
  if (header !== null) {
    if (!header.isString || !isHeaderName(header.text)) {
      errors.add("customerHeader", "must be a header name (letters, digits and !#$%&'*+-.^_`|~)");
    } else if (header.text.toLowerCase().startsWith("x-entitlement-")) {
      // Client-supplied x-entitlement-* headers are stripped before the customer id is read.
      errors.add("customerHeader", "must not start with \"x-entitlement-\" (the filter strips those from requests)");
    } else {
      config.customerHeader = header.text.toLowerCase();
      config.customerHeaderBytes = String.UTF8.encode(config.customerHeader);
    }
  }

  const rules = fields.take("rules");
  if (rules === null) errors.add("rules", "required");
  else if (!rules.isArray) errors.add("rules", "must be an array, got " + rules.describe());
  else {
    for (let i = 0; i < rules.items.length && !errors.failed; i++) {
      const rule = readRule(unchecked(rules.items[i]), indexPath("rules", i), errors);
      if (rule !== null) config.rules.push(rule);
    }
  }
  fields.rejectUnknown();
  if (errors.failed) return new GateConfigResult(null, errors.message);
  return new GateConfigResult(config, "");
}
