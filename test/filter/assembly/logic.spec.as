// AssemblyScript test entry for filter/assembly/logic (compiled by ../logic.test.ts with the asc API).
// Kept as .as so the repo's tsc (which checks test/**/*.ts) does not try to type-check AssemblyScript.
// Each export turns one logic call into a string the Node test asserts on.
import { JsonKind, JsonValue, parseJson, parseJsonBytes } from "../../../filter/assembly/logic/json";
import { parseGateConfig } from "../../../filter/assembly/logic/gateConfig";
import { parseSyncConfig } from "../../../filter/assembly/logic/syncConfig";
import { matchRuleForPath } from "../../../filter/assembly/logic/rules";
import { Entry, Feature, decodeEntry, lookupFeature } from "../../../filter/assembly/logic/entryDecoder";
import { Decision, evaluate } from "../../../filter/assembly/logic/evaluate";
import { reasonName } from "../../../filter/assembly/logic/reasons";
import { currentPeriod } from "../../../filter/assembly/logic/usagePeriod";
import { decodeSyncMessage, encodeSubscribeRequest } from "../../../filter/assembly/logic/syncMessages";
import { denyBody, jsonString } from "../../../filter/assembly/logic/jsonWriter";
import { entryKey, parseSyncState } from "../../../filter/assembly/logic/sharedKeys";
import { HeaderMapView, HeaderPair, serializeHeaderMap } from "../../../filter/assembly/binding/headerMapCodec";

function fromHex(text: string): ArrayBuffer {
  const n = text.length >> 1;
  const out = new ArrayBuffer(n);
  for (let i = 0; i < n; i++) {
    store<u8>(changetype<usize>(out) + <usize>i, <u8>I32.parseInt(text.substr(i * 2, 2), 16));
  }
  return out;
}

function toHex(buffer: ArrayBuffer): string {
  const digits = "0123456789abcdef";
  let out = "";
  for (let i = 0; i < buffer.byteLength; i++) {
    const b = <i32>load<u8>(changetype<usize>(buffer) + <usize>i);
    out += digits.charAt(b >> 4) + digits.charAt(b & 15);
  }
  return out;
}

function num(value: f64): string {
  return value == Math.floor(value) && Math.abs(value) < 1e15 ? (<i64>value).toString() : value.toString();
}

function render(value: JsonValue): string {
  switch (value.kind) {
    case JsonKind.NULL: return "null";
    case JsonKind.BOOL: return value.boolean ? "true" : "false";
    case JsonKind.NUMBER: return num(value.number);
    case JsonKind.STRING: return jsonString(value.text);
    case JsonKind.ARRAY: {
      const parts = new Array<string>();
      for (let i = 0; i < value.items.length; i++) parts.push(render(value.items[i]));
      return "[" + parts.join(",") + "]";
    }
    default: {
      const parts = new Array<string>();
      for (let i = 0; i < value.keys.length; i++) parts.push(jsonString(value.keys[i]) + ":" + render(value.items[i]));
      return "{" + parts.join(",") + "}";
    }
  }
}

export function jsonCheck(input: string): string {
  const result = parseJson(input);
  const value = result.value;
  if (value === null) return "error:" + result.error + "@" + result.offset.toString();
  return "ok:" + render(value);
}

export function jsonCheckBytes(hex: string): string {
  const result = parseJsonBytes(fromHex(hex));
  const value = result.value;
  return value === null ? "error:" + result.error : "ok:" + render(value);
}

export function gateConfigCheck(input: string): string {
  const result = parseGateConfig(String.UTF8.encode(input));
  const config = result.config;
  if (config === null) return "error:" + result.error;
  const parts = new Array<string>();
  for (let i = 0; i < config.rules.length; i++) {
    const rule = config.rules[i];
    parts.push(rule.pathPrefix + ">" + rule.feature + "*" + num(rule.requestedUsage));
  }
  return "ok:header=" + config.customerHeader + ";rules=" + parts.join("|");
}

