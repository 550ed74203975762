// A whole control plane for a test: every port picked by the OS on loopback, silent logs, its own
// metrics registry, closed when the test ends.
import type { TestContext } from "node:test";
import { defaultSettings, type ControlPlaneSettings } from "../../../control/config/settings.ts";
import { startControlPlane, type ControlPlane } from "../../../control/controlPlane.ts";
import { createLogger } from "../../../control/log.ts";
import { Metrics } from "../../../control/metrics/metrics.ts";

export async function startLoopbackControlPlane(t: TestContext, overrides: Partial<ControlPlaneSettings> = {}): Promise<ControlPlane> {
  const cp = await startControlPlane(
    { ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1", ...overrides },
    { logger: createLogger("silent"), metrics: new Metrics({ processMetrics: false }) },
  );
  t.after(() => cp.close());
  return cp;
}
