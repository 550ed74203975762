// Stigg's entitlement evaluation (the control plane implements the same rules in TypeScript; the shared
// case table under test/ keeps the two in step). Pure: the caller supplies the decoded entry and the time.
import { Feature, FeatureKind } from "./entryDecoder";
import { Reason } from "./reasons";
import { currentPeriod } from "./usagePeriod";

export class Decision {
  allowed: bool = false;
  reason: i32 = Reason.NONE;
  /** METERED only: whether `remaining` means anything (false when unlimited). */
  hasRemaining: bool = false;
  remaining: f64 = 0;
  usage: f64 = 0;
  limit: f64 = 0;
  unlimited: bool = false;
  /** METERED with a usage period: the period the decision used (after any rollover), in unix ms. */
  periodStartMs: i64 = 0;
  periodEndMs: i64 = 0;

  reset(): void {
    this.allowed = false;
    this.reason = Reason.NONE;
    this.hasRemaining = false;
    this.remaining = 0;
    this.usage = 0;
    this.limit = 0;
    this.unlimited = false;
    this.periodStartMs = 0;
    this.periodEndMs = 0;
  }

  /** In place (after reset): a denial for `reason`. */
  asDenial(reason: i32): Decision {
    this.reason = reason;
    return this;
  }

  /** In place (after reset): an allow. */
  asAllow(): Decision {
    this.allowed = true;
    return this;
  }

  static deny(reason: i32): Decision {
    const decision = new Decision();
    decision.reason = reason;
    return decision;
  }

  static allow(): Decision {
    const decision = new Decision();
    decision.allowed = true;
    return decision;
  }
}

/**
 * `entryFound` false means no entry for the customer. `requestedValues` null means none requested.
 */
export function evaluate(
  entryFound: bool, customerReason: i32, feature: Feature | null,
  requestedUsage: f64, requestedValues: string[] | null, nowMs: i64,
): Decision {
  return evaluateInto(new Decision(), entryFound, customerReason, feature, requestedUsage, requestedValues, nowMs);
}

/** evaluate() writing into `out` (every field reset first): the filter reuses one Decision per VM. */
export function evaluateInto(
  out: Decision, entryFound: bool, customerReason: i32, feature: Feature | null,
  requestedUsage: f64, requestedValues: string[] | null, nowMs: i64,
): Decision {
  out.reset();
  if (!entryFound) return out.asDenial(Reason.CustomerNotFound);
  if (customerReason != Reason.NONE) return out.asDenial(customerReason);
  if (feature === null) return out.asDenial(Reason.NoFeatureEntitlementInSubscription);
  const kind = feature.kind;
  if (feature.reason != Reason.NONE) {
    // The feature's own denial still reports its usage, as Stigg's SDK does.
    if (kind != FeatureKind.METERED) return out.asDenial(feature.reason);
    evaluateMetered(out, feature, 0, nowMs);
    out.allowed = false;
    out.reason = feature.reason;
    return out;
  }
  if (kind == FeatureKind.BOOLEAN || kind == FeatureKind.NUMERIC) return out.asAllow();
  if (kind == FeatureKind.ENUM) {
    if (requestedValues !== null) {
      for (let i = 0; i < requestedValues.length; i++) {
        if (!feature.enumValues.includes(unchecked(requestedValues[i]))) return out.asDenial(Reason.RequestedValuesMismatch);
      }
    }
    return out.asAllow();
  }
  if (kind != FeatureKind.METERED) return out.asDenial(Reason.FeatureTypeMismatch);
  return evaluateMetered(out, feature, requestedUsage, nowMs);
}

function evaluateMetered(decision: Decision, feature: Feature, requestedUsage: f64, nowMs: i64): Decision {
  let usage = feature.usage;
  if (feature.hasPeriod) {
    let startMs: i64 = 0;
    let endMs = feature.periodEndSec * 1000;
    if (endMs <= nowMs) {
      usage = 0;
      const period = currentPeriod(feature.resetPeriod, feature.anchorSec * 1000, nowMs);
      if (period !== null) {
        startMs = period.startMs;
        endMs = period.endMs;
      }
    }
    decision.periodStartMs = startMs;
    decision.periodEndMs = endMs;
  }
  const limit = feature.hasLimit ? feature.limit : 0;
  decision.usage = usage;
  decision.limit = limit;
  decision.unlimited = feature.unlimited;
  if (!feature.unlimited) {
    decision.hasRemaining = true;
    decision.remaining = max<f64>(0, limit - usage);
  }
  if (feature.unlimited || feature.softLimit || usage + requestedUsage <= limit) {
    decision.allowed = true;
  } else {
    decision.reason = Reason.RequestedUsageExceedingLimit;
  }
  return decision;
}
