// The control plane started in-process on loopback with every port picked by the OS, fed from a store
// the benchmark drives directly (or from whatever source a section passes).
import { defaultSettings, type ControlPlaneSettings } from "../../control/config/settings.ts";
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from "../../control/controlPlane.ts";
import type { EntitlementSource } from "../../control/upstream/entitlementSource.ts";
import type { EntitlementSink } from "../../control/store/storeTypes.ts";

/** A source that has loaded at once and never changes anything: the benchmark writes the store. */
export class BenchSource implements EntitlementSource {
  readonly description = "benchmark (store written directly)";
  async start(_sink: EntitlementSink): Promise<void> {}
  async stop(): Promise<void> {}
  status(): { loaded: boolean } {
    return { loaded: true };
  }
}

export function loopbackSettings(overrides: Partial<ControlPlaneSettings> = {}): ControlPlaneSettings {
  const settings: ControlPlaneSettings = { ...defaultSettings(), bindAddress: "127.0.0.1", logLevel: "error" };
  // Every port the control plane listens on (sync, HTTP, API, and any added later) picked by the OS;
  // ports it connects to (Redis) stay as they are.
  const ports = settings as unknown as Record<string, unknown>;
  for (const key of Object.keys(ports)) {
    if (key.endsWith("Port") && !key.startsWith("redis") && typeof ports[key] === "number") ports[key] = 0;
  }
  return { ...settings, ...overrides };
}

export function startBenchControlPlane(options: ControlPlaneOptions, overrides: Partial<ControlPlaneSettings> = {}): Promise<ControlPlane> {
  return startControlPlane(loopbackSettings(overrides), { source: new BenchSource(), ...options });
}