export function syncConfigCheck(input: string): string {
  const result = parseSyncConfig(String.UTF8.encode(input));
  const config = result.config;
  if (config === null) return "error:" + result.error;
  return "ok:cluster=" + config.cluster + ";nodeId=" + config.nodeId + ";min=" + config.reconnectMinMs.toString() +
    ";max=" + config.reconnectMaxMs.toString();
}

export function matchCheck(configJson: string, path: string): i32 {
  const config = parseGateConfig(String.UTF8.encode(configJson)).config;
  return config === null ? -2 : matchRuleForPath(config.rules, path);
}

function describeFeature(f: Feature): string {
  return f.id + ":" + f.kind.toString() + ":" + f.flags.toString() + ":r" + f.reason.toString() + ":l" + num(f.limit) +
    ":u" + num(f.usage) + ":p" + f.resetPeriod.toString() + "/" + f.anchorSec.toString() + "/" + f.periodEndSec.toString() +
    ":v" + f.enumValues.join(",");
}

export function entryCheck(hex: string): string {
  const bytes = fromHex(hex);
  const entry = decodeEntry(bytes, 0, bytes.byteLength);
  if (entry === null) return "corrupt";
  const parts = new Array<string>();
  for (let i = 0; i < entry.features.length; i++) parts.push(describeFeature(entry.features[i]));
  return "reason=" + entry.customerReason.toString() + ";" + parts.join(";");
}

export function lookupCheck(hex: string, featureId: string): string {
  const bytes = fromHex(hex);
  const lookup = lookupFeature(bytes, 0, bytes.byteLength, String.UTF8.encode(featureId));
  if (lookup.corrupt) return "corrupt";
  const feature = lookup.feature;
  if (feature !== null) feature.id = featureId;
  return "reason=" + lookup.customerReason.toString() + ";" + (feature === null ? "absent" : describeFeature(feature));
}

/** `hex` empty = no entry; `values` "-" = none requested, else comma-separated. */
export function evaluateCheck(hex: string, featureId: string, requestedUsage: f64, nowMs: i64, values: string): string {
  let decisionText: string;
  let requested: string[] | null = null;
  if (values != "-") requested = values.length == 0 ? new Array<string>() : values.split(",");
  if (hex.length == 0) {
    const d = evaluate(false, 0, null, requestedUsage, requested, nowMs);
    return d.allowed ? "allow" : "deny:" + reasonName(d.reason);
  }
  const bytes = fromHex(hex);
  const lookup = lookupFeature(bytes, 0, bytes.byteLength, String.UTF8.encode(featureId));
  if (lookup.corrupt) return "corrupt";
  const d = evaluate(true, lookup.customerReason, lookup.feature, requestedUsage, requested, nowMs);
  decisionText = d.allowed ? "allow" : "deny:" + reasonName(d.reason);
  if (d.hasRemaining) decisionText += ";remaining=" + num(d.remaining);
  if (d.periodEndMs != 0) decisionText += ";period=" + d.periodStartMs.toString() + ".." + d.periodEndMs.toString();
  return decisionText;
}

export function periodCheck(resetPeriod: i32, anchorMs: i64, nowMs: i64): string {
  const period = currentPeriod(<u8>resetPeriod, anchorMs, nowMs);
  return period === null ? "none" : period.startMs.toString() + ".." + period.endMs.toString();
}

export function syncMessageCheck(hex: string): string {
  const message = decodeSyncMessage(fromHex(hex));
  if (message === null) return "corrupt";
  const parts = new Array<string>();
  for (let i = 0; i < message.entries.length; i++) {
    const e = message.entries[i];
    parts.push(e.customerId + "/" + e.resourceId + "=" + toHex(message.buffer.slice(e.valueStart, e.valueStart + e.valueLength)));
  }
  return "kind=" + message.kind.toString() + ";version=" + message.version.toString() + ";epoch=" + message.epoch +
    ";sentAt=" + message.sentAtUnixMs.toString() + ";complete=" + (message.snapshotComplete ? "1" : "0") +
    ";heartbeat=" + message.heartbeatIntervalMs.toString() + ";entries=" + parts.join(",");
}

