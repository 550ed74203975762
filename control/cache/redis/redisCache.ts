// The Redis second-level cache (layout and guarantees: README.md beside this file). It is an
// optimisation, so it fails soft everywhere: while Redis is not connected every call returns at
// once (a miss, or a skipped write) instead of queueing, a read never waits past its timeout,
// and the client reconnects by itself with a capped backoff for as long as the process runs.
import { createHash } from "node:crypto";
import type { ConnectionOptions } from "node:tls";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../../log.ts";
import type { Metrics } from "../../metrics/metrics.ts";
import type { CustomerEntitlements } from "../../model/entitlements.ts";
import type { SecondLevelCache, SecondLevelCacheHit, SecondLevelCacheStatus } from "../secondLevelCache.ts";
import { entryKey, namespacePattern } from "./redisKeys.ts";
import { DEFAULT_MAX_VALUE_BYTES, decodeValue, encodeEntryValue, encodeTombstone, isStorableTime } from "./redisValue.ts";
import { GuardedConnector } from "./guardedConnector.ts";

export interface RedisConnection {
  host: string;
  port: number;
  db?: number;
  username?: string;
  password?: string;
  /** true = TLS with the default checks (servername = host); an object = those TLS options. */
  tls?: boolean | ConnectionOptions;
}

export interface RedisCacheOptions {
  /** The operator's REDIS_ENVIRONMENT_PREFIX; our keys live under `<prefix>:entitlement-gate:v1:`. */
  prefix: string;
  connection: RedisConnection;
  /** Lifetime of an entry; negative = never expires (REDIS_KEYS_TTL_IN_SECS). */
  keysTtlSecs: number;
  logger: Logger;
  metrics: Metrics;
  /** Values past this many bytes are neither written nor read. */
  maxValueBytes?: number;
  /** Bound on every command, so a hung server cannot pile up pending commands. Default 1000. */
  commandTimeoutMs?: number;
  /** A connection that owes replies and gets no data for this long is dropped and reopened. Default 2000. */
  socketTimeoutMs?: number;
  /** Cap of the reconnect backoff. Default 2000. */
  maxReconnectDelayMs?: number;
  /** How long a delete keeps older writes out (the length of an upstream fetch, with room). Default 60. */
  tombstoneTtlSecs?: number;
  /** Clock for tombstones; tests move it. */
  now?: () => number;
}

// Writes `ARGV[2]` unless the stored value was fetched later than `ARGV[1]`. The stored time is read
// from the value's first bytes (GETRANGE), so a write costs the same however large the value is.
// A value we cannot read the time from (corrupt, foreign, another type) is overwritten.
const SET_IF_NOT_OLDER = `
local head = redis.pcall('GETRANGE', KEYS[1], 0, 63)
if type(head) == 'string' then
  local stored = tonumber(string.match(head, '^{"fetchedAtMs":(%d+)[,}]'))
  if stored and stored > tonumber(ARGV[1]) then return 0 end
end
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ttl)
else
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1
`;
const SET_IF_NOT_OLDER_SHA = createHash("sha1").update(SET_IF_NOT_OLDER).digest("hex");

const SCAN_BATCH = 500;

type Outcome<T> = { ok: true; value: T } | { ok: false; error: string };

export class RedisSecondLevelCache implements SecondLevelCache {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly keysTtlSecs: number;
  private readonly tombstoneTtlSecs: number;
  private readonly maxValueBytes: number;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly now: () => number;
  private lastError: string | undefined;
  private everReady = false;
  /** Set when a connection was lost; cleared on the next ready. Keeps logs to one line per outage. */
  private outage = false;
  private closed = false;
  private readonly readyWaiters = new Set<() => void>();

