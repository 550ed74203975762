// The value stored at one entry key: a JSON document whose first member is always `fetchedAtMs`,
// so the last-writer-wins script can read the stored time from the first bytes of the value
// without decoding the whole document. Anything else in Redis (another writer, a truncated value,
// a format we no longer know) is reported as corrupt and the caller treats it as a miss.
import {
  FEATURE_TYPES,
  METER_TYPES,
  RESET_PERIODS,
  isAccessDeniedReason,
  type CustomerEntitlements,
} from "../../model/entitlements.ts";

/** A customer with a few hundred entitlements is tens of kilobytes; a megabyte is far past that. */
export const DEFAULT_MAX_VALUE_BYTES = 1_048_576;

/** The stored time must be a JSON integer right after this, for the Lua script. */
export const VALUE_HEAD = '{"fetchedAtMs":';

export type DecodedValue =
  | { kind: "entry"; fetchedAtMs: number; entry: CustomerEntitlements; validUntil?: number }
  /** Left by delete() so a write of data fetched before the delete cannot bring the entry back. */
  | { kind: "tombstone"; fetchedAtMs: number }
  | { kind: "corrupt"; reason: string };

export function isStorableTime(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= 0;
}

/** `validUntil`: epoch ms when the entry stops being true (the earliest entitlement validUntil), if any. */
export function encodeEntryValue(entry: CustomerEntitlements, fetchedAtMs: number, validUntil?: number): string {
  const expiry = validUntil === undefined ? "" : `"validUntil":${validUntil},`;
  return `${VALUE_HEAD}${fetchedAtMs},${expiry}"entry":${JSON.stringify(entry)}}`;
}

export function encodeTombstone(deletedAtMs: number): string {
  return `${VALUE_HEAD}${deletedAtMs},"deleted":true}`;
}

export function decodeValue(
  raw: Buffer,
  customerId: string,
  resourceId: string | undefined,
  maxBytes: number = DEFAULT_MAX_VALUE_BYTES,
): DecodedValue {
  if (raw.byteLength > maxBytes) return { kind: "corrupt", reason: `value is ${raw.byteLength} bytes, over the ${maxBytes}-byte bound` };
  let doc: unknown;
  try {
    doc = JSON.parse(raw.toString("utf8"));
  } catch {
    return { kind: "corrupt", reason: "value is not JSON" };
  }
  if (!isRecord(doc)) return { kind: "corrupt", reason: "value is not a JSON object" };
  const fetchedAtMs = doc["fetchedAtMs"];
  if (typeof fetchedAtMs !== "number" || !isStorableTime(fetchedAtMs)) {
    return { kind: "corrupt", reason: "fetchedAtMs is not a non-negative integer" };
  }
  if (doc["deleted"] === true) return { kind: "tombstone", fetchedAtMs };
  // Absent in values written before it was kept: such an entry has no known expiry, as before.
  const validUntil = doc["validUntil"];
  if (validUntil !== undefined && (typeof validUntil !== "number" || !Number.isFinite(validUntil))) {
    return { kind: "corrupt", reason: "validUntil is not a number" };
  }
  const problem = entryProblem(doc["entry"]);
  if (problem) return { kind: "corrupt", reason: problem };
  const entry = doc["entry"] as CustomerEntitlements;
  // A value under the wrong key (a bug, or a hand edit) must never answer for another customer.
  if (entry.customerId !== customerId || (entry.resourceId || undefined) !== (resourceId || undefined)) {
    return { kind: "corrupt", reason: "entry belongs to another customer or resource" };
  }
  return validUntil === undefined ? { kind: "entry", fetchedAtMs, entry } : { kind: "entry", fetchedAtMs, entry, validUntil };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optional(value: unknown, check: (v: unknown) => boolean): boolean {
  return value === undefined || check(value);
}

const isNumber = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);
const isString = (v: unknown): boolean => typeof v === "string";
const oneOf =
  (values: readonly string[]) =>
  (v: unknown): boolean =>
    typeof v === "string" && values.includes(v);

/**
 * Checks the fields the evaluation rules read; unknown fields pass through so a newer writer's
 * additions survive a round trip through an older reader.
 */
function entryProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return "entry is missing";
  if (typeof value["customerId"] !== "string") return "entry.customerId is not a string";
  if (!optional(value["resourceId"], isString)) return "entry.resourceId is not a string";
  if (!optional(value["accessDeniedReason"], isAccessDeniedReason)) return "entry.accessDeniedReason is not a known reason";
  const list = value["entitlements"];
  if (!Array.isArray(list)) return "entry.entitlements is not a list";
  for (let i = 0; i < list.length; i++) {
    const e: unknown = list[i];
    const at = `entry.entitlements[${i}]`;
    if (!isRecord(e)) return `${at} is not an object`;
    if (typeof e["featureId"] !== "string") return `${at}.featureId is not a string`;
    if (!oneOf(FEATURE_TYPES)(e["featureType"])) return `${at}.featureType is not a feature type`;
    if (!optional(e["meterType"], oneOf(METER_TYPES))) return `${at}.meterType is not a meter type`;
    if (typeof e["hasUnlimitedUsage"] !== "boolean") return `${at}.hasUnlimitedUsage is not a boolean`;
    if (typeof e["hasSoftLimit"] !== "boolean") return `${at}.hasSoftLimit is not a boolean`;
    if (!isNumber(e["currentUsage"])) return `${at}.currentUsage is not a number`;
    for (const field of ["usageLimit", "usagePeriodAnchor", "usagePeriodStart", "usagePeriodEnd"] as const) {
      if (!optional(e[field], isNumber)) return `${at}.${field} is not a number`;
    }
    const enumValues = e["enumValues"];
    if (!optional(enumValues, (v) => Array.isArray(v) && v.every(isString))) return `${at}.enumValues is not a list of strings`;
    if (!optional(e["resetPeriod"], oneOf(RESET_PERIODS))) return `${at}.resetPeriod is not a reset period`;
    if (!optional(e["accessDeniedReason"], isAccessDeniedReason)) return `${at}.accessDeniedReason is not a known reason`;
  }
  return undefined;
}
