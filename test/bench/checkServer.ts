// Child process for the check benchmark: one control plane (store with N customers on the benchmark
// plan) serving Stigg's SidecarService and ext_authz Check on its API port (GRPC_PORT). Prints the port.
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { benchCustomer, FEATURES } from "./benchCustomers.ts";
import { startBenchControlPlane } from "./controlPlaneInProcess.ts";

const customers = Number(process.argv[2] ?? "1000");
const store = new EntitlementStore();
const nowMs = Date.now();
store.replaceAll(Array.from({ length: customers }, (_, i) => benchCustomer(i, nowMs)));
const cp = await startBenchControlPlane(
  { store },
  {
    extAuthzRules: [
      { pathPrefix: "/reports", feature: FEATURES.boolean },
      { pathPrefix: "/api", feature: FEATURES.metered, requestedUsage: 1 },
    ],
  },
);
process.stdout.write(`${JSON.stringify({ port: cp.grpcPort, syncPort: cp.syncPort })}\n`);
process.on("SIGTERM", () => {
  void cp.close().then(() => process.exit(0));
});
