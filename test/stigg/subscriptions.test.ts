import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startStiggEmulator, type StiggEmulator } from "./emulator.ts";
import { ACME, SUBSCRIBE_ENTITLEMENTS_V2, SUBSCRIBE_PACKAGE_PUBLISHED, SUBSCRIBE_USAGE_V2, postGraphql } from "./fixtures.ts";
import { WsTestClient } from "./wsTestClient.ts";

type Json = Record<string, unknown>;
const dataOf = (message: { payload?: unknown }): Json => (message.payload as { data: Json }).data;

describe("Stigg emulator subscriptions (graphql-transport-ws)", () => {
  let emulator: StiggEmulator;
  let client: WsTestClient;

  before(async () => {
    emulator = await startStiggEmulator({ customers: { acme: ACME } });
  });
  beforeEach(async () => {
    client?.close();
    client = await WsTestClient.connect(emulator.wsEndpointUrl, emulator.apiKey);
  });
  after(async () => {
    client?.close();
    await emulator.close();
  });

  test("an admin change reaches an OnEntitlementsUpdatedV2 subscriber within a few milliseconds", async () => {
    client.subscribe("e", SUBSCRIBE_ENTITLEMENTS_V2, "OnEntitlementsUpdatedV2");
    await emulator.waitForSubscription("entitlementsUpdatedV2");
    const started = performance.now();
    emulator.setCustomer("acme", { entitlements: { sso: { featureType: "BOOLEAN" } } });
    const message = await client.next((m) => m.id === "e" && m.type === "next");
    // Typically 1–2 ms; the bound leaves room for a loaded CI machine.
    assert.ok(performance.now() - started < 250, "event delivery should take a few ms");
    const update = dataOf(message)["entitlementsUpdatedV2"] as Json;
    assert.equal(update["customerId"], "acme");
    assert.equal(update["resourceId"], null);
    assert.equal(update["accessDeniedReason"], null);
    assert.deepEqual(update["entitlements"], [
      { __typename: "FeatureEntitlement", isGranted: true, usageLimit: null, currentUsage: 0, feature: { refId: "sso", featureType: "BOOLEAN" } },
    ]);
    // The dropped resource is announced as an empty update so subscribers purge it.
    const resource = await client.next((m) => m.id === "e" && (dataOf(m)["entitlementsUpdatedV2"] as Json)["resourceId"] === "site-1");
    assert.deepEqual((dataOf(resource)["entitlementsUpdatedV2"] as Json)["entitlements"], []);
    emulator.setCustomer("acme", ACME);
  });

  test("removing a customer publishes an empty update (Stigg has no deletion event)", async () => {
    client.subscribe("e", SUBSCRIBE_ENTITLEMENTS_V2, "OnEntitlementsUpdatedV2");
    await emulator.waitForSubscription("entitlementsUpdatedV2");
    emulator.removeCustomer("acme");
    const message = await client.next((m) => m.id === "e" && m.type === "next");
    const update = dataOf(message)["entitlementsUpdatedV2"] as Json;
    assert.deepEqual(update["entitlements"], []);
    assert.equal(update["accessDeniedReason"], null);
    emulator.setCustomer("acme", ACME);
  });

  test("reported and admin-set usage reach an OnUsageUpdatedV2 subscriber", async () => {
    client.subscribe("u", SUBSCRIBE_USAGE_V2, "OnUsageUpdatedV2");
    await emulator.waitForSubscription("usageUpdatedV2");
    emulator.setUsage("acme", "api-calls", 77);
    const first = dataOf(await client.next((m) => m.id === "u"))["usageUpdatedV2"] as Json;
    assert.deepEqual(first["entitlementReference"], { id: "api-calls", type: "FEATURE" });
    assert.equal((first["usage"] as Json)["currentUsage"], 77);
    await postGraphql(emulator.graphqlUrl, emulator.apiKey, "ReportUsage", "mutation ReportUsage($i: ReportUsageInput!) { reportUsage(input: $i) { id } }", {
      i: { customerId: "acme", featureId: "api-calls", value: 3 },
    });
    const second = await client.next((m) => m.id === "u" && ((dataOf(m)["usageUpdatedV2"] as Json)["usage"] as Json)["currentUsage"] === 80);
    assert.ok(second);
  });

  test("publishPackage reaches an OnPackagePublished subscriber", async () => {
    client.subscribe("p", SUBSCRIBE_PACKAGE_PUBLISHED, "OnPackagePublished");
    await emulator.waitForSubscription("packagePublished");
    emulator.publishPackage("ALL_CUSTOMERS", "plan-pro");
    const published = dataOf(await client.next((m) => m.id === "p"))["packagePublished"] as Json;
    assert.equal(published["migrationType"], "ALL_CUSTOMERS");
    assert.equal(published["packageRefId"], "plan-pro");
    assert.equal(emulator.events.at(-1)?.type, "packagePublished");
    assert.equal(emulator.events.at(-1)?.delivered, 1);
  });

  test("the legacy 3.x subscriptions get the legacy shapes", async () => {
    client.subscribe("l", "subscription OnEntitlementsUpdated { entitlementsUpdated { customerId entitlements { __typename customerId feature { refId } } } }");
    await emulator.waitForSubscription("entitlementsUpdated");
    emulator.setCustomer("acme", ACME);
    const update = dataOf(await client.next((m) => m.id === "l"))["entitlementsUpdated"] as Json;
    assert.equal(update["customerId"], "acme");
    assert.deepEqual((update["entitlements"] as Json[])[0], { __typename: "Entitlement", customerId: "acme", feature: { refId: "sso" } });
  });

  test("complete stops delivery to that subscription", async () => {
    client.subscribe("p", SUBSCRIBE_PACKAGE_PUBLISHED);
    await emulator.waitForSubscription("packagePublished");
    client.send({ id: "p", type: "complete" });
    await emulator.waitUntil(() => emulator.subscriptions().length === 0, 1000, "the subscription to end");
    emulator.publishPackage("NEW_CUSTOMERS");
    assert.equal(emulator.events.at(-1)?.delivered, 0);
  });

  test("ping is answered with pong", async () => {
    client.send({ type: "ping" });
    assert.ok(await client.next((m) => m.type === "pong"));
  });

  test("an invalid subscription is answered with an error message for its id", async () => {
    client.subscribe("x", "subscription { noSuchEvent { id } }");
    const error = await client.next((m) => m.id === "x");
    assert.equal(error.type, "error");
    assert.ok(Array.isArray(error.payload));
  });

  test("a duplicate subscription id closes the socket with 4409", async () => {
    client.subscribe("d", SUBSCRIBE_PACKAGE_PUBLISHED);
    client.subscribe("d", SUBSCRIBE_PACKAGE_PUBLISHED);
    assert.equal(await client.closed(), 4409);
  });

  test("a query sent over the socket is answered with next then complete", async () => {
    client.subscribe("q", "query { entitlementsState(query: {customerId: \"acme\"}) { accessDeniedReason } }");
    const next = await client.next((m) => m.id === "q" && m.type === "next");
    assert.deepEqual(dataOf(next), { entitlementsState: { accessDeniedReason: null } });
    assert.ok(await client.next((m) => m.id === "q" && m.type === "complete"));
  });
});
