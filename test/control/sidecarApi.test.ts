import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { startApiServer } from "../../control/api/apiServer.ts";
import { loadRoot } from "../../control/api/fileDescriptors.ts";
import { loadSidecarPackage, SIDECAR_PROTO_FILE, SIDECAR_PROTO_ROOT } from "../../control/api/sidecarProto.ts";
import type { EntitlementsFallback } from "../../control/evaluation/fallback.ts";
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { OfflineUsageWriter } from "../../control/read/offlineUsageWriter.ts";
import { UpstreamError, type EntitlementReader, type UsageWriter } from "../../control/read/readTypes.ts";
import { StoreReader } from "../../control/read/storeReader.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { rejection } from "./support/grpcUnary.ts";

/** GRPC_FAST_PATH=false runs this suite against grpc-js alone (test/control/fastPathModes.test.ts does). */
const FAST_PATH = process.env.GRPC_FAST_PATH !== "false";

const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);
const PERIOD_START = Date.UTC(2026, 10, 1);
const PERIOD_END = Date.UTC(2026, 11, 1);

const ACME: CustomerEntitlements = {
  customerId: "acme",
  entitlements: [
    { featureId: "sso", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    { featureId: "seats", featureType: "NUMBER", meterType: "None", usageLimit: 10, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    {
      featureId: "api-calls",
      featureType: "NUMBER",
      meterType: "Incremental",
      usageLimit: 100,
      hasUnlimitedUsage: false,
      hasSoftLimit: false,
      currentUsage: 40,
      resetPeriod: "MONTH",
      usagePeriodAnchor: Date.UTC(2026, 0, 1),
      usagePeriodStart: PERIOD_START,
      usagePeriodEnd: PERIOD_END,
    },
    { featureId: "storage", featureType: "NUMBER", meterType: "Fluctuating", hasUnlimitedUsage: true, hasSoftLimit: false, currentUsage: 7 },
    { featureId: "exports", featureType: "NUMBER", meterType: "Incremental", usageLimit: 0, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    { featureId: "regions", featureType: "ENUM", enumValues: ["us", "eu"], hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
  ],
};
const ARCHIVED: CustomerEntitlements = { customerId: "gone", accessDeniedReason: "CustomerIsArchived", entitlements: [] };

interface Fixture {
  client: grpc.Client;
  store: EntitlementStore;
  metrics: Metrics;
  port: number;
  call<T = Record<string, unknown>>(method: string, request: object, options?: grpc.CallOptions): Promise<T>;
}

async function sidecarFixture(
  t: TestContext,
  overrides: { reader?: EntitlementReader; usage?: UsageWriter; entitlementsFallback?: EntitlementsFallback } = {},
): Promise<Fixture> {
  const store = new EntitlementStore();
  store.upsert(ACME);
  store.upsert(ARCHIVED);
  const metrics = new Metrics({ processMetrics: false });
  const server = await startApiServer({
    fastPath: FAST_PATH,
    host: "127.0.0.1",
    port: 0,
    reader: overrides.reader ?? new StoreReader(store),
    usage: overrides.usage ?? new OfflineUsageWriter(store),
    store,
    metrics,
    logger: createLogger("silent"),
    now: () => NOW,
    ...(overrides.entitlementsFallback ? { entitlementsFallback: overrides.entitlementsFallback } : {}),
  });
  const proto = grpc.loadPackageDefinition(loadSidecarPackage()) as unknown as {
    stigg: { sidecar: { v1: { SidecarService: grpc.ServiceClientConstructor } } };
  };
  const client = new proto.stigg.sidecar.v1.SidecarService(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    await server.close(500);
  });
  const call = <T,>(method: string, request: object, options: grpc.CallOptions = {}): Promise<T> =>
    new Promise((resolve, reject) => {
      const fn = (client as unknown as Record<string, (...args: unknown[]) => void>)[method]!.bind(client);
      fn(request, new grpc.Metadata(), options, (err: grpc.ServiceError | null, response: T) => (err ? reject(err) : resolve(withoutSyntheticOneofs(response))));
    });
  return { client, store, metrics, port: server.port, call };
}

/** The client loads with `oneofs: true`, which also names each proto3 `optional`'s synthetic oneof (`_feature`); drop those. */
function withoutSyntheticOneofs<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutSyntheticOneofs) as T;
  if (value === null || typeof value !== "object" || Buffer.isBuffer(value)) return value;
  return Object.fromEntries(
    Object.entries(value).filter(([k]) => !k.startsWith("_")).map(([k, v]) => [k, withoutSyntheticOneofs(v)]),
  ) as T;
}

// ---- a raw protobuf reader: what is (and is not) on the wire --------------------------------

interface WireField {
  number: number;
  wireType: number;
  value: bigint | Buffer | number;
}

function readVarint(buf: Buffer, at: { pos: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    const byte = buf[at.pos++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7n;
  }
}

function wireFields(buf: Buffer): WireField[] {
  const out: WireField[] = [];
  const at = { pos: 0 };
  while (at.pos < buf.length) {
    const key = Number(readVarint(buf, at));
    const wireType = key & 7;
    const number = key >> 3;
    if (wireType === 0) out.push({ number, wireType, value: readVarint(buf, at) });
    else if (wireType === 1) {
      out.push({ number, wireType, value: buf.readDoubleLE(at.pos) });
      at.pos += 8;
    } else if (wireType === 2) {
      const len = Number(readVarint(buf, at));
      out.push({ number, wireType, value: buf.subarray(at.pos, at.pos + len) });
      at.pos += len;
    } else if (wireType === 5) {
      out.push({ number, wireType, value: buf.readFloatLE(at.pos) });
      at.pos += 4;
    } else throw new Error(`unexpected wire type ${wireType}`);
  }
  return out;
}

const root = loadRoot([SIDECAR_PROTO_FILE], [SIDECAR_PROTO_ROOT]);

function rawCall(f: Fixture, method: string, requestType: string, request: object): Promise<Buffer> {
  const type = root.lookupType(`stigg.sidecar.v1.${requestType}`);
  const bytes = Buffer.from(type.encode(type.fromObject(request)).finish());
  return new Promise((resolve, reject) => {
    f.client.makeUnaryRequest(
      `/stigg.sidecar.v1.SidecarService/${method}`,
      (b: Buffer) => b,
      (b: Buffer) => b,
      bytes,
      (err, response) => (err ? reject(err) : resolve(response!)),
    );
  });
}

function field(fields: WireField[], number: number): WireField | undefined {
  return fields.find((x) => x.number === number);
}

// ---- reads ---------------------------------------------------------------------------------

test("grants a boolean feature and leaves access_denied_reason off the wire", async (t) => {
  const f = await sidecarFixture(t);
  const response = await f.call("GetBooleanEntitlement", { customer_id: "acme", feature_id: "sso" });
  assert.deepEqual(response, {
    has_access: true,
    is_fallback: false,
    entitlement: { feature: { id: "sso", feature_type: "FEATURE_TYPE_BOOLEAN", meter_type: "METER_TYPE_NONE", is_metered: false } },
  });
  const raw = wireFields(await rawCall(f, "GetBooleanEntitlement", "GetBooleanEntitlementRequest", { customer_id: "acme", feature_id: "sso" }));
  assert.equal(field(raw, 1)?.value, 1n, "has_access = true");
  assert.equal(field(raw, 3), undefined, "access_denied_reason (optional) is absent when access is granted");
});

test("denies a customer without the feature with NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION, not as a fallback", async (t) => {
  const f = await sidecarFixture(t);
  const response = await f.call("GetBooleanEntitlement", { customer_id: "acme", feature_id: "audit-log" });
  assert.equal(response.has_access, false);
  assert.equal(response.is_fallback, false);
  assert.equal(response.access_denied_reason, "ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION");
  const raw = wireFields(await rawCall(f, "GetBooleanEntitlement", "GetBooleanEntitlementRequest", { customer_id: "acme", feature_id: "audit-log" }));
  assert.equal(field(raw, 3)?.value, 7n);
});

test("answers an unknown customer with CUSTOMER_NOT_FOUND and an archived one with its customer-wide reason", async (t) => {
  const f = await sidecarFixture(t);
  const unknown = await f.call("GetBooleanEntitlement", { customer_id: "nobody", feature_id: "sso" });
  assert.equal(unknown.access_denied_reason, "ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND");
  assert.equal(unknown.is_fallback, false);
  const archived = await f.call("GetBooleanEntitlement", { customer_id: "gone", feature_id: "sso" });
  assert.equal(archived.access_denied_reason, "ACCESS_DENIED_REASON_CUSTOMER_IS_ARCHIVED");
});

test("returns the plan value of a numeric feature", async (t) => {
  const f = await sidecarFixture(t);
  const response = await f.call("GetNumericEntitlement", { customer_id: "acme", feature_id: "seats" });
  assert.equal(response.has_access, true);
  assert.deepEqual((response.entitlement as Record<string, unknown>).value, 10);
  assert.equal((response.entitlement as Record<string, unknown>).is_unlimited, false);
});

test("allows metered usage within the limit and reports usage, period and the deprecated next_reset_date", async (t) => {
  const f = await sidecarFixture(t);
  const response = await f.call<Record<string, unknown> & { entitlement: Record<string, unknown> }>("GetMeteredEntitlement", {
    customer_id: "acme",
    feature_id: "api-calls",
    options: { requested_usage: 60 },
  });
  assert.equal(response.has_access, true);
  assert.equal(response.requested_usage, 60);
  const e = response.entitlement;
  assert.equal(e.usage_limit, 100);
  assert.equal(e.current_usage, 40);
  assert.equal(e.reset_period, "ENTITLEMENT_RESET_PERIOD_MONTH");
  assert.deepEqual(e.usage_period_start, { seconds: PERIOD_START / 1000, nanos: 0 });
  assert.deepEqual(e.usage_period_end, { seconds: PERIOD_END / 1000, nanos: 0 });
  assert.deepEqual(e.next_reset_date, e.usage_period_end);
  assert.equal(e.has_soft_limit, false);
});

test("denies metered usage beyond the limit with REQUESTED_USAGE_EXCEEDING_LIMIT", async (t) => {
  const f = await sidecarFixture(t);
  const response = await f.call("GetMeteredEntitlement", { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: 61 } });
  assert.equal(response.has_access, false);
  assert.equal(response.access_denied_reason, "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT");
  assert.equal(response.requested_usage, 61);
});

test("keeps an unset usage_limit unset and a zero usage_limit present on the wire", async (t) => {
  const f = await sidecarFixture(t);
  const unlimited = wireFields(await rawCall(f, "GetMeteredEntitlement", "GetMeteredEntitlementRequest", { customer_id: "acme", feature_id: "storage" }));
  const unlimitedEntitlement = wireFields(field(unlimited, 5)!.value as Buffer);
  assert.equal(field(unlimitedEntitlement, 5), undefined, "usage_limit absent for an unlimited feature");
  assert.equal(field(unlimitedEntitlement, 6)?.value, 1n, "is_unlimited = true");

  const zero = wireFields(await rawCall(f, "GetMeteredEntitlement", "GetMeteredEntitlementRequest", { customer_id: "acme", feature_id: "exports" }));
  const zeroEntitlement = wireFields(field(zero, 5)!.value as Buffer);
  assert.deepEqual(field(zeroEntitlement, 5), { number: 5, wireType: 1, value: 0 }, "usage_limit = 0 is sent, not dropped");
  assert.equal(field(zero, 1)?.value, 1n, "a zero limit passes a check without requested usage, as in Stigg");
});

test("checks enum values and echoes the requested ones", async (t) => {
  const f = await sidecarFixture(t);
  const ok = await f.call("GetEnumEntitlement", { customer_id: "acme", feature_id: "regions", options: { requested_values: ["eu"] } });
  assert.equal(ok.has_access, true);
  assert.deepEqual(ok.requested_values, ["eu"]);
  assert.deepEqual((ok.entitlement as Record<string, unknown>).enum_values, ["us", "eu"]);
  const mismatch = await f.call("GetEnumEntitlement", { customer_id: "acme", feature_id: "regions", options: { requested_values: ["eu", "apac"] } });
  assert.equal(mismatch.has_access, false);
  assert.equal(mismatch.access_denied_reason, "ACCESS_DENIED_REASON_REQUESTED_VALUES_MISMATCH");
});

test("answers a typed call on a feature of another type with the fallback and FEATURE_TYPE_MISMATCH", async (t) => {
  const f = await sidecarFixture(t);
  const byDefault = await f.call("GetBooleanEntitlement", { customer_id: "acme", feature_id: "api-calls" });
  assert.deepEqual(byDefault, { has_access: false, is_fallback: true, access_denied_reason: "ACCESS_DENIED_REASON_FEATURE_TYPE_MISMATCH", entitlement: {} });
  const perCall = await f.call("GetNumericEntitlement", {
    customer_id: "acme",
    feature_id: "sso",
    options: { fallback: { has_access: true, value: 3 } },
  });
  assert.equal(perCall.has_access, true);
  assert.equal(perCall.is_fallback, true);
  assert.equal(perCall.access_denied_reason, "ACCESS_DENIED_REASON_FEATURE_TYPE_MISMATCH");
  assert.deepEqual(perCall.entitlement, { value: 3, is_unlimited: false });
});

test("GetEntitlement picks the oneof from the feature's type", async (t) => {
  const f = await sidecarFixture(t);
  const metered = await f.call("GetEntitlement", { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: 5 } });
  assert.equal(metered.has_access, true);
  assert.equal(metered.entitlement, "metered");
  assert.equal((metered.metered as Record<string, unknown>).current_usage, 40);
  const enumOne = await f.call("GetEntitlement", { customer_id: "acme", feature_id: "regions" });
  assert.equal(enumOne.entitlement, "enum");
});

