// Child process for the miss benchmark: a control plane in Stigg mode (event stream off, so only misses
// reach Stigg) reading from the emulator whose settings (stiggUpstreamSettings) come as one JSON argument. Runs in its own
// process so that a burst it takes in does not delay the emulator's answers, as with a remote Stigg.
import { startControlPlane } from "../../control/controlPlane.ts";
import { FEATURES } from "./benchCustomers.ts";
import { loopbackSettings } from "./controlPlaneInProcess.ts";
import type { StiggUpstreamSettings } from "../stigg/upstreamSettings.ts";

const stigg = JSON.parse(process.argv[2] ?? "{}") as StiggUpstreamSettings;
const cp = await startControlPlane(
  loopbackSettings({
    ...stigg,
    wsEnabled: false,
    extAuthzRules: [{ pathPrefix: "/reports", feature: FEATURES.boolean }],
  }),
);
process.stdout.write(`${JSON.stringify({ port: cp.grpcPort })}\n`);
process.on("SIGTERM", () => {
  void cp.close().then(() => process.exit(0));
});
