// The filter's host-free logic (filter/assembly/logic), compiled from AssemblyScript and run directly:
// JSON, configuration errors, entry decoding, evaluation and usage periods, the sync wire format.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileSpec, type SpecModule } from "./support/compileSpec.ts";
import { Kind, Period, encodeEntry, hex } from "./support/entryBytes.ts";
import { MessageKind, encodeSyncMessage, lengthDelimited, tag } from "./support/syncWire.ts";
import { varint } from "./support/entryBytes.ts";
import { isUsableToken } from "../../control/security/bearerToken.ts";

let spec: SpecModule;
before(async () => {
  spec = await compileSpec("test/filter/assembly/logic.spec.as");
});

const ms = (iso: string): bigint => BigInt(Date.parse(iso));
const sec = (iso: string): number => Date.parse(iso) / 1000;

describe("JSON parser", () => {
  it("parses nested documents with escapes and surrogate pairs", () => {
    assert.equal(
      spec.call("jsonCheck", ' {"a": [1, -2.5e1, true, false, null], "s": "q\\"\\\\\\/\\n\\u00e9\\ud83d\\ude00"} '),
      'ok:{"a":[1,-25,true,false,null],"s":"q\\"\\\\/\\né😀"}',
    );
  });

  it("rejects malformed documents with an error instead of trapping", () => {
    const bad = [
      "", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "01", "1.", "-", "1e", "+1", "NaN", "tru", "nul",
      "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"a\tb\"", "[1 2]", "{\"a\":1}x", "//c\n1",
      "{\"a\":1,\"a\":2}", "1e999", "[".repeat(40) + "]".repeat(40), "\"\\ud800\\u0041\"",
    ];
    for (const input of bad) {
      const result = spec.call("jsonCheck", input);
      assert.match(result, /^error:/, `expected an error for ${JSON.stringify(input)}, got ${result}`);
    }
  });

  it("reports duplicate keys and the byte offset of the problem", () => {
    assert.equal(spec.call("jsonCheck", '{"a":1,"a":2}'), 'error:duplicate key "a"@10');
    assert.equal(spec.call("jsonCheck", "[1,]"), "error:unexpected character@3");
  });

  it("rejects invalid UTF-8 inside strings", () => {
    // Stray continuation byte, overlong encoding, truncated sequence, UTF-16 surrogate, above U+10FFFF.
    for (const bytes of ["22ff22", "22c0af22", "22e08022", "22eda08022", "22f490808022"]) {
      assert.equal(spec.call("jsonCheckBytes", bytes), "error:invalid UTF-8", bytes);
    }
    assert.equal(spec.call("jsonCheckBytes", "22c3a9f09f988022"), 'ok:"é😀"');
  });

  it("accepts nesting up to the depth limit and refuses deeper", () => {
    assert.match(spec.call("jsonCheck", "[".repeat(33) + "]".repeat(33)), /^ok:/);
    assert.match(spec.call("jsonCheck", "[".repeat(34) + "]".repeat(34)), /^error:nesting deeper than 32/);
  });

  it("survives random garbage", () => {
    let seed = 12345;
    const alphabet = '{}[]":,0123456789.-+eE truefalsnu\\/\u00e9x';
    for (let n = 0; n < 500; n++) {
      let text = "";
      const length = (seed = (seed * 1103515245 + 12345) >>> 0) % 30;
      for (let i = 0; i < length; i++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        text += alphabet[seed % alphabet.length];
      }
      assert.match(spec.call("jsonCheck", text), /^(ok|error):/);
    }
  });
});

describe("gate configuration", () => {
  it("reads rules in order with defaults", () => {
    assert.equal(
      spec.call("gateConfigCheck", JSON.stringify({
        customerHeader: "X-Tenant",
        rules: [{ pathPrefix: "/api/reports", feature: "reports" }, { pathPrefix: "/api/search", feature: "search-calls", requestedUsage: 1 }],
      })),
      "ok:header=x-tenant;rules=/api/reports>reports*0|/api/search>search-calls*1",
    );
    assert.equal(spec.call("gateConfigCheck", '{"rules":[]}'), "ok:header=x-customer-id;rules=");
  });

  it("names the field and the problem for every invalid configuration", () => {
    const cases: Array<[unknown, string]> = [
      [{}, "rules: required"],
      [{ rules: {} }, "rules: must be an array, got an object"],
      [{ rules: [1] }, "rules[0]: must be an object, got a number"],
      [{ rules: [{ feature: "f" }] }, "rules[0].pathPrefix: required (or path, or pathPattern)"],
      [{ rules: [{ pathPrefix: "/a", feature: "f" }, { pathPrefix: "/b", feature: "f" }, { pathPrefix: "api", feature: "f" }] },
        'rules[2].pathPrefix: must be a string starting with "/"'],
      [{ rules: [{ pathPrefix: "/a", feature: "" }] }, "rules[0].feature: must be a non-empty string"],
      [{ rules: [{ pathPrefix: "/a" }] }, "rules[0].feature: required"],
      [{ rules: [{ pathPrefix: "/a", feature: "f", requestedUsage: -1 }] }, "rules[0].requestedUsage: must be a number >= 0"],
      [{ rules: [{ pathPrefix: "/a", feature: "f", requestedUsage: "1" }] }, "rules[0].requestedUsage: must be a number >= 0"],
      [{ rules: [{ pathPrefix: "/a", feature: "f", regex: "^/a" }] }, "rules[0].regex: unknown field"],
      [{ rules: [], dryRun: true }, "dryRun: unknown field"],
      [{ rules: [], "": 1 }, '"": unknown field'],
      [{ rules: [{ pathPrefix: "/a", feature: "f", "": 1 }] }, 'rules[0]."": unknown field'],
      [{ rules: [], customerHeader: "" }, "customerHeader: must be a header name (letters, digits and !#$%&'*+-.^_`|~)"],
      [{ rules: [], customerHeader: "x customer" }, "customerHeader: must be a header name (letters, digits and !#$%&'*+-.^_`|~)"],
      [{ rules: [], customerHeader: "X-Entitlement-Customer" },
        'customerHeader: must not start with "x-entitlement-" (the filter strips those from requests)'],
      [[], "configuration: must be a JSON object, got an array"],
    ];
    for (const [config, expected] of cases) {
      assert.equal(spec.call("gateConfigCheck", JSON.stringify(config)), `error:${expected}`, JSON.stringify(config));
    }
    assert.equal(spec.call("gateConfigCheck", "{nope"), "error:configuration: invalid JSON at byte 1: expected a string key");
  });

  it("matches the first rule whose prefix the path starts with, ignoring the query string", () => {
    const config = JSON.stringify({ rules: [
      { pathPrefix: "/api/search", feature: "search" }, { pathPrefix: "/api", feature: "api" },
    ] });
    assert.equal(spec.callNumber("matchCheck", config, "/api/search?q=1"), 0);
    assert.equal(spec.callNumber("matchCheck", config, "/api/reports"), 1);
    assert.equal(spec.callNumber("matchCheck", config, "/ap?/api"), -1);
    assert.equal(spec.callNumber("matchCheck", config, "/other"), -1);
    assert.equal(spec.callNumber("matchCheck", config, "/api#frag"), 1);
  });
});

