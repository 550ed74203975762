import { test } from "node:test";
import assert from "node:assert/strict";
import { extAuthzServiceDefinition } from "../../control/api/extAuthzProto.ts";
import { ExtAuthzService } from "../../control/api/extAuthzService.ts";
import { frameMessage } from "../../control/api/fastPath/grpcWire.ts";
import { encodeBooleanResponse, encodeCheckResponse, encodeMeteredResponse } from "../../control/api/fastPath/hotResponseEncoders.ts";
import { freezeDeep } from "../../control/api/sharedAnswers.ts";
import { sidecarServiceDefinition } from "../../control/api/sidecarProto.ts";
import { SidecarService } from "../../control/api/sidecarService.ts";
import type { CallContext } from "../../control/api/unaryCall.ts";
import { createLogger } from "../../control/log.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { OfflineUsageWriter } from "../../control/read/offlineUsageWriter.ts";
import type { EntitlementReader, ReadResult } from "../../control/read/readTypes.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { epochMs, loadCases, toEntry } from "../cases/caseTable.ts";

const sidecar = sidecarServiceDefinition();
const extAuthz = extAuthzServiceDefinition();
const ENCODERS = [
  { name: "GetBooleanEntitlementResponse", hand: encodeBooleanResponse, loader: sidecar.GetBooleanEntitlement!.responseSerialize },
  { name: "GetMeteredEntitlementResponse", hand: encodeMeteredResponse, loader: sidecar.GetMeteredEntitlement!.responseSerialize },
  { name: "CheckResponse", hand: encodeCheckResponse, loader: extAuthz.Check!.responseSerialize },
] as const;
type EncoderName = (typeof ENCODERS)[number]["name"];

function assertSameBytes(name: EncoderName, message: object, what: string): void {
  const encoder = ENCODERS.find((e) => e.name === name)!;
  const hand = encoder.hand(message);
  assert.ok(hand !== undefined, `${name} covered: ${what}`);
  assert.deepEqual(hand, frameMessage(encoder.loader(message)), `${name}: ${what}`);
}

/** A reader holding one entry (or none: upstream unavailable), answering at once. */
class OneEntryReader implements EntitlementReader {
  constructor(private readonly entry: CustomerEntitlements | undefined) {}
  readCached(): ReadResult {
    return this.entry ? { entry: this.entry, source: "cache" } : { source: "unavailable", error: "no entry" };
  }
  async read(): Promise<ReadResult> {
    return this.readCached();
  }
  async reload(): Promise<{ entitledEntityExists: boolean }> {
    return { entitledEntityExists: this.entry !== undefined };
  }
}

const CONTEXT: CallContext = { signal: new AbortController().signal, timeLeftMs: () => undefined };
const logger = createLogger("silent");
const ROWS = ["evaluation.json", "evaluation-typed.json", "evaluation-control-only.json"].flatMap((file) => loadCases(file).map((row) => ({ file, row })));

test("the hand-written encoders give proto-loader's bytes for every answer to the shared case table's rows", async () => {
  let compared = 0;
  for (const { file, row } of ROWS) {
    const entry = toEntry(row.customer);
    const reader = new OneEntryReader(entry);
    const now = (): number => epochMs(row.now);
    const store = new EntitlementStore();
    const fallbacks = new Map([[row.check.featureId, { hasAccess: true, usageLimit: 5 }]]);
    for (const entitlementsFallback of [undefined, fallbacks]) {
      const options = { reader, usage: new OfflineUsageWriter(store), logger, now, ...(entitlementsFallback ? { entitlementsFallback } : {}) };
      const methods = new SidecarService(options).unaryMethods().methods;
      const checks = new ExtAuthzService({ ...options, rules: [{ pathPrefix: "/", feature: row.check.featureId }] }).unaryMethods().methods;
      const what = `${file}: ${row.name}${entitlementsFallback ? " (with ENTITLEMENTS_FALLBACK)" : ""}`;
      const typed = { customer_id: "customer-1", feature_id: row.check.featureId };
      const usage = row.check.requestedUsage === undefined ? {} : { requested_usage: row.check.requestedUsage };
      assertSameBytes("GetBooleanEntitlementResponse", (await methods.GetBooleanEntitlement!(typed, CONTEXT)) as object, what);
      assertSameBytes("GetBooleanEntitlementResponse", (await methods.GetBooleanEntitlement!({ ...typed, options: { fallback: { has_access: true } } }, CONTEXT)) as object, what);
      assertSameBytes("GetMeteredEntitlementResponse", (await methods.GetMeteredEntitlement!({ ...typed, options: usage }, CONTEXT)) as object, what);
      assertSameBytes(
        "GetMeteredEntitlementResponse",
        (await methods.GetMeteredEntitlement!({ ...typed, options: { ...usage, fallback: { has_access: false, usage_limit: 7, is_unlimited: false } } }, CONTEXT)) as object,
        what,
      );
      const extensions = row.check.requestedUsage === undefined ? {} : { entitlement_requested_usage: String(row.check.requestedUsage) };
      const http = { path: "/x?y=1", headers: { "x-customer-id": "customer-1", "x-entitlement-remaining": "forged" } };
      assertSameBytes("CheckResponse", (await checks.Check!({ attributes: { request: { http }, context_extensions: extensions } }, CONTEXT)) as object, what);
      compared += 5;
    }
  }
  assert.ok(compared >= 5 * 2 * 40, `compared ${compared} answers`);
});

