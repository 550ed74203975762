import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { decodeEntry, encodeEntry } from "../../control/codec/entryCodec.ts";
import { evaluate, type EntitlementCheck, type EntitlementKind } from "../../control/evaluation/evaluate.ts";
import {
  parseEntitlementsFallback,
  resolveFallback,
  untypedFallbackKind,
} from "../../control/evaluation/fallback.ts";
import {
  ACCESS_DENIED_REASONS,
  type CustomerEntitlements,
  type FeatureEntitlement,
} from "../../control/model/entitlements.ts";
import { epochMs, loadCases, oneOf, toEntry, type CaseRow } from "../cases/caseTable.ts";

function toCheck(raw: CaseRow["check"]): EntitlementCheck {
  const check: EntitlementCheck = { featureId: raw.featureId };
  if (raw.requestedUsage !== undefined) check.requestedUsage = raw.requestedUsage;
  if (raw.requestedValues !== undefined) check.requestedValues = raw.requestedValues;
  if (raw.expectType !== undefined) {
    check.expectType = oneOf<EntitlementKind>(["BOOLEAN", "NUMERIC", "METERED", "ENUM"], raw.expectType);
  }
  return check;
}

function runRow(row: CaseRow, entry: CustomerEntitlements | undefined = toEntry(row.customer)): void {
  const decision = evaluate(entry, toCheck(row.check), epochMs(row.now));
  assert.equal(decision.hasAccess, row.expect.hasAccess, "hasAccess");
  assert.equal(decision.accessDeniedReason, row.expect.reason, "accessDeniedReason");
  if (row.expect.currentUsage !== undefined) assert.equal(decision.currentUsage, row.expect.currentUsage, "currentUsage");
  if (row.expect.remaining !== undefined) assert.equal(decision.remaining, row.expect.remaining, "remaining");
  if (row.expect.usagePeriodEnd !== undefined) {
    assert.equal(decision.usagePeriodEnd, epochMs(row.expect.usagePeriodEnd), "usagePeriodEnd");
  }
}

describe("shared case table (test/cases/evaluation.json)", () => {
  const rows = loadCases("evaluation.json");
  test("has at least 40 rows with unique names and no expectType", () => {
    assert.ok(rows.length >= 40, `${rows.length} rows`);
    assert.equal(new Set(rows.map((r) => r.name)).size, rows.length);
    assert.ok(rows.every((r) => r.check.expectType === undefined));
  });
  for (const row of rows) test(row.name, () => runRow(row));
});

describe("typed case table (test/cases/evaluation-typed.json)", () => {
  for (const row of loadCases("evaluation-typed.json")) test(row.name, () => runRow(row));
});

describe("control-only case table (test/cases/evaluation-control-only.json)", () => {
  for (const row of loadCases("evaluation-control-only.json")) test(row.name, () => runRow(row));
});

describe("shared case table through the shared-data entry codec (what the filter reads)", () => {
  for (const row of loadCases("evaluation.json")) {
    test(row.name, () => {
      const entry = toEntry(row.customer);
      const decoded = entry === undefined ? undefined : decodeEntry(encodeEntry(entry), entry.customerId);
      runRow(row, decoded);
    });
  }
});

test("the tables together expect every Stigg access-denied reason", () => {
  const all = ["evaluation.json", "evaluation-typed.json", "evaluation-control-only.json"].flatMap(loadCases);
  const expected = new Set(all.map((r) => r.expect.reason));
  const missing = Object.keys(ACCESS_DENIED_REASONS).filter((reason) => !expected.has(reason));
  assert.deepEqual(missing, []);
});

describe("decision details", () => {
  const now = Date.parse("2025-03-10T12:00:00Z");
  const metered: FeatureEntitlement = {
    featureId: "api-calls",
    featureType: "NUMBER",
    meterType: "Incremental",
    usageLimit: 100,
    hasUnlimitedUsage: false,
    hasSoftLimit: false,
    currentUsage: 40,
    resetPeriod: "MONTH",
    usagePeriodAnchor: Date.parse("2025-01-05T00:00:00Z"),
    usagePeriodStart: Date.parse("2025-02-05T00:00:00Z"),
    usagePeriodEnd: Date.parse("2025-03-05T00:00:00Z"),
  };
  const entry: CustomerEntitlements = { customerId: "c", entitlements: [metered] };

  test("returns the rolled-over entitlement without touching the stored one", () => {
    const decision = evaluate(entry, { featureId: "api-calls", requestedUsage: 2 }, now);
    assert.equal(decision.kind, "METERED");
    assert.equal(decision.entitlement?.currentUsage, 0);
    assert.equal(decision.usagePeriodStart, Date.parse("2025-03-05T00:00:00Z"));
    assert.equal(decision.usageLimit, 100);
    assert.equal(decision.requestedUsage, 2);
    assert.equal(metered.currentUsage, 40);
    assert.equal(metered.usagePeriodEnd, Date.parse("2025-03-05T00:00:00Z"));
  });

  test("echoes requested usage as 0 when the check omits it", () => {
    assert.equal(evaluate(undefined, { featureId: "x" }, now).requestedUsage, 0);
  });

  test("hides the limit of an unlimited feature", () => {
    const unlimited = { ...metered, hasUnlimitedUsage: true };
    const decision = evaluate({ customerId: "c", entitlements: [unlimited] }, { featureId: "api-calls" }, now);
    assert.equal(decision.isUnlimited, true);
    assert.equal(decision.usageLimit, undefined);
    assert.equal(decision.remaining, undefined);
  });
});

