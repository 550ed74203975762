import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { DEFAULT_ENTITLEMENTS_FILE } from "../../control/config/settings.ts";
import YAML from "yaml";
import { formatIssue, hasDuplicateJsonKey, parseEntitlementsText, type ParseResult } from "../../control/upstream/offlineFile/entitlementsFile.ts";

const NOW = Date.UTC(2026, 10, 25, 12);
const README = new URL("../../control/upstream/offlineFile/README.md", import.meta.url);

function parse(text: string): ParseResult {
  return parseEntitlementsText(text, { nowMs: NOW });
}

function issuesOf(text: string): string[] {
  const result = parse(text);
  assert.equal(result.ok, false, "expected the file to be rejected");
  return result.ok ? [] : result.issues.map((i) => formatIssue(i, "f.yaml"));
}

test("parses every example in the file format README", () => {
  const blocks = [...readFileSync(README, "utf8").matchAll(/```(yaml|json)\n([\s\S]*?)```/g)];
  assert.ok(blocks.length >= 4, `found ${blocks.length} examples`);
  for (const [, lang, body] of blocks) {
    const result = parse(body!);
    assert.ok(result.ok, `${lang} example failed: ${result.ok ? "" : result.issues.map((i) => formatIssue(i)).join("; ")}\n${body}`);
    assert.ok(result.customers.length > 0);
  }
});

test("parses the embedded default catalogue", () => {
  const result = parse(readFileSync(DEFAULT_ENTITLEMENTS_FILE, "utf8"));
  assert.ok(result.ok, result.ok ? "" : result.issues.map((i) => formatIssue(i)).join("; "));
  const ids = new Set(result.customers.map((c) => c.customerId));
  assert.ok(ids.size >= 4 && ids.size <= 6, `${ids.size} customers`);
  assert.ok(result.customers.some((c) => c.accessDeniedReason === "CustomerIsArchived"));
  assert.ok(result.customers.some((c) => c.entitlements.some((e) => e.hasUnlimitedUsage)));
  assert.ok(result.customers.some((c) => c.entitlements.some((e) => e.usageLimit !== undefined && e.currentUsage >= e.usageLimit && e.meterType === "Incremental")));
});

test("maps the file onto the entitlement model with defaults", () => {
  const result = parse(`customers:
  acme:
    entitlements:
      reports: { featureType: BOOLEAN }
      calls: { featureType: NUMBER, meterType: Incremental, usageLimit: 5, resetPeriod: MONTH, usagePeriodAnchor: 2026-01-31T00:00:00Z }
    resources:
      site-1: { entitlements: { region: { featureType: ENUM, enumValues: [eu] } } }
`);
  assert.ok(result.ok);
  const [acme, site] = result.customers;
  assert.deepEqual(acme!.entitlements[0], { featureId: "reports", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 });
  const calls = acme!.entitlements[1]!;
  assert.equal(calls.usagePeriodAnchor, Date.UTC(2026, 0, 31));
  // The window containing Nov 25 for an anchor on the 31st: Oct 31 .. Nov 30 (clamped).
  assert.equal(calls.usagePeriodStart, Date.UTC(2026, 9, 31));
  assert.equal(calls.usagePeriodEnd, Date.UTC(2026, 10, 30));
  assert.deepEqual(site, {
    customerId: "acme",
    resourceId: "site-1",
    entitlements: [{ featureId: "region", featureType: "ENUM", enumValues: ["eu"], hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 }],
  });
});

test("accepts JSON", () => {
  const result = parse(JSON.stringify({ customers: { a: { accessDeniedReason: "CustomerIsArchived" } } }));
  assert.ok(result.ok);
  assert.deepEqual(result.customers, [{ customerId: "a", accessDeniedReason: "CustomerIsArchived", entitlements: [] }]);
});

test("names the path and line of a bad value", () => {
  const issues = issuesOf(`customers:
  acme:
    entitlements:
      api-calls:
        featureType: NUMBER
        meterType: Incremental
        usageLimit: lots
`);
  assert.deepEqual(issues, ['f.yaml:7: customers.acme.entitlements.api-calls.usageLimit: must be a number >= 0, got "lots"']);
});

