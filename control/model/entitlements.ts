// The control plane's model of one customer's entitlements. Field names and enum spellings follow
// Stigg's GraphQL schema (FeatureEntitlement, EntitlementsState) so upstream bodies map onto it
// one to one; see ../shared/reference/stigg-sidecar.md, sections d.2 and e.2.

export const FEATURE_TYPES = ["BOOLEAN", "NUMBER", "ENUM"] as const;
export type FeatureType = (typeof FEATURE_TYPES)[number];

export const METER_TYPES = ["None", "Fluctuating", "Incremental"] as const;
export type MeterType = (typeof METER_TYPES)[number];

export const RESET_PERIODS = ["YEAR", "MONTH", "WEEK", "DAY", "HOUR"] as const;
export type ResetPeriod = (typeof RESET_PERIODS)[number];

/** Stigg's AccessDeniedReason (GraphQL spelling) with the proto number it maps to. */
export const ACCESS_DENIED_REASONS = {
  Unknown: 1,
  CustomerIsArchived: 2,
  CustomerNotFound: 3,
  CustomerResourceNotFound: 4,
  FeatureNotFound: 5,
  NoActiveSubscription: 6,
  NoFeatureEntitlementInSubscription: 7,
  RequestedUsageExceedingLimit: 8,
  BudgetExceeded: 9,
  RequestedValuesMismatch: 10,
  FeatureTypeMismatch: 11,
  InsufficientCredits: 12,
  Revoked: 13,
  EntitlementNotFound: 14,
} as const;
export type AccessDeniedReason = keyof typeof ACCESS_DENIED_REASONS;

export function isAccessDeniedReason(value: unknown): value is AccessDeniedReason {
  return typeof value === "string" && Object.hasOwn(ACCESS_DENIED_REASONS, value);
}

/** One feature entitlement as Stigg computes it for a customer. */
export interface FeatureEntitlement {
  featureId: string;
  featureType: FeatureType;
  /** NUMBER features only; BOOLEAN and ENUM features have no meter. */
  meterType?: MeterType;
  /** Plan limit (NUMBER). Absent with hasUnlimitedUsage or when the plan sets none. */
  usageLimit?: number;
  hasUnlimitedUsage: boolean;
  hasSoftLimit: boolean;
  /** Metered features: usage within the current period. */
  currentUsage: number;
  enumValues?: string[];
  resetPeriod?: ResetPeriod;
  /** Epoch milliseconds. */
  usagePeriodAnchor?: number;
  usagePeriodStart?: number;
  usagePeriodEnd?: number;
  /** Server-side denial carried by the entitlement itself (Revoked, BudgetExceeded, ...). */
  accessDeniedReason?: AccessDeniedReason;
}

/** Everything known about one customer, or one customer + resource. */
export interface CustomerEntitlements {
  customerId: string;
  /** Absent for the customer-level entry. */
  resourceId?: string;
  /** Customer-wide denial: CustomerNotFound, CustomerIsArchived, NoActiveSubscription. */
  accessDeniedReason?: AccessDeniedReason;
  entitlements: FeatureEntitlement[];
}

/**
 * NUMBER features are checked against usage unless their meter type is explicitly None: Stigg's
 * SDK (3.95) also sends a NUMBER feature with no meter type through the metered check.
 */
export function isMetered(entitlement: FeatureEntitlement): boolean {
  return entitlement.featureType === "NUMBER" && entitlement.meterType !== "None";
}

/** The store key of a customer or customer + resource. */
export function entityKey(customerId: string, resourceId?: string): string {
  return resourceId ? `${customerId}\u0000${resourceId}` : customerId;
}
