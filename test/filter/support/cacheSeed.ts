// Writes customers into a test host's shared data the way the sync role does (generation prefix + the
// control plane's encoded entry), so filter tests can set up a cache without a control plane.
import { encodeEntry } from "../../../control/codec/entryCodec.ts";
import type { CustomerEntitlements, FeatureEntitlement } from "../../../control/model/entitlements.ts";
import type { EnvoyHost } from "../../host/index.ts";

export function u32le(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value, true);
  return out;
}

export function u64le(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value), true);
  return out;
}

export function cachedValue(customer: CustomerEntitlements, generation = 1): Uint8Array {
  const entry = encodeEntry(customer);
  const out = new Uint8Array(4 + entry.length);
  out.set(u32le(generation));
  out.set(entry, 4);
  return out;
}

export function entryKey(customerId: string, resourceId?: string): string {
  return resourceId ? `eg1/r/${Buffer.byteLength(customerId)}/${customerId}${resourceId}` : `eg1/c/${customerId}`;
}

/** Marks a completed snapshot (generation 1) synced at `syncedAtMs`, then writes each customer. */
export function seedCache(host: EnvoyHost, vmId: string, customers: CustomerEntitlements[], syncedAtMs?: number): void {
  const data = host.sharedData(vmId);
  data.set("eg1/sync/gen", u32le(1));
  if (syncedAtMs !== undefined) data.set("eg1/sync/at", u64le(syncedAtMs));
  for (const customer of customers) data.set(entryKey(customer.customerId, customer.resourceId), cachedValue(customer));
}

export const boolean = (featureId: string): FeatureEntitlement => ({
  featureId, featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0,
});

export const metered = (featureId: string, usageLimit: number, currentUsage: number): FeatureEntitlement => ({
  featureId, featureType: "NUMBER", meterType: "Incremental", usageLimit, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage,
});