test("GetEntitlements lists every feature, and the customer-wide reason of an archived customer", async (t) => {
  const f = await sidecarFixture(t);
  const all = await f.call<{ entitlements: Record<string, unknown>[]; access_denied_reason?: string }>("GetEntitlements", { customer_id: "acme" });
  assert.deepEqual(
    all.entitlements.map((e) => e.entitlement),
    ["boolean", "numeric", "metered", "metered", "metered", "enum"],
  );
  assert.equal(all.access_denied_reason, undefined);
  const archived = await f.call("GetEntitlements", { customer_id: "gone" });
  assert.deepEqual(archived, { access_denied_reason: "ACCESS_DENIED_REASON_CUSTOMER_IS_ARCHIVED" }, "no entitlements: the empty list is not on the wire");
});

test("GetEntitlementsStateV2 gives each feature its decision", async (t) => {
  const f = await sidecarFixture(t);
  const state = await f.call<{ entitlements: Record<string, unknown>[] }>("GetEntitlementsStateV2", { customer_id: "acme" });
  assert.equal(state.entitlements.length, 6);
  const exports = state.entitlements.find((e) => e.entitlement === "metered" && (e.metered as { feature: { id: string } }).feature.id === "exports");
  assert.equal(exports?.has_access, true, "a zero limit with no requested usage passes, as in Stigg");
  assert.ok(state.entitlements.every((e) => e.is_fallback === false));
});