test("reports unknown keys so typos are caught", () => {
  const issues = issuesOf(`customers:
  acme:
    entitlement: {}
    entitlements:
      seats: { featureType: NUMBER, meterType: None, usageLimt: 3 }
`);
  assert.equal(issues.length, 2);
  assert.match(issues[0]!, /^f\.yaml:3: customers\.acme\.entitlement: unknown key/);
  assert.match(issues[1]!, /^f\.yaml:5: customers\.acme\.entitlements\.seats\.usageLimt: unknown key/);
});

test("rejects fields that do not apply to the feature type", () => {
  const issues = issuesOf(`customers:
  a:
    entitlements:
      r: { featureType: BOOLEAN, enumValues: [x] }
      s: { featureType: NUMBER, meterType: None, usageLimit: 3, currentUsage: 1 }
      u: { featureType: NUMBER, meterType: Incremental, hasUnlimitedUsage: true, usageLimit: 3 }
`);
  assert.deepEqual(
    issues.map((i) => i.replace(/^f\.yaml:\d+: /, "")),
    [
      "customers.a.entitlements.r.enumValues: only allowed for ENUM features",
      "customers.a.entitlements.s.currentUsage: only allowed for metered NUMBER features (meterType Fluctuating or Incremental)",
      "customers.a.entitlements.u.usageLimit: must be omitted when hasUnlimitedUsage is true",
    ],
  );
});

test("rejects bad enums, reasons, dates and booleans by name", () => {
  const issues = issuesOf(`customers:
  a:
    accessDeniedReason: Archived
    entitlements:
      f1: { featureType: BOOL }
      f2: { featureType: NUMBER, meterType: Incremental, resetPeriod: MONTHLY, usagePeriodAnchor: "next tuesday" }
      f3: { featureType: BOOLEAN, hasSoftLimit: "yes" }
`).map((i) => i.replace(/^f\.yaml:\d+: /, ""));
  assert.ok(issues.includes('customers.a.entitlements.f1.featureType: must be one of BOOLEAN, NUMBER, ENUM, got "BOOL"'), issues.join("\n"));
  assert.ok(issues.includes('customers.a.entitlements.f2.resetPeriod: must be one of YEAR, MONTH, WEEK, DAY, HOUR, got "MONTHLY"'));
  assert.ok(issues.includes('customers.a.entitlements.f2.usagePeriodAnchor: must be an ISO-8601 date such as 2026-01-01T00:00:00Z, got "next tuesday"'));
  assert.ok(issues.includes('customers.a.entitlements.f3.hasSoftLimit: must be true or false, got "yes"'));
  assert.ok(issues.some((i) => i.startsWith('customers.a.accessDeniedReason: must be a Stigg access-denied reason')));
});

test("rejects duplicate customer ids", () => {
  const issues = issuesOf("customers:\n  a: {}\n  a: {}\n");
  assert.equal(issues.length, 1);
  assert.match(issues[0]!, /^f\.yaml:3: .*[Uu]nique/);
});

test("asks for quotes around ids that YAML would read as numbers", () => {
  assert.deepEqual(issuesOf("customers:\n  007: {}\n"), ['f.yaml:2: key 007 is read as 7; quote it ("007")']);
  const quoted = parse('customers:\n  "007": {}\n  42: {}\n');
  assert.ok(quoted.ok);
  assert.deepEqual(quoted.customers.map((c) => c.customerId).sort(), ["007", "42"]);
});

test("reports YAML syntax errors with their line", () => {
  const issues = issuesOf("customers:\n  a:\n    entitlements: [1\n");
  assert.ok(issues.length >= 1);
  assert.match(issues[0]!, /^f\.yaml:\d+: /);
});

test("rejects an empty file rather than removing every customer", () => {
  assert.deepEqual(issuesOf(""), ["f.yaml: the file is empty (write `customers: {}` to have no customers)"]);
  const empty = parse("customers: {}\n");
  assert.ok(empty.ok);
  assert.equal(empty.customers.length, 0);
});

