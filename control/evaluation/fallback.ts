import type { AccessDeniedReason } from "../model/entitlements.ts";
import type { EntitlementCheck, EntitlementKind } from "./evaluate.ts";

/**
 * One feature's fallback as Stigg's ENTITLEMENTS_FALLBACK and per-call `options.fallback` spell it
 * (reference b.3). The format is untagged: which fields matter depends on the kind of check.
 */
export interface EntitlementFallback {
  hasAccess: boolean;
  /** Numeric checks: the configured value. */
  value?: number;
  /** Metered checks: the limit. */
  usageLimit?: number;
  /** Numeric and metered checks. */
  isUnlimited?: boolean;
  /** Enum checks. */
  enumValues?: string[];
}

/** Feature id → fallback. */
export type EntitlementsFallback = ReadonlyMap<string, EntitlementFallback>;

/** An answer built without the customer's real entitlements; always says so. */
export interface FallbackEntitlement {
  kind: EntitlementKind;
  isFallback: true;
  hasAccess: boolean;
  /**
   * Unknown unless the caller names a cause (FeatureTypeMismatch). Stigg keeps Unknown even when the
   * configured fallback grants access; a transport may drop it for granted answers.
   */
  accessDeniedReason: AccessDeniedReason;
  /** NUMERIC and METERED. */
  isUnlimited?: boolean;
  /** NUMERIC. */
  value?: number;
  /** METERED. */
  usageLimit?: number;
  hasSoftLimit?: boolean;
  currentUsage?: number;
  requestedUsage?: number;
  /** ENUM. */
  enumValues?: string[];
}

/** Stigg's built-in defaults (Node SDK 3.95 `models.js`), used when nothing is configured. */
export function defaultFallback(kind: EntitlementKind): FallbackEntitlement {
  const base = { kind, isFallback: true, hasAccess: false, accessDeniedReason: "Unknown" } as const;
  switch (kind) {
    case "BOOLEAN":
      return { ...base };
    case "NUMERIC":
      return { ...base, isUnlimited: false };
    case "METERED":
      return { ...base, isUnlimited: false, hasSoftLimit: false, currentUsage: 0, requestedUsage: 1 };
    case "ENUM":
      return { ...base, enumValues: [] };
  }
}

function applyConfigured(result: FallbackEntitlement, configured: EntitlementFallback): void {
  result.hasAccess = configured.hasAccess;
  switch (result.kind) {
    case "BOOLEAN":
      return;
    case "NUMERIC":
      if (configured.value !== undefined) result.value = configured.value;
      if (configured.isUnlimited !== undefined) result.isUnlimited = configured.isUnlimited;
      return;
    case "METERED":
      if (configured.usageLimit !== undefined) result.usageLimit = configured.usageLimit;
      if (configured.isUnlimited !== undefined) result.isUnlimited = configured.isUnlimited;
      return;
    case "ENUM":
      if (configured.enumValues !== undefined) result.enumValues = [...configured.enumValues];
      return;
  }
}

export interface FallbackSources {
  /** The caller's `options.fallback`; wins over everything. */
  perCall?: EntitlementFallback;
  /** ENTITLEMENTS_FALLBACK. */
  global?: EntitlementsFallback;
  /** Why the fallback is used when the cause is known (FeatureTypeMismatch); default Unknown. */
  reason?: AccessDeniedReason;
}

/** Stigg's precedence: per-call fallback > ENTITLEMENTS_FALLBACK[featureId] > built-in default. */
export function resolveFallback(
  kind: EntitlementKind,
  featureId: string,
  sources: FallbackSources = {},
): FallbackEntitlement {
  const result = defaultFallback(kind);
  const configured = sources.perCall ?? sources.global?.get(featureId);
  if (configured !== undefined) applyConfigured(result, configured);
  if (sources.reason !== undefined) result.accessDeniedReason = sources.reason;
  return result;
}

/**
 * The kind of fallback an untyped check (GetEntitlement) gets when the feature is unknown, chosen
 * as Stigg's Node SDK 3.95 does: requested usage → metered, requested values → enum, a fallback
 * with a value → numeric, else boolean.
 */
export function untypedFallbackKind(check: EntitlementCheck, perCall?: EntitlementFallback): EntitlementKind {
  if (check.requestedUsage !== undefined) return "METERED";
  if (check.requestedValues !== undefined) return "ENUM";
  if (perCall?.value !== undefined) return "NUMERIC";
  return "BOOLEAN";
}

export type ParseFallbackResult =
  | { ok: true; fallback: EntitlementsFallback }
  | { ok: false; errors: string[] };

const FALLBACK_FIELDS = new Set(["hasAccess", "value", "usageLimit", "isUnlimited", "enumValues"]);
const SOURCE = "ENTITLEMENTS_FALLBACK";

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Validates one fallback object. `where` names it in errors (`ENTITLEMENTS_FALLBACK.feature-01`).
 * Unknown fields are rejected: a misspelt `usagelimit` would otherwise silently deny everything.
 * JSON null counts as absent for optional fields.
 */
export function parseEntitlementFallback(
  raw: unknown,
  where: string,
): { ok: true; fallback: EntitlementFallback } | { ok: false; errors: string[] } {
  if (!isPlainObject(raw)) return { ok: false, errors: [`${where}: must be an object`] };
  const errors: string[] = [];
  for (const key of Object.keys(raw)) {
    if (!FALLBACK_FIELDS.has(key)) {
      errors.push(`${where}.${key}: unknown field (expected hasAccess, value, usageLimit, isUnlimited, enumValues)`);
    }
  }
  const fallback: EntitlementFallback = { hasAccess: false };
  if (typeof raw.hasAccess === "boolean") fallback.hasAccess = raw.hasAccess;
  else errors.push(`${where}.hasAccess: ${raw.hasAccess === undefined ? "is required" : "must be a boolean"}`);

  for (const field of ["value", "usageLimit"] as const) {
    const v = raw[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== "number" || !Number.isFinite(v)) errors.push(`${where}.${field}: must be a number`);
    else fallback[field] = v;
  }
  if (raw.isUnlimited !== undefined && raw.isUnlimited !== null) {
    if (typeof raw.isUnlimited !== "boolean") errors.push(`${where}.isUnlimited: must be a boolean`);
    else fallback.isUnlimited = raw.isUnlimited;
  }
  const enumValues = raw.enumValues;
  if (enumValues !== undefined && enumValues !== null) {
    if (!Array.isArray(enumValues) || !enumValues.every((v): v is string => typeof v === "string")) {
      errors.push(`${where}.enumValues: must be an array of strings`);
    } else {
      fallback.enumValues = enumValues;
    }
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, fallback };
}

/** Parses the ENTITLEMENTS_FALLBACK environment variable; every problem is reported, not just the first. */
export function parseEntitlementsFallback(json: string): ParseFallbackResult {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, errors: [`${SOURCE}: not valid JSON (${detail})`] };
  }
  if (!isPlainObject(raw)) {
    return { ok: false, errors: [`${SOURCE}: must be a JSON object keyed by feature id`] };
  }
  const fallback = new Map<string, EntitlementFallback>();
  const errors: string[] = [];
  for (const [featureId, value] of Object.entries(raw)) {
    if (featureId === "") {
      errors.push(`${SOURCE}: feature ids must not be empty`);
      continue;
    }
    const parsed = parseEntitlementFallback(value, `${SOURCE}.${featureId}`);
    if (parsed.ok) fallback.set(featureId, parsed.fallback);
    else errors.push(...parsed.errors);
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, fallback };
}