describe("sync configuration", () => {
  it("applies defaults and reads every field", () => {
    assert.equal(spec.call("syncConfigCheck", '{"cluster":"control_plane"}'), "ok:cluster=control_plane;nodeId=envoy;min=250;max=10000");
    assert.equal(
      spec.call("syncConfigCheck", '{"cluster":"cp","nodeId":"edge-1","reconnectMinMs":100,"reconnectMaxMs":2000}'),
      "ok:cluster=cp;nodeId=edge-1;min=100;max=2000",
    );
  });

  it("names the invalid field", () => {
    const cases: Array<[unknown, string]> = [
      [{}, "cluster: required"],
      [{ cluster: "" }, "cluster: must be a non-empty string"],
      [{ cluster: 3 }, "cluster: must be a string, got a number"],
      [{ cluster: "cp", reconnectMinMs: 0 }, "reconnectMinMs: must be an integer from 1 to 3600000"],
      [{ cluster: "cp", reconnectMinMs: 1.5 }, "reconnectMinMs: must be an integer from 1 to 3600000"],
      [{ cluster: "cp", reconnectMinMs: 500, reconnectMaxMs: 100 }, "reconnectMaxMs: must be >= reconnectMinMs"],
      [{ cluster: "cp", pollMs: 5 }, "pollMs: unknown field"],
    ];
    for (const [config, expected] of cases) {
      assert.equal(spec.call("syncConfigCheck", JSON.stringify(config)), `error:${expected}`, JSON.stringify(config));
    }
  });
});

describe("bearer token for the control plane (authToken)", () => {
  const token = "s3cr3t-Token_value.with~all+kinds/of=";
  const bearer = `authorization=Bearer ${token}`;
  const rules = [{ pathPrefix: "/a", feature: "f" }];

  it("accepts exactly the tokens the control plane accepts for SYNC_AUTH_TOKEN", () => {
    const candidates = [
      token, "a".repeat(16), "a".repeat(15), "a".repeat(4096), "a".repeat(4097), "abcdefghijklmnop==", "================",
      "abcdefgh=ijklmnop", "abcdefgh ijklmnop", "abcdefgh\tijklmnop", "abcdefgh!jklmnop", "abcdefgh:ijklmnop", "abcdefghijklmnoé",
      "abcdefghijklmnop\n", "", "Bearer abcdefghijklmnop",
    ];
    for (const candidate of candidates) {
      assert.equal(spec.callNumber("tokenCheck", candidate) === 1, isUsableToken(candidate), JSON.stringify(candidate));
    }
  });

  it("serializes authorization: Bearer <token> for the sync role, and nothing without a token", () => {
    assert.equal(spec.call("syncAuthCheck", JSON.stringify({ cluster: "cp", authToken: token })), bearer);
    assert.equal(spec.call("syncAuthCheck", JSON.stringify({ cluster: "cp" })), "none");
    assert.equal(spec.call("syncAuthCheck", JSON.stringify({ cluster: "cp", authToken: null })), "none");
  });

  it("names the field and never echoes an unusable token", () => {
    const rule = "must be 16 to 4096 characters of A-Z a-z 0-9 - . _ ~ + / then optional = padding (the control plane's SYNC_AUTH_TOKEN rule)";
    const secret = "short-secret";
    const cases: Array<[string, unknown, string]> = [
      ["syncAuthCheck", { cluster: "cp", authToken: secret }, `authToken: ${rule}`],
      ["syncAuthCheck", { cluster: "cp", authToken: "has a space in it!!" }, `authToken: ${rule}`],
      ["syncAuthCheck", { cluster: "cp", authToken: 1234567890123456 }, "authToken: must be a string, got a number"],
      ["gateAuthCheck", { rules, sync: { cluster: "cp", authToken: secret } }, `sync.authToken: ${rule}`],
      ["gateAuthCheck", { rules, onMiss: { authToken: secret } }, `onMiss.authToken: ${rule}`],
      ["gateAuthCheck", { rules, onMiss: { authToken: "" } }, `onMiss.authToken: ${rule}`],
    ];
    for (const [fn, config, error] of cases) {
      const out = spec.call(fn, JSON.stringify(config));
      assert.equal(out, `error:${error}`, JSON.stringify(config));
      assert.ok(!out.includes(secret));
    }
  });

  it("gives FetchCustomer onMiss.authToken, else the sync section's token", () => {
    const other = "another-token-for-fetches";
    assert.equal(spec.call("gateAuthCheck", JSON.stringify({ rules })), "miss=none;sync=-");
    assert.equal(spec.call("gateAuthCheck", JSON.stringify({ rules, onMiss: { authToken: token } })), `miss=${bearer};sync=-`);
    assert.equal(spec.call("gateAuthCheck", JSON.stringify({ rules, sync: { cluster: "cp", authToken: token } })), `miss=${bearer};sync=${bearer}`);
    assert.equal(
      spec.call("gateAuthCheck", JSON.stringify({ rules, onMiss: { authToken: other }, sync: { cluster: "cp", authToken: token } })),
      `miss=authorization=Bearer ${other};sync=${bearer}`,
    );
    assert.equal(spec.call("gateAuthCheck", JSON.stringify({ rules, sync: { cluster: "cp" } })), "miss=none;sync=none");
  });
});

