// The offline usage writer: usage reports change the store's usage (so every filter receives the
// new usage as a DELTA) and are acknowledged with a random measurement id, like Stigg's SDK in
// offline mode. Events have nowhere to go offline: they are accepted and dropped.
import { randomUUID } from "node:crypto";
import { isMetered } from "../model/entitlements.ts";
import type { EntitlementStore } from "../store/entitlementStore.ts";
import type { ReadOptions, UsageAck, UsageEventInput, UsageReportInput, UsageWriter } from "./readTypes.ts";

export class OfflineUsageWriter implements UsageWriter {
  constructor(private readonly store: EntitlementStore) {}

  async reportUsage(usage: UsageReportInput, _options?: ReadOptions): Promise<UsageAck> {
    return this.apply(usage);
  }

  async reportUsageBulk(usages: readonly UsageReportInput[], _options?: ReadOptions): Promise<UsageAck[]> {
    return usages.map((usage) => this.apply(usage));
  }

  async reportEvents(_events: readonly UsageEventInput[], _options?: ReadOptions): Promise<void> {}

  private apply(usage: UsageReportInput): UsageAck {
    const resourceId = usage.resourceId || undefined;
    const ack: UsageAck = { measurementId: randomUUID(), customerId: usage.customerId, featureId: usage.featureId };
    if (resourceId !== undefined) ack.resourceId = resourceId;
    const feature = this.store.get(usage.customerId, resourceId)?.value.entitlements.find((e) => e.featureId === usage.featureId);
    // Unknown customers and non-metered features are acknowledged without a usage, as Stigg's
    // offline mode acknowledges everything.
    if (!feature || !isMetered(feature)) return ack;
    const delta = usage.updateBehavior === "SET" ? usage.value - feature.currentUsage : usage.value;
    this.store.addUsage(usage.customerId, resourceId, usage.featureId, delta);
    const updated = this.store.get(usage.customerId, resourceId)?.value.entitlements.find((e) => e.featureId === usage.featureId);
    ack.currentUsage = updated?.currentUsage ?? feature.currentUsage + delta;
    if (feature.usagePeriodStart !== undefined) ack.usagePeriodStart = feature.usagePeriodStart;
    if (feature.usagePeriodEnd !== undefined) ack.usagePeriodEnd = feature.usagePeriodEnd;
    return ack;
  }
}
