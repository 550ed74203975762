import { test } from "node:test";
import assert from "node:assert/strict";
import { startHealthServer, type Readiness } from "../../control/http/healthServer.ts";

test("answers liveness with UP and readiness with UP or DOWN and a reason", async (t) => {
  let readiness: Readiness = { ready: false, reason: "entitlements not loaded yet" };
  const server = await startHealthServer({ host: "127.0.0.1", port: 0, livenessPath: "/livez", readinessPath: "/readyz", readiness: () => readiness });
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;

  const live = await fetch(`${base}/livez`);
  assert.equal(live.status, 200);
  assert.deepEqual(await live.json(), { status: "UP" });

  const notReady = await fetch(`${base}/readyz`);
  assert.equal(notReady.status, 503);
  assert.deepEqual(await notReady.json(), { status: "DOWN", reason: "entitlements not loaded yet" });

  readiness = { ready: true };
  const ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  assert.deepEqual(await ready.json(), { status: "UP" });
});

test("serves the configured paths instead of the defaults", async (t) => {
  const server = await startHealthServer({ host: "127.0.0.1", port: 0, livenessPath: "/health/live", readinessPath: "/health/ready", readiness: () => ({ ready: true }) });
  t.after(() => server.close());
  const base = `http://127.0.0.1:${server.port}`;
  assert.equal((await fetch(`${base}/health/live`)).status, 200);
  assert.equal((await fetch(`${base}/health/ready`)).status, 200);
  assert.equal((await fetch(`${base}/livez`)).status, 404);
});
