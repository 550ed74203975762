// The control plane the check benchmark loads: the `entitlement-gate serve` command a user runs, in
// offline-file mode with N customers on the benchmark plan, every port picked by the OS. It runs from
// the compiled JavaScript (dist/, built here when older than control/) as the container image and an
// npm install run it, or from the TypeScript sources through tsx when asked or when the build fails.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FEATURES } from "./benchCustomers.ts";
import { parseJsonLine, startNodeChild, type Child } from "./childProcess.ts";
import { ensureControlBuilt } from "./compiledChild.ts";
import { writeEntitlementsFile } from "./entitlementsFileGen.ts";
import { SERVER_NODE_FLAGS } from "./serverNodeFlags.ts";

export type ControlPlaneRuntime = "compiled" | "tsx";

export interface CheckServer {
  child: Child;
  grpcPort: number;
  runtime: ControlPlaneRuntime;
  /** How it runs, for the bench's output. */
  description: string;
  /** Allow decisions made so far by the APIs (the Prometheus counter on /metrics). */
  allowed(): Promise<number>;
  stop(): Promise<void>;
}

const EXT_AUTHZ_RULES = [
  { pathPrefix: "/reports", feature: FEATURES.boolean },
  { pathPrefix: "/api", feature: FEATURES.metered, requestedUsage: 1 },
];

async function allowDecisions(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("entitlement_gate_decisions_total{") && line.includes('result="allow"')) sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

export async function startCheckServer(customers: number, log: (line: string) => void, prefer: ControlPlaneRuntime = "compiled"): Promise<CheckServer> {
  const runtime: ControlPlaneRuntime = prefer === "compiled" && (await ensureControlBuilt(log)) ? "compiled" : "tsx";
  const dir = mkdtempSync(join(tmpdir(), "eg-check-"));
  const file = join(dir, "entitlements.json");
  await writeEntitlementsFile(file, customers);
  const env: Record<string, string> = {
    ENTITLEMENTS_FILE: file,
    EXT_AUTHZ_RULES: JSON.stringify(EXT_AUTHZ_RULES),
    BIND_ADDRESS: "127.0.0.1",
    GRPC_PORT: "0",
    SYNC_PORT: "0",
    HTTP_PORT: "0",
    LOG_LEVEL: "info",
    // bin/entitlement-gate.js runs dist/ with this set, else the sources through tsx.
    ENTITLEMENT_GATE_USE_DIST: runtime === "compiled" ? "1" : "0",
  };
  const child = startNodeChild("entitlement-gate serve", [...SERVER_NODE_FLAGS, "bin/entitlement-gate.js", "serve"], env);
  try {
    const ready = await child.waitForLine((line) => parseJsonLine<{ grpcPort: number; httpPort: number; ready: boolean }>(line, "grpcPort"), 60_000);
    if (!ready.ready) throw new Error("the control plane started but is not ready");
    return {
      child,
      grpcPort: ready.grpcPort,
      runtime,
      description:
        runtime === "compiled"
          ? "`entitlement-gate serve` from the compiled JavaScript (dist/, as the container image runs it)"
          : "`entitlement-gate serve` from the TypeScript sources through tsx",
      allowed: () => allowDecisions(ready.httpPort),
      stop: async () => {
        await child.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await child.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
