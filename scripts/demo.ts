// `npm run demo`: the whole system in one process, no Envoy needed. Starts the control plane on the
// embedded demo catalogue (or ENTITLEMENTS_FILE), loads the built filter into the proxy-wasm host
// our tests use (two workers + the singleton sync role), and prints the decision for each demo
// customer on a few routes. With --watch it keeps running and reprints whenever the file changes.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startControlPlane } from "../control/controlPlane.ts";
import { defaultSettings } from "../control/config/settings.ts";
import { createLogger } from "../control/log.ts";
import { EnvoyHost, type HttpResult } from "../test/host/index.ts";

const wasmPath = fileURLToPath(new URL("../build/entitlement_gate.wasm", import.meta.url));
const watch = process.argv.includes("--watch");

const ROUTES = [
  { pathPrefix: "/reports", path: "/reports/q3", feature: "feature-reports", requestedUsage: 0 },
  { pathPrefix: "/api", path: "/api/search?q=envoy", feature: "feature-api-calls", requestedUsage: 1 },
] as const;
const CUSTOMERS = ["customer-free", "customer-pro", "customer-enterprise", "customer-at-limit", "customer-archived", "customer-revoked", "nobody"];

function describeResult(r: HttpResult): string {
  if (r.kind === "continue") return "allow";
  let reason = r.details;
  try {
    reason = (JSON.parse(r.body) as { reason?: string }).reason ?? r.details;
  } catch {
    // not our JSON body: show Envoy's details string
  }
  return `${r.status} ${reason}`;
}

let wasm: Buffer;
try {
  wasm = readFileSync(wasmPath);
} catch {
  console.error(`${wasmPath} is missing: run "npm run build:filter" first.`);
  process.exit(2);
}

const settings = { ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1" };
if (process.env.ENTITLEMENTS_FILE) settings.entitlementsFile = process.env.ENTITLEMENTS_FILE;
const cp = await startControlPlane(settings, { logger: createLogger(watch ? "info" : "warn") });
const envoy = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: cp.syncPort } } });
await envoy.addSingletonService({
  vmId: "entitlements",
  rootId: "entitlement_sync",
  wasm,
  configuration: JSON.stringify({ cluster: "control_plane", nodeId: "demo" }),
});
const filter = await envoy.addHttpFilter({
  vmId: "entitlements",
  rootId: "entitlement_gate",
  wasm,
  workers: 2,
  configuration: JSON.stringify({
    customerHeader: "x-customer-id",
    rules: ROUTES.map(({ pathPrefix, feature, requestedUsage }) => ({ pathPrefix, feature, requestedUsage })),
  }),
});
while (envoy.sharedData("entitlements").get("eg1/sync/gen") === undefined) await new Promise((r) => setTimeout(r, 5));

async function printTable(): Promise<void> {
  const rows: string[][] = [["customer", ...ROUTES.map((r) => `GET ${r.path}`)]];
  for (const customer of CUSTOMERS) {
    const cells = [customer];
    for (const route of ROUTES) {
      const result = await filter.request({
        headers: [[":method", "GET"], [":path", route.path], [":authority", "shop.example"], ["x-customer-id", customer]],
      });
      cells.push(describeResult(result));
    }
    rows.push(cells);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join("  "));
  console.log(`(store version ${cp.store.version}, file ${settings.entitlementsFile})\n`);
}

await printTable();
if (watch) {
  console.log("Watching: edit the entitlements file and the table is printed again. Ctrl-C to stop.");
  cp.store.onChange(() => void printTable());
  await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
}
await envoy.close();
await cp.close();
