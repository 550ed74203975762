// A StiggUpstream wired to a fresh Stigg emulator on loopback, for the upstream tests.
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { StiggUpstream, type StiggUpstreamOptions } from "../../control/upstream/stigg/stiggUpstream.ts";
import { startStiggEmulator, type CustomerSpec, type StiggEmulator, type StiggEmulatorOptions } from "../stigg/emulator.ts";

export interface Harness {
  stigg: StiggEmulator;
  store: EntitlementStore;
  metrics: Metrics;
  upstream: StiggUpstream;
  close(): Promise<void>;
}

export const ACME: CustomerSpec = {
  entitlements: {
    sso: { featureType: "BOOLEAN" },
    "api-calls": {
      featureType: "NUMBER",
      meterType: "Incremental",
      usageLimit: 100,
      currentUsage: 40,
      resetPeriod: "MONTH",
      usagePeriodStart: Date.now() - 86_400_000,
      usagePeriodEnd: Date.now() + 86_400_000,
    },
  },
  resources: { "site-1": { entitlements: { sso: { featureType: "BOOLEAN", accessDeniedReason: "Revoked" } } } },
};

export async function startHarness(
  overrides: Partial<Omit<StiggUpstreamOptions, "store" | "logger" | "metrics">> = {},
  emulatorOptions: StiggEmulatorOptions = {},
  waitForStream = true,
): Promise<Harness> {
  const stigg = await startStiggEmulator({ customers: { acme: ACME }, ...emulatorOptions });
  const store = new EntitlementStore();
  const metrics = new Metrics({ processMetrics: false });
  const upstream = new StiggUpstream({
    apiKey: stigg.apiKey,
    apiUrl: stigg.url,
    edgeApiUrl: stigg.edgeUrl,
    wsUrl: stigg.wsUrl,
    cacheMaxSizeBytes: 1024 * 1024,
    missTimeoutMs: 300,
    maxStalenessSeconds: 3600,
    edgeBudgetPerMinute: 6000,
    store,
    logger: createLogger("silent"),
    metrics,
    ...overrides,
    tuning: { reconnectBackoffBaseMs: 20, reconnectBackoffMaxMs: 100, rateLimitCooldownMs: 200, keyCheckTimeoutMs: 1000, ...overrides.tuning },
  });
  await upstream.start(store);
  if (waitForStream && (overrides.wsEnabled ?? true)) {
    await stigg.waitUntil(() => upstream.stream?.healthy === true, 3000, "event stream connected");
    await stigg.waitForSubscription("entitlementsUpdatedV2");
    await stigg.waitForSubscription("usageUpdatedV2");
    await stigg.waitForSubscription("packagePublished");
  }
  return {
    stigg,
    store,
    metrics,
    upstream,
    async close() {
      await upstream.stop();
      await stigg.close();
    },
  };
}

export async function metricValue(metrics: Metrics, name: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  return metric?.values.reduce((sum, v) => sum + v.value, 0) ?? Number.NaN;
}
