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
// Any stdin line asks how many allow decisions the APIs have made, so the parent can tell real answers
// from fast errors (h2load sees only HTTP 200, not grpc-status).
process.stdin.setEncoding("utf8");
process.stdin.on("data", () => {
  void cp.metrics.decisions.get().then((metric) => {
    const allowed = metric.values.filter((v) => v.labels["result"] === "allow").reduce((sum, v) => sum + v.value, 0);
    process.stdout.write(`${JSON.stringify({ allowed })}\n`);
  });
});
process.on("SIGTERM", () => {
  void cp.close().then(() => process.exit(0));
});