describe("entry decoder", () => {
  const entry = encodeEntry({
    features: [
      { id: "reports", kind: Kind.BOOLEAN },
      { id: "seats", kind: Kind.NUMERIC, limit: 5 },
      { id: "api-calls", kind: Kind.METERED, limit: 100, usage: 42.5, period: { reset: Period.MONTH, anchorSec: 1700000000, endSec: 1702592000 } },
      { id: "region", kind: Kind.ENUM, values: ["eu", "us"] },
      { id: "revoked", kind: Kind.BOOLEAN, reason: 13 },
    ],
  });

  it("decodes every feature kind and field", () => {
    assert.equal(
      spec.call("entryCheck", hex(entry)),
      "reason=0;api-calls:3:52:r0:l100:u42.5:p3/1700000000/1702592000:v;region:4:0:r0:l0:u0:p0/0/0:veu,us;" +
        "reports:1:0:r0:l0:u0:p0/0/0:v;revoked:1:8:r13:l0:u0:p0/0/0:v;seats:2:4:r0:l5:u0:p0/0/0:v",
    );
  });

  it("finds one feature without decoding the rest, and reports absent ones", () => {
    assert.match(spec.call("lookupCheck", hex(entry), "region"), /^reason=0;region:4:0:.*:veu,us$/);
    assert.equal(spec.call("lookupCheck", hex(entry), "zzz"), "reason=0;absent");
    assert.equal(spec.call("lookupCheck", hex(entry), "a"), "reason=0;absent");
  });

  it("reads the customer-wide reason", () => {
    assert.equal(spec.call("entryCheck", hex(encodeEntry({ reason: 2, features: [] }))), "reason=2;");
  });

  it("rejects every truncation of a valid entry without reading out of bounds", () => {
    for (let cut = 0; cut < entry.length; cut++) {
      const truncated = hex(entry.subarray(0, cut));
      assert.equal(spec.call("entryCheck", truncated), "corrupt", `cut at ${cut}`);
      assert.match(spec.call("lookupCheck", truncated, "seats"), /^(corrupt|reason=0;absent)$/, `cut at ${cut}`);
    }
  });

  it("rejects corrupt bytes: wrong format, unknown kind, bad period, overlong varints, trailing data", () => {
    assert.equal(spec.call("entryCheck", "02" + "00" + "00"), "corrupt");
    assert.equal(spec.call("entryCheck", "0100" + "01" + "0161" + "09" + "00"), "corrupt");
    assert.equal(spec.call("entryCheck", "0100" + "01" + "0161" + "03" + "20" + "00" + "09" + "00" + "00"), "corrupt");
    assert.equal(spec.call("entryCheck", "0100" + "ffffffffffffffffffff01"), "corrupt");
    assert.equal(spec.call("entryCheck", hex(entry) + "00"), "corrupt");
    // A count far larger than the bytes that follow.
    assert.equal(spec.call("entryCheck", "0100" + "ff7f" + "0161"), "corrupt");
  });

  it("survives random mutations of a valid entry", () => {
    let seed = 7;
    for (let n = 0; n < 400; n++) {
      const mutated = Uint8Array.from(entry);
      for (let k = 0; k < 3; k++) {
        seed = (seed * 1103515245 + 12345) >>> 0;
        mutated[seed % mutated.length] = (seed >>> 8) & 0xff;
      }
      assert.match(spec.call("entryCheck", hex(mutated)), /^(corrupt|reason=)/);
      assert.match(spec.call("lookupCheck", hex(mutated), "seats"), /^(corrupt|reason=)/);
    }
  });
});

