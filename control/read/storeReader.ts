// The offline reader: answers every read from the store (the entitlements file, or whatever feeds
// it), as Stigg's Sidecar does in offline mode. Never fails and never waits.
import type { CustomerEntitlements } from "../model/entitlements.ts";
import type { EntitlementStore } from "../store/entitlementStore.ts";
import type { EntitlementReader, ReadOptions, ReadResult } from "./readTypes.ts";

export class StoreReader implements EntitlementReader {
  constructor(private readonly store: EntitlementStore) {}

  async read(customerId: string, resourceId: string | undefined, _options?: ReadOptions): Promise<ReadResult> {
    return this.readCached(customerId, resourceId);
  }

  /** Every read is answered from the store at once. */
  readCached(customerId: string, resourceId: string | undefined): ReadResult {
    const found = this.store.get(customerId, resourceId || undefined);
    if (found) return { entry: found.value, source: "cache" };
    return { entry: notFoundEntry(this.store, customerId, resourceId || undefined), source: "cache" };
  }

  async reload(customerId: string, resourceId: string | undefined, _options?: ReadOptions): Promise<{ entitledEntityExists: boolean }> {
    const found = this.store.get(customerId, resourceId || undefined);
    const reason = found?.value.accessDeniedReason;
    return { entitledEntityExists: found !== undefined && (reason === undefined || reason === "NoActiveSubscription") };
  }
}

/**
 * What Stigg answers for an entity it does not know: a customer-wide reason and no features. A known
 * customer asked about an unknown resource is CustomerResourceNotFound (as FetchCustomer does).
 */
export function notFoundEntry(store: EntitlementStore, customerId: string, resourceId: string | undefined): CustomerEntitlements {
  const customerKnown = resourceId !== undefined && store.get(customerId) !== undefined;
  const entry: CustomerEntitlements = {
    customerId,
    accessDeniedReason: customerKnown ? "CustomerResourceNotFound" : "CustomerNotFound",
    entitlements: [],
  };
  if (resourceId !== undefined) entry.resourceId = resourceId;
  return entry;
}
