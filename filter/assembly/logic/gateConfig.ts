// Configuration of the HTTP filter (root_id `entitlement_gate`), from the plugin configuration JSON.
// Each section has its own reader; every error names the field by its path.
import { JsonValue, parseJsonBytes } from "./json";
import { ConfigErrors, ObjectFields, fieldPath, indexPath } from "./configFields";
import { GateRule, PathMatch, patternProblem } from "./rules";
import { DenyResponse, DenyResponseSpec, RESPONSE_SLOTS, reasonSlot, resolveDenyResponses } from "./denyResponses";
import { FallbackTable, readFallbackTable } from "./fallbackTable";
import { SyncConfig, readSyncConfig } from "./syncConfig";
import { reasonByName } from "./reasons";
import { NO_METADATA, readAuthToken } from "./bearerMetadata";
import { HeaderPair } from "../binding/headerMapCodec";

export const DEFAULT_CUSTOMER_HEADER = "x-customer-id";
const STRIPPED_PREFIX = "x-entitlement-";

/** Where an id comes from: a plain header, or a claim of a base64url JWT payload in a header. */
export class IdSource {
  header: string = DEFAULT_CUSTOMER_HEADER;
  headerBytes: ArrayBuffer = String.UTF8.encode(DEFAULT_CUSTOMER_HEADER);
  /** null: the header value is the id. */
  claimPath: string[] | null = null;
  claim: string = "";

  describe(): string {
    return this.claimPath === null ? "header " + this.header : "claim " + this.claim + " of header " + this.header;
  }
}

export namespace InjectHeader {
  export const DECISION: u32 = 1;
  export const CUSTOMER: u32 = 2;
  export const FEATURE: u32 = 4;
  export const REMAINING: u32 = 8;
  export const FALLBACK: u32 = 16;
}
const INJECT_NAMES: StaticArray<string> = [
  "x-entitlement-decision", "x-entitlement-customer", "x-entitlement-feature", "x-entitlement-remaining", "x-entitlement-fallback",
];

export class GateConfig {
  customer: IdSource = new IdSource();
  resource: IdSource | null = null;
  rules: GateRule[] = [];
  /** Indexed by reasonSlot(). */
  denyResponses: DenyResponse[] = resolveDenyResponses(new Array<DenyResponseSpec | null>(RESPONSE_SLOTS), null);
  inject: u32 = InjectHeader.DECISION;
  /** Lower-case header names removed from every request, besides x-entitlement-*. */
  stripHeaders: ArrayBuffer[] = [];
  allowMissingCustomer: bool = false;
  fetchOnMiss: bool = true;
  missTimeoutMs: u32 = 200;
  missCluster: string = "control_plane";
  /**
   * Initial metadata of every FetchCustomer call: `onMiss.authToken`, else `sync.authToken`, serialized
   * once at configure time; empty without a token.
   */
  missMetadata: ArrayBuffer = NO_METADATA;
  /** `onMiss.authToken` was given (it then wins over `sync.authToken`). */
  missTokenGiven: bool = false;
  maxStaleSeconds: f64 = 0;
  fallback: FallbackTable = new FallbackTable();
  shadow: bool = false;
  remainingResponseHeader: bool = false;
  sync: SyncConfig | null = null;

  // Kept for callers of the original single-header configuration.
  get customerHeader(): string { return this.customer.header; }
  get customerHeaderBytes(): ArrayBuffer { return this.customer.headerBytes; }

