// The Redis second-level cache against a real redis-server: each test starts its own server on a
// free loopback port in a temp dir (no persistence) and kills it afterwards.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { RedisSecondLevelCache, type RedisCacheOptions } from "../../control/cache/redis/redisCache.ts";
import { createSecondLevelCache } from "../../control/cache/redis/createSecondLevelCache.ts";
import { entryKey } from "../../control/cache/redis/redisKeys.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { capturedLogger, waitFor } from "./support/capturedLogger.ts";
import { freePort } from "../support/freePort.ts";

const installed = spawnSync("redis-server", ["--version"], { encoding: "utf8" });
const skip = installed.status === 0 ? false : "redis-server not installed: apt-get install -y redis-server (see .ci/run)";
if (skip) console.log(`# skipping the Redis cache tests: ${skip}`);

// --- a real redis-server per test ---------------------------------------------------------------

interface RedisServer {
  port: number;
  /** SIGKILL, like a crash; resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts again on the same port with an empty data set. */
  restart(): Promise<void>;
  pause(): void;
  resume(): void;
  /** Kills it and deletes its directory. */
  remove(): Promise<void>;
}

const servers: RedisServer[] = [];

/** `extraArgs` come last, so they may override the defaults (e.g. `--port 0 --tls-port <port>`). */
async function startRedis(extraArgs: string[] | ((port: number, dir: string) => string[]) = [], onPort?: number): Promise<RedisServer> {
  const port = onPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "eg-redis-"));
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--daemonize", "no", ...(typeof extraArgs === "function" ? extraArgs(port, dir) : extraArgs)];
    const proc = spawn("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
    child = proc;
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 5000);
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      };
      proc.stdout!.on("data", onData);
      proc.stderr!.on("data", onData);
      proc.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output}`));
      });
    });
  };

  const kill = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    proc.kill("SIGCONT");
    proc.kill("SIGKILL");
    await gone;
  };

  await launch();
  const server: RedisServer = {
    port,
    kill,
    remove: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await kill();
      await launch();
    },
    pause: () => void child?.kill("SIGSTOP"),
    resume: () => void child?.kill("SIGCONT"),
  };
  servers.push(server);
  return server;
}

// --- fixtures -------------------------------------------------------------------------------------

const PREFIX = "test-env";

function entry(customerId: string, limit: number, resourceId?: string): CustomerEntitlements {
  return {
    customerId,
    ...(resourceId !== undefined ? { resourceId } : {}),
    entitlements: [
      { featureId: "feature-seats", featureType: "NUMBER", meterType: "Fluctuating", usageLimit: limit, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 3, resetPeriod: "MONTH", usagePeriodAnchor: 1_700_000_000_000, usagePeriodStart: 1_730_000_000_000, usagePeriodEnd: 1_732_600_000_000 },
      { featureId: "feature-sso", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
      { featureId: "feature-tier", featureType: "ENUM", enumValues: ["gold", "silver"], hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0, accessDeniedReason: "Revoked" },
    ],
  };
}

interface Harness {
  cache: RedisSecondLevelCache;
  metrics: Metrics;
  errors(): Promise<number>;
}

const opened: RedisSecondLevelCache[] = [];
const rawClients: Redis[] = [];
// Clients first, while their servers still run, then the servers.
after(async () => {
  for (const c of opened) await c.close();
  for (const r of rawClients) r.disconnect();
  for (const s of servers) await s.remove();
});

async function openCache(port: number, overrides: Partial<RedisCacheOptions> = {}, waitReady = true): Promise<Harness> {
  const metrics = new Metrics({ processMetrics: false });
  const cache = new RedisSecondLevelCache({
    prefix: PREFIX,
    connection: { host: "127.0.0.1", port },
    keysTtlSecs: 604_800,
    logger: createLogger("silent"),
    metrics,
    maxReconnectDelayMs: 50,
    ...overrides,
  });
  opened.push(cache);
  if (waitReady) assert.equal(await cache.waitUntilReady(3000), true, "cache connects");
  return { cache, metrics, errors: async () => (await metrics.redisClientErrors.get()).values[0]?.value ?? 0 };
}

function rawClient(port: number): Redis {
  const client = new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1, disconnectTimeout: 50 });
  rawClients.push(client);
  return client;
}

async function timed<T>(promise: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await promise;
  return { value, ms: performance.now() - start };
}

// --- behaviour ------------------------------------------------------------------------------------

describe("Redis second-level cache", { skip }, () => {
  test("reads back what it wrote, with the time it was fetched, per customer and per resource", async () => {
    const redis = await startRedis();
    const { cache, errors } = await openCache(redis.port);
    await cache.set(entry("cust-1", 10), 1_000);
    await cache.set(entry("cust-1", 20, "res-a"), 2_000);
    assert.deepEqual(await cache.get("cust-1", undefined, 500), { entry: entry("cust-1", 10), fetchedAtMs: 1_000 });
    assert.deepEqual(await cache.get("cust-1", "res-a", 500), { entry: entry("cust-1", 20, "res-a"), fetchedAtMs: 2_000 });
    assert.equal(await cache.get("cust-1", "res-b", 500), undefined);
    assert.equal(await cache.get("cust-2", undefined, 500), undefined);
    assert.deepEqual(cache.status(), { connected: true });
    assert.equal(await errors(), 0);
  });

  test("keeps an entry's validUntil with it, and reads values written without one as having none", async () => {
    const redis = await startRedis();
    const raw = rawClient(redis.port);
    const { cache, errors } = await openCache(redis.port);
    await cache.set(entry("promo", 10), 1_000, 5_000);
    assert.deepEqual(await cache.get("promo", undefined, 500), { entry: entry("promo", 10), fetchedAtMs: 1_000, validUntil: 5_000 });
    // The last-writer-wins script still reads the time from the head of the value.
    await cache.set(entry("promo", 20), 500, 9_000);
    assert.equal((await cache.get("promo", undefined, 500))?.validUntil, 5_000, "an older fetch does not overwrite");
    await raw.set(entryKey(PREFIX, "older-format", undefined), `{"fetchedAtMs":1,"entry":${JSON.stringify(entry("older-format", 3))}}`);
    assert.deepEqual(await cache.get("older-format", undefined, 500), { entry: entry("older-format", 3), fetchedAtMs: 1 });
    await raw.set(entryKey(PREFIX, "bad-expiry", undefined), `{"fetchedAtMs":1,"validUntil":"soon","entry":${JSON.stringify(entry("bad-expiry", 3))}}`);
    assert.equal(await cache.get("bad-expiry", undefined, 500), undefined, "an unreadable validUntil is a corrupt value");
    assert.equal(await errors(), 1);
  });

  test("keeps a customer whose id contains ':' apart from a customer + resource pair", async () => {
    const redis = await startRedis();
    const { cache } = await openCache(redis.port);
    await cache.set(entry("a:r_b", 1), 1_000);
    await cache.set(entry("a", 2, "b"), 1_000);
    assert.notEqual(entryKey(PREFIX, "a:r_b", undefined), entryKey(PREFIX, "a", "b"));
    assert.equal((await cache.get("a:r_b", undefined, 500))?.entry.entitlements[0]?.usageLimit, 1);
    assert.equal((await cache.get("a", "b", 500))?.entry.entitlements[0]?.usageLimit, 2);
  });

  test("lets the newest fetch win when two replicas write the same customer out of order", async () => {
    const redis = await startRedis();
    const a = await openCache(redis.port);
    const b = await openCache(redis.port);
    await a.cache.set(entry("cust-1", 200), 2_000);
    await b.cache.set(entry("cust-1", 100), 1_000); // older fetch, arrives later: ignored
    for (const reader of [a.cache, b.cache]) {
      assert.deepEqual(await reader.get("cust-1", undefined, 500), { entry: entry("cust-1", 200), fetchedAtMs: 2_000 });
    }
    await b.cache.set(entry("cust-1", 300), 3_000);
    assert.equal((await a.cache.get("cust-1", undefined, 500))?.fetchedAtMs, 3_000);
    await a.cache.set(entry("cust-1", 301), 3_000); // same fetch time: the later write wins, as in Stigg's store
    assert.equal((await b.cache.get("cust-1", undefined, 500))?.entry.entitlements[0]?.usageLimit, 301);
    await a.cache.set(entry("cust-1", 302), 3_000.9); // fractions of a millisecond are dropped
    assert.equal((await b.cache.get("cust-1", undefined, 500))?.fetchedAtMs, 3_000);
    await a.cache.set(entry("cust-1", 999), Number.NaN); // not a time: not written
    assert.equal((await b.cache.get("cust-1", undefined, 500))?.entry.entitlements[0]?.usageLimit, 302);
  });

  test("resolves concurrent writers to the newest fetch whatever order Redis runs them in", async () => {
    const redis = await startRedis();
    const a = await openCache(redis.port);
    const b = await openCache(redis.port);
    const writes = [];
    for (let t = 1; t <= 50; t++) writes.push((t % 2 === 0 ? a : b).cache.set(entry("cust-1", t), 10_000 + ((t * 37) % 50)));
    await Promise.all(writes);
    // (t * 37) % 50 is a permutation of 0..49; the largest time, 49, came from t = 27 (37 * 27 = 999).
    assert.deepEqual(await a.cache.get("cust-1", undefined, 500), { entry: entry("cust-1", 27), fetchedAtMs: 10_049 });
  });

  test("delete hides the entry and keeps out a write of data fetched before the delete", async () => {
    const redis = await startRedis();
    let clock = 5_000;
    const a = await openCache(redis.port, { now: () => clock });
    const b = await openCache(redis.port);
    await a.cache.set(entry("cust-1", 1), 4_000);
    await a.cache.delete("cust-1", undefined);
    assert.equal(await b.cache.get("cust-1", undefined, 500), undefined);
    await b.cache.set(entry("cust-1", 2), 4_500); // fetched before the delete
    assert.equal(await b.cache.get("cust-1", undefined, 500), undefined);
    await b.cache.set(entry("cust-1", 3), 5_001); // fetched after it
    assert.equal((await a.cache.get("cust-1", undefined, 500))?.entry.entitlements[0]?.usageLimit, 3);
    clock = 5_000; // a delete that reaches Redis after a newer fetch was stored does not remove it
    await a.cache.delete("cust-1", undefined);
    assert.equal((await a.cache.get("cust-1", undefined, 500))?.fetchedAtMs, 5_001);
    assert.equal(await a.errors(), 0, "a tombstone is a miss, not an error");
  });

  test("expires entries after the configured TTL and never when it is negative", async () => {
    const redis = await startRedis();
    const raw = rawClient(redis.port);
    const short = await openCache(redis.port, { keysTtlSecs: 1 });
    const forever = await openCache(redis.port, { keysTtlSecs: -1 });
    const week = await openCache(redis.port);
    await short.cache.set(entry("cust-short", 1), 1_000);
    await forever.cache.set(entry("cust-forever", 1), 1_000);
    await week.cache.set(entry("cust-week", 1), 1_000);
    const weekTtl = await raw.ttl(entryKey(PREFIX, "cust-week", undefined));
    assert.ok(weekTtl > 604_790 && weekTtl <= 604_800, `7-day TTL, got ${weekTtl}`);
    assert.equal(await raw.ttl(entryKey(PREFIX, "cust-forever", undefined)), -1);
    // A rewrite under a no-expiry setting drops the TTL an earlier writer set.
    await forever.cache.set(entry("cust-week", 2), 2_000);
    assert.equal(await raw.ttl(entryKey(PREFIX, "cust-week", undefined)), -1);
    assert.ok((await short.cache.get("cust-short", undefined, 500)) !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    assert.equal(await short.cache.get("cust-short", undefined, 500), undefined);
    assert.ok((await short.cache.get("cust-forever", undefined, 500)) !== undefined);
  });

  test("clear removes every entry of ours and nothing outside our prefix", async () => {
    const redis = await startRedis();
    const raw = rawClient(redis.port);
    const { cache } = await openCache(redis.port);
    const writes = [];
    for (let i = 0; i < 1_200; i++) writes.push(cache.set(entry(`cust-${i}`, i), 1_000));
    await Promise.all(writes);
    const foreign = {
      [`${PREFIX}:c_cust-1`]: "stigg sidecar entry under the same prefix",
      [`${PREFIX}:c_cust-1#timestamp`]: "1000",
      [`other-env:entitlement-gate:v1:c_cust-1`]: "another deployment",
      [`${PREFIX}x:entitlement-gate:v1:c_cust-1`]: "a prefix that only starts like ours",
      unrelated: "application data",
    };
    for (const [k, v] of Object.entries(foreign)) await raw.set(k, v);
    assert.equal(await raw.dbsize(), 1_200 + Object.keys(foreign).length);
    await cache.clear();
    assert.equal(await cache.get("cust-7", undefined, 500), undefined);
    assert.deepEqual((await raw.keys("*")).sort(), Object.keys(foreign).sort());
  });

  test("treats an unreadable value as a miss, counts it, and replaces it on the next write", async () => {
    const redis = await startRedis();
    const raw = rawClient(redis.port);
    const { cache, errors } = await openCache(redis.port, { maxValueBytes: 4_096 });
    const bad = {
      "not-json": "{nope",
      "wrong-shape": JSON.stringify({ fetchedAtMs: 1, entry: { customerId: "wrong-shape", entitlements: [{ featureId: "f" }] } }),
      "no-time": JSON.stringify({ entry: entry("no-time", 1) }),
      "other-customer": `{"fetchedAtMs":1,"entry":${JSON.stringify(entry("somebody-else", 1))}}`,
      "too-large": `{"fetchedAtMs":1,"entry":${JSON.stringify({ ...entry("too-large", 1), padding: "x".repeat(5_000) })}}`,
    };
    for (const [id, value] of Object.entries(bad)) await raw.set(entryKey(PREFIX, id, undefined), value);
    await raw.hset(entryKey(PREFIX, "a-hash", undefined), "field", "value");
    for (const id of [...Object.keys(bad), "a-hash"]) {
      assert.equal(await cache.get(id, undefined, 500), undefined, id);
    }
    assert.equal(await errors(), Object.keys(bad).length + 1);
    assert.match(cache.status().lastError ?? "", /^get: /);
    for (const id of [...Object.keys(bad), "a-hash"]) {
      await cache.set(entry(id, 7), 1);
      assert.equal((await cache.get(id, undefined, 500))?.entry.entitlements[0]?.usageLimit, 7, `${id} rewritten`);
    }
  });

  test("does not write an entry larger than the value bound", async () => {
    const redis = await startRedis();
    const raw = rawClient(redis.port);
    const { cache } = await openCache(redis.port, { maxValueBytes: 512 });
    await cache.set(entry("big", 1), 1_000);
    assert.equal(await raw.exists(entryKey(PREFIX, "big", undefined)), 0);
    assert.equal(await cache.get("big", undefined, 500), undefined);
  });

  test("answers a miss within the read timeout once Redis is killed, and counts the errors", async () => {
    const redis = await startRedis();
    const { cache, errors } = await openCache(redis.port);
    await cache.set(entry("cust-1", 1), 1_000);
    await redis.kill();
    for (let i = 0; i < 5; i++) {
      const { value, ms } = await timed(cache.get("cust-1", undefined, 50));
      assert.equal(value, undefined);
      assert.ok(ms < 250, `read took ${ms.toFixed(1)}ms`);
    }
    await waitFor("the connection error to be counted", () => !cache.status().connected);
    await new Promise((resolve) => setTimeout(resolve, 100)); // a few reconnect attempts
    assert.ok((await errors()) >= 1, "errors counted");
    assert.equal(cache.status().connected, false);
    assert.ok(cache.status().lastError, "the status says why");
    // Writes, deletes and clears while Redis is down return at once and do not throw.
    const { ms } = await timed(Promise.all([cache.set(entry("cust-1", 2), 2_000), cache.delete("cust-1", undefined), cache.clear()]));
    assert.ok(ms < 250, `writes took ${ms.toFixed(1)}ms`);
  });

  test("gives up on a hung Redis at the read timeout and counts it", async () => {
    const redis = await startRedis();
    const { cache, errors } = await openCache(redis.port, { socketTimeoutMs: 300 });
    await cache.set(entry("cust-1", 1), 1_000);
    redis.pause();
    try {
      const { value, ms } = await timed(cache.get("cust-1", undefined, 50));
      assert.equal(value, undefined);
      assert.ok(ms >= 45 && ms < 250, `read took ${ms.toFixed(1)}ms`);
      assert.ok((await errors()) >= 1);
      assert.match(cache.status().lastError ?? "", /timed out after 50ms/);
    } finally {
      redis.resume();
    }
    await cache.waitUntilReady(3000);
    assert.equal((await cache.get("cust-1", undefined, 500))?.fetchedAtMs, 1_000);
  });

  test("reconnects by itself when Redis comes back and serves again", async () => {
    const redis = await startRedis();
    const { cache } = await openCache(redis.port);
    await cache.set(entry("cust-1", 1), 1_000);
    await redis.kill();
    await waitFor("the cache to see the outage", () => !cache.status().connected);
    assert.equal(await cache.get("cust-1", undefined, 50), undefined);
    await redis.restart(); // empty: no persistence
    assert.equal(await cache.waitUntilReady(3000), true, "reconnected");
    assert.equal(await cache.get("cust-1", undefined, 500), undefined);
    await cache.set(entry("cust-1", 2), 2_000); // the script cache is empty after a restart
    assert.deepEqual(await cache.get("cust-1", undefined, 500), { entry: entry("cust-1", 2), fetchedAtMs: 2_000 });
    assert.equal(cache.status().connected, true);
  });

  test("starts without Redis, answers misses meanwhile, and connects when Redis appears", async () => {
    const port = await freePort();
    const { cache, errors } = await openCache(port, {}, false);
    const { value, ms } = await timed(cache.get("cust-1", undefined, 50));
    assert.equal(value, undefined);
    assert.ok(ms < 250, `read took ${ms.toFixed(1)}ms`);
    await cache.set(entry("cust-1", 1), 1_000); // skipped, no throw
    await waitFor("a connection error", () => cache.status().lastError !== undefined);
    assert.ok((await errors()) >= 1);
    assert.equal(cache.status().connected, false);
    assert.equal(await cache.waitUntilReady(100), false);
    await startRedis([], port);
    assert.equal(await cache.waitUntilReady(3000), true);
    await cache.set(entry("cust-1", 2), 2_000);
    assert.equal((await cache.get("cust-1", undefined, 500))?.fetchedAtMs, 2_000);
    await cache.close();
    assert.equal(cache.status().connected, false);
    assert.equal(await cache.get("cust-1", undefined, 50), undefined, "closed: a miss, no throw");
  });

  test("survives script cache flushes (failover) by resending the script", async () => {
    const redis = await startRedis();
    const raw = rawClient(redis.port);
    const { cache, errors } = await openCache(redis.port);
    await cache.set(entry("cust-1", 1), 1_000);
    await raw.script("FLUSH");
    await cache.set(entry("cust-1", 2), 2_000);
    assert.equal((await cache.get("cust-1", undefined, 500))?.fetchedAtMs, 2_000);
    assert.equal(await errors(), 0);
  });
});

