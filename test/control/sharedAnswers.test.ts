// Answers shared between calls (control/api/sharedAnswers.ts): the ext_authz allow answer (one frozen
// object per customer and feature, bounded) and the GetBooleanEntitlement grant (one per entitlement
// object the store holds), never one for another.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ExtAuthzService } from "../../control/api/extAuthzService.ts";
import type { WireCheckResponse } from "../../control/api/extAuthzProto.ts";
import { LastAnswerPerKey, SharedAnswers } from "../../control/api/sharedAnswers.ts";
import { SidecarService } from "../../control/api/sidecarService.ts";
import type { CallContext } from "../../control/api/unaryCall.ts";
import { createLogger } from "../../control/log.ts";
import { OfflineUsageWriter } from "../../control/read/offlineUsageWriter.ts";
import { StoreReader } from "../../control/read/storeReader.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";

test("one answer per pair, built once, frozen all the way down; past the bound the table starts over", () => {
  let built = 0;
  const answers = new SharedAnswers((outer, inner) => ({ pair: `${outer}/${inner}`, nested: { list: [outer] }, serial: ++built }), 3);
  const a = answers.get("f1", "c1");
  assert.equal(answers.get("f1", "c1"), a);
  assert.equal(built, 1);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.nested) && Object.isFrozen(a.nested.list));
  assert.equal(answers.get("f1", "c2").pair, "f1/c2");
  assert.equal(answers.get("f2", "c1").pair, "f2/c1");
  assert.equal(answers.size, 3);
  // The fourth pair drops the table: it holds only the new pair, and the old ones are built again.
  assert.equal(answers.get("f2", "c2").pair, "f2/c2");
  assert.equal(answers.size, 1);
  const again = answers.get("f1", "c1");
  assert.notEqual(again, a);
  assert.deepEqual({ ...again, serial: 0 }, { ...a, serial: 0 });
});

const CONTEXT: CallContext = { signal: new AbortController().signal, timeLeftMs: () => undefined };

function checkRequest(customer: string, feature: string, extra: Record<string, string> = {}): object {
  return { attributes: { request: { http: { path: "/", headers: { "x-customer-id": customer, ...extra } } }, context_extensions: { entitlement_feature: feature } } };
}

test("ext_authz shares the plain allow answer per customer and feature, never when there is something to strip or a quota", async () => {
  const store = new EntitlementStore();
  const boolean = { featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 } as const;
  const metered = { featureType: "NUMBER", meterType: "Incremental", usageLimit: 100, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 10 } as const;
  for (const customerId of ["c-1", "c-2"]) store.upsert({ customerId, entitlements: [{ featureId: "reports", ...boolean }, { featureId: "api-calls", ...metered }] });
  const service = new ExtAuthzService({ reader: new StoreReader(store), logger: createLogger("silent") });
  const check = async (request: object): Promise<WireCheckResponse> => await service.check(request, CONTEXT);
  const headerValues = (answer: WireCheckResponse): Record<string, string> => Object.fromEntries((answer.ok_response?.headers ?? []).map((h) => [h.header.key, h.header.value]));

  const first = await check(checkRequest("c-1", "reports"));
  assert.equal(await check(checkRequest("c-1", "reports")), first, "shared");
  assert.ok(Object.isFrozen(first.ok_response!.headers[1]!.header));
  assert.deepEqual(headerValues(first), { "x-entitlement-decision": "allow", "x-entitlement-customer": "c-1", "x-entitlement-feature": "reports" });
  const other = await check(checkRequest("c-2", "reports"));
  assert.notEqual(other, first);
  assert.equal(headerValues(other)["x-entitlement-customer"], "c-2");

  const stripped = await check(checkRequest("c-1", "reports", { "x-entitlement-forged": "1" }));
  assert.notEqual(stripped, first);
  assert.deepEqual(stripped.ok_response!.headers_to_remove, ["x-entitlement-forged"]);
  assert.deepEqual(first.ok_response!.headers_to_remove, [], "the shared answer was not changed");

  const quota = await check(checkRequest("c-1", "api-calls"));
  assert.equal(headerValues(quota)["x-entitlement-remaining"], "90");
  assert.notEqual(await check(checkRequest("c-1", "api-calls")), quota, "answers with a quota are built per call");
});