export function subscribeRequestHex(nodeId: string, epoch: string, version: u64): string {
  return toHex(encodeSubscribeRequest(nodeId, epoch, version));
}

export function jsonStringCheck(value: string): string {
  return jsonString(value);
}

export function denyBodyCheck(feature: string, reason: string): string {
  return denyBody(feature, reason);
}

export function entryKeyCheck(customerId: string, resourceId: string): string {
  return entryKey(customerId, resourceId);
}

export function syncStateCheck(text: string): string {
  const state = parseSyncState(text);
  return state.epoch + "|" + state.version.toString();
}

export function headerMapCheck(hex: string): string {
  const view = new HeaderMapView(fromHex(hex));
  if (!view.valid) return "invalid";
  const parts = new Array<string>();
  for (let i = 0; i < view.count; i++) parts.push(view.key(i) + "=" + view.value(i));
  return parts.join("&");
}

export function headerMapRoundTrip(a: string, b: string): string {
  const pairs: HeaderPair[] = [new HeaderPair("content-type", a), new HeaderPair("x-k", b)];
  return toHex(serializeHeaderMap(pairs));
}

// ---- additions: rules with methods/host/patterns, id sources, deny responses, lease, usage ledger ----
import { matchRuleForRequest, matchPattern } from "../../../filter/assembly/logic/rules";
import { claimFromPayloadHeader } from "../../../filter/assembly/logic/jwtClaim";
import { renderDenyBody } from "../../../filter/assembly/logic/denyResponses";
import { Lease, leaseStep, parseLease, formatLease } from "../../../filter/assembly/logic/leaseValue";
import { UsageLedger } from "../../../filter/assembly/logic/usageLedger";
import { InjectHeader } from "../../../filter/assembly/logic/gateConfig";
import { Reason as R } from "../../../filter/assembly/logic/reasons";
import { encodeUsageIncrement, encodeUsageReport, encodeFetchCustomerRequest, decodeFetchCustomerResponse } from "../../../filter/assembly/logic/syncMessages";

export function requestMatchCheck(configJson: string, path: string, method: string, authority: string): i32 {
  const config = parseGateConfig(String.UTF8.encode(configJson)).config;
  return config === null ? -2 : matchRuleForRequest(config.rules, path, method, authority);
}

export function patternCheck(pattern: string, path: string): bool {
  const p = String.UTF8.encode(pattern);
  const q = String.UTF8.encode(path);
  return matchPattern(changetype<usize>(p), p.byteLength, changetype<usize>(q), q.byteLength);
}

export function claimCheck(headerValue: string, claim: string): string {
  const bytes = String.UTF8.encode(headerValue);
  const value = claimFromPayloadHeader(changetype<usize>(bytes), bytes.byteLength, claim.split("."));
  return value === null ? "<none>" : value;
}

/** A summary of every option a configuration resolves to. */
export function gateOptionsCheck(input: string): string {
  const result = parseGateConfig(String.UTF8.encode(input));
  const config = result.config;
  if (config === null) return "error:" + result.error;
  const resource = config.resource;
  const deny = config.denyResponse(R.RequestedUsageExceedingLimit);
  const missing = config.denyResponse(R.MissingCustomerId);
  const other = config.denyResponse(R.NoActiveSubscription);
  const sync = config.sync;
  return "customer=" + config.customer.describe() +
    ";resource=" + (resource === null ? "-" : resource.describe()) +
    ";inject=" + config.inject.toString() + ";strip=" + config.stripHeaders.length.toString() +
    ";missing=" + (config.allowMissingCustomer ? "allow" : "deny") +
    ";miss=" + (config.fetchOnMiss ? "fetch" : "fallback") + "/" + config.missTimeoutMs.toString() + "/" + config.missCluster +
    ";stale=" + num(config.maxStaleSeconds) + ";shadow=" + (config.shadow ? "1" : "0") +
    ";remainingHeader=" + (config.remainingResponseHeader ? "1" : "0") +
    ";fallback=" + config.fallback.features.size.toString() +
    ";429=" + deny.status.toString() + ":" + renderDenyBody(deny, "f", "RequestedUsageExceedingLimit") +
    ";missingStatus=" + missing.status.toString() + ";other=" + other.status.toString() + ":" + renderDenyBody(other, "f", "NoActiveSubscription") +
    ":" + other.headers.length.toString() +
    ";sync=" + (sync === null ? "-" : sync.cluster + "/" + sync.leaseTtlMs.toString());
}

