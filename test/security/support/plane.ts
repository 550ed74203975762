// A whole control plane on loopback ports chosen by the OS, with the security and limit settings a
// test sets, closed when the test ends.
import type { TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { defaultSettings, type ControlPlaneSettings } from "../../../control/config/settings.ts";
import { startControlPlane, type ControlPlane } from "../../../control/controlPlane.ts";
import { createLogger } from "../../../control/log.ts";
import { Metrics } from "../../../control/metrics/metrics.ts";
import { filterSyncServiceDefinition } from "../../../control/grpc/syncProto.ts";
import { sidecarServiceDefinition } from "../../../control/api/sidecarProto.ts";
import { extAuthzServiceDefinition } from "../../../control/api/extAuthzProto.ts";

export async function plane(t: TestContext, settings: Partial<ControlPlaneSettings> = {}): Promise<ControlPlane> {
  const cp = await startControlPlane(
    { ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1", ...settings },
    { logger: createLogger("silent"), metrics: new Metrics({ processMetrics: false }) },
  );
  t.after(() => cp.close(200));
  return cp;
}

export const SYNC = filterSyncServiceDefinition();

let apis: { sidecar: grpc.ServiceDefinition; extAuthz: grpc.ServiceDefinition } | undefined;
export function apiDefinitions(): { sidecar: grpc.ServiceDefinition; extAuthz: grpc.ServiceDefinition } {
  apis ??= { sidecar: sidecarServiceDefinition(), extAuthz: extAuthzServiceDefinition() };
  return apis;
}

/** A plain grpc-js client on `127.0.0.1:port`, closed when the test ends. */
export function client(t: TestContext, port: number, credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(), options: grpc.ChannelOptions = {}): grpc.Client {
  const c = new grpc.Client(`127.0.0.1:${port}`, credentials, options);
  t.after(() => c.close());
  return c;
}