describe("fallback", () => {
  test("uses Stigg's built-in metered default when nothing is configured", () => {
    assert.deepEqual(resolveFallback("METERED", "f"), {
      kind: "METERED",
      isFallback: true,
      hasAccess: false,
      accessDeniedReason: "Unknown",
      isUnlimited: false,
      hasSoftLimit: false,
      currentUsage: 0,
      requestedUsage: 1,
    });
    assert.deepEqual(resolveFallback("ENUM", "f").enumValues, []);
    assert.equal(resolveFallback("NUMERIC", "f").isUnlimited, false);
    assert.deepEqual(Object.keys(resolveFallback("BOOLEAN", "f")).sort(), [
      "accessDeniedReason",
      "hasAccess",
      "isFallback",
      "kind",
    ]);
  });

  test("prefers the per-call fallback over the global one", () => {
    const parsed = parseEntitlementsFallback('{"f":{"hasAccess":true,"usageLimit":1000}}');
    assert.ok(parsed.ok);
    const global = parsed.fallback;
    assert.equal(resolveFallback("METERED", "f", { global }).usageLimit, 1000);
    assert.equal(resolveFallback("METERED", "f", { global }).hasAccess, true);
    const perCall = resolveFallback("METERED", "f", { global, perCall: { hasAccess: false, usageLimit: 5 } });
    assert.equal(perCall.hasAccess, false);
    assert.equal(perCall.usageLimit, 5);
    assert.equal(resolveFallback("METERED", "other", { global }).hasAccess, false);
  });

  test("keeps only the fields of the requested kind and names the cause", () => {
    const result = resolveFallback("BOOLEAN", "f", {
      perCall: { hasAccess: true, usageLimit: 3, enumValues: ["a"] },
      reason: "FeatureTypeMismatch",
    });
    assert.deepEqual(result, { kind: "BOOLEAN", isFallback: true, hasAccess: true, accessDeniedReason: "FeatureTypeMismatch" });
  });

  test("picks the untyped fallback kind the way Stigg's SDK does", () => {
    assert.equal(untypedFallbackKind({ featureId: "f", requestedUsage: 0 }), "METERED");
    assert.equal(untypedFallbackKind({ featureId: "f", requestedValues: [] }), "ENUM");
    assert.equal(untypedFallbackKind({ featureId: "f" }, { hasAccess: true, value: 3 }), "NUMERIC");
    assert.equal(untypedFallbackKind({ featureId: "f" }), "BOOLEAN");
  });

  test("parses the documented ENTITLEMENTS_FALLBACK example", () => {
    const parsed = parseEntitlementsFallback(
      '{"feature-01-templates":{"hasAccess":true,"usageLimit":1000},"feature-02-campaigns":{"hasAccess":true,"isUnlimited":true}}',
    );
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.fallback.get("feature-01-templates"), { hasAccess: true, usageLimit: 1000 });
    assert.deepEqual(parsed.fallback.get("feature-02-campaigns"), { hasAccess: true, isUnlimited: true });
  });

  test("rejects a fallback whose fields have the wrong types, naming feature and field", () => {
    const parsed = parseEntitlementsFallback(
      '{"feature-01":{"hasAccess":true,"usageLimit":"100"},"feature-02":{"hasAccess":"yes","enumValues":[1]},"feature-03":{}}',
    );
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.errors, [
      "ENTITLEMENTS_FALLBACK.feature-01.usageLimit: must be a number",
      "ENTITLEMENTS_FALLBACK.feature-02.hasAccess: must be a boolean",
      "ENTITLEMENTS_FALLBACK.feature-02.enumValues: must be an array of strings",
      "ENTITLEMENTS_FALLBACK.feature-03.hasAccess: is required",
    ]);
  });

  test("rejects malformed JSON, non-objects and misspelt fields", () => {
    const notJson = parseEntitlementsFallback("{hasAccess:true");
    assert.ok(!notJson.ok && notJson.errors[0]?.startsWith("ENTITLEMENTS_FALLBACK: not valid JSON"));
    const array = parseEntitlementsFallback("[]");
    assert.ok(!array.ok && array.errors[0] === "ENTITLEMENTS_FALLBACK: must be a JSON object keyed by feature id");
    const entry = parseEntitlementsFallback('{"f":true}');
    assert.ok(!entry.ok && entry.errors[0] === "ENTITLEMENTS_FALLBACK.f: must be an object");
    const typo = parseEntitlementsFallback('{"f":{"hasAccess":true,"usagelimit":5}}');
    assert.ok(!typo.ok && typo.errors[0]?.startsWith("ENTITLEMENTS_FALLBACK.f.usagelimit: unknown field"));
    const infinite = parseEntitlementsFallback('{"f":{"hasAccess":true,"value":1e400}}');
    assert.ok(!infinite.ok && infinite.errors[0] === "ENTITLEMENTS_FALLBACK.f.value: must be a number");
  });

  test("accepts an empty map and null optional fields", () => {
    const empty = parseEntitlementsFallback("{}");
    assert.ok(empty.ok && empty.fallback.size === 0);
    const nulls = parseEntitlementsFallback('{"f":{"hasAccess":false,"usageLimit":null,"enumValues":null}}');
    assert.ok(nulls.ok);
    assert.deepEqual(nulls.fallback.get("f"), { hasAccess: false });
  });
});
