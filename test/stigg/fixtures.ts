// Shared data for the emulator's own tests and for client tests that run against it (stiggEdgeEmulator).
import type { CustomerSpec } from "./emulator.ts";

export const PERIOD_START = Date.UTC(2026, 10, 1);
export const PERIOD_END = Date.UTC(2026, 11, 1);

export const ACME: CustomerSpec = {
  entitlements: {
    sso: { featureType: "BOOLEAN" },
    "api-calls": {
      featureType: "NUMBER",
      meterType: "Incremental",
      usageLimit: 100,
      currentUsage: 40,
      resetPeriod: "MONTH",
      resetPeriodConfiguration: { monthlyAccordingTo: "StartOfTheMonth" },
      usagePeriodAnchor: PERIOD_START,
      usagePeriodStart: PERIOD_START,
      usagePeriodEnd: PERIOD_END,
    },
    tier: { featureType: "ENUM", enumValues: ["basic", "pro"] },
  },
  credits: { "ai-tokens": { usageLimit: 1000, currentUsage: 10 } },
  resources: {
    "site-1": { entitlements: { sso: { featureType: "BOOLEAN", accessDeniedReason: "Revoked" } } },
  },
};

export const SUBSCRIBE_ENTITLEMENTS_V2 = /* GraphQL */ `
  subscription OnEntitlementsUpdatedV2 {
    entitlementsUpdatedV2 {
      customerId resourceId accessDeniedReason
      entitlements {
        ... on FeatureEntitlement { __typename isGranted usageLimit currentUsage feature { refId featureType } }
        ... on CreditEntitlement { __typename currency { currencyId } usageLimit }
      }
    }
  }
`;

export const SUBSCRIBE_USAGE_V2 = /* GraphQL */ `
  subscription OnUsageUpdatedV2 {
    usageUpdatedV2 {
      customerId resourceId
      entitlementReference { id type }
      usage { currentUsage usageUpdatedAt usagePeriodStart usagePeriodEnd }
    }
  }
`;

export const SUBSCRIBE_PACKAGE_PUBLISHED = /* GraphQL */ `
  subscription OnPackagePublished {
    packagePublished { accountId environmentId packageType packageRefId packageVersion migrationType }
  }
`;

export async function postGraphql(
  url: string,
  apiKey: string,
  operationName: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<{ status: number; body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] } }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", "X-API-KEY": apiKey, "x-graphql-operation-name": operationName },
    body: JSON.stringify({ operationName, query, variables }),
  });
  return { status: response.status, body: (await response.json()) as never };
}
