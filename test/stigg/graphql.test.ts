import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startStiggEmulator, type StiggEmulator } from "./emulator.ts";
import { ACME, PERIOD_END, postGraphql } from "./fixtures.ts";

const GET_ENTITLEMENTS_STATE = /* GraphQL */ `
  query GetEntitlementsState($query: FetchEntitlementsQuery!) {
    state: entitlementsState(query: $query) {
      __typename
      entitlementsV2 { ...Union }
      accessDeniedReason
    }
  }
  fragment Union on EntitlementUnion {
    ... on FeatureEntitlement { __typename isGranted currentUsage feature { refId } }
    ... on CreditEntitlement { __typename currentUsage currency { currencyId } }
  }
`;

const REPORT_USAGE = /* GraphQL */ `
  mutation ReportUsage($input: ReportUsageInput!) {
    reportUsage(input: $input) {
      id featureId customerId resourceId currentUsage usagePeriodStart usagePeriodEnd nextResetDate timestamp
    }
  }
`;

describe("Stigg emulator GraphQL over HTTP", () => {
  let emulator: StiggEmulator;
  const unknown: string[] = [];
  const post = (operationName: string, query: string, variables?: Record<string, unknown>) =>
    postGraphql(emulator.graphqlUrl, emulator.apiKey, operationName, query, variables);

  before(async () => {
    emulator = await startStiggEmulator({ onUnknownOperation: (name) => void unknown.push(name) });
  });
  beforeEach(() => emulator.setCustomer("acme", ACME));
  after(() => emulator.close());

  test("GetEntitlementsState answers exactly the selected fields, aliases and fragments included", async () => {
    const { status, body } = await post("GetEntitlementsState", GET_ENTITLEMENTS_STATE, { query: { customerId: "acme" } });
    assert.equal(status, 200);
    const state = body.data?.["state"] as { __typename: string; entitlementsV2: Record<string, unknown>[]; accessDeniedReason: null };
    assert.equal(state.__typename, "EntitlementsState");
    assert.equal(state.accessDeniedReason, null);
    assert.deepEqual(state.entitlementsV2[0], { __typename: "FeatureEntitlement", isGranted: true, currentUsage: 0, feature: { refId: "sso" } });
    assert.deepEqual(state.entitlementsV2.at(-1), { __typename: "CreditEntitlement", currentUsage: 10, currency: { currencyId: "ai-tokens" } });
  });

  test("ReportUsage adds a DELTA, sets a SET and answers the measurement with the new usage", async () => {
    const delta = await post("ReportUsage", REPORT_USAGE, { input: { customerId: "acme", featureId: "api-calls", value: 5 } });
    const measurement = delta.body.data?.["reportUsage"] as Record<string, unknown>;
    assert.equal(measurement["currentUsage"], 45);
    assert.equal(measurement["featureId"], "api-calls");
    assert.equal(measurement["resourceId"], null);
    assert.equal(measurement["usagePeriodEnd"], new Date(PERIOD_END).toISOString());
    assert.equal(measurement["nextResetDate"], new Date(PERIOD_END).toISOString());
    assert.equal(typeof measurement["id"], "string");
    const set = await post("ReportUsage", REPORT_USAGE, {
      input: { customerId: "acme", featureId: "api-calls", value: 7, updateBehavior: "SET", idempotencyKey: "k-1" },
    });
    assert.equal((set.body.data?.["reportUsage"] as Record<string, unknown>)["currentUsage"], 7);
    assert.equal(emulator.usageOf("acme", "api-calls"), 7);
    assert.equal(emulator.reportedUsage.at(-1)?.idempotencyKey, "k-1");
    assert.equal(emulator.requestCount("ReportUsage", { customerId: "acme" }), 2);
  });

  test("ReportUsage for an unknown customer or feature is a GraphQL error with Stigg's code", async () => {
    const customer = await post("ReportUsage", REPORT_USAGE, { input: { customerId: "ghost", featureId: "api-calls", value: 1 } });
    assert.equal(customer.status, 200);
    assert.equal(customer.body.errors?.[0]?.extensions?.code, "CustomerNotFound");
    const feature = await post("ReportUsage", REPORT_USAGE, { input: { customerId: "acme", featureId: "nope", value: 1 } });
    assert.equal(feature.body.errors?.[0]?.extensions?.code, "FeatureNotFound");
    const boolean = await post("ReportUsage", REPORT_USAGE, { input: { customerId: "acme", featureId: "sso", value: 1 } });
    assert.equal(boolean.body.errors?.[0]?.extensions?.code, "MeteringNotAvailableForFeatureType");
  });

  test("ReportUsageBulk applies every usage in order, or none when one is invalid", async () => {
    const query = `mutation ReportUsageBulk($input: ReportUsageBulkInput!) { reportUsageBulk(input: $input) { featureId currentUsage } }`;
    const ok = await post("ReportUsageBulk", query, {
      input: { usages: [{ customerId: "acme", featureId: "api-calls", value: 1 }, { customerId: "acme", featureId: "api-calls", value: 2 }] },
    });
    assert.deepEqual(ok.body.data?.["reportUsageBulk"], [{ featureId: "api-calls", currentUsage: 41 }, { featureId: "api-calls", currentUsage: 43 }]);
    const bad = await post("ReportUsageBulk", query, {
      input: { usages: [{ customerId: "acme", featureId: "api-calls", value: 1 }, { customerId: "ghost", featureId: "x", value: 2 }] },
    });
    assert.ok(bad.body.errors?.length);
    assert.equal(emulator.usageOf("acme", "api-calls"), 43);
  });

  test("ReportEvent records raw events", async () => {
    const query = `mutation ReportEvent($input: UsageEventsReportInput!) { reportEvent(events: $input) }`;
    const { status, body } = await post("ReportEvent", query, {
      input: { usageEvents: [{ customerId: "acme", eventName: "api-call", idempotencyKey: "e-1", dimensions: { region: "eu" } }] },
    });
    assert.equal(status, 200);
    assert.equal(body.errors, undefined);
    assert.deepEqual(emulator.reportedEvents.at(-1)?.dimensions, { region: "eu" });
  });

  test("GetSdkConfiguration answers", async () => {
    const { body } = await post("GetSdkConfiguration", "query GetSdkConfiguration { sdkConfiguration { sentryDsn isWidgetWatermarkEnabled } }");
    assert.deepEqual(body.data?.["sdkConfiguration"], { sentryDsn: null, isWidgetWatermarkEnabled: false });
  });

  test("an operation outside the emulated schema answers 400 and is reported by name", async () => {
    const { status, body } = await post("GetCustomerById", "query GetCustomerById { getCustomerByRefId(input: {}) { id } }");
    assert.equal(status, 400);
    assert.equal(body.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
    assert.ok(unknown.includes("GetCustomerById"));
    assert.ok(emulator.unknownOperations.includes("GetCustomerById"));
  });
});