const feature = (id: string): object => ({ id, feature_type: "FEATURE_TYPE_NUMBER", meter_type: "METER_TYPE_INCREMENTAL", is_metered: true });
const header = (key: string, value: string): object => ({ header: { key, value }, append: { value: false }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" });
const UNICODE_IDS = ["", "é", "日本語の顧客", "👩‍💻 team", "\ud800 lone high", "lone low \udc00", "\ud800 a lone surrogate in a string of 40 or more".padEnd(45, "z"), "a".repeat(300), "x".repeat(20_000)];
const NUMBERS = [0, -0, 1, -1, 0.5, 1e15, 2 ** 53 - 1, -(2 ** 53 - 1), 1.7976931348623157e308, Number.MIN_VALUE, Infinity, -Infinity];
const SECONDS = [0, 1, -1, 1_764_000_000, 2 ** 31, 2 ** 32 + 5, 253_402_300_799, -62_135_596_800];

test("the hand-written encoders give proto-loader's bytes at edge values: empty and unicode strings, 0, -1, huge and negative numbers, every enum name", () => {
  const reasons = [undefined, "ACCESS_DENIED_REASON_UNSPECIFIED", "ACCESS_DENIED_REASON_UNKNOWN", "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT", "ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND"];
  for (const id of UNICODE_IDS) {
    for (const reason of reasons) {
      const head = { has_access: reason === undefined, is_fallback: id === "", ...(reason ? { access_denied_reason: reason } : {}) };
      assertSameBytes("GetBooleanEntitlementResponse", { ...head, entitlement: { feature: { id, feature_type: "FEATURE_TYPE_BOOLEAN", units: id, units_plural: "", meter_type: "METER_TYPE_NONE", is_metered: false } } }, `id ${JSON.stringify(id.slice(0, 20))}`);
      assertSameBytes("GetBooleanEntitlementResponse", { ...head, entitlement: {} }, "no feature");
    }
  }
  assertSameBytes("GetBooleanEntitlementResponse", {}, "empty message");
  assertSameBytes("GetBooleanEntitlementResponse", { has_access: false, is_fallback: false }, "defaults set");
  for (const n of NUMBERS) {
    for (const s of SECONDS) {
      const ts = { seconds: s, nanos: Math.abs(s) % 1_000_000_000 };
      const metered = {
        feature: feature(`f${n}`),
        usage_limit: n,
        is_unlimited: n === -1,
        current_usage: -n,
        reset_period: "ENTITLEMENT_RESET_PERIOD_YEAR",
        next_reset_date: ts,
        usage_period_anchor: { seconds: s },
        usage_period_start: { nanos: 999_999_999 },
        usage_period_end: ts,
        has_soft_limit: n > 0,
      };
      assertSameBytes("GetMeteredEntitlementResponse", { has_access: true, is_fallback: false, requested_usage: n, entitlement: metered }, `number ${n}, seconds ${s}`);
    }
  }
  assertSameBytes("GetMeteredEntitlementResponse", { has_access: false, is_fallback: true, access_denied_reason: "ACCESS_DENIED_REASON_UNKNOWN", requested_usage: 0, entitlement: { is_unlimited: false, current_usage: 0, has_soft_limit: false } }, "fallback");
  assertSameBytes("GetMeteredEntitlementResponse", { has_access: true, is_fallback: false, entitlement: { timestamp: undefined, usage_period_start: {} } }, "empty timestamp");
  for (const id of UNICODE_IDS) {
    assertSameBytes(
      "CheckResponse",
      {
        status: { code: 0 },
        ok_response: { headers: [header("x-entitlement-customer", id), header(id, "")], headers_to_remove: [id, "x-entitlement-fallback"], response_headers_to_add: [header("x-entitlement-remaining", "0")] },
      },
      `ok ${JSON.stringify(id.slice(0, 20))}`,
    );
    for (const code of ["Forbidden", "TooManyRequests"]) {
      assertSameBytes(
        "CheckResponse",
        { status: { code: code === "Forbidden" ? 7 : 8, message: "entitlement_denied" }, denied_response: { status: { code }, headers: [header("content-type", "application/json")], body: JSON.stringify({ feature: id }) } },
        `denied ${code}`,
      );
    }
  }
  assertSameBytes("CheckResponse", { status: { code: 0 }, ok_response: { headers: [], headers_to_remove: [] } }, "ok without headers");
  assertSameBytes("CheckResponse", { status: { code: -1, message: "" }, denied_response: { status: {}, headers: [{ header: { key: "k" }, append: {}, keep_empty_value: true }], body: "" } }, "negative code, empty parts");
});

test("a value the hand-written encoders do not cover is left to proto-loader", () => {
  assert.equal(encodeBooleanResponse({ has_access: true, access_denied_reason: "NO_SUCH_REASON" }), undefined);
  assert.equal(encodeBooleanResponse({ has_access: "yes" }), undefined);
  assert.equal(encodeMeteredResponse({ requested_usage: "1" }), undefined);
  assert.equal(encodeMeteredResponse({ entitlement: { next_reset_date: { seconds: 1.5 } } }), undefined);
  assert.equal(encodeCheckResponse({ status: { code: 0 }, dynamic_metadata: { fields: {} } }), undefined);
  assert.equal(encodeCheckResponse({ denied_response: { status: { code: "NotFound" } } }), undefined);
  assert.equal(encodeCheckResponse({ ok_response: { headers: [{ header: { key: "k", raw_value: Buffer.from("v") } }] } }), undefined);
  assert.equal(encodeCheckResponse(null), undefined);
});

test("strings of any UTF-16 code units (pairs, lone surrogates, 1–3-byte characters) below and at the 40-unit boundary encode as proto-loader's", () => {
  let seed = 0x2545f491;
  const next = (n: number): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) % n;
  };
  const units = [0x41, 0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xd800, 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffd, 0xffff];
  for (let i = 0; i < 2_000; i++) {
    const length = next(44);
    let s = "";
    for (let j = 0; j < length; j++) s += String.fromCharCode(next(3) === 0 ? units[next(units.length)]! : 0x20 + next(0x5f));
    assertSameBytes("CheckResponse", { status: { code: 0 }, ok_response: { headers: [header("x-entitlement-customer", s)], headers_to_remove: [s] } }, `random string ${i}`);
  }
});

test("a frozen (shared) Check answer is encoded once: the same frame, with proto-loader's bytes, every time", () => {
  const answer = freezeDeep({
    status: { code: 0 },
    ok_response: { headers: [{ header: { key: "x-entitlement-customer", value: "c-1" }, append: { value: false }, append_action: "OVERWRITE_IF_EXISTS_OR_ADD" }], headers_to_remove: [] },
  });
  const first = encodeCheckResponse(answer);
  assert.ok(first !== undefined);
  assert.deepEqual(first, frameMessage(extAuthz.Check!.responseSerialize(answer)));
  assert.equal(encodeCheckResponse(answer), first, "the kept frame");
  // An answer built per call (not frozen) gets its own frame each time.
  const fresh = { status: { code: 0 } };
  assert.notEqual(encodeCheckResponse(fresh), encodeCheckResponse(fresh));
});