describe("evaluation", () => {
  const now = ms("2026-11-25T12:00:00Z");
  const check = (spec_: SpecModule, entryHex: string, feature: string, usage = 0, values = "-", at = now): string =>
    spec_.call("evaluateCheck", entryHex, feature, usage, at, values);

  it("denies a customer without an entry as CustomerNotFound", () => {
    assert.equal(check(spec, "", "reports"), "deny:CustomerNotFound");
  });

  it("denies with the customer-wide reason before looking at features", () => {
    const archived = hex(encodeEntry({ reason: 2, features: [{ id: "reports", kind: Kind.BOOLEAN }] }));
    assert.equal(check(spec, archived, "reports"), "deny:CustomerIsArchived");
    assert.equal(check(spec, hex(encodeEntry({ reason: 6, features: [] })), "x"), "deny:NoActiveSubscription");
    assert.equal(check(spec, hex(encodeEntry({ reason: 77, features: [] })), "x"), "deny:Unknown");
  });

  it("denies a feature missing from the subscription", () => {
    assert.equal(check(spec, hex(encodeEntry({ features: [{ id: "a", kind: Kind.BOOLEAN }] })), "b"), "deny:NoFeatureEntitlementInSubscription");
  });

  it("denies with the feature's own reason", () => {
    const e = hex(encodeEntry({ features: [{ id: "a", kind: Kind.BOOLEAN, reason: 9 }, { id: "b", kind: Kind.METERED, limit: 10, reason: 13 }] }));
    assert.equal(check(spec, e, "a"), "deny:BudgetExceeded");
    // A metered feature's own denial still reports its usage (remaining), as the control plane does.
    assert.equal(check(spec, e, "b"), "deny:Revoked;remaining=10");
  });

  it("allows boolean and numeric features", () => {
    const e = hex(encodeEntry({ features: [{ id: "a", kind: Kind.BOOLEAN }, { id: "n", kind: Kind.NUMERIC, limit: 3 }] }));
    assert.equal(check(spec, e, "a"), "allow");
    assert.equal(check(spec, e, "n", 99), "allow");
  });

  it("allows an enum feature only when every requested value is entitled", () => {
    const e = hex(encodeEntry({ features: [{ id: "region", kind: Kind.ENUM, values: ["eu", "us"] }] }));
    assert.equal(check(spec, e, "region"), "allow");
    assert.equal(check(spec, e, "region", 0, "eu,us"), "allow");
    assert.equal(check(spec, e, "region", 0, "eu,apac"), "deny:RequestedValuesMismatch");
  });

  it("checks metered usage against the limit, with soft limits and unlimited usage allowed", () => {
    const e = hex(encodeEntry({ features: [
      { id: "m", kind: Kind.METERED, limit: 10, usage: 9 },
      { id: "nolimit", kind: Kind.METERED, usage: 0 },
      { id: "soft", kind: Kind.METERED, limit: 10, usage: 50, softLimit: true },
      { id: "unl", kind: Kind.METERED, usage: 1e6, unlimited: true },
      { id: "frac", kind: Kind.METERED, limit: 1.5, usage: 0.5 },
    ] }));
    assert.equal(check(spec, e, "m", 1), "allow;remaining=1");
    assert.equal(check(spec, e, "m", 2), "deny:RequestedUsageExceedingLimit;remaining=1");
    assert.equal(check(spec, e, "m", 0), "allow;remaining=1");
    assert.equal(check(spec, e, "nolimit", 0), "allow;remaining=0");
    assert.equal(check(spec, e, "nolimit", 1), "deny:RequestedUsageExceedingLimit;remaining=0");
    assert.equal(check(spec, e, "soft", 5), "allow;remaining=0");
    assert.equal(check(spec, e, "unl", 5), "allow");
    assert.equal(check(spec, e, "frac", 1), "allow;remaining=1");
    assert.equal(check(spec, e, "frac", 1.5), "deny:RequestedUsageExceedingLimit;remaining=1");
  });

  it("resets usage when the period has ended and recomputes it from the anchor", () => {
    // Anchor Jan 31: monthly periods clamp to Feb 28 / Mar 31 ... computed from the anchor, not stepwise.
    const anchor = sec("2025-01-31T10:00:00Z");
    const e = hex(encodeEntry({ features: [{
      id: "m", kind: Kind.METERED, limit: 10, usage: 10,
      period: { reset: Period.MONTH, anchorSec: anchor, endSec: sec("2025-02-28T10:00:00Z") },
    }] }));
    // Still inside the stored period: usage counts.
    assert.equal(check(spec, e, "m", 1, "-", ms("2025-02-10T00:00:00Z")),
      `deny:RequestedUsageExceedingLimit;remaining=0;period=0..${ms("2025-02-28T10:00:00Z")}`);
    // Past it: usage 0, period Mar 31 10:00 .. Apr 30 10:00.
    assert.equal(check(spec, e, "m", 1, "-", ms("2025-04-15T00:00:00Z")),
      `allow;remaining=10;period=${ms("2025-03-31T10:00:00Z")}..${ms("2025-04-30T10:00:00Z")}`);
  });

  it("treats the period end itself as the start of the next period", () => {
    const e = hex(encodeEntry({ features: [{
      id: "m", kind: Kind.METERED, limit: 1, usage: 1,
      period: { reset: Period.DAY, anchorSec: sec("2025-01-01T00:00:00Z"), endSec: sec("2025-01-02T00:00:00Z") },
    }] }));
    assert.equal(check(spec, e, "m", 1, "-", ms("2025-01-02T00:00:00Z")),
      `allow;remaining=1;period=${ms("2025-01-02T00:00:00Z")}..${ms("2025-01-03T00:00:00Z")}`);
    assert.equal(check(spec, e, "m", 1, "-", ms("2025-01-01T23:59:59Z")),
      `deny:RequestedUsageExceedingLimit;remaining=0;period=0..${ms("2025-01-02T00:00:00Z")}`);
  });
});