test("reads a date-time without an offset as UTC", () => {
  const result = parse(`customers:
  a:
    entitlements:
      c: { featureType: NUMBER, meterType: Incremental, resetPeriod: DAY, usagePeriodAnchor: "2026-03-01T10:00:00", usagePeriodEnd: 2026-03-02 }
`);
  assert.ok(result.ok);
  assert.equal(result.customers[0]!.entitlements[0]!.usagePeriodAnchor, Date.UTC(2026, 2, 1, 10));
  assert.equal(result.customers[0]!.entitlements[0]!.usagePeriodEnd, Date.UTC(2026, 2, 2));
});

// A file with every shape the format has, to compare the JSON fast path with the YAML reading.
const EVERY_SHAPE = {
  customers: {
    "acme": {
      entitlements: {
        reports: { featureType: "BOOLEAN" },
        calls: { featureType: "NUMBER", meterType: "Incremental", usageLimit: 5, currentUsage: 7, resetPeriod: "MONTH", usagePeriodAnchor: "2026-01-31T00:00:00Z" },
        seats: { featureType: "NUMBER", meterType: "Fluctuating", hasUnlimitedUsage: true, hasSoftLimit: true },
        region: { featureType: "ENUM", enumValues: ["eu", "us"] },
      },
      resources: { "site-1": { entitlements: { region: { featureType: "ENUM", enumValues: ["eu"] } } }, "site {2}: \"quoted\"": { accessDeniedReason: "NoActiveSubscription", entitlements: {} } },
    },
    "gone": { accessDeniedReason: "CustomerIsArchived", entitlements: {} },
    "ünïcode/ id?": { entitlements: { "feature:x": { featureType: "NUMBER", meterType: "Incremental", usageLimit: 1e15, usagePeriodStart: "2026-11-01", usagePeriodEnd: "2026-12-01T00:00:00+01:00" } } },
  },
};

test("reads a JSON file exactly as the same file written in YAML", () => {
  const json = parse(JSON.stringify(EVERY_SHAPE, null, 2));
  const yaml = parse(YAML.stringify(EVERY_SHAPE));
  assert.ok(json.ok && yaml.ok, JSON.stringify([json, yaml]));
  assert.deepEqual(json.customers, yaml.customers);
  assert.equal(json.customers.length, 5);
  // Compact JSON and a byte-order mark take the same path.
  assert.deepEqual(parse(`\uFEFF${JSON.stringify(EVERY_SHAPE)}`), json);
});

test("reports a duplicate key in a JSON file with its line, as YAML does", () => {
  const text = '{\n  "customers": {\n    "acme": {"entitlements": {}},\n    "acme": {"entitlements": {}}\n  }\n}\n';
  const issues = issuesOf(text);
  assert.equal(issues.length, 1);
  assert.match(issues[0]!, /^f\.yaml:4: .*[Mm]ap keys must be unique/);
});

test("reports a bad value in a JSON file with its path and line", () => {
  const issues = issuesOf('{\n  "customers": {\n    "acme": {\n      "entitlements": {\n        "calls": {"featureType": "NUMBR"}\n      }\n    }\n  }\n}\n');
  assert.equal(issues.length, 1);
  assert.match(issues[0]!, /^f\.yaml:5: customers\.acme\.entitlements\.calls\.featureType: /);
});

test("finds duplicate JSON keys through escapes, nesting and look-alike strings", () => {
  assert.equal(hasDuplicateJsonKey('{"a": 1, "b": {"a": 2}}'), false);
  assert.equal(hasDuplicateJsonKey('{"ab": 1, "a\\u0062": 2}'), true);
  assert.equal(hasDuplicateJsonKey('{"x": ["x", "x"], "y": "x"}'), false);
  assert.equal(hasDuplicateJsonKey('{"s": "{\\"k\\": 1, \\"k\\": 2}", "t": "}:"}'), false);
  assert.equal(hasDuplicateJsonKey('[{"k": 1}, {"k": 2}, {"k": 3, "k" : 4}]'), true);
  assert.equal(hasDuplicateJsonKey('{"q\\"": 1, "q\\\\": 2}'), false);
});
