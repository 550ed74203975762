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
  if (!entryFound) return Decision.deny(Reason.CustomerNotFound);
  if (customerReason != Reason.NONE) return Decision.deny(customerReason);
  if (feature === null) return Decision.deny(Reason.NoFeatureEntitlementInSubscription);
  const kind = feature.kind;
  if (feature.reason != Reason.NONE) {
    // The feature's own denial still reports its usage, as Stigg's SDK does.
    if (kind != FeatureKind.METERED) return Decision.deny(feature.reason);
    const described = evaluateMetered(feature, 0, nowMs);
    described.allowed = false;
    described.reason = feature.reason;
    return described;
  }
  if (kind == FeatureKind.BOOLEAN || kind == FeatureKind.NUMERIC) return Decision.allow();
  if (kind == FeatureKind.ENUM) {
    if (requestedValues !== null) {
      for (let i = 0; i < requestedValues.length; i++) {
        if (!feature.enumValues.includes(unchecked(requestedValues[i]))) return Decision.deny(Reason.RequestedValuesMismatch);
      }
    }
    return Decision.allow();
  }
  if (kind != FeatureKind.METERED) return Decision.deny(Reason.FeatureTypeMismatch);
  return evaluateMetered(feature, requestedUsage, nowMs);
}

function evaluateMetered(feature: Feature, requestedUsage: f64, nowMs: i64): Decision {
  let usage = feature.usage;
  const decision = new Decision();
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
