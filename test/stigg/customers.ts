// The emulator's customer data and its rendering into Stigg's GraphQL object shapes. Admin input uses
// the control plane's model fields (control/model/entitlements.ts); output uses Stigg's wire shapes
// (ISO dates, __typename, feature { refId ... }), reference section e.2.
import type { AccessDeniedReason, FeatureType, MeterType, ResetPeriod } from "../../control/model/entitlements.ts";

/** Epoch milliseconds, an ISO string, or a Date. */
export type DateInput = number | string | Date;

/** The customer-wide reasons Stigg's EntitlementsState can carry. */
export type CustomerAccessDeniedReason = "CustomerNotFound" | "CustomerIsArchived" | "NoActiveSubscription";
export const CUSTOMER_ACCESS_DENIED_REASONS: readonly CustomerAccessDeniedReason[] = [
  "CustomerNotFound",
  "CustomerIsArchived",
  "NoActiveSubscription",
];

export type ResetPeriodConfigurationInput =
  | { yearlyAccordingTo: "SubscriptionStart" }
  | { monthlyAccordingTo: "SubscriptionStart" | "StartOfTheMonth" }
  | { weeklyAccordingTo: string };

/** One feature entitlement as the admin API takes it (model fields plus a few display extras). */
export interface EmulatedEntitlement {
  featureType: FeatureType;
  meterType?: MeterType;
  usageLimit?: number;
  hasUnlimitedUsage?: boolean;
  hasSoftLimit?: boolean;
  currentUsage?: number;
  enumValues?: string[];
  resetPeriod?: ResetPeriod;
  resetPeriodConfiguration?: ResetPeriodConfigurationInput;
  usagePeriodAnchor?: DateInput;
  usagePeriodStart?: DateInput;
  usagePeriodEnd?: DateInput;
  accessDeniedReason?: AccessDeniedReason;
  validUntil?: DateInput;
  creditRate?: { amount: number; currencyId: string };
  displayName?: string;
  description?: string;
  featureUnits?: string;
  featureUnitsPlural?: string;
}

/** A credit (currency) entitlement; only the V2 shapes carry these. */
export interface EmulatedCreditEntitlement {
  usageLimit?: number;
  currentUsage?: number;
  hasSoftLimit?: boolean;
  accessDeniedReason?: AccessDeniedReason;
  usagePeriodEnd?: DateInput;
  validUntil?: DateInput;
  displayName?: string;
}

export interface EntitlementSetSpec {
  accessDeniedReason?: CustomerAccessDeniedReason;
  entitlements: Record<string, EmulatedEntitlement>;
  credits?: Record<string, EmulatedCreditEntitlement>;
}

export interface CustomerSpec extends EntitlementSetSpec {
  /** Resource-scoped entitlement sets, keyed by resource id. */
  resources?: Record<string, EntitlementSetSpec>;
}

interface StoredEntitlement {
  featureId: string;
  spec: EmulatedEntitlement;
  currentUsage: number;
  usageUpdatedAt: number;
  entitlementUpdatedAt: number;
}

interface StoredCredit {
  currencyId: string;
  spec: EmulatedCreditEntitlement;
  currentUsage: number;
  updatedAt: number;
}

export interface StoredEntity {
  customerId: string;
  resourceId?: string;
  accessDeniedReason?: CustomerAccessDeniedReason;
  entitlements: Map<string, StoredEntitlement>;
  credits: Map<string, StoredCredit>;
}

interface StoredCustomer {
  customer: StoredEntity;
  resources: Map<string, StoredEntity>;
}

/** A GraphQL object value: what resolvers return and the executor walks. */
export type GraphqlObject = { [field: string]: unknown };

