// Builds Sidecar response messages from the evaluation's decisions and fallbacks. Unset stays unset:
// `access_denied_reason` only on denials (and on fallbacks, which carry Unknown as Stigg does),
// `usage_limit` only when there is a limit.
import {
  type AccessDeniedReason,
  type FeatureEntitlement,
  type ResetPeriod,
} from "../model/entitlements.ts";
import type { Decision, EntitlementKind } from "../evaluation/evaluate.ts";
import type { EntitlementFallback, FallbackEntitlement } from "../evaluation/fallback.ts";
import type {
  WireBooleanEntitlement,
  WireDecisionHead,
  WireEntitlementOneof,
  WireEnumEntitlement,
  WireFeature,
  WireGetEntitlementFallback,
  WireMeteredEntitlement,
  WireNumericEntitlement,
  WireReason,
  WireResetPeriod,
  WireTimestamp,
} from "./sidecarProto.ts";

const REASON_NAMES: Readonly<Record<AccessDeniedReason, WireReason>> = {
  Unknown: "ACCESS_DENIED_REASON_UNKNOWN",
  CustomerIsArchived: "ACCESS_DENIED_REASON_CUSTOMER_IS_ARCHIVED",
  CustomerNotFound: "ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND",
  CustomerResourceNotFound: "ACCESS_DENIED_REASON_CUSTOMER_RESOURCE_NOT_FOUND",
  FeatureNotFound: "ACCESS_DENIED_REASON_FEATURE_NOT_FOUND",
  NoActiveSubscription: "ACCESS_DENIED_REASON_NO_ACTIVE_SUBSCRIPTION",
  NoFeatureEntitlementInSubscription: "ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION",
  RequestedUsageExceedingLimit: "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT",
  BudgetExceeded: "ACCESS_DENIED_REASON_BUDGET_EXCEEDED",
  RequestedValuesMismatch: "ACCESS_DENIED_REASON_REQUESTED_VALUES_MISMATCH",
  FeatureTypeMismatch: "ACCESS_DENIED_REASON_FEATURE_TYPE_MISMATCH",
  InsufficientCredits: "ACCESS_DENIED_REASON_INSUFFICIENT_CREDITS",
  Revoked: "ACCESS_DENIED_REASON_REVOKED",
  EntitlementNotFound: "ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND",
};

const RESET_PERIOD_NAMES: Readonly<Record<ResetPeriod, WireResetPeriod>> = {
  DAY: "ENTITLEMENT_RESET_PERIOD_DAY",
  HOUR: "ENTITLEMENT_RESET_PERIOD_HOUR",
  MONTH: "ENTITLEMENT_RESET_PERIOD_MONTH",
  WEEK: "ENTITLEMENT_RESET_PERIOD_WEEK",
  YEAR: "ENTITLEMENT_RESET_PERIOD_YEAR",
};

export function wireReason(reason: AccessDeniedReason): WireReason {
  return REASON_NAMES[reason];
}

export function timestamp(epochMs: number): WireTimestamp {
  const seconds = Math.floor(epochMs / 1000);
  return { seconds, nanos: Math.round((epochMs - seconds * 1000) * 1e6) };
}

/** Protobuf int32: Stigg's numeric value is an int32, so a fractional or huge limit is cut to fit. */
function int32(value: number): number {
  return Math.max(-2147483648, Math.min(2147483647, Math.trunc(value)));
}

export function wireFeature(entitlement: FeatureEntitlement): WireFeature {
  const meter = entitlement.featureType === "NUMBER" ? (entitlement.meterType ?? "Incremental") : "None";
  return {
    id: entitlement.featureId,
    feature_type:
      entitlement.featureType === "BOOLEAN" ? "FEATURE_TYPE_BOOLEAN" : entitlement.featureType === "ENUM" ? "FEATURE_TYPE_ENUM" : "FEATURE_TYPE_NUMBER",
    meter_type: meter === "None" ? "METER_TYPE_NONE" : meter === "Fluctuating" ? "METER_TYPE_FLUCTUATING" : "METER_TYPE_INCREMENTAL",
    is_metered: meter !== "None",
  };
}

export function decisionHead(decision: Decision): WireDecisionHead {
  const head: WireDecisionHead = { has_access: decision.hasAccess, is_fallback: false };
  if (decision.accessDeniedReason !== undefined) head.access_denied_reason = wireReason(decision.accessDeniedReason);
  return head;
}

export function fallbackHead(fallback: FallbackEntitlement): WireDecisionHead {
  return { has_access: fallback.hasAccess, is_fallback: true, access_denied_reason: wireReason(fallback.accessDeniedReason) };
}

export function booleanFromDecision(decision: Decision): WireBooleanEntitlement {
  return decision.entitlement ? { feature: wireFeature(decision.entitlement) } : {};
}

export function numericFromDecision(decision: Decision): WireNumericEntitlement {
  const out: WireNumericEntitlement = { is_unlimited: decision.isUnlimited };
  if (decision.entitlement) out.feature = wireFeature(decision.entitlement);
  if (decision.usageLimit !== undefined) out.value = int32(decision.usageLimit);
  return out;
}

