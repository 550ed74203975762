// AssemblyScript test entry for filter/assembly/logic (compiled by ../logic.test.ts with the asc API).
// Kept as .as so the repo's tsc (which checks test/**/*.ts) does not try to type-check AssemblyScript.
// Each export turns one logic call into a string the Node test asserts on.
import { JsonKind, JsonValue, parseJson, parseJsonBytes } from "../../../filter/assembly/logic/json";
import { parseGateConfig } from "../../../filter/assembly/logic/gateConfig";
import { parseSyncConfig } from "../../../filter/assembly/logic/syncConfig";
import { matchRuleForPath } from "../../../filter/assembly/logic/rules";
import { Entry, Feature, decodeEntry, lookupFeature } from "../../../filter/assembly/logic/entryDecoder";
import { evaluate } from "../../../filter/assembly/logic/evaluate";
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
