// Stigg's own published Node SDK (3.95.0, the newest that installs from npm) pointed at the emulator:
// if the emulator speaks Stigg's protocols faithfully, the SDK's answers are the ones its data implies.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Stigg, LogLevel } from "@stigg/node-server-sdk";
import { startStiggEmulator, type CustomerSpec, type StiggEmulator } from "./emulator.ts";

const DAY_MS = 24 * 60 * 60 * 1000;
const periodStart = Date.now() - DAY_MS;
const periodEnd = Date.now() + 29 * DAY_MS;

const ACME: CustomerSpec = {
  entitlements: {
    sso: { featureType: "BOOLEAN" },
    "api-calls": {
      featureType: "NUMBER",
      meterType: "Incremental",
      usageLimit: 100,
      currentUsage: 40,
      resetPeriod: "MONTH",
      usagePeriodAnchor: periodStart,
      usagePeriodStart: periodStart,
      usagePeriodEnd: periodEnd,
      featureUnits: "call",
      featureUnitsPlural: "calls",
    },
    seats: { featureType: "NUMBER", meterType: "None", usageLimit: 5 },
    tier: { featureType: "ENUM", enumValues: ["basic", "pro"] },
  },
  resources: { "site-1": { entitlements: { sso: { featureType: "BOOLEAN", accessDeniedReason: "Revoked" } } } },
};

/** The SDK logs through this so a failing test can show what the SDK saw. */
const sdkLog: string[] = [];
const logger = {
  log: (message: string) => void sdkLog.push(`log ${message}`),
  debug: (message: string) => void sdkLog.push(`debug ${message}`),
  error: (message: string) => void sdkLog.push(`error ${message}`),
};

function sdkFor(emulator: StiggEmulator, apiKey: string): Stigg {
  return Stigg.initialize({
    apiKey,
    baseUri: emulator.url,
    baseEdgeUri: emulator.edgeUrl,
    wsUrl: emulator.wsUrl,
    realtimeUpdatesEnabled: true,
    logConfiguration: { logger, logLevel: LogLevel.ERROR },
  });
}