  denyResponse(reason: i32): DenyResponse { return unchecked(this.denyResponses[reasonSlot(reason)]); }
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

/** A request header the filter reads an id from; null (with an error) when unusable. */
function readIdHeader(value: JsonValue | null, path: string, errors: ConfigErrors): string | null {
  if (value === null) { errors.add(path, "required"); return null; }
  if (!value.isString || !isHeaderName(value.text)) {
    errors.add(path, "must be a header name (letters, digits and !#$%&'*+-.^_`|~)");
    return null;
  }
  const name = value.text.toLowerCase();
  if (name.startsWith(STRIPPED_PREFIX)) {
    // Client-supplied x-entitlement-* headers are stripped before any id is read.
    errors.add(path, "must not start with \"x-entitlement-\" (the filter strips those from requests)");
    return null;
  }
  return name;
}

function readIdSource(value: JsonValue, path: string, errors: ConfigErrors): IdSource | null {
  if (!value.isObject) {
    errors.add(path, "must be {\"header\": name} or {\"jwtPayloadHeader\": name, \"claim\": path}, got " + value.describe());
    return null;
  }
  const fields = new ObjectFields(value, path, errors);
  const source = new IdSource();
  const header = fields.take("header");
  const jwtHeader = fields.take("jwtPayloadHeader");
  const claim = fields.take("claim");
  if (header !== null && jwtHeader !== null) {
    errors.add(path, "give either \"header\" or \"jwtPayloadHeader\", not both");
    return null;
  }
  if (jwtHeader !== null) {
    const name = readIdHeader(jwtHeader, fieldPath(path, "jwtPayloadHeader"), errors);
    if (name === null) return null;
    source.header = name;
    if (claim === null) { errors.add(fieldPath(path, "claim"), "required with jwtPayloadHeader"); return null; }
    if (!claim.isString || claim.text.length == 0) { errors.add(fieldPath(path, "claim"), "must be a non-empty dot path"); return null; }
    const parts = claim.text.split(".");
    for (let i = 0; i < parts.length; i++) {
      if (unchecked(parts[i]).length == 0) { errors.add(fieldPath(path, "claim"), "must not have empty segments"); return null; }
    }
    source.claimPath = parts;
    source.claim = claim.text;
  } else {
    if (claim !== null) { errors.add(fieldPath(path, "claim"), "only with jwtPayloadHeader"); return null; }
    const name = readIdHeader(header, fieldPath(path, "header"), errors);
    if (name === null) return null;
    source.header = name;
  }
  source.headerBytes = String.UTF8.encode(source.header);
  fields.rejectUnknown();
  return errors.failed ? null : source;
}

function readRule(value: JsonValue, path: string, errors: ConfigErrors): GateRule | null {
  if (!value.isObject) {
    errors.add(path, "must be an object, got " + value.describe());
    return null;
  }
  const fields = new ObjectFields(value, path, errors);
  const rule = new GateRule();
  const prefix = fields.take("pathPrefix");
  const exact = fields.take("path");
  const pattern = fields.take("pathPattern");
  const given = (prefix !== null ? 1 : 0) + (exact !== null ? 1 : 0) + (pattern !== null ? 1 : 0);
  if (given == 0) errors.add(fieldPath(path, "pathPrefix"), "required (or path, or pathPattern)");
  else if (given > 1) errors.add(path, "give exactly one of pathPrefix, path, pathPattern");
  else {
    let key = "pathPrefix";
    let chosen = prefix;
    if (exact !== null) { key = "path"; chosen = exact; rule.pathMatch = PathMatch.EXACT; }
    if (pattern !== null) { key = "pathPattern"; chosen = pattern; rule.pathMatch = PathMatch.PATTERN; }
    const text = chosen!;
    if (!text.isString || !text.text.startsWith("/")) {
      errors.add(fieldPath(path, key), "must be a string starting with \"/\"");
    } else {
      if (rule.pathMatch == PathMatch.PATTERN) {
        const problem = patternProblem(text.text);
        if (problem !== null) errors.add(fieldPath(path, key), problem);
      }
      rule.pathPrefix = text.text;
      rule.pathPrefixBytes = String.UTF8.encode(text.text);
    }
  }
  const methods = fields.take("methods");
  if (methods !== null) {
    if (!methods.isArray || methods.items.length == 0) errors.add(fieldPath(path, "methods"), "must be a non-empty array of method names");
    else {
      for (let i = 0; i < methods.items.length; i++) {
        const m = unchecked(methods.items[i]);
        if (!m.isString || !isHeaderName(m.text)) { errors.add(indexPath(fieldPath(path, "methods"), i), "must be a method name"); break; }
        rule.methods.push(String.UTF8.encode(m.text.toUpperCase()));
      }
    }
  }
  const host = fields.take("host");
  if (host !== null) {
    if (!host.isString || host.text.length == 0 || host.text == "*." || (host.text.includes("*") && !host.text.startsWith("*."))) {
      errors.add(fieldPath(path, "host"), "must be a host name, or \"*.\" followed by a domain suffix");
    } else if (host.text.startsWith("*.")) {
      rule.hostSuffix = true;
      rule.hostBytes = String.UTF8.encode(host.text.substring(1).toLowerCase());
    } else {
      rule.hostBytes = String.UTF8.encode(host.text.toLowerCase());
    }
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

function readDenyResponse(value: JsonValue, path: string, errors: ConfigErrors): DenyResponseSpec | null {
  if (!value.isObject) { errors.add(path, "must be an object {status?, body?, headers?}, got " + value.describe()); return null; }
  const fields = new ObjectFields(value, path, errors);
  const spec = new DenyResponseSpec();
  spec.status = <u32>fields.number("status", 0, 200, 599, true, "must be an integer from 200 to 599");
  const body = fields.take("body");
  if (body !== null) {
    if (!body.isString) errors.add(fieldPath(path, "body"), "must be a string");
    else { spec.hasBody = true; spec.body = body.text; }
  }
  const headers = fields.take("headers");
  if (headers !== null) {
    if (!headers.isObject) errors.add(fieldPath(path, "headers"), "must be an object of header name -> value");
    else {
      spec.hasHeaders = true;
      for (let i = 0; i < headers.keys.length; i++) {
        const name = unchecked(headers.keys[i]);
        const v = unchecked(headers.items[i]);
        if (!isHeaderName(name)) { errors.add(fieldPath(fieldPath(path, "headers"), name), "is not a header name"); break; }
        if (!v.isString) { errors.add(fieldPath(fieldPath(path, "headers"), name), "must be a string"); break; }
        spec.headers.push(new HeaderPair(name.toLowerCase(), v.text));
      }
    }
  }
  fields.rejectUnknown();
  return errors.failed ? null : spec;
}

function readDenyResponses(value: JsonValue, config: GateConfig, errors: ConfigErrors): void {
  if (!value.isObject) { errors.add("denyResponses", "must be an object keyed by reason name or \"default\""); return; }
  const specs = new Array<DenyResponseSpec | null>(RESPONSE_SLOTS);
  let defaults: DenyResponseSpec | null = null;
  for (let i = 0; i < value.keys.length && !errors.failed; i++) {
    const name = unchecked(value.keys[i]);
    const path = fieldPath("denyResponses", name);
    const spec = readDenyResponse(unchecked(value.items[i]), path, errors);
    if (spec === null) break;
    if (name == "default") { defaults = spec; continue; }
    const reason = reasonByName(name);
    if (reason < 1) { errors.add(path, "unknown reason (use an AccessDeniedReason name, MissingCustomerId or \"default\")"); break; }
    unchecked(specs[reasonSlot(reason)] = spec);
  }
  config.denyResponses = resolveDenyResponses(specs, defaults);
}

function readInjectHeaders(value: JsonValue, config: GateConfig, errors: ConfigErrors): void {
  if (!value.isArray) { errors.add("injectHeaders", "must be an array of header names"); return; }
  let inject: u32 = 0;
  for (let i = 0; i < value.items.length; i++) {
    const item = unchecked(value.items[i]);
    let bit: u32 = 0;
    if (item.isString) {
      for (let k = 0; k < INJECT_NAMES.length; k++) if (unchecked(INJECT_NAMES[k]) == item.text.toLowerCase()) bit = <u32>1 << <u32>k;
    }
    if (bit == 0) {
      errors.add(indexPath("injectHeaders", i), "must be one of x-entitlement-decision, -customer, -feature, -remaining, -fallback");
      return;
    }
    inject |= bit;
  }
  config.inject = inject;
}

function readStripHeaders(value: JsonValue, config: GateConfig, errors: ConfigErrors): void {
  if (!value.isArray) { errors.add("stripHeaders", "must be an array of header names"); return; }
  for (let i = 0; i < value.items.length; i++) {
    const item = unchecked(value.items[i]);
    if (!item.isString || !isHeaderName(item.text) || item.text.startsWith(":")) {
      errors.add(indexPath("stripHeaders", i), "must be a header name");
      return;
    }
    const name = item.text.toLowerCase();
    if (name == config.customer.header || (config.resource !== null && name == config.resource!.header)) {
      errors.add(indexPath("stripHeaders", i), "would remove the header the id is read from");
      return;
    }
    config.stripHeaders.push(String.UTF8.encode(name));
  }
}

function readOnMiss(value: JsonValue, config: GateConfig, errors: ConfigErrors): void {
  if (!value.isObject) { errors.add("onMiss", "must be an object {policy, timeoutMs, cluster, authToken}"); return; }
  const fields = new ObjectFields(value, "onMiss", errors);
  const policy = fields.string("policy", "fetch");
  if (policy == "fetch") config.fetchOnMiss = true;
  else if (policy == "fallback") config.fetchOnMiss = false;
  else errors.add("onMiss.policy", "must be \"fetch\" or \"fallback\"");
  config.missTimeoutMs = <u32>fields.number("timeoutMs", <f64>config.missTimeoutMs, 1, 60000, true, "must be an integer from 1 to 60000");
  config.missCluster = fields.string("cluster", config.missCluster);
  if (!errors.failed && config.missCluster.length == 0) errors.add("onMiss.cluster", "must be a non-empty string");
  const metadata = readAuthToken(fields, "onMiss", errors);
  if (metadata !== null) {
    config.missMetadata = metadata;
    config.missTokenGiven = true;
  }
  fields.rejectUnknown();
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
  const customer = fields.take("customer");
  if (header !== null && customer !== null) errors.add("customerHeader", "give either customerHeader or customer, not both");
  else if (header !== null) {
    const name = readIdHeader(header, "customerHeader", errors);
    if (name !== null) {
      config.customer.header = name;
      config.customer.headerBytes = String.UTF8.encode(name);
    }
  } else if (customer !== null) {
    const source = readIdSource(customer, "customer", errors);
    if (source !== null) config.customer = source;
  }
  const resource = fields.take("resource");
  if (resource !== null && !errors.failed) config.resource = readIdSource(resource, "resource", errors);

  const rules = fields.take("rules");
  if (rules === null) errors.add("rules", "required");
  else if (!rules.isArray) errors.add("rules", "must be an array, got " + rules.describe());
  else {
    for (let i = 0; i < rules.items.length && !errors.failed; i++) {
      const rule = readRule(unchecked(rules.items[i]), indexPath("rules", i), errors);
      if (rule !== null) config.rules.push(rule);
    }
  }
  const deny = fields.take("denyResponses");
  if (deny !== null && !errors.failed) readDenyResponses(deny, config, errors);
  const inject = fields.take("injectHeaders");
  if (inject !== null && !errors.failed) readInjectHeaders(inject, config, errors);
  const strip = fields.take("stripHeaders");
  if (strip !== null && !errors.failed) readStripHeaders(strip, config, errors);
  const missing = fields.string("missingCustomer", "deny");
  if (missing == "allow") config.allowMissingCustomer = true;
  else if (missing != "deny") errors.add("missingCustomer", "must be \"deny\" or \"allow\"");
  const onMiss = fields.take("onMiss");
  if (onMiss !== null && !errors.failed) readOnMiss(onMiss, config, errors);
  config.maxStaleSeconds = fields.number("maxStaleSeconds", 0, 0, 31536000, false, "must be a number from 0 (no limit) to 31536000");
  const fallback = fields.take("fallback");
  if (fallback !== null && !errors.failed) config.fallback = readFallbackTable(fallback, "fallback", errors);
  const shadow = fields.take("shadow");
  if (shadow !== null) {
    if (!shadow.isBool) errors.add("shadow", "must be a boolean");
    else config.shadow = shadow.boolean;
  }
  const remaining = fields.take("remainingResponseHeader");
  if (remaining !== null) {
    if (!remaining.isBool) errors.add("remainingResponseHeader", "must be a boolean");
    else config.remainingResponseHeader = remaining.boolean;
  }
  const sync = fields.take("sync");
  if (sync !== null && !errors.failed) config.sync = readSyncConfig(sync, "sync", true, errors);
  // FetchCustomer goes to the same FilterSync API as Subscribe, so the sync role's token serves misses
  // too unless onMiss names its own.
  const syncConfig = config.sync;
  if (!config.missTokenGiven && syncConfig !== null) config.missMetadata = syncConfig.grpcMetadata;
  fields.rejectUnknown();
  if (errors.failed) return new GateConfigResult(null, errors.message);
  return new GateConfigResult(config, "");
}
