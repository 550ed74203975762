// Child process for the miss benchmark: a control plane in Stigg mode (event stream off, so only misses
// reach Stigg) reading from the emulator whose URLs and key come as one JSON argument. Runs in its own
// process so that a burst it takes in does not delay the emulator's answers, as with a remote Stigg.
import { startControlPlane } from "../../control/controlPlane.ts";
import { FEATURES } from "./benchCustomers.ts";
import { loopbackSettings } from "./controlPlaneInProcess.ts";

interface StiggUrls {
  apiKey: string;
  url: string;
  edgeUrl: string;
  wsUrl: string;
}

const stigg = JSON.parse(process.argv[2] ?? "{}") as StiggUrls;
const cp = await startControlPlane(
  loopbackSettings({
    serverApiKey: stigg.apiKey,
    apiUrl: stigg.url,
    edgeApiUrl: stigg.edgeUrl,
    wsUrl: stigg.wsUrl,
    wsEnabled: false,
    extAuthzRules: [{ pathPrefix: "/reports", feature: FEATURES.boolean }],
  }),
);
process.stdout.write(`${JSON.stringify({ port: cp.grpcPort })}\n`);
process.on("SIGTERM", () => {
  void cp.close().then(() => process.exit(0));
});