export function meteredFromDecision(decision: Decision): WireMeteredEntitlement {
  const out: WireMeteredEntitlement = { is_unlimited: decision.isUnlimited, current_usage: decision.currentUsage };
  const entitlement = decision.entitlement;
  if (entitlement) out.feature = wireFeature(entitlement);
  if (decision.usageLimit !== undefined) out.usage_limit = decision.usageLimit;
  if (entitlement?.resetPeriod !== undefined) out.reset_period = RESET_PERIOD_NAMES[entitlement.resetPeriod];
  if (entitlement?.usagePeriodAnchor !== undefined) out.usage_period_anchor = timestamp(entitlement.usagePeriodAnchor);
  if (decision.usagePeriodStart !== undefined) out.usage_period_start = timestamp(decision.usagePeriodStart);
  if (decision.usagePeriodEnd !== undefined) {
    out.usage_period_end = timestamp(decision.usagePeriodEnd);
    out.next_reset_date = timestamp(decision.usagePeriodEnd);
  }
  if (entitlement) out.has_soft_limit = decision.hasSoftLimit;
  return out;
}

export function enumFromDecision(decision: Decision): WireEnumEntitlement {
  const out: WireEnumEntitlement = { enum_values: [...(decision.entitlement?.enumValues ?? [])] };
  if (decision.entitlement) out.feature = wireFeature(decision.entitlement);
  return out;
}

/** The oneof for a decision's kind; nothing when the customer does not have the feature. */
export function oneofFromDecision(decision: Decision): WireEntitlementOneof {
  switch (decision.kind) {
    case "BOOLEAN":
      return { boolean: booleanFromDecision(decision) };
    case "NUMERIC":
      return { numeric: numericFromDecision(decision) };
    case "METERED":
      return { metered: meteredFromDecision(decision) };
    case "ENUM":
      return { enum: enumFromDecision(decision) };
    case undefined:
      return {};
  }
}

export function booleanFromFallback(): WireBooleanEntitlement {
  return {};
}

export function numericFromFallback(fallback: FallbackEntitlement): WireNumericEntitlement {
  const out: WireNumericEntitlement = { is_unlimited: fallback.isUnlimited ?? false };
  if (fallback.value !== undefined) out.value = int32(fallback.value);
  return out;
}

export function meteredFromFallback(fallback: FallbackEntitlement): WireMeteredEntitlement {
  const out: WireMeteredEntitlement = {
    is_unlimited: fallback.isUnlimited ?? false,
    current_usage: fallback.currentUsage ?? 0,
    has_soft_limit: fallback.hasSoftLimit ?? false,
  };
  if (fallback.usageLimit !== undefined) out.usage_limit = fallback.usageLimit;
  return out;
}

export function enumFromFallback(fallback: FallbackEntitlement): WireEnumEntitlement {
  return { enum_values: [...(fallback.enumValues ?? [])] };
}

export function oneofFromFallback(fallback: FallbackEntitlement, featureId?: string): WireEntitlementOneof {
  const feature = featureId === undefined ? undefined : fallbackFeature(fallback.kind, featureId);
  const withFeature = <T extends { feature?: WireFeature }>(message: T): T => (feature ? { ...message, feature } : message);
  switch (fallback.kind) {
    case "BOOLEAN":
      return { boolean: withFeature(booleanFromFallback()) };
    case "NUMERIC":
      return { numeric: withFeature(numericFromFallback(fallback)) };
    case "METERED":
      return { metered: withFeature(meteredFromFallback(fallback)) };
    case "ENUM":
      return { enum: withFeature(enumFromFallback(fallback)) };
  }
}

/** What little is known of a feature answered from ENTITLEMENTS_FALLBACK: its id and the kind asked for. */
function fallbackFeature(kind: EntitlementKind, featureId: string): WireFeature {
  return {
    id: featureId,
    feature_type: kind === "BOOLEAN" ? "FEATURE_TYPE_BOOLEAN" : kind === "ENUM" ? "FEATURE_TYPE_ENUM" : "FEATURE_TYPE_NUMBER",
    meter_type: kind === "METERED" ? "METER_TYPE_INCREMENTAL" : "METER_TYPE_NONE",
    is_metered: kind === "METERED",
  };
}

/** The kind a configured fallback describes when nothing asks for one (GetEntitlements offline). */
export function configuredFallbackKind(fallback: EntitlementFallback): EntitlementKind {
  if (fallback.usageLimit !== undefined) return "METERED";
  if (fallback.value !== undefined) return "NUMERIC";
  if (fallback.enumValues !== undefined) return "ENUM";
  return "BOOLEAN";
}

/** A per-call fallback as the model spells it; `has_access` defaults to false as in proto3. */
export function perCallFallback(wire: WireGetEntitlementFallback | undefined): EntitlementFallback | undefined {
  if (wire === undefined) return undefined;
  const out: EntitlementFallback = { hasAccess: wire.has_access ?? false };
  if (wire.value !== undefined) out.value = wire.value;
  if (wire.usage_limit !== undefined) out.usageLimit = wire.usage_limit;
  if (wire.is_unlimited !== undefined) out.isUnlimited = wire.is_unlimited;
  if (wire.enum_values !== undefined && wire.enum_values.length > 0) out.enumValues = [...wire.enum_values];
  return out;
}
