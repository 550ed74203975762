import type { CustomerEntitlements } from "../model/entitlements.ts";

function byText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A stable text of one customer for change detection: neither key order nor entitlement order
 * matters, so re-reading an unchanged source produces no change.
 */
export function fingerprint(c: CustomerEntitlements): string {
  const sorted = [...c.entitlements].sort((a, b) => byText(a.featureId, b.featureId));
  return JSON.stringify({ ...c, entitlements: sorted }, (_key, value: unknown) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => byText(a, b)));
  });
}