export function leaseStepCheck(value: string, me: string, nowMs: i64, ttlMs: i64): i32 {
  return leaseStep(parseLease(value.length == 0 ? null : String.UTF8.encode(value)), me, nowMs, ttlMs);
}

export function leaseFormatCheck(holder: string, expiry: i64): string {
  const lease = parseLease(String.UTF8.encode(formatLease(holder, expiry)));
  return lease === null ? "null" : lease.holder + "|" + lease.expiryMs.toString();
}

/** Runs `steps` ("a:<cached>:<delta>" adds, "p:<cached>" reads pending) and joins the pending reads. */
export function ledgerCheck(steps: string): string {
  const ledger = new UsageLedger();
  const key = UsageLedger.key("c", "", "f");
  const out = new Array<string>();
  const list = steps.split(" ");
  for (let i = 0; i < list.length; i++) {
    const parts = list[i].split(":");
    if (parts[0] == "a") ledger.add(key, F64.parseFloat(parts[1]), F64.parseFloat(parts[2]));
    else out.push(num(ledger.pending(key, F64.parseFloat(parts[1]))));
  }
  return out.join(",");
}

export function usageReportHex(nodeId: string, customer: string, resource: string, feature: string, delta: f64): string {
  return toHex(encodeUsageReport(nodeId, [encodeUsageIncrement(customer, resource, feature, delta), encodeUsageIncrement(customer, resource, feature, delta)]));
}

export function fetchRequestHex(customer: string, resource: string): string {
  return toHex(encodeFetchCustomerRequest(customer, resource));
}

export function fetchResponseCheck(hex: string): string {
  const buffer = fromHex(hex);
  const entry = decodeFetchCustomerResponse(buffer);
  if (entry === null) return "corrupt";
  return entry.customerId + "/" + entry.resourceId + "=" + toHex(buffer.slice(entry.valueStart, entry.valueStart + entry.valueLength));
}

/** One row of the shared case table: the decision fields the table compares. */
export function caseCheck(hex: string, featureId: string, requestedUsage: f64, nowMs: i64, values: string): string {
  let requested: string[] | null = null;
  if (values != "-") requested = values.length == 0 ? new Array<string>() : values.split(",");
  let d: Decision;
  if (hex.length == 0) d = evaluate(false, 0, null, requestedUsage, requested, nowMs);
  else {
    const bytes = fromHex(hex);
    const lookup = lookupFeature(bytes, 0, bytes.byteLength, String.UTF8.encode(featureId));
    if (lookup.corrupt) return "corrupt";
    d = evaluate(true, lookup.customerReason, lookup.feature, requestedUsage, requested, nowMs);
  }
  return "{\"hasAccess\":" + (d.allowed ? "true" : "false") +
    (d.allowed ? "" : ",\"reason\":" + jsonString(reasonName(d.reason))) +
    ",\"currentUsage\":" + d.usage.toString() +
    (d.hasRemaining ? ",\"remaining\":" + d.remaining.toString() : "") +
    (d.periodEndMs != 0 ? ",\"usagePeriodEnd\":" + d.periodEndMs.toString() : "") + "}";
}

// ---- hot-path structures (issue 6) ----
import { IdTable } from "../../../filter/assembly/binding/idTable";
import { ProtoWriter } from "../../../filter/assembly/logic/protobuf";
import { encodeUsageIncrement, writeUsageIncrement } from "../../../filter/assembly/logic/syncMessages";
import { ByteBuilder } from "../../../filter/assembly/logic/byteBuilder";

class Boxed {
  constructor(public id: u32) {}
}

