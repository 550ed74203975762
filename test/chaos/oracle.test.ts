// The chaos suite's judge: expected answers from the data of their time, stale and wrong answers,
// fallbacks and errors kept apart, and the per-scenario tally built from them.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { FEATURES, FILTER_ROUTES, plan } from "./customers.ts";
import { Oracle, type Observation, type Outcome } from "./oracle.ts";
import { tally, within } from "./tally.ts";
import { chaosTable, rowPasses } from "./chaosTable.ts";

const reports = { featureId: FEATURES.reports };
const apiCall = { featureId: FEATURES.apiCalls, requestedUsage: 1 };

function observe(customerId: string, at: number, outcome: Outcome, extra: Partial<Observation> = {}): Observation {
  return { api: "filter", customerId, check: reports, cold: false, startedAt: at, endedAt: at + 5, outcome, ...extra };
}

const answer = (verdict: string, fallback = false): Outcome => ({ kind: "decision", verdict, fallback });

describe("expected-decision oracle", () => {
  it("expects the answer of the data current at the time of the request", () => {
    const oracle = new Oracle();
    oracle.set("acme", plan("acme", "pro"), 1_000);
    oracle.set("acme", plan("acme", "revoked"), 5_000);
    assert.equal(oracle.expected("acme", reports, 2_000), "allow");
    assert.equal(oracle.expected("acme", reports, 6_000), "deny:Revoked");
    assert.equal(oracle.expected("acme", apiCall, 6_000), "allow");
  });

  it("denies with CustomerNotFound for a customer Stigg never had, and the limit reason at the limit", () => {
    const oracle = new Oracle();
    oracle.set("gone", undefined, 0);
    oracle.set("full", plan("full", "atLimit"), 0);
    assert.equal(oracle.expected("gone", reports, 10), "deny:CustomerNotFound");
    assert.equal(oracle.expected("nobody", reports, 10), "deny:CustomerNotFound");
    assert.equal(oracle.expected("full", apiCall, 10), "deny:RequestedUsageExceedingLimit");
    assert.equal(oracle.expected("full", reports, 10), "allow");
  });

  it("accepts the old answer within the push grace after a change and calls it stale later", () => {
    const oracle = new Oracle();
    oracle.set("acme", plan("acme", "pro"), 0);
    oracle.set("acme", plan("acme", "archived"), 10_000);
    assert.equal(oracle.judge(observe("acme", 10_500, answer("allow")), 1_000), "ok");
    assert.equal(oracle.judge(observe("acme", 12_000, answer("allow")), 1_000), "stale");
    assert.equal(oracle.judge(observe("acme", 12_000, answer("deny:CustomerIsArchived")), 1_000), "ok");
    assert.equal(oracle.staleForMs(observe("acme", 12_000, answer("allow"))), 2_000, "the change was published 2 s before");
    assert.equal(oracle.staleForMs(observe("acme", 12_000, answer("deny:CustomerIsArchived"))), 0);
  });

  it("accepts the new answer for a request still in flight when the change lands", () => {
    const oracle = new Oracle();
    oracle.set("acme", plan("acme", "pro"), 0);
    oracle.set("acme", plan("acme", "revoked"), 1_002);
    assert.equal(oracle.judge(observe("acme", 1_000, answer("deny:Revoked")), 0), "ok");
  });

  it("calls an answer no version of the data gives wrong", () => {
    const oracle = new Oracle();
    oracle.set("acme", plan("acme", "pro"), 0);
    assert.equal(oracle.judge(observe("acme", 100, answer("deny:Revoked")), 1_000), "wrong");
    assert.equal(oracle.judge(observe("acme", 100, answer("deny:CustomerNotFound")), 0), "wrong");
  });

  it("keeps fallbacks and errors apart from judged answers", () => {
    const oracle = new Oracle();
    oracle.set("acme", plan("acme", "pro"), 0);
    assert.equal(oracle.judge(observe("acme", 100, answer("allow", true)), 0), "fallback");
    assert.equal(oracle.judge(observe("acme", 100, { kind: "error", message: "UNAVAILABLE" }), 0), "error");
  });
});

describe("scenario tally", () => {
  const oracle = new Oracle();
  oracle.set("warm", plan("warm", "pro"), 0);
  oracle.set("flip", plan("flip", "pro"), 0);
  oracle.set("flip", plan("flip", "revoked"), 2_000);
  oracle.set("cold-1", plan("cold-1", "free"), 0);
  const timing = { startedAt: 0, faultStart: 1_000, faultEnd: 3_000, endedAt: 10_000 };

  it("counts wrong, stale, fallback and error answers, and where each was documented", () => {
    const observations: Observation[] = [
      observe("warm", 500, answer("allow")),
      observe("flip", 2_500, answer("allow")), // stale (inside the documented window)
      observe("flip", 8_000, answer("allow")), // stale (outside it)
      observe("warm", 4_000, answer("deny:Revoked")), // wrong
      observe("cold-1", 1_500, answer("allow", true), { cold: true }), // documented fallback
      observe("warm", 2_000, answer("allow", true)), // undocumented fallback
      observe("warm", 1_200, { kind: "error", message: "UNAVAILABLE" }, { api: "sidecar" }),
      observe("warm", 20_000, answer("deny:Revoked")), // after the scenario: not counted
    ];
    const { row, examples } = tally("t", "test", observations, oracle, timing, {
      stale: { from: 1_000, to: 5_000 },
      fallback: (o) => o.cold && within({ from: 1_000, to: 3_000 })(o),
      error: (o) => o.api === "sidecar",
    }, 0);
    assert.deepEqual(
      { requests: row.requests, wrongCached: row.wrongCached, staleDocumented: row.staleDocumented, staleUndocumented: row.staleUndocumented, maxStaleMs: row.maxStaleMs, fallbacksCached: row.fallbacksCached, fallbacksCold: row.fallbacksCold, fallbacksUndocumented: row.fallbacksUndocumented, errors: row.errors, errorsUndocumented: row.errorsUndocumented },
      { requests: 7, wrongCached: 1, staleDocumented: 1, staleUndocumented: 1, maxStaleMs: 6_000, fallbacksCached: 1, fallbacksCold: 1, fallbacksUndocumented: 1, errors: 1, errorsUndocumented: 0 },
    );
    assert.equal(row.recoveryMs, 8_005 - 3_000, "recovery runs to the end of the last unhealthy answer");
    assert.ok(examples.some((e) => e.startsWith("wrong filter warm feature-reports")), examples.join("\n"));
  });

  it("reports a clean scenario as passing with zero recovery time", () => {
    const { row } = tally("clean", "none", [observe("warm", 500, answer("allow")), observe("warm", 4_000, answer("allow"))], oracle, timing, {}, 0);
    const full = { ...row, recovered: true, notes: "" };
    assert.equal(row.recoveryMs, 0);
    assert.equal(rowPasses(full), true);
    assert.equal(rowPasses({ ...full, recovered: false }), false);
    assert.match(chaosTable([full]), /^\| scenario +\| requests/);
    assert.match(chaosTable([full]), /\| clean +\| 2 +\| 0 /);
  });

  it("knows the routes the filter is configured with", () => {
    assert.deepEqual(FILTER_ROUTES.map((r) => r.check.featureId), [FEATURES.reports, FEATURES.apiCalls, FEATURES.seats]);
  });
});
