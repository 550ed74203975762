// The slice of Stigg's GraphQL schema that entitlement clients touch. Type and field names follow the
// documents shipped in @stigg/api-client-js 3.108 (used by @stigg/node-server-sdk 3.95) and the V2
// fragments of Stigg's newer clients (reference section e.2). Executing real documents against a real
// schema gives clients exactly the fields they select, aliases and fragments included, and rejects
// fields Stigg would not know.
import { buildSchema, type GraphQLSchema } from "graphql";

const SDL = /* GraphQL */ `
  scalar DateTime
  scalar JSON
  scalar UUID

  enum AccessDeniedReason {
    BudgetExceeded
    CustomerIsArchived
    CustomerNotFound
    CustomerResourceNotFound
    FeatureNotFound
    FeatureTypeMismatch
    InsufficientCredits
    NoActiveSubscription
    NoFeatureEntitlementInSubscription
    RequestedUsageExceedingLimit
    RequestedValuesMismatch
    Revoked
    Unknown
    EntitlementNotFound
  }

  enum EntitlementsStateAccessDeniedReason {
    CustomerNotFound
    CustomerIsArchived
    NoActiveSubscription
  }

  enum FeatureType {
    BOOLEAN
    NUMBER
    ENUM
  }

  enum MeterType {
    None
    Fluctuating
    Incremental
  }

  enum EntitlementResetPeriod {
    YEAR
    MONTH
    WEEK
    DAY
    HOUR
  }

  enum UsageUpdateBehavior {
    DELTA
    SET
  }

  enum PublishMigrationType {
    ALL_CUSTOMERS
    NEW_CUSTOMERS
  }

  enum EntitlementType {
    FEATURE
    CREDIT
  }

  enum YearlyAccordingTo {
    SubscriptionStart
  }

  enum MonthlyAccordingTo {
    SubscriptionStart
    StartOfTheMonth
  }

  enum WeeklyAccordingTo {
    SubscriptionStart
    EverySunday
    EveryMonday
    EveryTuesday
    EveryWednesday
    EveryThursday
    EveryFriday
    EverySaturday
  }

  enum UnitTransformationRound {
    UP
    DOWN
  }

  type UnitTransformation {
    divide: Float!
    round: UnitTransformationRound!
  }

  type EntitlementFeature {
    id: String!
    refId: String!
    featureType: FeatureType!
    meterType: MeterType
    featureUnits: String
    featureUnitsPlural: String
    description: String
    displayName: String!
    unitTransformation: UnitTransformation
    additionalMetaData: JSON
  }

  type YearlyResetPeriodConfig {
    yearlyAccordingTo: YearlyAccordingTo
  }

  type MonthlyResetPeriodConfig {
    monthlyAccordingTo: MonthlyAccordingTo
  }

  type WeeklyResetPeriodConfig {
    weeklyAccordingTo: WeeklyAccordingTo
  }

  union ResetPeriodConfiguration = YearlyResetPeriodConfig | MonthlyResetPeriodConfig | WeeklyResetPeriodConfig

  type CreditRate {
    amount: Float!
    currencyId: String!
  }

  "Legacy entitlement shape (Node SDK 3.x, cachedEntitlements, entitlementsUpdated)."
  type Entitlement {
    isGranted: Boolean!
    accessDeniedReason: AccessDeniedReason
    customerId: String
    resourceId: String
    usageLimit: Float
    hasUnlimitedUsage: Boolean!
    hasSoftLimit: Boolean
    currentUsage: Float
    requestedUsage: Float
    requestedValues: [String!]
    enumValues: [String!]
    entitlementUpdatedAt: DateTime
    usageUpdatedAt: DateTime
    usagePeriodAnchor: DateTime
    usagePeriodStart: DateTime
    usagePeriodEnd: DateTime
    nextResetDate: DateTime
    resetPeriod: EntitlementResetPeriod
    resetPeriodConfiguration: ResetPeriodConfiguration
    feature: EntitlementFeature
    creditRate: CreditRate
    validUntil: DateTime
  }

  type FeatureEntitlement {
    isGranted: Boolean!
    accessDeniedReason: AccessDeniedReason
    usageLimit: Float
    hasUnlimitedUsage: Boolean!
    hasSoftLimit: Boolean
    currentUsage: Float
    enumValues: [String!]
    entitlementUpdatedAt: DateTime
    usageUpdatedAt: DateTime
    usagePeriodAnchor: DateTime
    usagePeriodStart: DateTime
    usagePeriodEnd: DateTime
    resetPeriod: EntitlementResetPeriod
    resetPeriodConfiguration: ResetPeriodConfiguration
    feature: EntitlementFeature
    creditRate: CreditRate
    validUntil: DateTime
  }

  type CreditCurrency {
    currencyId: String!
    displayName: String
    description: String
    unitSingular: String
    unitPlural: String
    additionalMetaData: JSON
  }

  type CreditEntitlement {
    isGranted: Boolean!
    accessDeniedReason: AccessDeniedReason
    currency: CreditCurrency!
    usageLimit: Float
    currentUsage: Float
    hasSoftLimit: Boolean
    usageUpdatedAt: DateTime
    entitlementUpdatedAt: DateTime
    usagePeriodEnd: DateTime
    validUntil: DateTime
  }

  union EntitlementUnion = FeatureEntitlement | CreditEntitlement

  type EntitlementsState {
    entitlements: [Entitlement!]!
    entitlementsV2: [EntitlementUnion!]!
    accessDeniedReason: EntitlementsStateAccessDeniedReason
  }

  type SdkConfiguration {
    sentryDsn: String
    isWidgetWatermarkEnabled: Boolean
    showWatermark: Boolean
  }

  type UsageMeasurementCredit {
    currencyId: String!
    currentUsage: Float!
    usageLimit: Float
    usagePeriodEnd: DateTime
    timestamp: DateTime!
    consumed: Float!
  }

  type UsageMeasurementWithCurrentUsage {
    id: String!
    featureId: String!
    customerId: String!
    resourceId: String
    currentUsage: Float
    usagePeriodStart: DateTime
    usagePeriodEnd: DateTime
    nextResetDate: DateTime
    timestamp: DateTime!
    credit: UsageMeasurementCredit
  }

  type EntitlementsUpdated {
    customerId: String!
    resourceId: String
    entitlements: [Entitlement!]!
  }

  type EntitlementsUpdatedV2 {
    customerId: String!
    resourceId: String
    accessDeniedReason: EntitlementsStateAccessDeniedReason
    entitlements: [EntitlementUnion!]!
  }

  type UsageMeasurementUpdated {
    customerId: String!
    resourceId: String
    featureId: String!
    currentUsage: Float!
    usagePeriodStart: DateTime
    usagePeriodEnd: DateTime
    nextResetDate: DateTime
  }

  type UsageUpdated {
    usage: UsageMeasurementUpdated!
    entitlement: Entitlement!
  }

  type EntitlementReference {
    id: String!
    type: EntitlementType!
  }

  type UsageV2 {
    currentUsage: Float!
    usageUpdatedAt: DateTime
    usagePeriodStart: DateTime
    usagePeriodEnd: DateTime
  }

  type UsageUpdatedV2 {
    customerId: String!
    resourceId: String
    entitlementReference: EntitlementReference!
    usage: UsageV2!
  }

  type PackagePublished {
    accountId: String!
    environmentId: String!
    packageType: String!
    packageRefId: String!
    packageVersion: Float!
    migrationType: PublishMigrationType!
  }

  type CurrencyUnits {
    singular: String
    plural: String
  }

  type CreditBalanceCurrency {
    currencyId: String!
    displayName: String
    symbol: String
    units: CurrencyUnits
  }

  type CreditBalanceUpdated {
    customerId: String!
    resourceId: String
    currencyId: String!
    currency: CreditBalanceCurrency!
    currentBalance: Float!
    totalConsumed: Float!
    totalGranted: Float!
    validUntil: DateTime
  }

  input FetchEntitlementsQuery {
    customerId: String!
    resourceId: String
    environmentId: String
  }

  input EntitlementOptions {
    requestedUsage: Float
    requestedValues: [String!]
    shouldTrack: Boolean
  }

  input FetchEntitlementQuery {
    customerId: String!
    featureId: String!
    resourceId: String
    environmentId: String
    options: EntitlementOptions
  }

  input GetEntitlementV2Input {
    customerId: String!
    featureId: String
    currencyId: String
    resourceId: String
    environmentId: String
    options: EntitlementOptions
  }

  input ReportUsageInput {
    customerId: String!
    featureId: String!
    value: Float!
    updateBehavior: UsageUpdateBehavior
    resourceId: String
    createdAt: DateTime
    dimensions: JSON
    idempotencyKey: String
    environmentId: UUID
  }

  input ReportUsageBaseInput {
    customerId: String!
    featureId: String!
    value: Float!
    updateBehavior: UsageUpdateBehavior
    resourceId: String
    createdAt: DateTime
    dimensions: JSON
    idempotencyKey: String
  }

  input ReportUsageBulkInput {
    usages: [ReportUsageBaseInput!]!
    environmentId: UUID
  }

  input UsageEventReportInput {
    customerId: String!
    eventName: String!
    idempotencyKey: String!
    resourceId: String
    dimensions: JSON
    timestamp: DateTime
  }

  input UsageEventsReportInput {
    usageEvents: [UsageEventReportInput!]!
    environmentId: UUID
  }

  type Query {
    entitlementsState(query: FetchEntitlementsQuery!): EntitlementsState!
    cachedEntitlements(query: FetchEntitlementsQuery!): [Entitlement!]!
    entitlements(query: FetchEntitlementsQuery!): [Entitlement!]!
    entitlement(query: FetchEntitlementQuery!): Entitlement!
    entitlementV2(query: GetEntitlementV2Input!): EntitlementUnion
    sdkConfiguration: SdkConfiguration
  }

  type Mutation {
    reportUsage(input: ReportUsageInput!): UsageMeasurementWithCurrentUsage!
    reportUsageBulk(input: ReportUsageBulkInput!): [UsageMeasurementWithCurrentUsage!]!
    reportEvent(events: UsageEventsReportInput!): String
  }

  type Subscription {
    entitlementsUpdated: EntitlementsUpdated!
    entitlementsUpdatedV2: EntitlementsUpdatedV2!
    usageUpdated: UsageUpdated!
    usageUpdatedV2: UsageUpdatedV2!
    packagePublished: PackagePublished!
    creditBalanceUpdated: CreditBalanceUpdated!
  }
`;

