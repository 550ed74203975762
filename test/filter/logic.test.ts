// The filter's host-free logic (filter/assembly/logic), compiled from AssemblyScript and run directly:
// JSON, configuration errors, entry decoding, evaluation and usage periods, the sync wire format.
import { before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { compileSpec, type SpecModule } from "./support/compileSpec.ts";
import { Kind, Period, encodeEntry, hex } from "./support/entryBytes.ts";
import { MessageKind, encodeSyncMessage, lengthDelimited, tag } from "./support/syncWire.ts";
import { varint } from "./support/entryBytes.ts";

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
