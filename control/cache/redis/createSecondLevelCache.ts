// Turns the REDIS_* settings into a second-level cache, or nothing when REDIS_ENVIRONMENT_PREFIX is
// unset (Stigg's rule: the prefix is what switches Redis on).
import type { ControlPlaneSettings } from "../../config/settings.ts";
import type { Logger } from "../../log.ts";
import type { Metrics } from "../../metrics/metrics.ts";
import { RedisSecondLevelCache } from "./redisCache.ts";

export type RedisCacheSettings = Pick<
  ControlPlaneSettings,
  | "redisEnvironmentPrefix"
  | "redisHost"
  | "redisPort"
  | "redisDb"
  | "redisUsername"
  | "redisPassword"
  | "redisTls"
  | "redisKeysTtlSecs"
  | "redisTimeoutMs"
>;

/** Connects in the background; the result answers misses until the connection is ready. */
export function createSecondLevelCache(settings: RedisCacheSettings, logger: Logger, metrics: Metrics): RedisSecondLevelCache | undefined {
  const prefix = settings.redisEnvironmentPrefix;
  if (!prefix) return undefined;
  const cacheLogger = logger.child({ component: "redis-cache" });
  // Where, never who or with what: the password stays out of logs.
  cacheLogger.info(
    { host: settings.redisHost, port: settings.redisPort, db: settings.redisDb, tls: settings.redisTls, prefix, keysTtlSecs: settings.redisKeysTtlSecs, timeoutMs: settings.redisTimeoutMs },
    "redis cache: enabled",
  );
  return new RedisSecondLevelCache({
    prefix,
    connection: {
      host: settings.redisHost,
      port: settings.redisPort,
      db: settings.redisDb,
      ...(settings.redisUsername ? { username: settings.redisUsername } : {}),
      ...(settings.redisPassword ? { password: settings.redisPassword } : {}),
      tls: settings.redisTls,
    },
    keysTtlSecs: settings.redisKeysTtlSecs,
    logger: cacheLogger,
    metrics,
    // A command may take longer than a read is allowed to wait (writes, SCAN), but not without bound.
    commandTimeoutMs: Math.max(1000, settings.redisTimeoutMs * 4),
  });
}
