// Shutdown as Kubernetes drives it: SIGTERM turns readiness false first, ends the sync streams
// cleanly, gives in-flight work SHUTDOWN_GRACE_MS and no more, and a second signal exits at once.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane } from "../../control/controlPlane.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import { syncClient } from "../control/support/syncClient.ts";
import { cleanEnv, exited, LogLines, startCli } from "./support/runCli.ts";

const dir = mkdtempSync(join(tmpdir(), "eg-lifecycle-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Enough customers that a snapshot overflows the HTTP/2 windows of a client that never reads. */
const BIG_CATALOGUE = join(dir, "big.yaml");
writeFileSync(
  BIG_CATALOGUE,
  "customers:\n" + Array.from({ length: 2000 }, (_, i) => `  customer-${i}:\n    entitlements:\n      feature-reports: { featureType: BOOLEAN }\n`).join(""),
);

const BASE_ENV = { SYNC_PORT: "0", GRPC_PORT: "0", HTTP_PORT: "0", BIND_ADDRESS: "127.0.0.1" };

/** A FilterSync subscriber that stops reading: its stream cannot finish until it is cancelled. */
function stuckSubscriber(port: number): http2.ClientHttp2Session {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  const stream = session.request({ ":method": "POST", ":path": "/entitlementgate.sync.v1.FilterSync/Subscribe", "content-type": "application/grpc", te: "trailers" });
  stream.on("error", () => {});
  stream.end(Buffer.from([0, 0, 0, 0, 0]));
  stream.pause();
  return session;
}

async function readyz(port: number): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  return { status: res.status, body: await res.text() };
}

async function startServe(extraEnv: Record<string, string>): Promise<{ child: ReturnType<typeof startCli>; logs: LogLines; ports: { sync: number; http: number } }> {
  const child = startCli(["serve"], cleanEnv({ ...BASE_ENV, ...extraEnv }));
  const logs = new LogLines(child);
  const ready = await logs.waitFor("the ready line", (l) => typeof l.msg === "string" && l.msg.includes("control plane ready"));
  return { child, logs, ports: { sync: ready.syncPort as number, http: ready.httpPort as number } };
}

describe("control plane shutdown", () => {
  it("reports not ready while draining, keeps liveness, and finishes within the grace period (in process)", async () => {
    const cp = await startControlPlane({ ...defaultSettings(), entitlementsFile: BIG_CATALOGUE, syncPort: 0, grpcPort: 0, httpPort: 0, bindAddress: "127.0.0.1", logLevel: "error" });
    const stuck = stuckSubscriber(cp.syncPort);
    try {
      await new Promise((r) => setTimeout(r, 200));
      assert.equal((await readyz(cp.httpPort)).status, 200);
      const started = Date.now();
      const closing = cp.close(800);
      const during = await readyz(cp.httpPort);
      assert.equal(during.status, 503, "readiness turns false as soon as the drain starts");
      assert.match(during.body, /shutting down/);
      assert.equal((await fetch(`http://127.0.0.1:${cp.httpPort}/livez`)).status, 200, "liveness stays up during the drain");
      await closing;
      const took = Date.now() - started;
      assert.ok(took >= 700 && took < 5000, `the stuck stream held the drain for the grace period only (${took} ms)`);
    } finally {
      stuck.destroy();
      await cp.close();
    }
  });

  it("ends a subscriber's stream cleanly on SIGTERM and exits 0", async () => {
    const { child, logs, ports } = await startServe({});
    const client = syncClient(ports.sync);
    try {
      const stream = client.Subscribe({ nodeId: "lifecycle" });
      const firstMessage = new Promise((resolve) => stream.once("data", resolve));
      const status = new Promise<{ code: number }>((resolve) => stream.on("status", resolve));
      stream.on("error", () => {});
      await firstMessage;
      child.kill("SIGTERM");
      assert.equal((await status).code, 0, "the stream ends with OK, not an error");
      const { code } = await exited(child);
      assert.equal(code, 0);
      const messages = logs.lines.map((l) => l.msg);
      const shutdown = messages.findIndex((m) => typeof m === "string" && m.startsWith("shutting down"));
      assert.ok(shutdown >= 0 && messages.indexOf("stopped") > shutdown, `logs say shutting down, then stopped: ${JSON.stringify(messages)}`);
    } finally {
      client.close();
      child.kill("SIGKILL");
    }
  });

  it("answers 503 on readiness during the drain and exits after SHUTDOWN_GRACE_MS even with a stuck stream", async () => {
    const { child, ports, logs } = await startServe({ ENTITLEMENTS_FILE: BIG_CATALOGUE, SHUTDOWN_GRACE_MS: "1000" });
    const stuck = stuckSubscriber(ports.sync);
    try {
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      child.kill("SIGTERM");
      await logs.waitFor("the shutdown line", (l) => typeof l.msg === "string" && l.msg.startsWith("shutting down"));
      assert.equal((await readyz(ports.http)).status, 503);
      const { code } = await exited(child);
      const took = Date.now() - started;
      assert.equal(code, 0);
      assert.ok(took >= 900 && took < 6000, `exited after the grace period (${took} ms)`);
    } finally {
      stuck.destroy();
      child.kill("SIGKILL");
    }
  });

  it("exits at once on a second signal during the drain", async () => {
    const { child, ports, logs } = await startServe({ ENTITLEMENTS_FILE: BIG_CATALOGUE, SHUTDOWN_GRACE_MS: "30000" });
    const stuck = stuckSubscriber(ports.sync);
    try {
      await new Promise((r) => setTimeout(r, 200));
      child.kill("SIGTERM");
      await logs.waitFor("the shutdown line", (l) => typeof l.msg === "string" && l.msg.startsWith("shutting down"));
      const started = Date.now();
      child.kill("SIGTERM");
      const { code } = await exited(child);
      assert.equal(code, 1);
      assert.ok(Date.now() - started < 3000, "no waiting for the 30 s grace period");
      assert.ok(logs.lines.some((l) => l.msg === "second signal, exiting now"));
    } finally {
      stuck.destroy();
      child.kill("SIGKILL");
    }
  });
});