test("GetEntitlementV2 answers a feature, and a currency with ENTITLEMENT_NOT_FOUND (no credits)", async (t) => {
  const f = await sidecarFixture(t);
  const feature = await f.call<{ entitlement: Record<string, unknown> }>("GetEntitlementV2", { customer_id: "acme", feature_id: "seats" });
  assert.equal(feature.entitlement.has_access, true);
  assert.equal(feature.entitlement.entitlement, "numeric");
  const currency = await f.call<{ entitlement: Record<string, unknown> }>("GetEntitlementV2", { customer_id: "acme", currency_id: "credits" });
  assert.deepEqual(currency.entitlement, { has_access: false, is_fallback: true, access_denied_reason: "ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND" });
});

// ---- writes --------------------------------------------------------------------------------

test("ReportUsage adds a DELTA, sets with SET, and pushes the new usage through the store", async (t) => {
  const f = await sidecarFixture(t);
  const changes: string[] = [];
  f.store.onChange((batch) => changes.push(...batch.map((c) => c.customerId)));
  const delta = await f.call("ReportUsage", { customer_id: "acme", feature_id: "api-calls", value: 5 });
  assert.match(String(delta.measurement_id), /^[0-9a-f-]{36}$/);
  assert.equal(delta.customer_id, "acme");
  assert.equal(delta.feature_id, "api-calls");
  assert.equal(delta.current_usage, 45);
  assert.deepEqual(delta.usage_period_end, { seconds: PERIOD_END / 1000, nanos: 0 });
  const set = await f.call("ReportUsage", { customer_id: "acme", feature_id: "api-calls", value: 90, update_behavior: "USAGE_UPDATE_BEHAVIOR_SET" });
  assert.equal(set.current_usage, 90);
  assert.deepEqual(changes, ["acme", "acme"], "each report is a store change the sync stream pushes");
  const after = await f.call("GetMeteredEntitlement", { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: 11 } });
  assert.equal(after.access_denied_reason, "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT");
});

