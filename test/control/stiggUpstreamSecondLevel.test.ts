// Two control-plane replicas sharing a real redis-server as the second-level cache.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createSecondLevelCache } from "../../control/cache/redis/createSecondLevelCache.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { StiggUpstream } from "../../control/upstream/stigg/stiggUpstream.ts";
import { startStiggEmulator, type StiggEmulator } from "../stigg/emulator.ts";
import type { CustomerSpec } from "../stigg/customers.ts";
import { ACME } from "./stiggUpstreamHarness.ts";
import { freePort } from "../support/freePort.ts";

const installed = spawnSync("redis-server", ["--version"], { encoding: "utf8" }).status === 0;

async function startRedis(): Promise<{ port: number; stop(): Promise<void> }> {
  const port = await freePort();
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], { stdio: ["ignore", "pipe", "pipe"] });
  await new Promise<void>((resolve, reject) => {
    let output = "";
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output}`)), 5000);
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("Ready to accept connections")) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return {
    port,
    async stop() {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    },
  };
}

function replica(stigg: StiggEmulator, redisPort: number, tuning?: { unstreamedTtlMs: number }): { upstream: StiggUpstream; store: EntitlementStore } {
  const logger = createLogger("silent");
  const metrics = new Metrics({ processMetrics: false });
  const secondLevelCache = createSecondLevelCache({ ...defaultSettings(), redisEnvironmentPrefix: "eg-test", redisPort, redisHost: "127.0.0.1" }, logger, metrics);
  assert.ok(secondLevelCache);
  const store = new EntitlementStore();
  const upstream = new StiggUpstream({
    apiKey: stigg.apiKey,
    apiUrl: stigg.url,
    edgeApiUrl: stigg.edgeUrl,
    wsUrl: stigg.wsUrl,
    cacheMaxSizeBytes: 1024 * 1024,
    missTimeoutMs: 500,
    maxStalenessSeconds: 3600,
    edgeBudgetPerMinute: 6000,
    store,
    logger,
    metrics,
    secondLevelCache,
    ...(tuning ? { tuning } : {}),
  });
  return { upstream, store };
}

test("a customer one replica fetched from Edge is read from Redis by the other, and events keep Redis current", { skip: installed ? false : "redis-server not installed" }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const a = replica(stigg, redis.port);
  const b = replica(stigg, redis.port);
  t.after(() => a.upstream.stop());
  t.after(() => b.upstream.stop());
  await a.upstream.start(a.store);
  await b.upstream.start(b.store);
  await stigg.waitUntil(() => a.upstream.stream?.healthy === true && b.upstream.stream?.healthy === true, 3000, "both streams");
  await stigg.waitForSubscription("entitlementsUpdatedV2", 2);
  // The Redis client connects in the background.
  await sleep(100);

  assert.equal((await a.upstream.reader.read("acme", undefined)).source, "upstream");
  assert.equal(stigg.requestCount("entitlements-state", { customerId: "acme" }), 1);
  await sleep(50); // the Redis write is fire-and-forget
  const fromRedis = await b.upstream.reader.read("acme", undefined);
  assert.equal(fromRedis.source, "upstream");
  assert.equal(fromRedis.entry?.entitlements.length, 2);
  assert.equal(stigg.requestCount("entitlements-state", { customerId: "acme" }), 1, "replica b did not call Edge");
  assert.ok(b.store.get("acme"), "and pushed it to its own filters");

  // An update reaches both replicas' stores (each has the stream) and Redis.
  stigg.setCustomer("acme", { entitlements: { sso: { featureType: "BOOLEAN" } } });
  await stigg.waitUntil(() => a.store.get("acme")?.value.entitlements.length === 1 && b.store.get("acme")?.value.entitlements.length === 1, 1000, "the update on both");
  const c = replica(stigg, redis.port);
  t.after(() => c.upstream.stop());
  await c.upstream.start(c.store);
  await stigg.waitUntil(() => c.upstream.stream?.healthy === true, 3000, "replica c's stream");
  await sleep(100);
  const third = await c.upstream.reader.read("acme", undefined);
  assert.equal(third.entry?.entitlements.length, 1, "Redis holds the updated value");
  assert.equal(stigg.requestCount("entitlements-state", { customerId: "acme" }), 1);
});

test("a restarted replica answers from Redis while its event stream is still connecting, then re-reads what it took once connected", { skip: installed ? false : "redis-server not installed" }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const edgeReads = (): number => stigg.requestCount("entitlements-state", { customerId: "acme" });
  // Entries older than 50 ms count as old without a stream, so what Redis holds is "old" by the restart.
  const tuning = { unstreamedTtlMs: 50 };
  const first = replica(stigg, redis.port, tuning);
  await first.upstream.start(first.store);
  await stigg.waitUntil(() => first.upstream.stream?.healthy === true, 3000, "the first replica's stream");
  await sleep(100);
  await first.upstream.reader.read("acme", undefined);
  assert.equal(edgeReads(), 1);
  await sleep(100);
  await first.upstream.stop();

  // The restart: Stigg's WebSocket answers slowly, so the new replica's stream is still connecting.
  stigg.setFault("ws", { latencyMs: 1_000 });
  const restarted = replica(stigg, redis.port, tuning);
  t.after(() => restarted.upstream.stop());
  await restarted.upstream.start(restarted.store);
  await sleep(100);
  assert.equal(restarted.upstream.stream?.starting, true);
  const warm = await restarted.upstream.reader.read("acme", undefined);
  assert.equal(warm.entry?.entitlements.length, 2);
  assert.equal(edgeReads(), 1, "answered from Redis, not Edge");
  assert.ok(restarted.store.get("acme"), "and pushed to its filters");
  stigg.clearFaults();
  await stigg.waitUntil(() => restarted.upstream.stream?.healthy === true, 5000, "the restarted replica's stream");
  await stigg.waitUntil(() => edgeReads() === 2, 3000, "the entry taken from Redis re-read from Edge after connecting");

  // When the first connection fails, an old Redis entry is not trusted: that read goes to Edge.
  stigg.setFault("ws", { refuseConnections: true });
  const unlucky = replica(stigg, redis.port, tuning);
  t.after(() => unlucky.upstream.stop());
  await unlucky.upstream.start(unlucky.store);
  await stigg.waitUntil(() => unlucky.upstream.stream?.state === "backing-off", 3000, "the refused stream");
  await sleep(100);
  await unlucky.upstream.reader.read("acme", undefined);
  assert.equal(edgeReads(), 3);
});

test("an entry shared through Redis is not served past its validUntil: the next replica reads it from Edge", { skip: installed ? false : "redis-server not installed" }, async (t) => {
  const redis = await startRedis();
  t.after(() => redis.stop());
  // A promotion that ends in 3 s: the earliest validUntil of the customer's entitlements.
  const promoEnd = Date.now() + 3000;
  const promo: CustomerSpec = { entitlements: { ...ACME.entitlements, "promo-export": { featureType: "BOOLEAN", validUntil: promoEnd } } };
  const stigg = await startStiggEmulator({ customers: { promo } });
  t.after(() => stigg.close());
  const edgeReads = (): number => stigg.requestCount("entitlements-state", { customerId: "promo" });

  const a = replica(stigg, redis.port);
  t.after(() => a.upstream.stop());
  await a.upstream.start(a.store);
  await stigg.waitUntil(() => a.upstream.stream?.healthy === true, 3000, "replica a's stream");
  await sleep(100); // the Redis client connects in the background
  await a.upstream.reader.read("promo", undefined);
  assert.equal(edgeReads(), 1);
  await sleep(50); // the Redis write is fire-and-forget

  const b = replica(stigg, redis.port);
  t.after(() => b.upstream.stop());
  await b.upstream.start(b.store);
  await stigg.waitUntil(() => b.upstream.stream?.healthy === true, 3000, "replica b's stream");
  await sleep(100);
  assert.ok(Date.now() < promoEnd, "the test reached replica b before the promotion ended");
  // Before the promotion ends, B takes A's copy.
  await b.upstream.reader.read("promo", undefined);
  assert.equal(edgeReads(), 1, "shared through Redis");

  const c = replica(stigg, redis.port);
  t.after(() => c.upstream.stop());
  await c.upstream.start(c.store);
  await stigg.waitUntil(() => c.upstream.stream?.healthy === true, 3000, "replica c's stream");
  await sleep(Math.max(100, promoEnd - Date.now() + 50));
  // After it ends, the shared copy would grant what has ended: C goes to Edge, and so does B for its own copy.
  await c.upstream.reader.read("promo", undefined);
  assert.equal(edgeReads(), 2, "read from Edge, not from the expired Redis copy");
  await b.upstream.reader.read("promo", undefined);
  assert.equal(edgeReads(), 3, "B's in-memory copy expired too");
});