describe("usage periods", () => {
  const period = (reset: number, anchor: string, now: string): string => spec.call("periodCheck", reset, ms(anchor), ms(now));
  const range = (a: string, b: string): string => `${ms(a)}..${ms(b)}`;

  it("adds calendar months to the anchor, clamping to the month's last day", () => {
    assert.equal(period(Period.MONTH, "2024-01-31T08:00:00Z", "2024-02-29T09:00:00Z"), range("2024-02-29T08:00:00Z", "2024-03-31T08:00:00Z"));
    assert.equal(period(Period.MONTH, "2024-01-31T08:00:00Z", "2024-02-29T07:00:00Z"), range("2024-01-31T08:00:00Z", "2024-02-29T08:00:00Z"));
    assert.equal(period(Period.MONTH, "2023-01-31T08:00:00Z", "2023-03-05T00:00:00Z"), range("2023-02-28T08:00:00Z", "2023-03-31T08:00:00Z"));
    assert.equal(period(Period.MONTH, "2024-12-15T00:00:00Z", "2026-11-25T00:00:00Z"), range("2026-11-15T00:00:00Z", "2026-12-15T00:00:00Z"));
  });

  it("handles years with leap days", () => {
    assert.equal(period(Period.YEAR, "2024-02-29T00:00:00Z", "2025-03-01T00:00:00Z"), range("2025-02-28T00:00:00Z", "2026-02-28T00:00:00Z"));
    assert.equal(period(Period.YEAR, "2024-02-29T00:00:00Z", "2028-02-29T00:00:00Z"), range("2028-02-29T00:00:00Z", "2029-02-28T00:00:00Z"));
  });

  it("uses fixed lengths for hours, days and weeks", () => {
    assert.equal(period(Period.HOUR, "2025-01-01T00:30:00Z", "2025-01-01T05:10:00Z"), range("2025-01-01T04:30:00Z", "2025-01-01T05:30:00Z"));
    assert.equal(period(Period.DAY, "2025-01-01T06:00:00Z", "2025-03-01T05:00:00Z"), range("2025-02-28T06:00:00Z", "2025-03-01T06:00:00Z"));
    assert.equal(period(Period.WEEK, "2025-01-01T00:00:00Z", "2025-01-20T00:00:00Z"), range("2025-01-15T00:00:00Z", "2025-01-22T00:00:00Z"));
  });

  it("uses the first period when now precedes the anchor, like the control plane", () => {
    assert.equal(period(Period.MONTH, "2025-03-31T00:00:00Z", "2025-03-01T00:00:00Z"), range("2025-03-31T00:00:00Z", "2025-04-30T00:00:00Z"));
  });
});

describe("sync wire format", () => {
  const entry = encodeEntry({ features: [{ id: "reports", kind: Kind.BOOLEAN }] });

  it("decodes a snapshot message with entries, removals and resources", () => {
    const bytes = encodeSyncMessage({
      kind: MessageKind.SNAPSHOT, version: 7, epoch: "ep-1", sentAtUnixMs: 1764000000000, snapshotComplete: true, heartbeatIntervalMs: 5000,
      entries: [{ customerId: "acme", value: entry }, { customerId: "gone", value: new Uint8Array(0) }, { customerId: "acme", resourceId: "r1", value: entry }],
    });
    assert.equal(
      spec.call("syncMessageCheck", hex(bytes)),
      `kind=1;version=7;epoch=ep-1;sentAt=1764000000000;complete=1;heartbeat=5000;entries=acme/=${hex(entry)},gone/=,acme/r1=${hex(entry)}`,
    );
  });

  it("skips unknown fields of every wire type, including groups", () => {
    const base = [...encodeSyncMessage({ kind: MessageKind.DELTA, version: 3, epoch: "e" })];
    const unknown = [
      ...tag(20, 0), ...varint(300),
      ...tag(21, 1), 1, 2, 3, 4, 5, 6, 7, 8,
      ...lengthDelimited(22, [9, 9, 9]),
      ...tag(23, 5), 1, 2, 3, 4,
      ...tag(24, 3), ...tag(1, 0), 5, ...tag(2, 3), ...tag(3, 2), 1, 0, ...tag(2, 4), ...tag(24, 4),
    ];
    const innerUnknown = lengthDelimited(4, [...lengthDelimited(1, Buffer.from("c1")), ...tag(9, 5), 0, 0, 0, 0, ...lengthDelimited(3, [1, 0, 0])]);
    assert.equal(
      spec.call("syncMessageCheck", hex([...unknown, ...base, ...innerUnknown, ...unknown])),
      "kind=2;version=3;epoch=e;sentAt=0;complete=0;heartbeat=0;entries=c1/=010000",
    );
  });

  it("reports corrupt messages instead of trapping", () => {
    const valid = encodeSyncMessage({ kind: MessageKind.SNAPSHOT, version: 1, epoch: "e", entries: [{ customerId: "a", value: entry }] });
    for (let cut = 1; cut < valid.length; cut++) {
      assert.match(spec.call("syncMessageCheck", hex(valid.subarray(0, cut))), /^(corrupt|kind=)/);
    }
    const corrupt = [
      "0a", // field 1 with wire type 2 and no length
      "08", // truncated varint
      "0f", // wire type 7
      "0c", // end group without start
      "a301", // start group never closed
      "a301ac01", // end group of another field
      "00", // field number 0
      "1a05616263", // string longer than the message
      "22020a", // entry whose customer id runs past its entry
    ];
    for (const input of corrupt) assert.equal(spec.call("syncMessageCheck", input), "corrupt", input);
  });

  it("encodes the subscribe request as proto3 (defaults omitted)", () => {
    assert.equal(spec.call("subscribeRequestHex", "envoy", "", 0n), hex([...lengthDelimited(1, Buffer.from("envoy"))]));
    assert.equal(
      spec.call("subscribeRequestHex", "n", "ep", 300n),
      hex([...lengthDelimited(1, Buffer.from("n")), ...lengthDelimited(2, Buffer.from("ep")), ...tag(3, 0), ...varint(300)]),
    );
  });

  it("parses the stored resume state and ignores malformed state", () => {
    assert.equal(spec.call("syncStateCheck", "ep-1 42"), "ep-1|42");
    assert.equal(spec.call("syncStateCheck", "ep with space 7"), "ep with space|7");
    for (const bad of ["", "42", "ep x", "ep ", " 5", "ep 1a"]) assert.equal(spec.call("syncStateCheck", bad), "|0", bad);
  });
});

