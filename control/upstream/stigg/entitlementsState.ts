// Turns Stigg's EntitlementsState document (Edge `entitlements-state.json`, or the GraphQL
// `GetEntitlementsState` result) into the control plane's model. Everything is checked before
// anything is returned: a body is either fully understood or rejected with the path of the problem.
import {
  FEATURE_TYPES,
  METER_TYPES,
  RESET_PERIODS,
  isAccessDeniedReason,
  type AccessDeniedReason,
  type CustomerEntitlements,
  type FeatureEntitlement,
  type FeatureType,
  type MeterType,
  type ResetPeriod,
} from "../../model/entitlements.ts";

/** The body does not have the shape Stigg documents; `path` says where. */
export class EntitlementsStateShapeError extends Error {
  override readonly name = "EntitlementsStateShapeError";
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
  }
}

/** The body is a GraphQL error envelope (non-empty `errors`). */
export class EntitlementsStateGraphqlError extends Error {
  override readonly name = "EntitlementsStateGraphqlError";
  constructor(
    readonly messages: string[],
    /** Stigg's `Unauthenticated` error code (or message) was present: the API key is wrong. */
    readonly unauthenticated: boolean,
  ) {
    super(`Stigg returned errors: ${messages.join("; ")}`);
  }
}

export interface ParsedEntitlementsState {
  entitlements: CustomerEntitlements;
  /**
   * Values this version does not know (a newer Stigg) and what was done with them, for one log
   * line: unknown reasons become Unknown (still a denial), unknown feature types are left out
   * (so they deny as not entitled), unknown meter types count as metered, unknown reset periods are
   * dropped (no local rollover).
   */
  notes: string[];
  /** Credit (currency) entitlements seen and left out; not modelled yet. */
  skippedCredits: number;
  /**
   * Epoch ms of the earliest `validUntil` among the entitlements (promotions, credit grants), after
   * which the whole entry must be re-fetched (reference d.1 step 2). Absent when none expires.
   */
  validUntil?: number;
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function fail(path: string, problem: string): never {
  throw new EntitlementsStateShapeError(path, problem);
}

function optionalNumber(obj: Json, key: string, path: string): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isFinite(value)) fail(`${path}.${key}`, "must be a number or null");
  return value;
}

function optionalBoolean(obj: Json, key: string, path: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") fail(`${path}.${key}`, "must be a boolean or null");
  return value;
}

function optionalString(obj: Json, key: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") fail(`${path}.${key}`, "must be a string or null");
  return value;
}

/** Stigg sends ISO-8601 strings; its SDK also accepts epoch milliseconds, so do we. */
function optionalDate(obj: Json, key: string, path: string): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  if (typeof value === "string") {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
    fail(`${path}.${key}`, `is not an ISO-8601 date: ${JSON.stringify(value.slice(0, 40))}`);
  }
  return fail(`${path}.${key}`, "must be an ISO-8601 string, epoch milliseconds or null");
}

function oneOf<T extends string>(allowed: readonly T[], value: string): T | undefined {
  return (allowed as readonly string[]).includes(value) ? (value as T) : undefined;
}

function reason(obj: Json, path: string, notes: string[]): AccessDeniedReason | undefined {
  const value = optionalString(obj, "accessDeniedReason", path);
  if (value === undefined) return undefined;
  if (isAccessDeniedReason(value)) return value;
  notes.push(`${path}.accessDeniedReason: unknown value ${JSON.stringify(value)} treated as Unknown`);
  return "Unknown";
}

function isCredit(item: Json): boolean {
  return item["__typename"] === "CreditEntitlement" || (item["feature"] === undefined && isObject(item["currency"]));
}