test("ReportUsageBulk answers each usage in order", async (t) => {
  const f = await sidecarFixture(t);
  const response = await f.call<{ usages: Record<string, unknown>[] }>("ReportUsageBulk", {
    usages: [
      { customer_id: "acme", feature_id: "api-calls", value: 1 },
      { customer_id: "acme", feature_id: "storage", value: 3, update_behavior: "USAGE_UPDATE_BEHAVIOR_SET" },
    ],
  });
  assert.deepEqual(response.usages.map((u) => [u.feature_id, u.current_usage]), [["api-calls", 41], ["storage", 3]]);
});

test("ReportEvents accepts events and returns Empty", async (t) => {
  const f = await sidecarFixture(t);
  const response = await f.call("ReportEvents", {
    events: [{ event_name: "api_call", customer_id: "acme", idempotency_key: "k1", dimensions: { region: { string_value: "eu" }, bytes: { number_value: 12 } } }],
  });
  assert.deepEqual(response, {});
});

test("ReloadEntitlements says whether the customer exists", async (t) => {
  const f = await sidecarFixture(t);
  assert.deepEqual(await f.call("ReloadEntitlements", { customer_id: "acme" }), { entitled_entity_exists: true });
  assert.deepEqual(await f.call("ReloadEntitlements", { customer_id: "gone" }), { entitled_entity_exists: false });
  assert.deepEqual(await f.call("ReloadEntitlements", { customer_id: "nobody" }), { entitled_entity_exists: false });
});

