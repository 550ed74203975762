import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeEntry, encodeEntry, EntryDecodeError } from "../../control/codec/entryCodec.ts";
import type { CustomerEntitlements, FeatureEntitlement } from "../../control/model/entitlements.ts";

const base = { hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 };
const JAN_1_2026 = Date.UTC(2026, 0, 1);
const FEB_1_2026 = Date.UTC(2026, 1, 1);

function feature(f: Partial<FeatureEntitlement> & Pick<FeatureEntitlement, "featureId" | "featureType">): FeatureEntitlement {
  return { ...base, ...f };
}

const rich: CustomerEntitlements = {
  customerId: "acme",
  entitlements: [
    feature({ featureId: "reports", featureType: "BOOLEAN" }),
    feature({ featureId: "seats", featureType: "NUMBER", meterType: "None", usageLimit: 25 }),
    feature({
      featureId: "api-calls",
      featureType: "NUMBER",
      meterType: "Incremental",
      usageLimit: 1000,
      currentUsage: 300,
      resetPeriod: "MONTH",
      usagePeriodAnchor: JAN_1_2026,
      usagePeriodEnd: FEB_1_2026,
    }),
    feature({ featureId: "storage", featureType: "NUMBER", meterType: "Fluctuating", usageLimit: 50, currentUsage: 61.5, hasSoftLimit: true }),
    feature({ featureId: "region", featureType: "ENUM", enumValues: ["eu", "us"] }),
    feature({ featureId: "export", featureType: "BOOLEAN", accessDeniedReason: "Revoked" }),
    feature({ featureId: "unlimited", featureType: "NUMBER", meterType: "Incremental", hasUnlimitedUsage: true, currentUsage: 7 }),
  ],
};

function sortedById(c: CustomerEntitlements): CustomerEntitlements {
  return { ...c, entitlements: [...c.entitlements].sort((a, b) => Buffer.compare(Buffer.from(a.featureId), Buffer.from(b.featureId))) };
}

test("round-trips every feature kind through encode and decode", () => {
  const decoded = decodeEntry(encodeEntry(rich), "acme");
  assert.deepEqual(decoded, sortedById(rich));
});

test("round-trips a customer-wide denial with no features", () => {
  const archived: CustomerEntitlements = { customerId: "gone", accessDeniedReason: "CustomerIsArchived", entitlements: [] };
  const bytes = encodeEntry(archived);
  assert.deepEqual([...bytes], [1, 1, 2, 0]);
  assert.deepEqual(decodeEntry(bytes, "gone"), archived);
});

test("lays out a boolean feature exactly as ENTRY_FORMAT.md says", () => {
  const bytes = encodeEntry({ customerId: "c", entitlements: [feature({ featureId: "r", featureType: "BOOLEAN" })] });
  // format 1, flags 0, count 1, id "r", kind BOOLEAN, flags 0
  assert.deepEqual([...bytes], [1, 0, 1, 1, 0x72, 1, 0]);
});

test("writes whole numbers as varints and the usage period in unix seconds", () => {
  const metered = rich.entitlements[2]!;
  const bytes = encodeEntry({ customerId: "c", entitlements: [metered] });
  const id = [...Buffer.from("api-calls")];
  const varint = (n: number): number[] => {
    const out: number[] = [];
    while (n >= 0x80) {
      out.push((n % 0x80) | 0x80);
      n = Math.floor(n / 0x80);
    }
    out.push(n);
    return out;
  };
  assert.deepEqual(
    [...bytes],
    [
      1, 0, 1,
      id.length, ...id,
      3, // METERED
      (1 << 2) | (1 << 5) | (1 << 6), // has limit, has period, incremental
      ...varint(1000),
      ...varint(300),
      3, // MONTH
      ...varint(JAN_1_2026 / 1000),
      ...varint(FEB_1_2026 / 1000),
    ],
  );
});

test("switches a feature to f64 when one of its numbers is not a whole number", () => {
  const storage = rich.entitlements[3]!;
  const bytes = encodeEntry({ customerId: "c", entitlements: [storage] });
  const flags = bytes[3 + 1 + "storage".length + 1]!;
  assert.equal(flags & (1 << 4), 1 << 4);
  // limit and usage: 8 bytes each
  assert.equal(bytes.length, 3 + 1 + "storage".length + 2 + 16);
  assert.equal(decodeEntry(bytes).entitlements[0]!.currentUsage, 61.5);
});

test("sorts features by the bytes of their ids", () => {
  const ids = ["b", "é", "a", "Z", "aa"];
  const c: CustomerEntitlements = { customerId: "c", entitlements: ids.map((featureId) => feature({ featureId, featureType: "BOOLEAN" })) };
  assert.deepEqual(
    decodeEntry(encodeEntry(c)).entitlements.map((e) => e.featureId),
    ["Z", "a", "aa", "b", "é"],
  );
});

test("fits a realistic 10-feature customer in 256 bytes", () => {
  const entitlements: FeatureEntitlement[] = [];
  for (let i = 0; i < 4; i++) entitlements.push(feature({ featureId: `feature-bool-${i}`, featureType: "BOOLEAN" }));
  for (let i = 0; i < 2; i++) entitlements.push(feature({ featureId: `feature-seats-${i}`, featureType: "NUMBER", meterType: "None", usageLimit: 50 }));
  for (let i = 0; i < 3; i++) {
    entitlements.push(
      feature({
        featureId: `feature-api-${i}`,
        featureType: "NUMBER",
        meterType: "Incremental",
        usageLimit: 100_000,
        currentUsage: 4_321,
        resetPeriod: "MONTH",
        usagePeriodAnchor: JAN_1_2026,
        usagePeriodEnd: FEB_1_2026,
      }),
    );
  }
  entitlements.push(feature({ featureId: "feature-region", featureType: "ENUM", enumValues: ["eu", "us"] }));
  const bytes = encodeEntry({ customerId: "customer-0001", entitlements });
  console.log(`10-feature customer: ${bytes.length} bytes`);
  assert.ok(bytes.length <= 256, `${bytes.length} bytes`);
});

test("rejects every truncation of a valid entry", () => {
  const bytes = encodeEntry(rich);
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => decodeEntry(bytes.subarray(0, n)), EntryDecodeError, `prefix of ${n} bytes`);
  }
});

test("rejects trailing bytes, an unknown format and unknown reasons", () => {
  const bytes = encodeEntry(rich);
  assert.throws(() => decodeEntry(Uint8Array.from([...bytes, 0])), /trailing bytes/);
  assert.throws(() => decodeEntry(Uint8Array.from([2, 0, 0])), /unsupported entry format 2/);
  assert.throws(() => decodeEntry(Uint8Array.from([1, 1, 99, 0])), /unknown access-denied reason 99/);
  assert.throws(() => decodeEntry(Uint8Array.from([1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), EntryDecodeError);
});

test("never hangs or throws anything but EntryDecodeError on random or corrupted input", () => {
  let seed = 42;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const valid = encodeEntry(rich);
  const started = Date.now();
  for (let i = 0; i < 5000; i++) {
    let input: Uint8Array;
    if (i % 2 === 0) {
      input = Uint8Array.from({ length: Math.floor(random() * 64) }, () => Math.floor(random() * 256));
      if (input.length > 0) input[0] = 1;
    } else {
      input = Uint8Array.from(valid);
      input[Math.floor(random() * input.length)] = Math.floor(random() * 256);
    }
    try {
      decodeEntry(input);
    } catch (err) {
      assert.ok(err instanceof EntryDecodeError, String(err));
    }
  }
  assert.ok(Date.now() - started < 2000);
});
