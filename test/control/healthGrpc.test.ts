import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { startApiServer, type ApiServerHandle } from "../../control/api/apiServer.ts";
import { loadHealthPackage } from "../../control/api/grpcHealth.ts";
import { createLogger } from "../../control/log.ts";
import { OfflineUsageWriter } from "../../control/read/offlineUsageWriter.ts";
import { StoreReader } from "../../control/read/storeReader.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";

/** GRPC_FAST_PATH=false runs this suite against grpc-js alone (test/control/fastPathModes.test.ts does). */
const FAST_PATH = process.env.GRPC_FAST_PATH !== "false";

type Status = "SERVING" | "NOT_SERVING" | "SERVICE_UNKNOWN" | "UNKNOWN";

interface HealthClient extends grpc.Client {
  Check(request: { service: string }, callback: (err: grpc.ServiceError | null, response: { status: Status }) => void): void;
  Watch(request: { service: string }): grpc.ClientReadableStream<{ status: Status }>;
}

const loaded = grpc.loadPackageDefinition(loadHealthPackage()) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };

async function healthFixture(t: TestContext): Promise<{ api: ApiServerHandle; client: HealthClient; setReady(ready: boolean): void }> {
  let ready = true;
  const store = new EntitlementStore();
  const api = await startApiServer({
    fastPath: FAST_PATH,
    host: "127.0.0.1",
    port: 0,
    reader: new StoreReader(store),
    usage: new OfflineUsageWriter(store),
    logger: createLogger("silent"),
    readiness: () => (ready ? { ready: true } : { ready: false, reason: "entitlements not loaded yet" }),
    healthPollMs: 20,
  });
  const client = new loaded.grpc.health.v1.Health(`127.0.0.1:${api.port}`, grpc.credentials.createInsecure()) as unknown as HealthClient;
  t.after(async () => {
    client.close();
    await api.close(500);
  });
  return { api, client, setReady: (value) => (ready = value) };
}

function check(client: HealthClient, service: string): Promise<Status> {
  return new Promise((resolve, reject) => client.Check({ service }, (err, response) => (err ? reject(err) : resolve(response.status))));
}

/** Collects a Watch stream's statuses; `next()` waits for the next one. */
function watch(client: HealthClient, service: string): { next(): Promise<Status>; ended: Promise<void>; cancel(): void } {
  const stream = client.Watch({ service });
  const queue: Status[] = [];
  const waiters: ((status: Status) => void)[] = [];
  stream.on("data", (message: { status: Status }) => {
    const waiter = waiters.shift();
    if (waiter) waiter(message.status);
    else queue.push(message.status);
  });
  const ended = new Promise<void>((resolve) => {
    stream.on("end", () => resolve());
    stream.on("error", () => resolve());
  });
  return {
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()!) : new Promise((resolve) => waiters.push(resolve))),
    ended,
    cancel: () => stream.cancel(),
  };
}

test("Check reports SERVING for the server and both API services, NOT_FOUND for others", async (t) => {
  const f = await healthFixture(t);
  assert.equal(await check(f.client, ""), "SERVING");
  assert.equal(await check(f.client, "stigg.sidecar.v1.SidecarService"), "SERVING");
  assert.equal(await check(f.client, "envoy.service.auth.v3.Authorization"), "SERVING");
  const err = await check(f.client, "nope.Service").catch((e: grpc.ServiceError) => e);
  assert.equal((err as grpc.ServiceError).code, grpc.status.NOT_FOUND);
});

test("Check follows readiness", async (t) => {
  const f = await healthFixture(t);
  f.setReady(false);
  f.api.refreshHealth();
  assert.equal(await check(f.client, "stigg.sidecar.v1.SidecarService"), "NOT_SERVING");
  f.setReady(true);
  f.api.refreshHealth();
  assert.equal(await check(f.client, ""), "SERVING");
});

test("Watch sends the current status, then every transition as readiness changes", async (t) => {
  const f = await healthFixture(t);
  const w = watch(f.client, "stigg.sidecar.v1.SidecarService");
  assert.equal(await w.next(), "SERVING");
  f.setReady(false);
  assert.equal(await w.next(), "NOT_SERVING", "picked up by the readiness poll");
  f.setReady(true);
  assert.equal(await w.next(), "SERVING");
  w.cancel();
  await w.ended;
});

test("Watch of an unknown service says SERVICE_UNKNOWN instead of failing", async (t) => {
  const f = await healthFixture(t);
  const w = watch(f.client, "nope.Service");
  assert.equal(await w.next(), "SERVICE_UNKNOWN");
  w.cancel();
  await w.ended;
});

test("shutting down tells watchers NOT_SERVING and ends their streams", async (t) => {
  const f = await healthFixture(t);
  const w = watch(f.client, "");
  assert.equal(await w.next(), "SERVING");
  const started = Date.now();
  const closed = f.api.close(5000);
  assert.equal(await w.next(), "NOT_SERVING");
  await w.ended;
  await closed;
  assert.ok(Date.now() - started < 2000, "the open Watch does not hold the shutdown until the grace period");
});