// ---- validation ----------------------------------------------------------------------------

test("rejects invalid requests with INVALID_ARGUMENT naming the field", async (t) => {
  const f = await sidecarFixture(t);
  const long = "x".repeat(1025);
  const cases: [string, object, string][] = [
    ["GetBooleanEntitlement", { feature_id: "sso" }, "customer_id: must not be empty"],
    ["GetBooleanEntitlement", { customer_id: "acme" }, "feature_id: must not be empty"],
    ["GetBooleanEntitlement", { customer_id: long, feature_id: "sso" }, "customer_id: must be at most 1024 bytes (got 1025)"],
    ["GetMeteredEntitlement", { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: NaN } }, "options.requested_usage: must be a number (got NaN)"],
    ["GetMeteredEntitlement", { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: -1 } }, "options.requested_usage: must not be negative (got -1)"],
    ["GetMeteredEntitlement", { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: 2e15 } }, "options.requested_usage: must be at most 1000000000000000 (got 2000000000000000)"],
    ["GetEntitlementV2", { customer_id: "acme" }, "feature_id: exactly one of feature_id and currency_id must be set"],
    ["GetEntitlementV2", { customer_id: "acme", feature_id: "sso", currency_id: "credits" }, "currency_id: exactly one of feature_id and currency_id must be set"],
    ["ReportUsage", { customer_id: "acme", feature_id: "api-calls", value: 1, update_behavior: 7 }, "update_behavior: unknown value 7"],
    ["ReportUsage", { customer_id: "acme", feature_id: "api-calls", value: Infinity }, "value: must be a finite number (got Infinity)"],
    ["ReportUsageBulk", { usages: [{ customer_id: "acme", feature_id: "api-calls", value: 1 }, { customer_id: "acme", value: 1 }] }, "usages[1].feature_id: must not be empty"],
    ["ReportEvents", { events: [{ event_name: "e", customer_id: "acme" }] }, "events[0].idempotency_key: must not be empty"],
    ["ReloadEntitlements", {}, "customer_id: must not be empty"],
  ];
  for (const [method, request, details] of cases) {
    const err = await rejection(f.call(method, request));
    assert.equal(err.code, grpc.status.INVALID_ARGUMENT, `${method} ${details}`);
    assert.equal(err.details, details);
  }
  assert.equal(f.store.get("acme")!.value.entitlements[2]!.currentUsage, 40, "the rejected bulk report changed nothing");
});

