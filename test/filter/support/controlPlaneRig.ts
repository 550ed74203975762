// An in-process control plane on 127.0.0.1 serving a temporary entitlements file, for filter tests that
// need the real FetchCustomer / ReportUsage / Subscribe answers.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../../../control/controlPlane.ts";
import { defaultSettings, type ControlPlaneSettings } from "../../../control/config/settings.ts";

export interface ControlPlaneRig {
  cp: ControlPlane;
  dir: string;
  file: string;
  /** Starts a new control plane on the same sync port with the same file (after cp.close()). */
  restart(): Promise<ControlPlane>;
  close(): Promise<void>;
}

/** `extra` overrides settings (e.g. `syncAuthToken`), also on restart. */
export async function startControlPlaneRig(yaml: string, syncPort = 0, extra: Partial<ControlPlaneSettings> = {}): Promise<ControlPlaneRig> {
  const dir = mkdtempSync(join(tmpdir(), "eg-filter-"));
  const file = join(dir, "entitlements.yaml");
  writeFileSync(file, yaml);
  const settings = (port: number) => ({
    ...defaultSettings(), entitlementsFile: file, syncPort: port, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1", logLevel: "error" as const, ...extra,
  });
  const rig: ControlPlaneRig = {
    cp: await startControlPlane(settings(syncPort)),
    dir,
    file,
    restart: async () => {
      rig.cp = await startControlPlane(settings(rig.cp.syncPort));
      return rig.cp;
    },
    close: async () => {
      await rig.cp.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

/** Polls on the real event loop until `condition` holds. */
export async function eventually(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