test("GetBooleanEntitlement reuses its answer per entitlement the store holds while the decision is the same; a changed entitlement gets a new one", async () => {
  const store = new EntitlementStore();
  const reports = { featureId: "reports", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 } as const;
  store.upsert({ customerId: "c-1", entitlements: [reports] });
  store.upsert({ customerId: "c-2", entitlements: [{ ...reports }] });
  const sidecar = new SidecarService({ reader: new StoreReader(store), usage: new OfflineUsageWriter(store), logger: createLogger("silent") });
  const getBoolean = sidecar.unaryMethods().methods.GetBooleanEntitlement!;
  const ask = async (customer: string, feature = "reports"): Promise<Record<string, unknown>> => (await getBoolean({ customer_id: customer, feature_id: feature }, CONTEXT)) as Record<string, unknown>;

  const grant = await ask("c-1");
  assert.deepEqual(grant, { has_access: true, is_fallback: false, entitlement: { feature: { id: "reports", feature_type: "FEATURE_TYPE_BOOLEAN", meter_type: "METER_TYPE_NONE", is_metered: false } } });
  assert.equal(await ask("c-1"), grant, "shared");
  assert.ok(Object.isFrozen(grant) && Object.isFrozen(grant.entitlement));
  assert.notEqual(await ask("c-2"), grant, "each customer's entitlement object has its own");
  // Without the feature there is no entitlement to key on: built per call.
  const denial = await ask("c-1", "missing");
  assert.equal(denial.has_access, false);
  assert.notEqual(await ask("c-1", "missing"), denial);
  // The same entitlement under a customer that lost access (same object, new entry): a new answer.
  store.upsert({ customerId: "c-2", entitlements: store.get("c-2")!.value.entitlements, accessDeniedReason: "CustomerIsArchived" });
  const archived = await ask("c-2");
  assert.equal(archived.has_access, false);
  // An update replaces the entitlement object: the next grant is new.
  store.upsert({ customerId: "c-1", entitlements: [{ ...reports, hasSoftLimit: true }] });
  assert.notEqual(await ask("c-1"), grant);
});

test("GetMeteredEntitlement reuses its answer while usage, limit, period and request are the same, and never past a change", async () => {
  const store = new EntitlementStore();
  const day = 86_400_000;
  const start = Date.UTC(2026, 10, 25);
  const apiCalls = { featureId: "api-calls", featureType: "NUMBER", meterType: "Incremental", usageLimit: 100, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 10, resetPeriod: "DAY", usagePeriodAnchor: start, usagePeriodStart: start, usagePeriodEnd: start + day } as const;
  store.upsert({ customerId: "c-1", entitlements: [apiCalls] });
  let now = start + 1000;
  const sidecar = new SidecarService({ reader: new StoreReader(store), usage: new OfflineUsageWriter(store), logger: createLogger("silent"), now: () => now });
  const getMetered = sidecar.unaryMethods().methods.GetMeteredEntitlement!;
  const ask = async (requestedUsage?: number): Promise<Record<string, unknown>> =>
    (await getMetered({ customer_id: "c-1", feature_id: "api-calls", ...(requestedUsage === undefined ? {} : { options: { requested_usage: requestedUsage } }) }, CONTEXT)) as Record<string, unknown>;
  const usageOf = (answer: Record<string, unknown>): unknown => (answer.entitlement as Record<string, unknown>).current_usage;

  const first = await ask(5);
  assert.equal(await ask(5), first, "the same question again");
  assert.ok(Object.isFrozen(first));
  const other = await ask(95);
  assert.notEqual(other, first);
  assert.equal(other.requested_usage, 95);
  assert.equal((await ask(200)).has_access, false, "over the limit");
  // Usage reported: the store holds a new entitlement object and the answer shows the new usage.
  store.addUsage("c-1", undefined, "api-calls", 7);
  assert.equal(usageOf(await ask(5)), 17);
  // The period ends: usage rolls over to 0 (a rolled entitlement per call), never the old answer.
  now = start + day + 1000;
  const rolled = await ask(5);
  assert.equal(usageOf(rolled), 0);
  assert.notEqual(await ask(5), rolled);
});

test("the last answer per key is reused while its inputs are the same, and past the bound the table starts over", () => {
  let built = 0;
  const answers = new LastAnswerPerKey<object, number, { n: number; serial: number }>((n) => ({ n, serial: ++built }), (a, b) => a === b, 2);
  const [k1, k2, k3] = [{}, {}, {}];
  const a = answers.get(k1, 1);
  assert.equal(answers.get(k1, 1), a);
  assert.equal(built, 1);
  assert.ok(Object.isFrozen(a));
  const changed = answers.get(k1, 2);
  assert.deepEqual(changed, { n: 2, serial: 2 }, "new inputs build anew");
  // Two answers built: the third starts a new table, so k1's answer is built again.
  answers.get(k2, 1);
  answers.get(k3, 1);
  assert.deepEqual(answers.get(k1, 2), { n: 2, serial: 5 });
});
