import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeEntry } from "../../control/codec/entryCodec.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import { startControlPlane } from "../../control/controlPlane.ts";
import { createLogger } from "../../control/log.ts";
import { fetchCustomer, StreamReader, syncClient } from "./support/syncClient.ts";
import { waitFor } from "./support/capturedLogger.ts";

const MAIN = new URL("../../control/main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;

async function tempFile(t: { after(fn: () => Promise<void>): void }, text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "eg-plane-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, "entitlements.yaml");
  await writeFile(path, text);
  return path;
}

test("starts the whole control plane on free ports with the embedded catalogue", async (t) => {
  const plane = await startControlPlane(
    { ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1" },
    { logger: createLogger("silent") },
  );
  t.after(() => plane.close());
  assert.ok(plane.syncPort > 0 && plane.httpPort > 0);
  assert.ok(plane.store.size >= 4);

  const ready = await fetch(`http://127.0.0.1:${plane.httpPort}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: "UP" });
  assert.equal((await fetch(`http://127.0.0.1:${plane.httpPort}/livez`)).status, 200);

  const client = syncClient(plane.syncPort);
  t.after(() => client.close());
  const reader = new StreamReader(client.Subscribe({ nodeId: "e2e" }));
  const snapshot = await reader.snapshot();
  assert.equal(snapshot.flatMap((m) => m.entries).length, plane.store.size);
  const archived = await fetchCustomer(client, "customer-archived");
  assert.equal(decodeEntry(archived.entry.value).accessDeniedReason, "CustomerIsArchived");
  reader.call.on("error", () => {});
  await plane.close();
  await waitFor("the stream to end on shutdown", () => reader.ended || reader.error !== undefined);
  const afterClose = await fetch(`http://127.0.0.1:${plane.httpPort}/livez`).then(
    () => "answered",
    () => "refused",
  );
  assert.equal(afterClose, "refused");
});

test("pushes a file edit to a connected subscriber end to end", async (t) => {
  const path = await tempFile(t, "customers:\n  a: { entitlements: { seats: { featureType: NUMBER, meterType: None, usageLimit: 1 } } }\n");
  const plane = await startControlPlane(
    { ...defaultSettings(), entitlementsFile: path, syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1" },
    { logger: createLogger("silent") },
  );
  t.after(() => plane.close());
  const client = syncClient(plane.syncPort);
  t.after(() => client.close());
  const reader = new StreamReader(client.Subscribe({ nodeId: "e2e" }));
  await reader.snapshot();
  await writeFile(path, "customers:\n  a: { entitlements: { seats: { featureType: NUMBER, meterType: None, usageLimit: 2 } } }\n");
  const m = await reader.next(3000);
  assert.equal(m.kind, "MESSAGE_KIND_DELTA");
  assert.equal(decodeEntry(m.entries[0]!.value).entitlements[0]!.usageLimit, 2);
  reader.call.on("error", () => {});
  reader.cancel();
});

test("is not ready while the entitlements file is invalid", async (t) => {
  const path = await tempFile(t, "customers:\n  a: { entitlements: { seats: { featureType: NUMBER, usageLimit: -1 } } }\n");
  const plane = await startControlPlane(
    { ...defaultSettings(), entitlementsFile: path, syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1" },
    { logger: createLogger("silent") },
  );
  t.after(() => plane.close());
  const response = await fetch(`http://127.0.0.1:${plane.httpPort}/readyz`);
  assert.equal(response.status, 503);
  const body = (await response.json()) as { status: string; reason: string };
  assert.equal(body.status, "DOWN");
  assert.match(body.reason, /customers\.a\.entitlements\.seats\.usageLimit: must be a number >= 0, got -1/);
});

test("fails to start with a message naming SYNC_PORT when the port is taken", async (t) => {
  const settings = { ...defaultSettings(), syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1" };
  const first = await startControlPlane(settings, { logger: createLogger("silent") });
  t.after(() => first.close());
  await assert.rejects(
    startControlPlane({ ...settings, syncPort: first.syncPort }, { logger: createLogger("silent") }),
    (err: Error) => {
      assert.match(err.message, new RegExp(`^the sync gRPC server cannot listen on 127\\.0\\.0\\.1:${first.syncPort} \\(SYNC_PORT\\)`));
      return true;
    },
  );
  await assert.rejects(
    startControlPlane({ ...settings, httpPort: first.httpPort }, { logger: createLogger("silent") }),
    /^Error: the HTTP server cannot listen on 127\.0\.0\.1:\d+ \(HTTP_PORT\)/,
  );
});

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: Record<string, string> = {}, whileRunning?: (stdout: () => string, kill: (signal: NodeJS.Signals) => void) => Promise<void>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", MAIN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (whileRunning) whileRunning(() => stdout, (signal) => child.kill(signal)).catch(reject);
  });
}

test("exits with code 2 and names the variable when a setting is invalid", async () => {
  const result = await run([], { SYNC_PORT: "abc" });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /SYNC_PORT: "abc" is not a port number/);
});

test("prints every option for --help and exits 0", async () => {
  const result = await run(["--help"]);
  assert.equal(result.code, 0);
  assert.match(result.stdout, /--entitlements-file <value>  \(env ENTITLEMENTS_FILE\)/);
});

test("logs one ready line with both ports and stops cleanly on SIGTERM", async () => {
  const result = await run(["--sync-port", "0", "--grpc-port", "0", "--http-port", "0", "--bind-address", "127.0.0.1"], {}, async (stdout, kill) => {
    await waitFor("the ready line", () => stdout().includes("control plane ready"), 10_000);
    kill("SIGTERM");
  });
  assert.equal(result.code, 0, result.stderr);
  const ready = result.stdout
    .split("\n")
    .filter((l) => l.includes("control plane ready"))
    .map((l) => JSON.parse(l) as { syncPort: number; httpPort: number; customers: number; source: string });
  assert.equal(ready.length, 1);
  assert.ok(ready[0]!.syncPort > 0 && ready[0]!.httpPort > 0);
  assert.equal(ready[0]!.customers, 6);
  assert.match(ready[0]!.source, /defaults\/entitlements\.yaml$/);
  assert.match(result.stdout, /"msg":"stopped"/);
});
