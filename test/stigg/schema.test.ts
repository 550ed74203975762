// The emulator's schema must accept every entitlement document Stigg's clients send, old and new.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { parse, validate, type DocumentNode } from "graphql";
import { stiggSchema } from "./schema.ts";

const require = createRequire(import.meta.url);
const sdk = require("@stigg/api-client-js/src/generated/sdk.js") as Record<string, DocumentNode>;

// The V2 selections of Stigg's newer clients (reference e.2, d.4), spelled out here because no
// installable package ships them.
const V2_FRAGMENTS = /* GraphQL */ `
  fragment FeatureFragment on EntitlementFeature {
    __typename featureType meterType featureUnits featureUnitsPlural description displayName refId
    unitTransformation { divide round }
  }
  fragment ResetPeriodConfigurationFragment on ResetPeriodConfiguration {
    __typename
    ... on YearlyResetPeriodConfig { yearlyAccordingTo }
    ... on MonthlyResetPeriodConfig { monthlyAccordingTo }
    ... on WeeklyResetPeriodConfig { weeklyAccordingTo }
  }
  fragment FeatureEntitlementFragment on FeatureEntitlement {
    __typename isGranted accessDeniedReason usageLimit hasUnlimitedUsage hasSoftLimit currentUsage enumValues
    entitlementUpdatedAt usageUpdatedAt usagePeriodAnchor usagePeriodStart usagePeriodEnd resetPeriod
    resetPeriodConfiguration { ...ResetPeriodConfigurationFragment }
    feature { ...FeatureFragment }
    creditRate { amount currencyId }
    validUntil
  }
  fragment CreditEntitlementFragment on CreditEntitlement {
    __typename isGranted accessDeniedReason currency { currencyId } usageLimit currentUsage usageUpdatedAt
    entitlementUpdatedAt validUntil
  }
  fragment EntitlementUnionFragment on EntitlementUnion {
    ... on FeatureEntitlement { ...FeatureEntitlementFragment }
    ... on CreditEntitlement { ...CreditEntitlementFragment }
  }
`;

const V2_DOCUMENTS: Record<string, string> = {
  GetEntitlementsStateV2: `query GetEntitlementsState($query: FetchEntitlementsQuery!) {
    entitlementsState(query: $query) { __typename entitlementsV2 { ...EntitlementUnionFragment } accessDeniedReason }
  } ${V2_FRAGMENTS}`,
  GetEntitlementV2: `query GetEntitlementV2($query: GetEntitlementV2Input!) {
    entitlementV2(query: $query) { ...EntitlementUnionFragment }
  } ${V2_FRAGMENTS}`,
  OnEntitlementsUpdatedV2: `subscription OnEntitlementsUpdatedV2 {
    entitlementsUpdatedV2 { customerId resourceId accessDeniedReason entitlements { ...EntitlementUnionFragment } }
  } ${V2_FRAGMENTS}`,
  OnUsageUpdatedV2: `subscription OnUsageUpdatedV2 {
    usageUpdatedV2 {
      customerId resourceId entitlementReference { id type }
      usage { currentUsage usageUpdatedAt usagePeriodStart usagePeriodEnd }
    }
  }`,
  ReportUsageWithCredit: `mutation ReportUsage($input: ReportUsageInput!) {
    reportUsage(input: $input) {
      id featureId customerId resourceId currentUsage usagePeriodStart usagePeriodEnd nextResetDate timestamp
      credit { currencyId currentUsage usageLimit usagePeriodEnd timestamp consumed }
    }
  }`,
  GetSdkConfiguration: `query GetSdkConfiguration { sdkConfiguration { sentryDsn isWidgetWatermarkEnabled showWatermark } }`,
};

describe("Stigg emulator schema", () => {
  const sdkDocuments = [
    "GetEntitlementsDocument",
    "GetEntitlementsStateDocument",
    "GetEntitlementDocument",
    "ReportUsageDocument",
    "ReportUsageBulkDocument",
    "ReportEventDocument",
    "GetSdkConfigurationDocument",
    "OnEntitlementsUpdatedDocument",
    "OnUsageUpdatedDocument",
    "OnPackagePublishedDocument",
    "OnCreditBalanceUpdatedDocument",
  ];
  for (const name of sdkDocuments) {
    test(`accepts ${name} from @stigg/api-client-js 3.108 (used by the Node SDK 3.95)`, () => {
      const document = sdk[name];
      assert.ok(document, `${name} is exported`);
      assert.deepEqual(validate(stiggSchema, document).map((e) => e.message), []);
    });
  }
  for (const [name, source] of Object.entries(V2_DOCUMENTS)) {
    test(`accepts the newer clients' ${name}`, () => {
      assert.deepEqual(validate(stiggSchema, parse(source)).map((e) => e.message), []);
    });
  }
  test("rejects fields Stigg does not have", () => {
    const errors = validate(stiggSchema, parse("query { entitlementsState(query: {customerId: \"a\"}) { nonsense } }"));
    assert.equal(errors.length, 1);
  });
});
