// The shared case table (test/cases/evaluation.json) against the filter's AssemblyScript evaluation: each
// row's customer is encoded by the control plane's entry codec, the bytes go to the compiled logic with
// the check and the instant, and the answer must equal both the row and the TypeScript evaluation.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { encodeEntry } from "../../control/codec/entryCodec.ts";
import { evaluate } from "../../control/evaluation/evaluate.ts";
import {
  FEATURE_TYPES, METER_TYPES, RESET_PERIODS, isAccessDeniedReason, type CustomerEntitlements, type FeatureEntitlement,
} from "../../control/model/entitlements.ts";
import { compileSpec, type SpecModule } from "./support/compileSpec.ts";

interface CaseFeature {
  featureType: string;
  meterType?: string;
  usageLimit?: number;
  hasUnlimitedUsage?: boolean;
  hasSoftLimit?: boolean;
  currentUsage?: number;
  enumValues?: string[];
  resetPeriod?: string;
  usagePeriodAnchor?: string;
  usagePeriodStart?: string;
  usagePeriodEnd?: string;
  accessDeniedReason?: string;
}
interface CaseRow {
  name: string;
  now: string;
  customer: null | { accessDeniedReason?: string; entitlements: Record<string, CaseFeature> };
  check: { featureId: string; requestedUsage?: number; requestedValues?: string[]; expectType?: string };
  expect: { hasAccess: boolean; reason?: string; currentUsage?: number; remaining?: number; usagePeriodEnd?: string };
}
interface FilterAnswer {
  hasAccess: boolean;
  reason?: string;
  currentUsage: number;
  remaining?: number;
  usagePeriodEnd?: number;
}

const rows = JSON.parse(readFileSync(new URL("../cases/evaluation.json", import.meta.url), "utf8")) as CaseRow[];

function oneOf<T extends string>(allowed: readonly T[], value: string): T {
  assert.ok((allowed as readonly string[]).includes(value), `unexpected value ${value}`);
  return value as T;
}

function toFeature(featureId: string, raw: CaseFeature): FeatureEntitlement {
  const feature: FeatureEntitlement = {
    featureId,
    featureType: oneOf(FEATURE_TYPES, raw.featureType),
    hasUnlimitedUsage: raw.hasUnlimitedUsage ?? false,
    hasSoftLimit: raw.hasSoftLimit ?? false,
    currentUsage: raw.currentUsage ?? 0,
  };
  if (raw.meterType !== undefined) feature.meterType = oneOf(METER_TYPES, raw.meterType);
  if (raw.usageLimit !== undefined) feature.usageLimit = raw.usageLimit;
  if (raw.enumValues !== undefined) feature.enumValues = raw.enumValues;
  if (raw.resetPeriod !== undefined) feature.resetPeriod = oneOf(RESET_PERIODS, raw.resetPeriod);
  if (raw.usagePeriodAnchor !== undefined) feature.usagePeriodAnchor = Date.parse(raw.usagePeriodAnchor);
  if (raw.usagePeriodStart !== undefined) feature.usagePeriodStart = Date.parse(raw.usagePeriodStart);
  if (raw.usagePeriodEnd !== undefined) feature.usagePeriodEnd = Date.parse(raw.usagePeriodEnd);
  if (raw.accessDeniedReason !== undefined) {
    assert.ok(isAccessDeniedReason(raw.accessDeniedReason));
    feature.accessDeniedReason = raw.accessDeniedReason;
  }
  return feature;
}

function toEntry(customer: CaseRow["customer"]): CustomerEntitlements | undefined {
  if (customer === null) return undefined;
  const entry: CustomerEntitlements = {
    customerId: "customer-1",
    entitlements: Object.entries(customer.entitlements).map(([id, raw]) => toFeature(id, raw)),
  };
  if (customer.accessDeniedReason !== undefined) {
    assert.ok(isAccessDeniedReason(customer.accessDeniedReason));
    entry.accessDeniedReason = customer.accessDeniedReason;
  }
  return entry;
}

let spec: SpecModule;
before(async () => {
  spec = await compileSpec("test/filter/assembly/logic.spec.as");
});

function filterAnswer(row: CaseRow, entry: CustomerEntitlements | undefined): FilterAnswer {
  const hex = entry === undefined ? "" : Buffer.from(encodeEntry(entry)).toString("hex");
  const values = row.check.requestedValues === undefined ? "-" : row.check.requestedValues.join(",");
  const text = spec.call("caseCheck", hex, row.check.featureId, row.check.requestedUsage ?? 0, BigInt(Date.parse(row.now)), values);
  assert.notEqual(text, "corrupt", "the filter could not read the encoded entry");
  return JSON.parse(text) as FilterAnswer;
}

describe("shared case table on the filter's evaluation", () => {
  it("has rows to run", () => {
    assert.ok(rows.length >= 30, `only ${rows.length} rows`);
  });

  for (const row of rows) {
    it(row.name, () => {
      const entry = toEntry(row.customer);
      const got = filterAnswer(row, entry);
      // Against the row.
      assert.equal(got.hasAccess, row.expect.hasAccess, "hasAccess");
      assert.equal(got.reason, row.expect.reason, "reason");
      if (row.expect.currentUsage !== undefined) assert.equal(got.currentUsage, row.expect.currentUsage, "currentUsage");
      if (row.expect.remaining !== undefined) assert.equal(got.remaining, row.expect.remaining, "remaining");
      if (row.expect.usagePeriodEnd !== undefined) assert.equal(got.usagePeriodEnd, Date.parse(row.expect.usagePeriodEnd), "usagePeriodEnd");
      // Against the TypeScript reference, field by field where both say something.
      const ts = evaluate(entry, { featureId: row.check.featureId, requestedUsage: row.check.requestedUsage ?? 0,
        ...(row.check.requestedValues ? { requestedValues: row.check.requestedValues } : {}) }, Date.parse(row.now));
      assert.equal(got.hasAccess, ts.hasAccess, "hasAccess vs TypeScript");
      assert.equal(got.reason, ts.accessDeniedReason, "reason vs TypeScript");
      if (ts.kind === "METERED") {
        assert.equal(got.currentUsage, ts.currentUsage, "currentUsage vs TypeScript");
        assert.equal(got.remaining, ts.remaining, "remaining vs TypeScript");
        if (ts.usagePeriodEnd !== undefined) assert.equal(got.usagePeriodEnd, ts.usagePeriodEnd, "usagePeriodEnd vs TypeScript");
      }
    });
  }
});