describe("shared-data keys and bodies", () => {
  it("names customer and resource keys with the byte length of the customer id", () => {
    assert.equal(spec.call("entryKeyCheck", "acme", ""), "eg1/c/acme");
    assert.equal(spec.call("entryKeyCheck", "acmé", "proj-1"), "eg1/r/5/acméproj-1");
  });

  it("escapes the deny body as JSON", () => {
    const body = spec.call("denyBodyCheck", 'we"ird\\feat\n\u0001\u2028😀', "Revoked");
    assert.deepEqual(JSON.parse(body), { error: "entitlement_denied", feature: 'we"ird\\feat\n\u0001\u2028😀', reason: "Revoked" });
    assert.equal(spec.call("jsonStringCheck", "a\ud800b"), '"a\\ud800b"');
  });
});

describe("header map codec", () => {
  it("round-trips the ABI's serialized map", () => {
    const bytes = spec.call("headerMapRoundTrip", "application/json", "v");
    assert.equal(spec.call("headerMapCheck", bytes), "content-type=application/json&x-k=v");
  });

  it("rejects maps whose sizes point past the buffer", () => {
    const good = Buffer.from(spec.call("headerMapRoundTrip", "a", "b"), "hex");
    for (let cut = 4; cut < good.length; cut++) {
      assert.equal(spec.call("headerMapCheck", good.subarray(0, cut).toString("hex")), "invalid", `cut at ${cut}`);
    }
    assert.equal(spec.call("headerMapCheck", "ffffffff00000000"), "invalid");
    assert.equal(spec.call("headerMapCheck", ""), "");
  });
});

