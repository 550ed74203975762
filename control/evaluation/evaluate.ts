import {
  isMetered,
  type AccessDeniedReason,
  type CustomerEntitlements,
  type FeatureEntitlement,
} from "../model/entitlements.ts";
import { currentUsagePeriod } from "./usagePeriod.ts";

/** The four views Stigg's SDK offers of a feature (GetBoolean/Numeric/Metered/EnumEntitlement). */
export const ENTITLEMENT_KINDS = ["BOOLEAN", "NUMERIC", "METERED", "ENUM"] as const;
export type EntitlementKind = (typeof ENTITLEMENT_KINDS)[number];

export function entitlementKind(entitlement: FeatureEntitlement): EntitlementKind {
  switch (entitlement.featureType) {
    case "BOOLEAN":
      return "BOOLEAN";
    case "ENUM":
      return "ENUM";
    case "NUMBER":
      return isMetered(entitlement) ? "METERED" : "NUMERIC";
  }
}

export interface EntitlementCheck {
  featureId: string;
  /** Metered checks: units the caller is about to consume. Absent counts as 0, as in Stigg. */
  requestedUsage?: number;
  /** Enum checks: every value must be entitled. */
  requestedValues?: string[];
  /** The typed Sidecar RPCs ask for one view; a different kind is a FeatureTypeMismatch. */
  expectType?: EntitlementKind;
}

export interface Decision {
  hasAccess: boolean;
  /** Unset when access is granted. */
  accessDeniedReason?: AccessDeniedReason;
  /** The feature's kind, when the customer has the feature. */
  kind?: EntitlementKind;
  /** The feature as evaluated: for metered features, usage and period after any rollover. */
  entitlement?: FeatureEntitlement;
  /** Metered usage in the current period (0 for other kinds or after a rollover). */
  currentUsage: number;
  /** The plan limit (NUMERIC: the configured value); unset when unlimited or not set. */
  usageLimit?: number;
  isUnlimited: boolean;
  hasSoftLimit: boolean;
  /** Metered features with a hard or soft limit: max(0, limit − usage). */
  remaining?: number;
  /** Epoch milliseconds. */
  usagePeriodStart?: number;
  usagePeriodEnd?: number;
  /** Echo of the requested usage, 0 when absent (Stigg's Node 3.x behaviour). */
  requestedUsage: number;
  requestedValues?: string[];
}

function baseDecision(check: EntitlementCheck): Decision {
  const decision: Decision = {
    hasAccess: false,
    currentUsage: 0,
    isUnlimited: false,
    hasSoftLimit: false,
    requestedUsage: check.requestedUsage ?? 0,
  };
  if (check.requestedValues !== undefined) decision.requestedValues = check.requestedValues;
  return decision;
}

function deny(decision: Decision, reason: AccessDeniedReason): Decision {
  decision.hasAccess = false;
  decision.accessDeniedReason = reason;
  return decision;
}

/**
 * Usage counts for the period that contains `nowMs`. Once the stored period has ended, Stigg's SDK
 * treats usage as 0 and recomputes the window from the anchor; without an anchor and reset period it
 * only knows the old window is over, so the window is dropped.
 */
export function rollOverUsage(entitlement: FeatureEntitlement, nowMs: number): FeatureEntitlement {
  if (!isMetered(entitlement)) return entitlement;
  const end = entitlement.usagePeriodEnd;
  if (end === undefined || end > nowMs) return entitlement;
  const rolled: FeatureEntitlement = { ...entitlement, currentUsage: 0 };
  delete rolled.usagePeriodStart;
  delete rolled.usagePeriodEnd;
  if (entitlement.usagePeriodAnchor !== undefined && entitlement.resetPeriod !== undefined) {
    const period = currentUsagePeriod(entitlement.usagePeriodAnchor, entitlement.resetPeriod, nowMs);
    rolled.usagePeriodStart = period.startMs;
    rolled.usagePeriodEnd = period.endMs;
  }
  return rolled;
}

function describeFeature(decision: Decision, entitlement: FeatureEntitlement, kind: EntitlementKind): void {
  decision.kind = kind;
  decision.entitlement = entitlement;
  decision.isUnlimited = entitlement.hasUnlimitedUsage;
  decision.hasSoftLimit = entitlement.hasSoftLimit;
  if (!entitlement.hasUnlimitedUsage && entitlement.usageLimit !== undefined) {
    decision.usageLimit = entitlement.usageLimit;
  }
  if (kind !== "METERED") return;
  decision.currentUsage = entitlement.currentUsage;
  if (!entitlement.hasUnlimitedUsage) {
    decision.remaining = Math.max(0, (entitlement.usageLimit ?? 0) - entitlement.currentUsage);
  }
  if (entitlement.usagePeriodStart !== undefined) decision.usagePeriodStart = entitlement.usagePeriodStart;
  if (entitlement.usagePeriodEnd !== undefined) decision.usagePeriodEnd = entitlement.usagePeriodEnd;
}

function findFeature(entry: CustomerEntitlements, featureId: string): FeatureEntitlement | undefined {
  for (const entitlement of entry.entitlements) {
    if (entitlement.featureId === featureId) return entitlement;
  }
  return undefined;
}

/**
 * Stigg's entitlement decision (reference d.2, Node SDK 3.95 EntitlementDecisionService) for one
 * feature of one customer at `nowMs`. Pure: the caller stores nothing it returns.
 */
export function evaluate(
  entry: CustomerEntitlements | undefined,
  check: EntitlementCheck,
  nowMs: number,
): Decision {
  const decision = baseDecision(check);
  if (entry === undefined) return deny(decision, "CustomerNotFound");
  if (entry.accessDeniedReason !== undefined) return deny(decision, entry.accessDeniedReason);

  const stored = findFeature(entry, check.featureId);
  if (stored === undefined) return deny(decision, "NoFeatureEntitlementInSubscription");

  const kind = entitlementKind(stored);
  const entitlement = kind === "METERED" ? rollOverUsage(stored, nowMs) : stored;
  describeFeature(decision, entitlement, kind);

  if (entitlement.accessDeniedReason !== undefined) return deny(decision, entitlement.accessDeniedReason);
  if (check.expectType !== undefined && check.expectType !== kind) return deny(decision, "FeatureTypeMismatch");

  switch (kind) {
    case "BOOLEAN":
    case "NUMERIC":
      decision.hasAccess = true;
      return decision;
    case "ENUM": {
      const entitled = new Set(entitlement.enumValues ?? []);
      const allEntitled = (check.requestedValues ?? []).every((value) => entitled.has(value));
      if (!allEntitled) return deny(decision, "RequestedValuesMismatch");
      decision.hasAccess = true;
      return decision;
    }
    case "METERED": {
      if (entitlement.hasUnlimitedUsage || entitlement.hasSoftLimit) {
        decision.hasAccess = true;
        return decision;
      }
      const limit = entitlement.usageLimit ?? 0;
      if (entitlement.currentUsage + (check.requestedUsage ?? 0) <= limit) {
        decision.hasAccess = true;
        return decision;
      }
      return deny(decision, "RequestedUsageExceedingLimit");
    }
  }
}