// ---- upstream trouble ----------------------------------------------------------------------

const failingReader: EntitlementReader = {
  read: () => Promise.reject(new Error("upstream down")),
  reload: () => Promise.reject(new Error("upstream down")),
};

test("answers from fallbacks with is_fallback when the reader fails, never with an error", async (t) => {
  const global: EntitlementsFallback = new Map([
    ["api-calls", { hasAccess: true, usageLimit: 1000 }],
    ["sso", { hasAccess: true }],
  ]);
  const f = await sidecarFixture(t, { reader: failingReader, entitlementsFallback: global });
  const builtIn = await f.call("GetBooleanEntitlement", { customer_id: "acme", feature_id: "reports" });
  assert.deepEqual(builtIn, { has_access: false, is_fallback: true, access_denied_reason: "ACCESS_DENIED_REASON_UNKNOWN", entitlement: {} });
  const configured = await f.call("GetMeteredEntitlement", { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: 2 } });
  assert.equal(configured.has_access, true);
  assert.equal(configured.is_fallback, true);
  assert.equal((configured.entitlement as Record<string, unknown>).usage_limit, 1000);
  const perCall = await f.call("GetBooleanEntitlement", { customer_id: "acme", feature_id: "sso", options: { fallback: { has_access: false } } });
  assert.equal(perCall.has_access, false, "the per-call fallback wins over ENTITLEMENTS_FALLBACK");
  const all = await f.call<{ entitlements: Record<string, unknown>[]; access_denied_reason: string }>("GetEntitlements", { customer_id: "acme" });
  assert.deepEqual(all.entitlements.map((e) => e.entitlement), ["metered", "boolean"]);
  assert.equal(all.access_denied_reason, "ACCESS_DENIED_REASON_UNKNOWN");
  assert.deepEqual(await f.call("ReloadEntitlements", { customer_id: "acme" }), { entitled_entity_exists: false });
  const text = await f.metrics.render();
  assert.match(text, /entitlement_gate_decisions_total\{api="sidecar",result="fallback",reason="Unknown"\} 3/);
});

test("maps each usage-writer failure to its gRPC status", async (t) => {
  const kinds: [UpstreamError["kind"], grpc.status][] = [
    ["unauthenticated", grpc.status.UNAUTHENTICATED],
    ["unavailable", grpc.status.UNAVAILABLE],
    ["timeout", grpc.status.DEADLINE_EXCEEDED],
    ["rejected", grpc.status.INVALID_ARGUMENT],
    ["internal", grpc.status.INTERNAL],
  ];
  let next: UpstreamError["kind"] = "internal";
  const failingWriter: UsageWriter = {
    reportUsage: () => Promise.reject(new UpstreamError(`stigg said ${next}`, next)),
    reportUsageBulk: () => Promise.reject(new UpstreamError(`stigg said ${next}`, next)),
    reportEvents: () => Promise.reject(new UpstreamError(`stigg said ${next}`, next)),
  };
  const f = await sidecarFixture(t, { usage: failingWriter });
  for (const [kind, code] of kinds) {
    next = kind;
    const err = await rejection(f.call("ReportUsage", { customer_id: "acme", feature_id: "api-calls", value: 1 }));
    assert.equal(err.code, code, kind);
    assert.equal(err.details, `stigg said ${kind}`);
    const events = await rejection(f.call("ReportEvents", { events: [{ event_name: "e", customer_id: "acme", idempotency_key: "k" }] }));
    assert.equal(events.code, code);
  }
});