describe("gate options", () => {
  const rules = [{ pathPrefix: "/a", feature: "f" }];

  it("resolves a complete configuration", () => {
    const text = spec.call("gateOptionsCheck", JSON.stringify({
      customer: { jwtPayloadHeader: "X-JWT-Payload", claim: "org.id" },
      resource: { header: "x-resource-id" },
      rules,
      denyResponses: {
        RequestedUsageExceedingLimit: { status: 402, body: "{\"over\":\"{feature}\",\"why\":\"{reason}\"}" },
        default: { status: 451 },
        MissingCustomerId: { status: 401 },
      },
      injectHeaders: ["x-entitlement-decision", "x-entitlement-customer", "x-entitlement-remaining"],
      stripHeaders: ["x-internal-plan"],
      missingCustomer: "allow",
      onMiss: { policy: "fallback", timeoutMs: 50, cluster: "cp" },
      maxStaleSeconds: 30,
      fallback: { f: { hasAccess: true, usageLimit: 10 } },
      shadow: true,
      remainingResponseHeader: true,
      sync: { cluster: "cp", leaseTtlMs: 1500 },
    }));
    assert.equal(text,
      "customer=claim org.id of header x-jwt-payload;resource=header x-resource-id;inject=11;strip=1;missing=allow;" +
      "miss=fallback/50/cp;stale=30;shadow=1;remainingHeader=1;fallback=1;" +
      "429=402:{\"over\":\"f\",\"why\":\"RequestedUsageExceedingLimit\"};missingStatus=401;" +
      "other=451:{\"error\":\"entitlement_denied\",\"feature\":\"f\",\"reason\":\"NoActiveSubscription\"}:1;sync=cp/1500");
  });

  it("keeps today's defaults: header x-customer-id, decision header only, deny, fetch in 200 ms, 403/429 JSON", () => {
    assert.equal(spec.call("gateOptionsCheck", JSON.stringify({ rules })),
      "customer=header x-customer-id;resource=-;inject=1;strip=0;missing=deny;miss=fetch/200/control_plane;stale=0;shadow=0;" +
      "remainingHeader=0;fallback=0;429=429:{\"error\":\"entitlement_denied\",\"feature\":\"f\",\"reason\":\"RequestedUsageExceedingLimit\"};" +
      "missingStatus=403;other=403:{\"error\":\"entitlement_denied\",\"feature\":\"f\",\"reason\":\"NoActiveSubscription\"}:1;sync=-");
  });

  it("names the field and the problem for each invalid option", () => {
    const cases: Array<[unknown, string]> = [
      [{ rules, customerHeader: "x-a", customer: { header: "x-b" } }, "customerHeader: give either customerHeader or customer, not both"],
      [{ rules, customer: { header: "x-a", jwtPayloadHeader: "x-b", claim: "sub" } }, "customer: give either \"header\" or \"jwtPayloadHeader\", not both"],
      [{ rules, customer: { jwtPayloadHeader: "x-b" } }, "customer.claim: required with jwtPayloadHeader"],
      [{ rules, customer: { jwtPayloadHeader: "x-b", claim: "a..b" } }, "customer.claim: must not have empty segments"],
      [{ rules, customer: { header: "x-entitlement-id" } }, "customer.header: must not start with \"x-entitlement-\" (the filter strips those from requests)"],
      [{ rules, resource: "x-r" }, "resource: must be {\"header\": name} or {\"jwtPayloadHeader\": name, \"claim\": path}, got a string"],
      [{ rules: [{ path: "/a", pathPrefix: "/a", feature: "f" }] }, "rules[0]: give exactly one of pathPrefix, path, pathPattern"],
      [{ rules: [{ pathPattern: "/a/**/b", feature: "f" }] }, "rules[0].pathPattern: \"**\" may only be the last segment"],
      [{ rules: [{ pathPattern: "/a/b*", feature: "f" }] }, "rules[0].pathPattern: \"*\" must be a whole segment"],
      [{ rules: [{ path: "/a", feature: "f", methods: [] }] }, "rules[0].methods: must be a non-empty array of method names"],
      [{ rules: [{ path: "/a", feature: "f", host: "a.*.com" }] }, "rules[0].host: must be a host name, or \"*.\" followed by a domain suffix"],
      [{ rules, denyResponses: { Nope: { status: 400 } } }, "denyResponses.Nope: unknown reason (use an AccessDeniedReason name, MissingCustomerId or \"default\")"],
      [{ rules, denyResponses: { default: { status: 99 } } }, "denyResponses.default.status: must be an integer from 200 to 599"],
      [{ rules, denyResponses: { default: { headers: { "bad name": "x" } } } }, "denyResponses.default.headers.bad name: is not a header name"],
      [{ rules, injectHeaders: ["x-entitlement-plan"] }, "injectHeaders[0]: must be one of x-entitlement-decision, -customer, -feature, -remaining, -fallback"],
      [{ rules, stripHeaders: ["x-customer-id"] }, "stripHeaders[0]: would remove the header the id is read from"],
      [{ rules, missingCustomer: "maybe" }, "missingCustomer: must be \"deny\" or \"allow\""],
      [{ rules, onMiss: { policy: "wait" } }, "onMiss.policy: must be \"fetch\" or \"fallback\""],
      [{ rules, onMiss: { timeoutMs: 0 } }, "onMiss.timeoutMs: must be an integer from 1 to 60000"],
      [{ rules, maxStaleSeconds: -1 }, "maxStaleSeconds: must be a number from 0 (no limit) to 31536000"],
      [{ rules, fallback: { f: { usageLimit: 3 } } }, "fallback.f.hasAccess: required boolean"],
      [{ rules, fallback: { f: { hasAccess: true, limit: 3 } } }, "fallback.f.limit: unknown field"],
      [{ rules, shadow: "yes" }, "shadow: must be a boolean"],
      [{ rules, sync: { nodeId: "n" } }, "sync.cluster: required"],
      [{ rules, sync: { cluster: "cp", leaseTtlMs: 10 } }, "sync.leaseTtlMs: must be an integer from 300 to 600000"],
    ];
    for (const [config, error] of cases) {
      assert.equal(spec.call("gateOptionsCheck", JSON.stringify(config)), "error:" + error, JSON.stringify(config));
    }
  });
});

describe("route rules with methods, hosts and patterns", () => {
  const config = JSON.stringify({
    rules: [
      { path: "/v1/exact", feature: "exact" },
      { pathPattern: "/v1/orgs/*/reports/**", feature: "pattern", methods: ["get", "HEAD"] },
      { pathPrefix: "/v1/", host: "*.example.com", feature: "wild" },
      { pathPrefix: "/v1/", host: "api.shop.test", methods: ["POST"], feature: "host" },
    ],
  });
  const match = (path: string, method = "GET", authority = "other.test"): number => spec.callNumber("requestMatchCheck", config, path, method, authority);

  it("matches an exact path only exactly (query ignored)", () => {
    assert.equal(match("/v1/exact?x=1"), 0);
    assert.equal(match("/v1/exact/more"), -1);
  });

  it("matches * as one segment and ** as any rest, with the listed methods", () => {
    assert.equal(match("/v1/orgs/acme/reports"), 1);
    assert.equal(match("/v1/orgs/acme/reports/2025/q1"), 1);
    assert.equal(match("/v1/orgs/acme/reports", "HEAD"), 1);
    assert.equal(match("/v1/orgs/acme/reports", "POST"), -1);
    assert.equal(match("/v1/orgs//reports"), -1);
    assert.equal(match("/v1/orgs/a/b/reports"), -1);
  });

  it("matches hosts exactly or by *.suffix, case-insensitively and without the port", () => {
    assert.equal(match("/v1/x", "GET", "a.example.com"), 2);
    assert.equal(match("/v1/x", "GET", "A.Example.COM:8443"), 2);
    assert.equal(match("/v1/x", "GET", "example.com"), -1);
    assert.equal(match("/v1/x", "POST", "api.shop.test:80"), 3);
    assert.equal(match("/v1/x", "GET", "api.shop.test"), -1);
    assert.equal(match("/v1/x", "POST", ""), -1);
  });

  it("matches patterns segment by segment", () => {
    const cases: Array<[string, string, boolean]> = [
      ["/", "/", true], ["/", "/a", false], ["/a/**", "/a", true], ["/a/**", "/a/", true], ["/a/**", "/ab", false],
      ["/*", "/x", true], ["/*", "/", false], ["/*/b", "/x/b", true], ["/*/b", "/x/c", false], ["/**", "/anything/at/all", true],
      ["/a/*", "/a/b/", false], ["/a", "a", false],
    ];
    for (const [pattern, path, expected] of cases) assert.equal(spec.callNumber("patternCheck", pattern, path) === 1, expected, `${pattern} ~ ${path}`);
  });
});

