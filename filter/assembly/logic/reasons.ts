// Access-denied reasons: Stigg's AccessDeniedReason proto numbers and GraphQL spellings, plus our own
// MissingCustomerId (the request carried no customer id; Stigg never sees such a request).

export namespace Reason {
  export const NONE: i32 = 0;
  export const Unknown: i32 = 1;
  export const CustomerIsArchived: i32 = 2;
  export const CustomerNotFound: i32 = 3;
  export const CustomerResourceNotFound: i32 = 4;
  export const FeatureNotFound: i32 = 5;
  export const NoActiveSubscription: i32 = 6;
  export const NoFeatureEntitlementInSubscription: i32 = 7;
  export const RequestedUsageExceedingLimit: i32 = 8;
  export const BudgetExceeded: i32 = 9;
  export const RequestedValuesMismatch: i32 = 10;
  export const FeatureTypeMismatch: i32 = 11;
  export const InsufficientCredits: i32 = 12;
  export const Revoked: i32 = 13;
  export const EntitlementNotFound: i32 = 14;
  /** Not a Stigg reason; outside the proto range on purpose. */
  export const MissingCustomerId: i32 = 100;
}

const NAMES: StaticArray<string> = [
  "", "Unknown", "CustomerIsArchived", "CustomerNotFound", "CustomerResourceNotFound", "FeatureNotFound",
  "NoActiveSubscription", "NoFeatureEntitlementInSubscription", "RequestedUsageExceedingLimit", "BudgetExceeded",
  "RequestedValuesMismatch", "FeatureTypeMismatch", "InsufficientCredits", "Revoked", "EntitlementNotFound",
];

/** The GraphQL spelling; a number we do not know (newer control plane) reads as "Unknown". */
export function reasonName(reason: i32): string {
  if (reason == Reason.MissingCustomerId) return "MissingCustomerId";
  if (reason >= 1 && reason < NAMES.length) return unchecked(NAMES[reason]);
  return "Unknown";
}

/** The reason number for a GraphQL spelling (or MissingCustomerId); -1 when unknown. */
export function reasonByName(name: string): i32 {
  if (name == "MissingCustomerId") return Reason.MissingCustomerId;
  for (let i = 1; i < NAMES.length; i++) if (unchecked(NAMES[i]) == name) return i;
  return -1;
}

/** Every reason a deny can carry, in metric-definition order. */
export function allReasons(): i32[] {
  const out = new Array<i32>();
  for (let i = 1; i < NAMES.length; i++) out.push(i);
  out.push(Reason.MissingCustomerId);
  return out;
}
