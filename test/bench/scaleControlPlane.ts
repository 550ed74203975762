// Child process for the scale section: the real control plane (store, FilterSync gRPC server, health
// server) holding N customers on the benchmark plan, fed straight into the store. Prints one JSON
// line when it listens; exits on SIGTERM. Run with --expose-gc so the parent reads a settled RSS.
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { benchCustomer } from "./benchCustomers.ts";
import { startBenchControlPlane } from "./controlPlaneInProcess.ts";

const customers = Number(process.argv[2] ?? "100000");
const started = performance.now();
const store = new EntitlementStore();
const nowMs = Date.now();
const batch = [];
for (let i = 0; i < customers; i++) batch.push(benchCustomer(i, nowMs));
store.replaceAll(batch);
batch.length = 0;
const loadMs = performance.now() - started;
const cp = await startBenchControlPlane({ store });
const collect = (globalThis as { gc?: () => void }).gc;
collect?.();
let entryBytes = 0;
for (const entry of store.all()) entryBytes += entry.bytes.length;
process.stdout.write(`${JSON.stringify({ syncPort: cp.syncPort, loadMs, entries: store.size, entryBytes, gc: collect !== undefined })}\n`);
process.stdin.on("data", () => {
  collect?.();
  process.stdout.write("collected\n");
});
process.on("SIGTERM", () => {
  void cp.close().then(() => process.exit(0));
});