describe("JWT payload claims", () => {
  const b64url = (value: unknown, pad = false): string => {
    const text = Buffer.from(JSON.stringify(value)).toString("base64url");
    return pad ? text + "=".repeat((4 - (text.length % 4)) % 4) : text;
  };

  it("reads a top-level or nested claim, with or without padding", () => {
    const payload = { sub: "cust-1", org: { id: "org-7", n: 42 }, x: "é" };
    assert.equal(spec.call("claimCheck", b64url(payload), "sub"), "cust-1");
    assert.equal(spec.call("claimCheck", b64url(payload, true), "org.id"), "org-7");
    assert.equal(spec.call("claimCheck", b64url(payload), "org.n"), "42");
    assert.equal(spec.call("claimCheck", Buffer.from(JSON.stringify(payload)).toString("base64"), "sub"), "cust-1");
  });

  it("treats bad base64, bad JSON, a missing claim or a non-scalar as no id", () => {
    assert.equal(spec.call("claimCheck", "!!!", "sub"), "<none>");
    assert.equal(spec.call("claimCheck", "abcde", "sub"), "<none>");
    assert.equal(spec.call("claimCheck", Buffer.from("{not json").toString("base64url"), "sub"), "<none>");
    assert.equal(spec.call("claimCheck", b64url({ other: 1 }), "sub"), "<none>");
    assert.equal(spec.call("claimCheck", b64url({ sub: { id: 1 } }), "sub"), "<none>");
    assert.equal(spec.call("claimCheck", b64url({ sub: 1.5 }), "sub"), "<none>");
    assert.equal(spec.call("claimCheck", "", "sub"), "<none>");
  });
});

describe("sync lease and usage ledger", () => {
  it("claims an absent, malformed or expired lease, renews its own after a third of the TTL, follows a live one", () => {
    assert.equal(spec.callNumber("leaseStepCheck", "", "me", 1000n, 3000n), 1);
    assert.equal(spec.callNumber("leaseStepCheck", "garbage", "me", 1000n, 3000n), 1);
    assert.equal(spec.callNumber("leaseStepCheck", "other 999", "me", 1000n, 3000n), 1);
    assert.equal(spec.callNumber("leaseStepCheck", "other 4000", "me", 1000n, 3000n), 2);
    assert.equal(spec.callNumber("leaseStepCheck", "me 2900", "me", 1000n, 3000n), 1);
    assert.equal(spec.callNumber("leaseStepCheck", "me 3900", "me", 1000n, 3000n), 0);
    assert.equal(spec.call("leaseFormatCheck", "w1-ab", 123456789n), "w1-ab|123456789");
  });

  it("adds local usage until a push raises the cached usage by as much", () => {
    // Three local units at cached 10; a push to 12 covers two; one to 13 covers the rest.
    assert.equal(spec.call("ledgerCheck", "a:10:1 a:10:1 a:10:1 p:10 p:12 p:13 p:20"), "3,1,0,0");
    // A drop in cached usage (new period) clears what was pending.
    assert.equal(spec.call("ledgerCheck", "a:50:5 p:0"), "0");
  });

  it("keeps every key's own local usage across many keys and table growth", () => {
    assert.equal(spec.call("ledgerManyKeys", 3000), "ok");
  });

  it("encodes the hit path's in-place usage record byte for byte like the string encoder", () => {
    for (const [c, r, f, d] of [["acme", "", "search", 1], ["acme", "proj-1", "search", 2.5], ["c", "", "f", 0], ["", "r", "f", 1]] as const) {
      const [inPlace, encoded] = spec.call("usageIncrementBoth", c, r, f, d).split("|");
      assert.equal(inPlace, encoded, `${c}/${r}/${f}/${d}`);
    }
  });

  it("writes decimal digits for header values exactly as toString does", () => {
    for (const n of [0n, 7n, 10n, 999999999999999n, -42n, -9223372036854775808n, 9223372036854775807n]) {
      const [built, text] = spec.call("decimalBoth", n).split("|");
      assert.equal(built, text);
    }
  });

  it("finds, replaces and deletes stream contexts by id like a Map, through collisions and growth", () => {
    assert.equal(spec.call("idTableChurn", 1, 4000, 64), "ok");
    assert.equal(spec.call("idTableChurn", 7, 3000, 1000), "ok");
  });

  it("encodes usage reports and fetch requests as the control plane's protobuf", () => {
    // UsageReport{node_id "n", increments [{customer "c", feature "f", delta 2} x2]}
    const inc = "0a0163" + "1a0166" + "210000000000000040";
    assert.equal(spec.call("usageReportHex", "n", "c", "", "f", 2), "0a016e" + "120f" + inc + "120f" + inc);
    assert.equal(spec.call("fetchRequestHex", "acme", "p1"), "0a0461636d6512027031");
    assert.equal(spec.call("fetchResponseCheck", "0a0b0a0461636d651a03010000" + "1005"), "acme/=010000");
    assert.equal(spec.call("fetchResponseCheck", "0a05"), "corrupt");
  });
});
