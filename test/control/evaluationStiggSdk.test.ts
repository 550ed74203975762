// Runs the shared case table through Stigg's own decision code (Node SDK 3.95.0, installed as a dev
// dependency) to show that our rules and Stigg's agree, and to pin the few places where we differ on
// purpose.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { loadCases, type CaseFeature } from "../cases/caseTable.ts";

interface SdkDecision {
  hasAccess: boolean;
  accessDeniedReason?: string;
}
interface DecisionService {
  decideEntitlementPolicy(
    customerExists: boolean,
    entitlement: unknown,
    requestedUsage?: number,
    requestedValues?: string[],
  ): SdkDecision;
}

const require = createRequire(import.meta.url);
const { EntitlementDecisionService } = require("@stigg/node-server-sdk/dist/services/entitlementDecisionService.js") as {
  EntitlementDecisionService: DecisionService;
};

/**
 * Rows where entitlement-gate follows Stigg 4.x (reference d.2) rather than the 3.95 code: 3.95 has
 * no customer-wide reason and reads an empty entitlement list as "customer not found".
 */
const KNOWN_DIFFERENCES = new Map<string, string>([
  ["denies a customer with no entitlements at all", "3.95: CustomerNotFound"],
]);

function sdkEntitlement(feature: CaseFeature | undefined): unknown {
  if (feature === undefined) return null;
  return {
    calculatedEntitlement: {
      feature: { featureType: feature.featureType, meterType: feature.meterType ?? null },
      usageLimit: feature.usageLimit ?? null,
      hasUnlimitedUsage: feature.hasUnlimitedUsage ?? false,
      hasSoftLimit: feature.hasSoftLimit ?? false,
      enumValues: feature.enumValues ?? null,
      accessDeniedReason: feature.accessDeniedReason ?? null,
    },
    featureUsage: { currentUsage: feature.currentUsage ?? 0 },
  };
}

const rows = loadCases("evaluation.json");

describe("case table agrees with Stigg's Node SDK 3.95 EntitlementDecisionService", () => {
  let compared = 0;
  for (const row of rows) {
    const feature = row.customer?.entitlements[row.check.featureId];
    // Rollover happens before the decision service in the SDK (with the wall clock), and 3.95 has no
    // customer-wide reasons; those rows are covered by evaluation.test.ts alone.
    const needsRollover = feature?.usagePeriodEnd !== undefined && Date.parse(feature.usagePeriodEnd) <= Date.parse(row.now);
    if (needsRollover || row.customer?.accessDeniedReason !== undefined) continue;
    compared += 1;
    test(row.name, () => {
      const customerExists = row.customer !== null && Object.keys(row.customer.entitlements).length > 0;
      const sdk = EntitlementDecisionService.decideEntitlementPolicy(
        customerExists,
        sdkEntitlement(feature),
        row.check.requestedUsage,
        row.check.requestedValues,
      );
      const difference = KNOWN_DIFFERENCES.get(row.name);
      const ours = { hasAccess: row.expect.hasAccess, accessDeniedReason: row.expect.reason };
      const theirs = { hasAccess: sdk.hasAccess, accessDeniedReason: sdk.accessDeniedReason };
      if (difference === undefined) assert.deepEqual(ours, theirs);
      else assert.notDeepEqual(ours, theirs, `expected the documented difference (${difference})`);
    });
  }
  test("compares most of the table", () => {
    assert.ok(compared >= 40, `${compared} rows compared`);
  });
});

const { calculateUsagePeriod } = require("@stigg/node-server-sdk/dist/services/cache/calculateUsagePeriod.js") as {
  calculateUsagePeriod(anchor: Date, now: Date, resetPeriod: string): { usagePeriodStart: Date; usagePeriodEnd: Date };
};

/** Stigg's SDK computes periods in local time (dayjs); the table is UTC, so compare under TZ=UTC. */
const PERIOD_DIFFERENCES = new Map<string, string>([
  ["uses the first period when now is before the anchor", "3.95 floors a negative cycle count and returns a period before the anchor"],
]);

describe("rollover periods in the case table agree with Stigg's calculateUsagePeriod (TZ=UTC)", () => {
  for (const row of rows) {
    const feature = row.customer?.entitlements[row.check.featureId];
    if (feature?.resetPeriod === undefined || feature.usagePeriodAnchor === undefined || row.expect.usagePeriodEnd === undefined) continue;
    if (feature.usagePeriodEnd !== undefined && Date.parse(feature.usagePeriodEnd) > Date.parse(row.now)) continue;
    test(row.name, () => {
      const savedTz = process.env["TZ"];
      process.env["TZ"] = "UTC";
      try {
        const sdk = calculateUsagePeriod(new Date(feature.usagePeriodAnchor ?? ""), new Date(row.now), feature.resetPeriod ?? "");
        const difference = PERIOD_DIFFERENCES.get(row.name);
        if (difference === undefined) assert.equal(sdk.usagePeriodEnd.toISOString(), new Date(row.expect.usagePeriodEnd ?? "").toISOString());
        else assert.notEqual(sdk.usagePeriodEnd.toISOString(), new Date(row.expect.usagePeriodEnd ?? "").toISOString(), difference);
      } finally {
        if (savedTz === undefined) delete process.env["TZ"];
        else process.env["TZ"] = savedTz;
      }
    });
  }
});
