// The shared case table (test/cases/evaluation.json) against the filter's AssemblyScript evaluation: each
// row's customer is encoded by the control plane's entry codec, the bytes go to the compiled logic with
// the check and the instant, and the answer must equal both the row and the TypeScript evaluation.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { encodeEntry } from "../../control/codec/entryCodec.ts";
import { evaluate } from "../../control/evaluation/evaluate.ts";
import { type CustomerEntitlements } from "../../control/model/entitlements.ts";
import { loadCases, toEntry, type CaseRow } from "../cases/caseTable.ts";
import { compileSpec, type SpecModule } from "./support/compileSpec.ts";

interface FilterAnswer {
  hasAccess: boolean;
  reason?: string;
  currentUsage: number;
  remaining?: number;
  usagePeriodEnd?: number;
}

const rows = loadCases("evaluation.json");

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
