// The chaos world's customers, one per kind of answer (grant, each denial reason, a limit reached),
// the "flip" customers whose entitlements change during the run, and a pool of cold customers each
// asked for once so that it misses. Written in the control plane's model, so the oracle evaluates the
// very data the emulator serves.
import type { EntitlementCheck } from "../../control/evaluation/evaluate.ts";
import type { CustomerEntitlements, FeatureEntitlement } from "../../control/model/entitlements.ts";
import type { CustomerSpec, EmulatedEntitlement } from "../stigg/emulator.ts";

export const FEATURES = { reports: "feature-reports", apiCalls: "feature-api-calls", seats: "feature-seats" } as const;

export const VARIANTS = ["pro", "free", "revoked", "archived", "atLimit", "unlimited", "noSubscription"] as const;
export type Variant = (typeof VARIANTS)[number];

/** What a flip customer cycles through: each step changes the answer of at least one route. */
export const FLIP_CYCLE: readonly Variant[] = ["pro", "revoked", "archived", "free", "atLimit"];

const flag = (featureId: string, extra: Partial<FeatureEntitlement> = {}): FeatureEntitlement => ({
  featureId, featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0, ...extra,
});

const metered = (limit: number | undefined, usage: number): FeatureEntitlement => ({
  featureId: FEATURES.apiCalls,
  featureType: "NUMBER",
  meterType: "Incremental",
  hasUnlimitedUsage: limit === undefined,
  hasSoftLimit: false,
  currentUsage: usage,
  // Far from any limit: the filter's own usage reports must never flip an allowed answer.
  ...(limit === undefined ? {} : { usageLimit: limit }),
});

const seats = (limit: number): FeatureEntitlement => ({
  featureId: FEATURES.seats, featureType: "NUMBER", meterType: "None", usageLimit: limit, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0,
});

export function plan(customerId: string, variant: Variant): CustomerEntitlements {
  switch (variant) {
    case "pro":
      return { customerId, entitlements: [flag(FEATURES.reports), metered(1_000_000_000, 10), seats(25)] };
    case "free":
      return { customerId, entitlements: [metered(1_000_000_000, 0)] };
    case "revoked":
      return { customerId, entitlements: [flag(FEATURES.reports, { accessDeniedReason: "Revoked" }), metered(1_000_000_000, 0)] };
    case "archived":
      return { customerId, accessDeniedReason: "CustomerIsArchived", entitlements: [] };
    case "atLimit":
      return { customerId, entitlements: [flag(FEATURES.reports), metered(100, 100)] };
    case "unlimited":
      return { customerId, entitlements: [flag(FEATURES.reports), metered(undefined, 123_456)] };
    case "noSubscription":
      return { customerId, accessDeniedReason: "NoActiveSubscription", entitlements: [] };
  }
}

export function emulatorSpec(entry: CustomerEntitlements): CustomerSpec {
  const entitlements: Record<string, EmulatedEntitlement> = {};
  for (const { featureId, ...rest } of entry.entitlements) entitlements[featureId] = rest;
  const spec: CustomerSpec = { entitlements };
  if (entry.accessDeniedReason === "CustomerIsArchived" || entry.accessDeniedReason === "NoActiveSubscription") spec.accessDeniedReason = entry.accessDeniedReason;
  return spec;
}

/** Customers every API has asked for before the faults start ("cached customers"). */
export const WARM_CUSTOMERS: ReadonlyArray<{ id: string; variant: Variant | "absent" }> = [
  ...VARIANTS.map((variant) => ({ id: `warm-${variant}`, variant })),
  { id: "warm-absent", variant: "absent" as const },
];

export const FLIP_CUSTOMERS: readonly string[] = ["flip-0", "flip-1", "flip-2"];

export function coldCustomerId(i: number): string {
  return `cold-${String(i).padStart(5, "0")}`;
}

export function coldVariant(i: number): Variant {
  return VARIANTS[i % VARIANTS.length]!;
}

/** The routes the filter is configured with, and the checks they stand for. */
export const FILTER_ROUTES: ReadonlyArray<{ path: string; check: EntitlementCheck }> = [
  { path: "/reports/q3", check: { featureId: FEATURES.reports } },
  { path: "/api/search", check: { featureId: FEATURES.apiCalls, requestedUsage: 1 } },
  { path: "/seats/list", check: { featureId: FEATURES.seats } },
];

export type SidecarRpc = "GetBooleanEntitlement" | "GetMeteredEntitlement";

export const SIDECAR_CHECKS: ReadonlyArray<{ rpc: SidecarRpc; check: EntitlementCheck }> = [
  { rpc: "GetBooleanEntitlement", check: { featureId: FEATURES.reports, expectType: "BOOLEAN" } },
  { rpc: "GetMeteredEntitlement", check: { featureId: FEATURES.apiCalls, requestedUsage: 1, expectType: "METERED" } },
];

export const GATE_CONFIG = {
  customerHeader: "x-customer-id",
  rules: FILTER_ROUTES.map(({ path, check }) => ({
    pathPrefix: `/${path.split("/")[1]}`,
    feature: check.featureId,
    ...(check.requestedUsage ? { requestedUsage: check.requestedUsage } : {}),
  })),
  injectHeaders: ["x-entitlement-decision", "x-entitlement-fallback"],
  onMiss: { policy: "fetch", timeoutMs: 200, cluster: "control_plane" },
  fallback: { [FEATURES.reports]: { hasAccess: true } },
};

/** Stigg's ENTITLEMENTS_FALLBACK for the Sidecar API: same as the filter's. */
export const SIDECAR_FALLBACK = JSON.stringify({ [FEATURES.reports]: { hasAccess: true } });
