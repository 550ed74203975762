import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { startStiggEmulator, type StiggEmulator } from "./emulator.ts";
import { ACME, PERIOD_END } from "./fixtures.ts";

type Json = Record<string, unknown>;

describe("Stigg emulator Edge API", () => {
  let emulator: StiggEmulator;
  const get = async (path: string): Promise<{ status: number; body: Json }> => {
    const response = await fetch(`${emulator.edgeUrl}${path}`, { headers: { "X-API-KEY": emulator.apiKey, "X-API-VERSION": "1" } });
    return { status: response.status, body: (await response.json()) as Json };
  };
  const state = (body: Json): Json => (body["data"] as Json)["entitlementsState"] as Json;

  before(async () => {
    emulator = await startStiggEmulator({ customers: { acme: ACME, "team/a b": { entitlements: { sso: { featureType: "BOOLEAN" } } }, ".": { entitlements: { sso: { featureType: "BOOLEAN" } } } } });
  });
  after(() => emulator.close());

  test("a customer id of a single dot, sent encoded (%2E), is that customer and not a dot segment", async () => {
    // fetch() would resolve %2E itself (WHATWG URL); node:http sends the path as written, as our Edge client does.
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(`${emulator.edgeUrl}/`, { path: "/v1/c/%2E/entitlements-state.json", headers: { "X-API-KEY": emulator.apiKey } }, (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d)).on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on("error", reject).end();
    });
    const body = JSON.parse(text) as Json;
    assert.equal(status, 200);
    assert.equal(emulator.requestCount("entitlements-state", { customerId: "." }), 1);
    assert.equal((state(body)["entitlementsV2"] as Json[]).length, 1);
  });

  test("entitlements-state.json carries both lists in Stigg's shapes with ISO dates", async () => {
    const { status, body } = await get("/v1/c/acme/entitlements-state.json");
    assert.equal(status, 200);
    const s = state(body);
    assert.equal(s["__typename"], "EntitlementsState");
    assert.equal(s["accessDeniedReason"], null);
    const v2 = s["entitlementsV2"] as Json[];
    const calls = v2.find((e) => (e["feature"] as Json | undefined)?.["refId"] === "api-calls") as Json;
    assert.equal(calls["__typename"], "FeatureEntitlement");
    assert.equal(calls["isGranted"], true);
    assert.equal(calls["usageLimit"], 100);
    assert.equal(calls["currentUsage"], 40);
    assert.equal(calls["hasUnlimitedUsage"], false);
    assert.equal(calls["resetPeriod"], "MONTH");
    assert.equal(calls["usagePeriodEnd"], new Date(PERIOD_END).toISOString());
    assert.deepEqual(calls["resetPeriodConfiguration"], { __typename: "MonthlyResetPeriodConfig", monthlyAccordingTo: "StartOfTheMonth" });
    const feature = calls["feature"] as Json;
    assert.equal(feature["__typename"], "EntitlementFeature");
    assert.equal(feature["featureType"], "NUMBER");
    assert.equal(feature["meterType"], "Incremental");
    assert.ok("featureUnits" in feature && "featureUnitsPlural" in feature);
    const credit = v2.find((e) => e["__typename"] === "CreditEntitlement") as Json;
    assert.deepEqual(credit["currency"], { currencyId: "ai-tokens", displayName: "ai-tokens", description: null, unitSingular: null, unitPlural: null });
    const legacy = s["entitlements"] as Json[];
    assert.equal(legacy.length, 3);
    assert.ok(legacy.every((e) => e["__typename"] === "Entitlement" && e["customerId"] === "acme"));
  });

  test("legacy entitlements.json answers the list the 3.x SDK reads", async () => {
    const { body } = await get("/v1/c/acme/entitlements.json");
    const list = (body["data"] as Json)["entitlements"] as Json[];
    assert.deepEqual(list.map((e) => (e["feature"] as Json)["refId"]).sort(), ["api-calls", "sso", "tier"]);
  });

  test("an unknown customer gets empty lists and CustomerNotFound", async () => {
    const s = state((await get("/v1/c/nobody/entitlements-state.json")).body);
    assert.deepEqual(s["entitlements"], []);
    assert.deepEqual(s["entitlementsV2"], []);
    assert.equal(s["accessDeniedReason"], "CustomerNotFound");
    const legacy = (await get("/v1/c/nobody/entitlements.json")).body;
    assert.deepEqual((legacy["data"] as Json)["entitlements"], []);
  });

  test("a resourceId selects the resource's entitlements; an unknown resource has no subscription", async () => {
    const site = state((await get("/v1/c/acme/entitlements-state.json?resourceId=site-1")).body);
    const sso = (site["entitlementsV2"] as Json[])[0] as Json;
    assert.equal(sso["accessDeniedReason"], "Revoked");
    assert.equal(sso["isGranted"], false);
    const other = state((await get("/v1/c/acme/entitlements-state.json?resourceId=site-9")).body);
    assert.equal(other["accessDeniedReason"], "NoActiveSubscription");
  });

  test("customer ids are found percent-encoded and raw, and a stray % does not break decoding", async () => {
    const encoded = state((await get(`/v1/c/${encodeURIComponent("team/a b")}/entitlements-state.json`)).body);
    assert.equal((encoded["entitlementsV2"] as Json[]).length, 1);
    const raw = state((await get("/v1/c/team/a%20b/entitlements-state.json")).body);
    assert.equal((raw["entitlementsV2"] as Json[]).length, 1);
    const stray = await get("/v1/c/100%/entitlements-state.json");
    assert.equal(stray.status, 200);
    assert.equal(state(stray.body)["accessDeniedReason"], "CustomerNotFound");
    assert.equal(emulator.requests.at(-1)?.customerId, "100%");
  });

  test("the server SDK configuration answers in the GraphQL envelope", async () => {
    const { status, body } = await get("/v1/config/server-sdk-configuration.json");
    assert.equal(status, 200);
    assert.ok((body["data"] as Json)["sdkConfiguration"]);
  });

  test("requests are counted per endpoint and customer", async () => {
    emulator.resetLogs();
    await get("/v1/c/acme/entitlements-state.json");
    await get("/v1/c/acme/entitlements-state.json");
    await get("/v1/c/nobody/entitlements-state.json");
    await get("/v1/c/acme/entitlements.json");
    assert.equal(emulator.requestCount("entitlements-state"), 3);
    assert.equal(emulator.requestCount("entitlements-state", { customerId: "acme" }), 2);
    assert.equal(emulator.requestCount("entitlements"), 1);
    assert.equal(emulator.requests[0]?.apiKey, emulator.apiKey);
  });

  test("unknown Edge paths answer 404", async () => {
    const { status } = await get("/v1/c/acme/nothing.json");
    assert.equal(status, 404);
  });
});