/** Random inserts and deletes (ids from a small range, so probe runs collide) against a Map; "ok" or the first difference. */
export function idTableChurn(seed: u32, ops: i32, idRange: u32): string {
  const table = new IdTable<Boxed>();
  const reference = new Map<u32, Boxed>();
  let state = seed;
  for (let step = 0; step < ops; step++) {
    state = state * 1664525 + 1013904223;
    const id = (state >>> 8) % idRange;
    if (((state >>> 4) & 3) == 0 && reference.has(id)) {
      table.delete(id);
      reference.delete(id);
    } else if (!reference.has(id)) {
      const box = new Boxed(id);
      table.set(id, box);
      reference.set(id, box);
    }
    if (table.size != reference.size) return "size " + table.size.toString() + " != " + reference.size.toString() + " at step " + step.toString();
    for (let probe: u32 = 0; probe < idRange; probe++) {
      const got = table.get(probe);
      const want = reference.has(probe) ? reference.get(probe) : null;
      if (got !== want) return "id " + probe.toString() + " differs at step " + step.toString();
    }
  }
  return "ok";
}

/** The filter's in-place UsageIncrement next to the string encoder's, as "hex|hex". */
export function usageIncrementBoth(customer: string, resource: string, feature: string, delta: f64): string {
  const c = String.UTF8.encode(customer);
  const r = String.UTF8.encode(resource);
  const writer = new ProtoWriter();
  writeUsageIncrement(writer, changetype<usize>(c), c.byteLength, changetype<usize>(r), r.byteLength, String.UTF8.encode(feature), delta);
  const inPlace = new ArrayBuffer(writer.length);
  memory.copy(changetype<usize>(inPlace), writer.dataPtr, <usize>writer.length);
  return toHex(inPlace) + "|" + toHex(encodeUsageIncrement(customer, resource, feature, delta));
}

/** ByteBuilder.decimal next to i64.toString(), as "built|toString". */
export function decimalBoth(value: i64): string {
  const b = new ByteBuilder(2).decimal(value);
  return String.UTF8.decodeUnsafe(b.ptr, <usize>b.length) + "|" + value.toString();
}

/** `n` distinct ledger keys, each added twice; "ok" when every key reads back its own amount. */
export function ledgerManyKeys(n: i32): string {
  const ledger = new UsageLedger();
  for (let i = 0; i < n; i++) {
    const key = UsageLedger.key("customer-" + i.toString(), "", "f");
    ledger.add(key, 5, <f64>(i % 7 + 1));
    ledger.add(key, 5, 1);
  }
  if (ledger.size != n) return "size " + ledger.size.toString();
  for (let i = 0; i < n; i++) {
    const got = ledger.pending(UsageLedger.key("customer-" + i.toString(), "", "f"), 5);
    if (got != <f64>(i % 7 + 2)) return "key " + i.toString() + ": " + got.toString();
  }
  return "ok";
}

// ---- bearer token (authToken) ----
import { isUsableToken } from "../../../filter/assembly/logic/bearerMetadata";

function describeMetadata(metadata: ArrayBuffer): string {
  if (metadata.byteLength == 0) return "none";
  const view = new HeaderMapView(metadata);
  if (!view.valid) return "invalid";
  const parts = new Array<string>();
  for (let i = 0; i < view.count; i++) parts.push(view.key(i) + "=" + view.value(i));
  return parts.join("|");
}

/** The Subscribe/ReportUsage metadata an `entitlement_sync` configuration resolves to, or its error. */
export function syncAuthCheck(input: string): string {
  const result = parseSyncConfig(String.UTF8.encode(input));
  const config = result.config;
  if (config === null) return "error:" + result.error;
  return describeMetadata(config.grpcMetadata);
}

/** The FetchCustomer and lease-sync metadata an `entitlement_gate` configuration resolves to. */
export function gateAuthCheck(input: string): string {
  const result = parseGateConfig(String.UTF8.encode(input));
  const config = result.config;
  if (config === null) return "error:" + result.error;
  const sync = config.sync;
  return "miss=" + describeMetadata(config.missMetadata) + ";sync=" + (sync === null ? "-" : describeMetadata(sync.grpcMetadata));
}

export function tokenCheck(token: string): bool {
  return isUsableToken(token);
}
