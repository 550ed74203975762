import { test } from "node:test";
import assert from "node:assert/strict";
import {
  EntitlementsStateGraphqlError,
  EntitlementsStateShapeError,
  parseEntitlementsStateDocument,
} from "../../control/upstream/stigg/entitlementsState.ts";

const feature = (refId: string, featureType = "BOOLEAN", meterType: string | null = null) => ({
  __typename: "EntitlementFeature",
  refId,
  featureType,
  meterType,
});

function doc(state: Record<string, unknown>): unknown {
  return { data: { entitlementsState: state } };
}

function shapeError(body: unknown): EntitlementsStateShapeError {
  try {
    parseEntitlementsStateDocument(body, "c");
  } catch (error) {
    assert.ok(error instanceof EntitlementsStateShapeError, String(error));
    return error;
  }
  assert.fail("expected a shape error");
}

test("reads the legacy entitlements list when entitlementsV2 is absent, with epoch-millisecond dates", () => {
  const parsed = parseEntitlementsStateDocument(
    doc({
      entitlements: [
        { isGranted: true, hasUnlimitedUsage: false, usageLimit: 5, currentUsage: 2, usagePeriodEnd: 1_740_000_000_000, resetPeriod: "DAY", feature: feature("seats", "NUMBER", "Fluctuating") },
      ],
      accessDeniedReason: null,
    }),
    "c",
  );
  assert.deepEqual(parsed.entitlements.entitlements, [
    { featureId: "seats", featureType: "NUMBER", meterType: "Fluctuating", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 2, usageLimit: 5, resetPeriod: "DAY", usagePeriodEnd: 1_740_000_000_000 },
  ]);
  assert.deepEqual(parsed.notes, []);
});

test("prefers entitlementsV2 over the legacy list", () => {
  const parsed = parseEntitlementsStateDocument(
    doc({ entitlements: [{ hasUnlimitedUsage: false, feature: feature("old") }], entitlementsV2: [{ hasUnlimitedUsage: false, feature: feature("new") }] }),
    "c",
  );
  assert.deepEqual(parsed.entitlements.entitlements.map((e) => e.featureId), ["new"]);
});

test("keeps enum values and treats a null meter type as metered-capable (absent)", () => {
  const parsed = parseEntitlementsStateDocument(
    doc({ entitlementsV2: [{ hasUnlimitedUsage: false, enumValues: ["a", "b"], feature: feature("model", "ENUM") }, { hasUnlimitedUsage: false, feature: feature("n", "NUMBER", null) }] }),
    "c",
  );
  assert.deepEqual(parsed.entitlements.entitlements[0]?.enumValues, ["a", "b"]);
  assert.equal(parsed.entitlements.entitlements[1]?.meterType, undefined);
});

test("tolerates values from a newer Stigg in the safe direction and says so", () => {
  const parsed = parseEntitlementsStateDocument(
    doc({
      entitlementsV2: [
        { hasUnlimitedUsage: false, accessDeniedReason: "SomethingNew", feature: feature("a") },
        { hasUnlimitedUsage: false, feature: feature("b", "STRING") },
        { hasUnlimitedUsage: false, resetPeriod: "QUARTER", feature: feature("c", "NUMBER", "Gauge") },
        { hasUnlimitedUsage: false, feature: feature("a") },
      ],
      accessDeniedReason: "CustomerIsSuspended",
    }),
    "c",
  );
  const [a, c] = parsed.entitlements.entitlements;
  assert.equal(a?.accessDeniedReason, "Unknown");
  assert.equal(c?.featureId, "c");
  assert.equal(c?.meterType, undefined);
  assert.equal(c?.resetPeriod, undefined);
  assert.equal(parsed.entitlements.entitlements.length, 2);
  assert.equal(parsed.entitlements.accessDeniedReason, "Unknown");
  assert.equal(parsed.notes.length, 6);
});

test("names the path of every kind of wrongly typed field", () => {
  const base = { hasUnlimitedUsage: false, feature: feature("f", "NUMBER", "Incremental") };
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, currentUsage: "3" }, /entitlementsV2\[0\]\.currentUsage: must be a number/],
    [{ ...base, hasSoftLimit: "false" }, /entitlementsV2\[0\]\.hasSoftLimit: must be a boolean/],
    [{ ...base, enumValues: [1] }, /entitlementsV2\[0\]\.enumValues: must be an array of strings/],
    [{ ...base, usagePeriodEnd: "next tuesday" }, /entitlementsV2\[0\]\.usagePeriodEnd: is not an ISO-8601 date/],
    [{ ...base, usagePeriodEnd: true }, /usagePeriodEnd: must be an ISO-8601 string/],
    [{ ...base, feature: { featureType: "BOOLEAN" } }, /feature\.refId: must be a non-empty string/],
    [{ ...base, feature: { refId: "x" } }, /feature\.featureType: is required/],
    [{ hasUnlimitedUsage: false }, /entitlementsV2\[0\]\.feature: must be an object/],
    [{ ...base, accessDeniedReason: 3 }, /accessDeniedReason: must be a string/],
  ];
  for (const [item, message] of cases) {
    assert.match(shapeError(doc({ entitlementsV2: [item] })).message, message);
  }
  assert.match(shapeError(doc({ entitlementsV2: [null] })).message, /entitlementsV2\[0\]: must be an object/);
  assert.match(shapeError({ data: { entitlementsState: { entitlementsV2: [], accessDeniedReason: 1 } } }).message, /entitlementsState\.accessDeniedReason/);
});

test("raises GraphQL errors with their messages and flags Unauthenticated", () => {
  assert.throws(
    () => parseEntitlementsStateDocument({ errors: [{ message: "a" }, { message: "b", extensions: { code: "UNAUTHENTICATED" } }] }, "c"),
    (error: unknown) => error instanceof EntitlementsStateGraphqlError && error.unauthenticated && error.messages.join() === "a,b",
  );
  assert.doesNotThrow(() => parseEntitlementsStateDocument({ errors: [], ...(doc({ entitlementsV2: [] }) as object) }, "c"));
  assert.match(shapeError({ errors: "bad", data: {} }).message, /\$\.errors: must be an array/);
});
