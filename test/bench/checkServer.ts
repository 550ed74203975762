// Child process for the check benchmark: one control plane (store with N customers on the benchmark
// plan) serving Stigg's SidecarService and ext_authz Check on its API port. Prints the port.
import { startApiServer } from "../../control/api/apiServer.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { benchCustomer, FEATURES } from "./benchCustomers.ts";
import { startBenchControlPlane } from "./controlPlaneInProcess.ts";

const customers = Number(process.argv[2] ?? "1000");
const store = new EntitlementStore();
const nowMs = Date.now();
store.replaceAll(Array.from({ length: customers }, (_, i) => benchCustomer(i, nowMs)));
const cp = await startBenchControlPlane({ store });
// The API port is served by the control plane's own process; started here with the control plane's
// reader, usage writer, store and metrics, as the control plane wires it.
const api = await startApiServer({
  host: "127.0.0.1",
  port: 0,
  reader: cp.reader,
  usage: cp.usage,
  logger: cp.logger,
  store: cp.store,
  metrics: cp.metrics,
  extAuthzRules: [
    { pathPrefix: "/reports", feature: FEATURES.boolean },
    { pathPrefix: "/api", feature: FEATURES.metered, requestedUsage: 1 },
  ],
  readiness: cp.readiness,
});
process.stdout.write(`${JSON.stringify({ port: api.port, syncPort: cp.syncPort })}\n`);
process.on("SIGTERM", () => {
  void api.close().then(() => cp.close()).then(() => process.exit(0));
});
