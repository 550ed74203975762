// The customers the benchmarks use: a 10-feature plan shaped like a real SaaS tier (flags, a numeric
// configuration value, metered features with monthly periods, an enum), varied per customer so that
// entries differ the way they do in production.
import type { CustomerEntitlements, FeatureEntitlement } from "../../control/model/entitlements.ts";

const DAY_MS = 86_400_000;
const PERIOD_ANCHOR_MS = Date.parse("2026-01-01T00:00:00Z");

/** Feature ids of the benchmark plan; routes in the filter configuration point at them. */
export const FEATURES = {
  boolean: "feature-reports",
  metered: "feature-api-calls",
} as const;

export function tenFeaturePlan(seed: number, nowMs = Date.now()): FeatureEntitlement[] {
  const periodEnd = nowMs + 20 * DAY_MS;
  const metered = (featureId: string, limit: number, usage: number): FeatureEntitlement => ({
    featureId,
    featureType: "NUMBER",
    meterType: "Incremental",
    usageLimit: limit,
    hasUnlimitedUsage: false,
    hasSoftLimit: false,
    currentUsage: usage,
    resetPeriod: "MONTH",
    usagePeriodAnchor: PERIOD_ANCHOR_MS,
    usagePeriodStart: periodEnd - 30 * DAY_MS,
    usagePeriodEnd: periodEnd,
  });
  const flag = (featureId: string): FeatureEntitlement => ({
    featureId, featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0,
  });
  return [
    flag(FEATURES.boolean),
    flag("feature-sso"),
    flag("feature-audit-log"),
    flag("feature-custom-domain"),
    { featureId: "feature-seats", featureType: "NUMBER", meterType: "None", usageLimit: 25 + (seed % 50), hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    { featureId: "feature-projects", featureType: "NUMBER", meterType: "None", hasUnlimitedUsage: true, hasSoftLimit: false, currentUsage: 0 },
    metered(FEATURES.metered, 1_000_000, seed % 500_000),
    metered("feature-exports", 500, seed % 400),
    metered("feature-storage-gb", 100, seed % 90),
    { featureId: "feature-region", featureType: "ENUM", enumValues: ["eu", "us"], hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
  ];
}

export function customerId(i: number): string {
  return `customer-${String(i).padStart(6, "0")}`;
}

export function benchCustomer(i: number, nowMs = Date.now()): CustomerEntitlements {
  return { customerId: customerId(i), entitlements: tenFeaturePlan(i, nowMs) };
}

export const GATE_CONFIG = JSON.stringify({
  customerHeader: "x-customer-id",
  rules: [
    { pathPrefix: "/reports", feature: FEATURES.boolean },
    { pathPrefix: "/api", feature: FEATURES.metered, requestedUsage: 1 },
  ],
});

/** A browser-ish request: the headers a gateway typically sees, not a minimal set. */
export function requestHeaders(customer: string, path: string): Array<[string, string]> {
  return [
    [":method", "GET"],
    [":path", path],
    [":authority", "shop.example.com"],
    [":scheme", "https"],
    ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench"],
    ["accept", "application/json"],
    ["x-request-id", "4f6c1c8e-7d1a-4c5e-9b3f-2a6d8e9f0a1b"],
    ["x-customer-id", customer],
  ];
}