describe("Stigg Node SDK 3.95.0 against the emulator", () => {
  let emulator: StiggEmulator;
  let stigg: Stigg;

  before(async () => {
    emulator = await startStiggEmulator({ customers: { acme: ACME } });
    stigg = sdkFor(emulator, emulator.apiKey);
    await stigg.waitForInitialization();
    // The SDK clears its cache when the socket connects; reads before that could be refetched.
    await emulator.waitForSubscription("entitlementsUpdated");
    await emulator.waitForSubscription("usageUpdated");
    await emulator.waitForSubscription("packagePublished");
  });

  after(async () => {
    if (process.env["STIGG_SDK_LOG"]) process.stderr.write(`SDK log (${sdkLog.length}):\n${sdkLog.join("\n")}\n`);
    stigg?.close();
    await emulator?.close();
  });

  test("initialises by fetching the server SDK configuration from Edge and subscribes to the 3.x events", () => {
    assert.equal(emulator.requestCount("sdk-configuration"), 1);
    const configuration = emulator.requests.find((r) => r.endpoint === "sdk-configuration");
    assert.equal(configuration?.headers["x-api-version"], "1");
    assert.equal(configuration?.headers["source"], "NODE_SERVER_SDK");
    const init = emulator.requests.find((r) => r.endpoint === "init");
    assert.equal(init?.apiKey, emulator.apiKey);
    assert.equal(init?.headers["source"], "NODE_SERVER_SDK");
    const fields = emulator.subscriptions().map((s) => s.rootField).sort();
    assert.deepEqual(fields, ["creditBalanceUpdated", "entitlementsUpdated", "packagePublished", "usageUpdated"]);
  });

  test("grants a boolean feature the customer has, from exactly one Edge request", async () => {
    const result = await stigg.getBooleanEntitlement({ customerId: "acme", featureId: "sso" });
    assert.equal(result.hasAccess, true);
    assert.equal(result.isFallback, false);
    assert.equal(emulator.requestCount("entitlements", { customerId: "acme", resourceId: null }), 1);
  });

  test("denies a feature missing from the subscription without another Edge request", async () => {
    const result = await stigg.getBooleanEntitlement({ customerId: "acme", featureId: "reports" });
    assert.equal(result.hasAccess, false);
    assert.equal(result.accessDeniedReason, "NoFeatureEntitlementInSubscription");
    assert.equal(emulator.requestCount("entitlements", { customerId: "acme", resourceId: null }), 1);
  });

  test("checks metered usage against the limit with requestedUsage", async () => {
    const fits = await stigg.getMeteredEntitlement({ customerId: "acme", featureId: "api-calls", options: { requestedUsage: 60 } });
    assert.equal(fits.hasAccess, true);
    assert.equal(fits.usageLimit, 100);
    assert.equal(fits.currentUsage, 40);
    assert.equal(fits.requestedUsage, 60);
    assert.equal(fits.resetPeriod, "MONTH");
    assert.equal(fits.usagePeriodEnd?.getTime(), new Date(periodEnd).getTime());
    const exceeds = await stigg.getMeteredEntitlement({ customerId: "acme", featureId: "api-calls", options: { requestedUsage: 61 } });
    assert.equal(exceeds.hasAccess, false);
    assert.equal(exceeds.accessDeniedReason, "RequestedUsageExceedingLimit");
  });

  test("reads numeric and enum features with their values", async () => {
    const seats = await stigg.getNumericEntitlement({ customerId: "acme", featureId: "seats" });
    assert.equal(seats.hasAccess, true);
    assert.equal(seats.value, 5);
    const tier = await stigg.getEnumEntitlement({ customerId: "acme", featureId: "tier", options: { requestedValues: ["enterprise"] } });
    assert.equal(tier.hasAccess, false);
    assert.equal(tier.accessDeniedReason, "RequestedValuesMismatch");
    assert.deepEqual(tier.enumValues, ["basic", "pro"]);
  });

  test("reads resource-scoped entitlements with resourceId", async () => {
    const result = await stigg.getBooleanEntitlement({ customerId: "acme", featureId: "sso", resourceId: "site-1" });
    assert.equal(result.hasAccess, false);
    assert.equal(result.accessDeniedReason, "Revoked");
    const read = emulator.requests.find((r) => r.endpoint === "entitlements" && r.resourceId === "site-1");
    assert.equal(read?.customerId, "acme");
  });

  test("answers CustomerNotFound for a customer the emulator does not know", async () => {
    const result = await stigg.getBooleanEntitlement({ customerId: "ghost", featureId: "sso" });
    assert.equal(result.hasAccess, false);
    assert.equal(result.accessDeniedReason, "CustomerNotFound");
    assert.equal(result.isFallback, false);
  });

  test("reports usage over GraphQL and the SDK's next check sees the new usage", async () => {
    const ack = await stigg.reportUsage({ customerId: "acme", featureId: "api-calls", value: 10 });
    assert.equal(typeof ack.measurementId, "string");
    assert.equal(ack.currentUsage, 50);
    assert.equal(emulator.usageOf("acme", "api-calls"), 50);
    assert.equal(emulator.requestCount("ReportUsage"), 1);
    assert.equal(emulator.requests.find((r) => r.endpoint === "ReportUsage")?.headers["x-graphql-operation-name"], "ReportUsage");
    const check = await stigg.getMeteredEntitlement({ customerId: "acme", featureId: "api-calls", options: { requestedUsage: 51 } });
    assert.equal(check.currentUsage, 50);
    assert.equal(check.hasAccess, false);
    assert.equal(emulator.requestCount("entitlements", { customerId: "acme", resourceId: null }), 1);
  });

  test("an admin change reaches the SDK in real time, without a new Edge request", async () => {
    const updates: string[] = [];
    const listener = (data: { customerId: string }): void => void updates.push(data.customerId);
    stigg.addListener("entitlementsUpdated", listener);
    const { sso: _removed, ...rest } = ACME.entitlements;
    emulator.setCustomer("acme", { entitlements: { ...rest, "api-calls": { ...rest["api-calls"]!, usageLimit: 1000 } } });
    await emulator.waitUntil(() => updates.includes("acme"), 2000, "the SDK's entitlementsUpdated event");
    stigg.removeListener("entitlementsUpdated", listener);

    const sso = await stigg.getBooleanEntitlement({ customerId: "acme", featureId: "sso" });
    assert.equal(sso.hasAccess, false);
    assert.equal(sso.accessDeniedReason, "NoFeatureEntitlementInSubscription");
    const calls = await stigg.getMeteredEntitlement({ customerId: "acme", featureId: "api-calls", options: { requestedUsage: 500 } });
    assert.equal(calls.hasAccess, true);
    assert.equal(calls.usageLimit, 1000);
    assert.equal(emulator.requestCount("entitlements", { customerId: "acme", resourceId: null }), 1);
  });

  test("a usage change pushed by the emulator updates the SDK's cached usage", async () => {
    const seen: number[] = [];
    const listener = (data: { usage: { currentUsage: number } }): void => void seen.push(data.usage.currentUsage);
    stigg.addListener("usageUpdated", listener);
    emulator.setUsage("acme", "api-calls", 990);
    await emulator.waitUntil(() => seen.includes(990), 2000, "the SDK's usageUpdated event");
    stigg.removeListener("usageUpdated", listener);
    const calls = await stigg.getMeteredEntitlement({ customerId: "acme", featureId: "api-calls", options: { requestedUsage: 11 } });
    assert.equal(calls.currentUsage, 990);
    assert.equal(calls.hasAccess, false);
  });

  test("a package published to all customers makes the SDK drop its cache and refetch from Edge", async () => {
    let published = false;
    stigg.addListener("packagePublished", () => void (published = true));
    emulator.publishPackage("ALL_CUSTOMERS");
    await emulator.waitUntil(() => published, 2000, "the SDK's packagePublished event");
    const seats = await stigg.getNumericEntitlement({ customerId: "acme", featureId: "seats" });
    assert.equal(seats.value, 5);
    assert.equal(emulator.requestCount("entitlements", { customerId: "acme", resourceId: null }), 2);
  });

  test("an invalid API key fails initialisation with the SDK's authentication message", async () => {
    const bad = sdkFor(emulator, "not-a-key");
    try {
      await assert.rejects(bad.waitForInitialization(), /Authentication failed/);
      await emulator.waitUntil(() => emulator.requestCount("auth-failed") >= 1, 2000, "the WebSocket auth failure");
      // Close code 4500 + "Invalid API key" is fatal to graphql-ws and the SDK gives up: no reconnect storm.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(emulator.requestCount("auth-failed"), 1);
      const result = await bad.getBooleanEntitlement({ customerId: "acme", featureId: "seats" });
      assert.equal(result.isFallback, true);
    } finally {
      bad.close();
    }
  });
});