const openssl = spawnSync("openssl", ["version"], { encoding: "utf8" });
const tlsSkip = skip || (openssl.status === 0 ? false : "openssl not installed: cannot make a test certificate");

describe("Redis second-level cache over TLS", { skip: tlsSkip }, () => {
  test("connects over TLS to a server whose certificate it trusts, and refuses one it does not", async () => {
    let certPem = "";
    const redis = await startRedis((port, dir) => {
      const made = spawnSync(
        "openssl",
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost",
          "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
        { encoding: "utf8" },
      );
      assert.equal(made.status, 0, made.stderr);
      certPem = readFileSync(join(dir, "cert.pem"), "utf8");
      return ["--port", "0", "--tls-port", String(port), "--tls-cert-file", join(dir, "cert.pem"), "--tls-key-file", join(dir, "key.pem"), "--tls-auth-clients", "no"];
    });
    const trusted = await openCache(redis.port, { connection: { host: "127.0.0.1", port: redis.port, tls: { ca: certPem, servername: "localhost" } } });
    await trusted.cache.set(entry("cust-1", 1), 1_000);
    assert.equal((await trusted.cache.get("cust-1", undefined, 500))?.fetchedAtMs, 1_000);

    // REDIS_TLS=1 checks the certificate against the system CAs: a self-signed one is refused.
    const untrusted = await openCache(redis.port, { connection: { host: "127.0.0.1", port: redis.port, tls: true } }, false);
    await waitFor("a certificate error", () => untrusted.cache.status().lastError !== undefined);
    assert.match(untrusted.cache.status().lastError ?? "", /certificate/i);
    assert.equal(untrusted.cache.status().connected, false);
    assert.ok((await untrusted.errors()) >= 1);
  });
});