export const stiggSchema: GraphQLSchema = buildSchema(SDL);

const LEGACY_FRAGMENTS = /* GraphQL */ `
    fragment Feature on EntitlementFeature {
      __typename featureType meterType featureUnits featureUnitsPlural description displayName refId
      unitTransformation { divide round }
    }
    fragment ResetConfig on ResetPeriodConfiguration {
      __typename
      ... on YearlyResetPeriodConfig { yearlyAccordingTo }
      ... on MonthlyResetPeriodConfig { monthlyAccordingTo }
      ... on WeeklyResetPeriodConfig { weeklyAccordingTo }
    }
    fragment LegacyEntitlement on Entitlement {
      __typename isGranted accessDeniedReason customerId resourceId usageLimit hasUnlimitedUsage hasSoftLimit
      currentUsage requestedUsage requestedValues enumValues entitlementUpdatedAt usageUpdatedAt usagePeriodAnchor
      usagePeriodStart usagePeriodEnd nextResetDate resetPeriod resetPeriodConfiguration { ...ResetConfig }
      feature { ...Feature } creditRate { amount currencyId } validUntil
    }
`;

const V2_FRAGMENTS = /* GraphQL */ `
    fragment FeatureEntitlementFields on FeatureEntitlement {
      __typename isGranted accessDeniedReason usageLimit hasUnlimitedUsage hasSoftLimit currentUsage enumValues
      entitlementUpdatedAt usageUpdatedAt usagePeriodAnchor usagePeriodStart usagePeriodEnd resetPeriod
      resetPeriodConfiguration { ...ResetConfig } feature { ...Feature } creditRate { amount currencyId } validUntil
    }
    fragment CreditEntitlementFields on CreditEntitlement {
      __typename isGranted accessDeniedReason currency { currencyId displayName description unitSingular unitPlural }
      usageLimit currentUsage hasSoftLimit usageUpdatedAt entitlementUpdatedAt usagePeriodEnd validUntil
    }
`;

/** The document the Edge API's entitlements-state.json answers (what Node SDK 4.x reads). */
export const EDGE_ENTITLEMENTS_STATE_DOCUMENT = /* GraphQL */ `
  query EdgeEntitlementsState($query: FetchEntitlementsQuery!) {
    entitlementsState(query: $query) {
      __typename
      entitlements { ...LegacyEntitlement }
      entitlementsV2 {
        __typename
        ... on FeatureEntitlement { ...FeatureEntitlementFields }
        ... on CreditEntitlement { ...CreditEntitlementFields }
      }
      accessDeniedReason
    }
  }
  ${LEGACY_FRAGMENTS}
  ${V2_FRAGMENTS}
`;

/** The document the legacy Edge entitlements.json answers (what Node SDK 3.95 reads). */
export const EDGE_ENTITLEMENTS_DOCUMENT = /* GraphQL */ `
  query EdgeEntitlements($query: FetchEntitlementsQuery!) {
    entitlements: cachedEntitlements(query: $query) { ...LegacyEntitlement }
  }
  ${LEGACY_FRAGMENTS}
`;
