// Reads the language-neutral case tables (README.md here) into the control plane's model, so every test
// that runs them (control evaluation, the filter's evaluation, Stigg's SDK) sees the same rows the same way.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import {
  FEATURE_TYPES,
  METER_TYPES,
  RESET_PERIODS,
  isAccessDeniedReason,
  type CustomerEntitlements,
  type FeatureEntitlement,
} from "../../control/model/entitlements.ts";

export interface CaseFeature {
  featureType: string;
  meterType?: string;
  usageLimit?: number;
  hasUnlimitedUsage?: boolean;
  hasSoftLimit?: boolean;
  currentUsage?: number;
  enumValues?: string[];
  resetPeriod?: string;
  usagePeriodAnchor?: string;
  usagePeriodStart?: string;
  usagePeriodEnd?: string;
  accessDeniedReason?: string;
}
export interface CaseRow {
  name: string;
  now: string;
  customer: null | { accessDeniedReason?: string; entitlements: Record<string, CaseFeature> };
  check: { featureId: string; requestedUsage?: number; requestedValues?: string[]; expectType?: string };
  expect: { hasAccess: boolean; reason?: string; currentUsage?: number; remaining?: number; usagePeriodEnd?: string };
}

/** `file` is a table name in test/cases, e.g. "evaluation.json". */
export function loadCases(file: string): CaseRow[] {
  return JSON.parse(readFileSync(new URL(`./${file}`, import.meta.url), "utf8")) as CaseRow[];
}

export function epochMs(iso: string): number {
  const value = Date.parse(iso);
  assert.ok(Number.isFinite(value), `not an ISO date: ${iso}`);
  return value;
}

export function oneOf<T extends string>(allowed: readonly T[], value: string): T {
  assert.ok((allowed as readonly string[]).includes(value), `unexpected value ${value}`);
  return value as T;
}

export function toFeature(featureId: string, raw: CaseFeature): FeatureEntitlement {
  const feature: FeatureEntitlement = {
    featureId,
    featureType: oneOf(FEATURE_TYPES, raw.featureType),
    hasUnlimitedUsage: raw.hasUnlimitedUsage ?? false,
    hasSoftLimit: raw.hasSoftLimit ?? false,
    currentUsage: raw.currentUsage ?? 0,
  };
  if (raw.meterType !== undefined) feature.meterType = oneOf(METER_TYPES, raw.meterType);
  if (raw.usageLimit !== undefined) feature.usageLimit = raw.usageLimit;
  if (raw.enumValues !== undefined) feature.enumValues = raw.enumValues;
  if (raw.resetPeriod !== undefined) feature.resetPeriod = oneOf(RESET_PERIODS, raw.resetPeriod);
  if (raw.usagePeriodAnchor !== undefined) feature.usagePeriodAnchor = epochMs(raw.usagePeriodAnchor);
  if (raw.usagePeriodStart !== undefined) feature.usagePeriodStart = epochMs(raw.usagePeriodStart);
  if (raw.usagePeriodEnd !== undefined) feature.usagePeriodEnd = epochMs(raw.usagePeriodEnd);
  if (raw.accessDeniedReason !== undefined) {
    assert.ok(isAccessDeniedReason(raw.accessDeniedReason), raw.accessDeniedReason);
    feature.accessDeniedReason = raw.accessDeniedReason;
  }
  return feature;
}

/** A row's customer as the cached entry (always id "customer-1"); `null` (not cached) is `undefined`. */
export function toEntry(customer: CaseRow["customer"]): CustomerEntitlements | undefined {
  if (customer === null) return undefined;
  const entry: CustomerEntitlements = {
    customerId: "customer-1",
    entitlements: Object.entries(customer.entitlements).map(([id, raw]) => toFeature(id, raw)),
  };
  if (customer.accessDeniedReason !== undefined) {
    assert.ok(isAccessDeniedReason(customer.accessDeniedReason), customer.accessDeniedReason);
    entry.accessDeniedReason = customer.accessDeniedReason;
  }
  return entry;
}