  constructor(options: RedisCacheOptions) {
    this.prefix = options.prefix;
    this.keysTtlSecs = options.keysTtlSecs;
    this.maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    const tombstoneTtl = options.tombstoneTtlSecs ?? 60;
    this.tombstoneTtlSecs = options.keysTtlSecs > 0 ? Math.min(tombstoneTtl, options.keysTtlSecs) : tombstoneTtl;
    this.logger = options.logger;
    this.metrics = options.metrics;
    this.now = options.now ?? Date.now;
    const maxDelay = options.maxReconnectDelayMs ?? 2000;
    const { connection } = options;
    const redisOptions: RedisOptions = {
      host: connection.host,
      port: connection.port,
      db: connection.db ?? 0,
      ...(connection.username ? { username: connection.username } : {}),
      ...(connection.password ? { password: connection.password } : {}),
      ...(connection.tls ? { tls: connection.tls === true ? {} : connection.tls } : {}),
      connectionName: "entitlement-gate-control",
      // A socket that errors twice must not end the process (guardedConnector.ts).
      Connector: GuardedConnector,
      // RESP2 works with every Redis we may meet (managed services lag); we need nothing from RESP3.
      protocol: 2,
      // Fail at once while disconnected instead of queueing reads that would answer too late anyway.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      socketTimeout: options.socketTimeoutMs ?? 2000,
      connectTimeout: Math.max(1000, options.commandTimeoutMs ?? 1000),
      // ioredis arms this timer even for a socket that is already gone, which would hold the
      // process open after close() during an outage; a cache has nothing to flush for long.
      disconnectTimeout: 200,
      // Never give up: the cache comes back on its own once Redis does.
      retryStrategy: (attempt) => Math.min(maxDelay, 50 * 2 ** Math.min(attempt, 10)),
    };
    this.client = new Redis(redisOptions);
    this.client.on("ready", () => this.onReady());
    this.client.on("close", () => this.onClose());
    this.client.on("error", (err: Error) => this.onError(err));
  }

  async get(customerId: string, resourceId: string | undefined, timeoutMs: number): Promise<SecondLevelCacheHit | undefined> {
    if (!this.isReady() || !(timeoutMs > 0)) return undefined;
    const key = entryKey(this.prefix, customerId, resourceId);
    const outcome = await withTimeout(this.client.getBuffer(key), timeoutMs, `GET timed out after ${timeoutMs}ms`);
    if (!outcome.ok) {
      this.fail("get", outcome.error);
      return undefined;
    }
    if (outcome.value === null) return undefined;
    const decoded = decodeValue(outcome.value, customerId, resourceId, this.maxValueBytes);
    if (decoded.kind === "entry") {
      return decoded.validUntil === undefined ? { entry: decoded.entry, fetchedAtMs: decoded.fetchedAtMs } : { entry: decoded.entry, fetchedAtMs: decoded.fetchedAtMs, validUntil: decoded.validUntil };
    }
    if (decoded.kind === "corrupt") {
      // The next upstream fetch overwrites it (the write script replaces unreadable values).
      this.fail("get", `corrupt value at ${key}: ${decoded.reason}`, "warn");
    }
    return undefined;
  }

  async set(entry: CustomerEntitlements, fetchedAtMs: number, validUntil?: number): Promise<void> {
    if (!this.isReady()) return;
    // Whole milliseconds: the script compares the stored time as digits.
    const timeMs = Math.floor(fetchedAtMs);
    if (!isStorableTime(timeMs)) {
      this.logger.warn({ fetchedAtMs, customerId: entry.customerId }, "redis cache: not writing an entry with an invalid fetch time");
      return;
    }
    const value = encodeEntryValue(entry, timeMs, validUntil);
    const bytes = Buffer.byteLength(value);
    if (bytes > this.maxValueBytes) {
      this.logger.warn({ customerId: entry.customerId, bytes, maxBytes: this.maxValueBytes }, "redis cache: entry too large to share, kept in memory only");
      return;
    }
    await this.writeIfNotOlder(entryKey(this.prefix, entry.customerId, entry.resourceId), timeMs, value, this.keysTtlSecs, "set");
  }

  async delete(customerId: string, resourceId: string | undefined): Promise<void> {
    if (!this.isReady()) return;
    const now = Math.max(0, Math.floor(this.now()));
    await this.writeIfNotOlder(entryKey(this.prefix, customerId, resourceId), now, encodeTombstone(now), this.tombstoneTtlSecs, "delete");
  }