test("passes the call's deadline to the reader and aborts it when the deadline passes", async (t) => {
  let seen: { timeoutMs?: number; aborted: Promise<unknown> } | undefined;
  const hangingReader: EntitlementReader = {
    read: (_c, _r, options) => {
      const signal = options!.signal!;
      const aborted = new Promise((resolve) => signal.addEventListener("abort", () => resolve(signal.reason), { once: true }));
      seen = { aborted, ...(options?.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}) };
      return aborted.then(() => ({ source: "unavailable" as const, error: "aborted" }));
    },
    reload: () => Promise.resolve({ entitledEntityExists: false }),
  };
  const f = await sidecarFixture(t, { reader: hangingReader });
  const err = await rejection(f.call("GetBooleanEntitlement", { customer_id: "acme", feature_id: "sso" }, { deadline: Date.now() + 200 }));
  assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED);
  assert.ok(seen && seen.timeoutMs !== undefined && seen.timeoutMs <= 200, "the reader is told how long it may take");
  assert.match(String(await seen.aborted), /deadline|cancel/);
});

test("releases the reader's work when the client cancels", async (t) => {
  let aborted: Promise<unknown> | undefined;
  const hangingReader: EntitlementReader = {
    read: (_c, _r, options) => {
      const signal = options!.signal!;
      aborted = new Promise((resolve) => signal.addEventListener("abort", () => resolve(true), { once: true }));
      return new Promise(() => {});
    },
    reload: () => Promise.resolve({ entitledEntityExists: false }),
  };
  const f = await sidecarFixture(t, { reader: hangingReader });
  const call = (f.client as unknown as Record<string, (...a: unknown[]) => grpc.ClientUnaryCall>).GetBooleanEntitlement!.call(
    f.client,
    { customer_id: "acme", feature_id: "sso" },
    (err: grpc.ServiceError | null) => assert.equal(err?.code, grpc.status.CANCELLED),
  );
  while (aborted === undefined) await new Promise((r) => setTimeout(r, 5));
  call.cancel();
  assert.equal(await aborted, true);
});

test("GetEntitlement with the reader down picks the fallback's kind from the options, as Stigg's SDK does", async (t) => {
  const f = await sidecarFixture(t, { reader: failingReader });
  const metered = await f.call("GetEntitlement", { customer_id: "acme", feature_id: "x", options: { requested_usage: 1 } });
  assert.equal(metered.entitlement, "metered");
  assert.equal(metered.is_fallback, true);
  const enumKind = await f.call("GetEntitlement", { customer_id: "acme", feature_id: "x", options: { requested_values: ["eu"] } });
  assert.equal(enumKind.entitlement, "enum");
  const numeric = await f.call("GetEntitlement", { customer_id: "acme", feature_id: "x", options: { fallback: { has_access: true, value: 4 } } });
  assert.equal(numeric.entitlement, "numeric");
  assert.equal(numeric.has_access, true);
  assert.deepEqual(numeric.numeric, { value: 4, is_unlimited: false });
  const boolean = await f.call("GetEntitlement", { customer_id: "acme", feature_id: "x" });
  assert.equal(boolean.entitlement, "boolean");
});

test("a known customer asked about an unknown resource is CUSTOMER_RESOURCE_NOT_FOUND", async (t) => {
  const f = await sidecarFixture(t);
  const response = await f.call("GetBooleanEntitlement", { customer_id: "acme", feature_id: "sso", resource_id: "site-9" });
  assert.equal(response.access_denied_reason, "ACCESS_DENIED_REASON_CUSTOMER_RESOURCE_NOT_FOUND");
  const all = await f.call("GetEntitlements", { customer_id: "acme", resource_id: "" });
  assert.equal((all.entitlements as unknown[]).length, 6, "an empty resource_id means the customer itself");
});