function parseFeatureEntitlement(item: Json, path: string, notes: string[]): FeatureEntitlement | undefined {
  const feature = item["feature"];
  if (!isObject(feature)) fail(`${path}.feature`, "must be an object");
  const featureId = optionalString(feature, "refId", `${path}.feature`);
  if (featureId === undefined || featureId === "") fail(`${path}.feature.refId`, "must be a non-empty string");
  const rawType = optionalString(feature, "featureType", `${path}.feature`);
  if (rawType === undefined) fail(`${path}.feature.featureType`, "is required");
  const featureType = oneOf<FeatureType>(FEATURE_TYPES, rawType);
  if (featureType === undefined) {
    notes.push(`${path}.feature.featureType: unknown value ${JSON.stringify(rawType)}; feature ${featureId} left out`);
    return undefined;
  }

  const entitlement: FeatureEntitlement = {
    featureId,
    featureType,
    hasUnlimitedUsage: optionalBoolean(item, "hasUnlimitedUsage", path) ?? false,
    hasSoftLimit: optionalBoolean(item, "hasSoftLimit", path) ?? false,
    currentUsage: optionalNumber(item, "currentUsage", path) ?? 0,
  };

  const rawMeter = optionalString(feature, "meterType", `${path}.feature`);
  if (rawMeter !== undefined) {
    const meterType = oneOf<MeterType>(METER_TYPES, rawMeter);
    if (meterType !== undefined) entitlement.meterType = meterType;
    else notes.push(`${path}.feature.meterType: unknown value ${JSON.stringify(rawMeter)} treated as metered`);
  }

  const usageLimit = optionalNumber(item, "usageLimit", path);
  if (usageLimit !== undefined) entitlement.usageLimit = usageLimit;

  const enumValues = item["enumValues"];
  if (enumValues !== undefined && enumValues !== null) {
    if (!Array.isArray(enumValues) || !enumValues.every((v): v is string => typeof v === "string")) {
      fail(`${path}.enumValues`, "must be an array of strings or null");
    }
    entitlement.enumValues = enumValues;
  }

  const rawPeriod = optionalString(item, "resetPeriod", path);
  if (rawPeriod !== undefined) {
    const resetPeriod = oneOf<ResetPeriod>(RESET_PERIODS, rawPeriod);
    if (resetPeriod !== undefined) entitlement.resetPeriod = resetPeriod;
    else notes.push(`${path}.resetPeriod: unknown value ${JSON.stringify(rawPeriod)} dropped`);
  }

  const anchor = optionalDate(item, "usagePeriodAnchor", path);
  if (anchor !== undefined) entitlement.usagePeriodAnchor = anchor;
  const start = optionalDate(item, "usagePeriodStart", path);
  if (start !== undefined) entitlement.usagePeriodStart = start;
  const end = optionalDate(item, "usagePeriodEnd", path);
  if (end !== undefined) entitlement.usagePeriodEnd = end;

  const denied = reason(item, path, notes);
  if (denied !== undefined) entitlement.accessDeniedReason = denied;
  return entitlement;
}

/**
 * Maps an already JSON-parsed Edge/GraphQL body. Prefers `entitlementsV2` (what Stigg's Node SDK 4.x
 * reads) and falls back to the legacy `entitlements` list.
 */
export function parseEntitlementsStateDocument(
  body: unknown,
  customerId: string,
  resourceId?: string,
): ParsedEntitlementsState {
  if (!isObject(body)) fail("$", "must be a JSON object");
  const errors = body["errors"];
  if (errors !== undefined && errors !== null) {
    if (!Array.isArray(errors)) fail("$.errors", "must be an array or null");
    if (errors.length > 0) {
      const messages = errors.map((e) => (isObject(e) && typeof e["message"] === "string" ? e["message"] : JSON.stringify(e)));
      const unauthenticated = errors.some((e) => {
        if (!isObject(e)) return false;
        const code = isObject(e["extensions"]) ? e["extensions"]["code"] : undefined;
        return code === "Unauthenticated" || code === "UNAUTHENTICATED";
      });
      throw new EntitlementsStateGraphqlError(messages, unauthenticated);
    }
  }
  const data = body["data"];
  if (!isObject(data)) fail("$.data", "must be an object");
  const state = data["entitlementsState"];
  if (!isObject(state)) fail("$.data.entitlementsState", "must be an object");

  const statePath = "$.data.entitlementsState";
  const listKey = Array.isArray(state["entitlementsV2"]) ? "entitlementsV2" : "entitlements";
  const list = state[listKey];
  if (!Array.isArray(list)) fail(`${statePath}.entitlementsV2`, "must be an array (or the legacy entitlements)");

  const notes: string[] = [];
  const seen = new Set<string>();
  const entitlements: FeatureEntitlement[] = [];
  let skippedCredits = 0;
  let validUntil: number | undefined;
  list.forEach((item: unknown, index: number) => {
    const path = `${statePath}.${listKey}[${index}]`;
    if (!isObject(item)) fail(path, "must be an object");
    const expires = optionalDate(item, "validUntil", path);
    if (expires !== undefined && (validUntil === undefined || expires < validUntil)) validUntil = expires;
    if (isCredit(item)) {
      skippedCredits += 1;
      return;
    }
    const parsed = parseFeatureEntitlement(item, path, notes);
    if (parsed === undefined) return;
    if (seen.has(parsed.featureId)) {
      notes.push(`${path}: duplicate feature ${parsed.featureId} ignored`);
      return;
    }
    seen.add(parsed.featureId);
    entitlements.push(parsed);
  });

  const result: CustomerEntitlements = { customerId, entitlements };
  if (resourceId !== undefined) result.resourceId = resourceId;
  const customerReason = reason(state, statePath, notes);
  if (customerReason !== undefined) result.accessDeniedReason = customerReason;
  const parsed: ParsedEntitlementsState = { entitlements: result, notes, skippedCredits };
  if (validUntil !== undefined) parsed.validUntil = validUntil;
  return parsed;
}