describe("createSecondLevelCache", { skip }, () => {
  test("returns nothing when REDIS_ENVIRONMENT_PREFIX is unset", () => {
    const metrics = new Metrics({ processMetrics: false });
    assert.equal(createSecondLevelCache(defaultSettings(), createLogger("silent"), metrics), undefined);
    assert.equal(createSecondLevelCache({ ...defaultSettings(), redisEnvironmentPrefix: "" }, createLogger("silent"), metrics), undefined);
  });

  test("connects with the ACL user, password and database from the settings, needs only the documented commands, and never logs the password", async () => {
    const password = "s3cret-pa55word";
    // "gate" has only what the README says the cache needs; "admin" checks the result.
    const redis = await startRedis([
      "--user", "default", "off",
      "--user", "gate", "on", `>${password}`, "~prod-env:*", "+get", "+set", "+getrange", "+eval", "+evalsha", "+scan", "+unlink", "+select",
      "--user", "admin", "on", ">admin", "~*", "+@all",
    ]);
    const { logger, lines } = capturedLogger();
    const metrics = new Metrics({ processMetrics: false });
    const settings = {
      ...defaultSettings(),
      redisEnvironmentPrefix: "prod-env",
      redisHost: "127.0.0.1",
      redisPort: redis.port,
      redisDb: 3,
      redisUsername: "gate",
      redisPassword: password,
    };
    const cache = createSecondLevelCache(settings, logger, metrics);
    assert.ok(cache);
    opened.push(cache);
    assert.equal(await cache.waitUntilReady(3000), true);
    await cache.set(entry("cust-1", 1), 1_000);
    assert.equal((await cache.get("cust-1", undefined, 500))?.fetchedAtMs, 1_000);
    const raw = new Redis({ host: "127.0.0.1", port: redis.port, username: "admin", password: "admin", db: 3, disconnectTimeout: 50 });
    rawClients.push(raw);
    assert.equal(await raw.exists(entryKey("prod-env", "cust-1", undefined)), 1);
    await cache.delete("cust-1", undefined);
    await cache.clear();
    assert.equal(await raw.dbsize(), 0);
    assert.equal(await metrics.redisClientErrors.get().then((m) => m.values[0]?.value ?? 0), 0);
    assert.ok(lines.some((l) => l.msg === "redis cache: enabled"));
    assert.ok(!JSON.stringify(lines).includes(password));

    // A wrong password: the cache stays disconnected, counts the failures, and still does not log it.
    const wrong = createSecondLevelCache({ ...settings, redisPassword: "wrong-password" }, logger, metrics);
    assert.ok(wrong);
    opened.push(wrong);
    assert.equal(await wrong.waitUntilReady(300), false);
    assert.match(wrong.status().lastError ?? "", /WRONGPASS|invalid/i);
    assert.ok(!JSON.stringify(lines).includes("wrong-password"));
  });
});