  async clear(): Promise<void> {
    if (!this.isReady()) return;
    const pattern = namespacePattern(this.prefix);
    let cursor = "0";
    let removed = 0;
    try {
      do {
        const [next, keys] = await this.client.scan(cursor, "MATCH", pattern, "COUNT", SCAN_BATCH);
        cursor = next;
        if (keys.length > 0) removed += await this.client.unlink(...keys);
      } while (cursor !== "0");
      this.logger.info({ removed }, "redis cache: cleared every entry under our prefix");
    } catch (err) {
      this.fail("clear", `${messageOf(err)} (after removing ${removed} keys)`, "warn");
    }
  }

  status(): SecondLevelCacheStatus {
    return { connected: this.isReady(), ...(this.lastError !== undefined ? { lastError: this.lastError } : {}) };
  }

  /** Resolves true once connected, false after timeoutMs (a warm start may wait briefly for Redis). */
  async waitUntilReady(timeoutMs: number): Promise<boolean> {
    if (this.isReady()) return true;
    if (this.closed) return false;
    return new Promise<boolean>((resolve) => {
      const done = (ready: boolean): void => {
        clearTimeout(timer);
        this.readyWaiters.delete(onReady);
        resolve(ready);
      };
      const onReady = (): void => done(true);
      const timer = setTimeout(() => done(false), Math.max(0, timeoutMs));
      this.readyWaiters.add(onReady);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const waiter of [...this.readyWaiters]) waiter();
    if (this.isReady()) {
      // QUIT lets replies already on the wire arrive; bounded, since the server may be hung.
      await withTimeout(this.client.quit(), 250, "QUIT timed out");
    }
    this.client.disconnect();
  }

  private isReady(): boolean {
    return !this.closed && this.client.status === "ready";
  }

  private async writeIfNotOlder(key: string, timeMs: number, value: string, ttlSecs: number, op: "set" | "delete"): Promise<void> {
    const args = [key, String(timeMs), value, String(ttlSecs)] as const;
    try {
      try {
        await this.client.evalsha(SET_IF_NOT_OLDER_SHA, 1, ...args);
      } catch (err) {
        // The server lost its script cache (restart, SCRIPT FLUSH, failover): send the source once.
        if (!messageOf(err).startsWith("NOSCRIPT")) throw err;
        await this.client.eval(SET_IF_NOT_OLDER, 1, ...args);
      }
    } catch (err) {
      this.fail(op, messageOf(err));
    }
  }

  private fail(op: string, error: string, level: "debug" | "warn" = "debug"): void {
    this.metrics.redisClientErrors.inc();
    this.lastError = `${op}: ${error}`;
    this.logger[level]({ op, err: error }, op === "get" ? "redis cache: read failed, answered as a miss" : `redis cache: ${op} failed, skipped`);
  }

  private onReady(): void {
    if (this.closed) return;
    this.logger.info(this.everReady ? "redis cache: connection restored" : "redis cache: connected");
    this.everReady = true;
    this.outage = false;
    for (const waiter of [...this.readyWaiters]) waiter();
  }

  private onClose(): void {
    if (this.closed || this.outage || !this.everReady) return;
    this.outage = true;
    this.logger.warn("redis cache: connection lost; reading from memory and upstream until it is back");
  }

  private onError(err: Error): void {
    this.metrics.redisClientErrors.inc();
    const first = this.lastError === undefined || (this.everReady && !this.outage);
    this.lastError = err.message;
    // One warning per outage (or at start); reconnect attempts repeat the same error at debug.
    if (!this.closed) this.logger[first ? "warn" : "debug"]({ err: err.message }, "redis cache: client error");
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Never rejects. A late result of a timed-out command is dropped (its rejection is handled here). */
function withTimeout<T>(promise: Promise<T>, timeoutMs: number, timeoutMessage: string): Promise<Outcome<T>> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ ok: false, error: timeoutMessage }), timeoutMs);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve({ ok: true, value });
      },
      (err: unknown) => {
        clearTimeout(timer);
        resolve({ ok: false, error: messageOf(err) });
      },
    );
  });
}
