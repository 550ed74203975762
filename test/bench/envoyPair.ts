// An "Envoy" as the benchmarks need it: the proxy-wasm host with the singleton sync role connected to
// a control plane and the HTTP filter on N worker VMs, all running the built filter.
import { EnvoyHost, type HttpFilter, type ServicePlugin } from "../host/index.ts";
import { GATE_CONFIG } from "./benchCustomers.ts";
import { FILTER_WASM } from "./wasmBuilds.ts";

export const VM_ID = "entitlements";

export interface BenchEnvoy {
  host: EnvoyHost;
  sync: ServicePlugin;
  filter: HttpFilter;
}

export async function startEnvoy(syncPort: number, nodeId: string, workers: number, gateConfig?: object): Promise<BenchEnvoy> {
  const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: syncPort } } });
  const sync = await host.addSingletonService({
    vmId: VM_ID, rootId: "entitlement_sync", wasm: FILTER_WASM, configuration: JSON.stringify({ cluster: "control_plane", nodeId }),
  });
  if (!sync.configureResult) throw new Error("the sync role rejected its configuration");
  const filter = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: FILTER_WASM, configuration: gateConfig === undefined ? GATE_CONFIG : JSON.stringify(gateConfig), workers });
  if (filter.configureResults.some((ok) => !ok)) throw new Error("a worker rejected the filter configuration");
  return { host, sync, filter };
}

/** Resolves when `condition` holds, checking once per event-loop turn (so it sees a write right after it happens). */
export async function waitUntil(what: string, timeoutMs: number, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

export function sharedEntry(envoy: BenchEnvoy, customerId: string): Uint8Array | undefined {
  return envoy.host.sharedData(VM_ID).get(`eg1/c/${customerId}`)?.value;
}

/** True when shared data holds exactly `entry` (after the 4-byte generation). */
export function holdsEntry(envoy: BenchEnvoy, customerId: string, entry: Uint8Array): boolean {
  const value = sharedEntry(envoy, customerId);
  return value !== undefined && value.length === entry.length + 4 && Buffer.compare(value.subarray(4), entry) === 0;
}
