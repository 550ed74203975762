// The Stigg emulator with the benchmark's customers, and a control plane in Stigg mode reading from it
// (Edge on a miss, single-flight per customer), both in-process on loopback.
import type { ControlPlane } from "../../control/controlPlane.ts";
import type { FeatureEntitlement } from "../../control/model/entitlements.ts";
import { startStiggEmulator, type StiggEmulator } from "../stigg/emulator.ts";
import { startControlPlane } from "../../control/controlPlane.ts";
import { customerId, FEATURES, tenFeaturePlan } from "./benchCustomers.ts";
import { loopbackSettings } from "./controlPlaneInProcess.ts";
import { stiggUpstreamSettings } from "../stigg/upstreamSettings.ts";

type EmulatedEntitlements = NonNullable<Parameters<StiggEmulator["setCustomer"]>[1]>["entitlements"];

function emulated(plan: FeatureEntitlement[]): EmulatedEntitlements {
  const out: Record<string, unknown> = {};
  for (const { featureId, ...rest } of plan) out[featureId] = rest;
  return out as EmulatedEntitlements;
}

export function emulatedPlan(plan: FeatureEntitlement[]): EmulatedEntitlements {
  return emulated(plan);
}

/** The emulator holding the first `customers` benchmark customers, its Edge answering after `edgeLatencyMs`. */
export async function startBenchStigg(customers: number, edgeLatencyMs: number): Promise<StiggEmulator> {
  const stigg = await startStiggEmulator({});
  for (let i = 0; i < customers; i++) stigg.setCustomer(customerId(i), { entitlements: emulated(tenFeaturePlan(i)) });
  stigg.setFault("edge", { latencyMs: edgeLatencyMs });
  return stigg;
}

export async function startStiggWorld(customers: number, edgeLatencyMs: number, events = false): Promise<{ stigg: StiggEmulator; cp: ControlPlane; close(): Promise<void> }> {
  const stigg = await startBenchStigg(customers, edgeLatencyMs);
  const cp = await startControlPlane(
    loopbackSettings({
      ...stiggUpstreamSettings(stigg),
      // Only the propagation section wants events; elsewhere only misses reach Stigg.
      wsEnabled: events,
      extAuthzRules: [{ pathPrefix: "/reports", feature: FEATURES.boolean }],
    }),
  );
  return {
    stigg,
    cp,
    close: async () => {
      await cp.close();
      await stigg.close();
    },
  };
}