export function toIso(value: DateInput | undefined): string | null {
  if (value === undefined) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

function isMeteredSpec(spec: EmulatedEntitlement): boolean {
  return spec.featureType === "NUMBER" && spec.meterType !== undefined && spec.meterType !== "None";
}

function validateSet(where: string, set: EntitlementSetSpec): void {
  if (set.accessDeniedReason !== undefined && !CUSTOMER_ACCESS_DENIED_REASONS.includes(set.accessDeniedReason)) {
    throw new Error(`${where}: accessDeniedReason must be one of ${CUSTOMER_ACCESS_DENIED_REASONS.join(", ")}`);
  }
  for (const [featureId, spec] of Object.entries(set.entitlements)) {
    if (!["BOOLEAN", "NUMBER", "ENUM"].includes(spec.featureType)) {
      throw new Error(`${where}: feature ${featureId} has an unknown featureType`);
    }
  }
}

export class CustomerStore {
  readonly #customers = new Map<string, StoredCustomer>();

  set(customerId: string, spec: CustomerSpec, now: number): StoredEntity[] {
    validateSet(`customer ${customerId}`, spec);
    for (const [resourceId, set] of Object.entries(spec.resources ?? {})) {
      validateSet(`customer ${customerId} resource ${resourceId}`, set);
    }
    const previous = this.#customers.get(customerId);
    const customer = buildEntity(customerId, undefined, spec, now);
    const resources = new Map<string, StoredEntity>();
    for (const [resourceId, set] of Object.entries(spec.resources ?? {})) {
      resources.set(resourceId, buildEntity(customerId, resourceId, set, now));
    }
    this.#customers.set(customerId, { customer, resources });
    // Resources that disappeared must be announced too, so subscribers drop them.
    const gone = [...(previous?.resources.keys() ?? [])].filter((id) => !resources.has(id));
    const goneEntities = gone.map((resourceId) => emptyEntity(customerId, resourceId));
    return [customer, ...resources.values(), ...goneEntities];
  }

  remove(customerId: string): StoredEntity[] {
    const previous = this.#customers.get(customerId);
    if (!previous) return [];
    this.#customers.delete(customerId);
    return [emptyEntity(customerId, undefined), ...[...previous.resources.keys()].map((r) => emptyEntity(customerId, r))];
  }

  has(customerId: string): boolean {
    return this.#customers.has(customerId);
  }

  customerIds(): string[] {
    return [...this.#customers.keys()];
  }

  /** The entity a read for (customer, resource) resolves to, or undefined if the customer is unknown. */
  entity(customerId: string, resourceId?: string | null): StoredEntity | undefined {
    const customer = this.#customers.get(customerId);
    if (!customer) return undefined;
    if (!resourceId) return customer.customer;
    return customer.resources.get(resourceId);
  }

  entitlement(customerId: string, featureId: string, resourceId?: string | null): StoredEntitlement | undefined {
    return this.entity(customerId, resourceId)?.entitlements.get(featureId);
  }
}

function buildEntity(customerId: string, resourceId: string | undefined, set: EntitlementSetSpec, now: number): StoredEntity {
  const entitlements = new Map<string, StoredEntitlement>();
  for (const [featureId, spec] of Object.entries(set.entitlements)) {
    entitlements.set(featureId, {
      featureId,
      spec: structuredClone(spec),
      currentUsage: spec.currentUsage ?? 0,
      usageUpdatedAt: now,
      entitlementUpdatedAt: now,
    });
  }
  const credits = new Map<string, StoredCredit>();
  for (const [currencyId, spec] of Object.entries(set.credits ?? {})) {
    credits.set(currencyId, { currencyId, spec: structuredClone(spec), currentUsage: spec.currentUsage ?? 0, updatedAt: now });
  }
  const entity: StoredEntity = { customerId, entitlements, credits };
  if (resourceId !== undefined) entity.resourceId = resourceId;
  if (set.accessDeniedReason !== undefined) entity.accessDeniedReason = set.accessDeniedReason;
  return entity;
}

function emptyEntity(customerId: string, resourceId: string | undefined): StoredEntity {
  const entity: StoredEntity = { customerId, entitlements: new Map(), credits: new Map() };
  if (resourceId !== undefined) entity.resourceId = resourceId;
  return entity;
}

// ---- rendering into GraphQL object values ----

function featureObject(featureId: string, spec: EmulatedEntitlement): GraphqlObject {
  return {
    __typename: "EntitlementFeature",
    id: featureId,
    refId: featureId,
    featureType: spec.featureType,
    meterType: spec.meterType ?? null,
    featureUnits: spec.featureUnits ?? null,
    featureUnitsPlural: spec.featureUnitsPlural ?? null,
    description: spec.description ?? null,
    displayName: spec.displayName ?? featureId,
    unitTransformation: null,
    additionalMetaData: null,
  };
}

function resetConfigurationObject(config: ResetPeriodConfigurationInput | undefined): GraphqlObject | null {
  if (!config) return null;
  if ("yearlyAccordingTo" in config) return { __typename: "YearlyResetPeriodConfig", ...config };
  if ("monthlyAccordingTo" in config) return { __typename: "MonthlyResetPeriodConfig", ...config };
  return { __typename: "WeeklyResetPeriodConfig", ...config };
}

/**
 * Stigg computes isGranted server side. The emulator grants unless the entitlement carries a denial or
 * a hard metered limit cannot take the requested usage (1 when none is given, as a next unit would be).
 * It never invents an accessDeniedReason: clients decide from the limit fields.
 */
function isGranted(entry: StoredEntitlement, requestedUsage?: number, requestedValues?: readonly string[]): boolean {
  const { spec } = entry;
  if (spec.accessDeniedReason) return false;
  if (spec.featureType === "ENUM" && requestedValues) {
    return requestedValues.every((value) => (spec.enumValues ?? []).includes(value));
  }
  if (!isMeteredSpec(spec) || spec.hasUnlimitedUsage || spec.hasSoftLimit) return true;
  const requested = requestedUsage ?? 1;
  return entry.currentUsage + requested <= (spec.usageLimit ?? 0);
}

function entitlementFields(entry: StoredEntitlement, requestedUsage?: number, requestedValues?: readonly string[]): GraphqlObject {
  const { spec, featureId } = entry;
  return {
    isGranted: isGranted(entry, requestedUsage, requestedValues),
    accessDeniedReason: spec.accessDeniedReason ?? null,
    usageLimit: spec.hasUnlimitedUsage ? null : spec.usageLimit ?? null,
    hasUnlimitedUsage: spec.hasUnlimitedUsage ?? false,
    hasSoftLimit: spec.hasSoftLimit ?? false,
    currentUsage: entry.currentUsage,
    enumValues: spec.enumValues ?? null,
    entitlementUpdatedAt: toIso(entry.entitlementUpdatedAt),
    usageUpdatedAt: toIso(entry.usageUpdatedAt),
    usagePeriodAnchor: toIso(spec.usagePeriodAnchor),
    usagePeriodStart: toIso(spec.usagePeriodStart),
    usagePeriodEnd: toIso(spec.usagePeriodEnd),
    resetPeriod: spec.resetPeriod ?? null,
    resetPeriodConfiguration: resetConfigurationObject(spec.resetPeriodConfiguration),
    feature: featureObject(featureId, spec),
    creditRate: spec.creditRate ? { ...spec.creditRate } : null,
    validUntil: toIso(spec.validUntil),
  };
}

export function featureEntitlementObject(entry: StoredEntitlement, requestedUsage?: number, requestedValues?: readonly string[]): GraphqlObject {
  return { __typename: "FeatureEntitlement", ...entitlementFields(entry, requestedUsage, requestedValues) };
}

export function legacyEntitlementObject(
  entity: StoredEntity,
  entry: StoredEntitlement,
  requestedUsage?: number,
  requestedValues?: readonly string[],
): GraphqlObject {
  const fields = entitlementFields(entry, requestedUsage, requestedValues);
  return {
    __typename: "Entitlement",
    ...fields,
    customerId: entity.customerId,
    resourceId: entity.resourceId ?? null,
    requestedUsage: requestedUsage ?? null,
    requestedValues: requestedValues ? [...requestedValues] : null,
    nextResetDate: fields["usagePeriodEnd"],
  };
}

export function creditEntitlementObject(credit: StoredCredit): GraphqlObject {
  const { spec } = credit;
  const exhausted = spec.usageLimit !== undefined && credit.currentUsage >= spec.usageLimit && !spec.hasSoftLimit;
  return {
    __typename: "CreditEntitlement",
    isGranted: !spec.accessDeniedReason && !exhausted,
    accessDeniedReason: spec.accessDeniedReason ?? null,
    currency: {
      currencyId: credit.currencyId,
      displayName: spec.displayName ?? credit.currencyId,
      description: null,
      unitSingular: null,
      unitPlural: null,
      additionalMetaData: null,
    },
    usageLimit: spec.usageLimit ?? null,
    currentUsage: credit.currentUsage,
    hasSoftLimit: spec.hasSoftLimit ?? false,
    usageUpdatedAt: toIso(credit.updatedAt),
    entitlementUpdatedAt: toIso(credit.updatedAt),
    usagePeriodEnd: toIso(spec.usagePeriodEnd),
    validUntil: toIso(spec.validUntil),
  };
}

export function legacyEntitlementList(entity: StoredEntity | undefined): GraphqlObject[] {
  if (!entity) return [];
  return [...entity.entitlements.values()].map((entry) => legacyEntitlementObject(entity, entry));
}

export function entitlementUnionList(entity: StoredEntity | undefined): GraphqlObject[] {
  if (!entity) return [];
  return [
    ...[...entity.entitlements.values()].map((entry) => featureEntitlementObject(entry)),
    ...[...entity.credits.values()].map((credit) => creditEntitlementObject(credit)),
  ];
}

/** EntitlementsState for a read: unknown customer → CustomerNotFound; unknown resource → NoActiveSubscription. */
export function entitlementsStateObject(store: CustomerStore, customerId: string, resourceId?: string | null): GraphqlObject {
  const entity = store.entity(customerId, resourceId);
  let accessDeniedReason: CustomerAccessDeniedReason | null = entity?.accessDeniedReason ?? null;
  if (!store.has(customerId)) accessDeniedReason = "CustomerNotFound";
  else if (!entity) accessDeniedReason = "NoActiveSubscription";
  return {
    __typename: "EntitlementsState",
    entitlements: legacyEntitlementList(entity),
    entitlementsV2: entitlementUnionList(entity),
    accessDeniedReason,
  };
}
