import { test } from "node:test";
import assert from "node:assert/strict";
import { helpText, parseSettings, type ControlPlaneSettings, type SettingsResult } from "../../control/config/settings.ts";

function settingsOf(result: SettingsResult): ControlPlaneSettings {
  assert.equal(result.kind, "run", result.kind === "invalid" ? result.errors.join("\n") : "");
  if (result.kind !== "run") throw new Error("unreachable");
  return result.settings;
}

function errorsOf(result: SettingsResult): string[] {
  assert.equal(result.kind, "invalid");
  return result.kind === "invalid" ? result.errors : [];
}

test("leaves Redis off by default, with Stigg's defaults for the rest", () => {
  const s = settingsOf(parseSettings({}, []));
  assert.equal(s.redisEnvironmentPrefix, undefined);
  assert.equal(s.redisHost, "localhost");
  assert.equal(s.redisPort, 6379);
  assert.equal(s.redisDb, 0);
  assert.equal(s.redisUsername, undefined);
  assert.equal(s.redisPassword, undefined);
  assert.equal(s.redisTls, false);
  assert.equal(s.redisKeysTtlSecs, 604_800);
  assert.equal(s.redisTimeoutMs, 50);
});

test("an empty REDIS_ENVIRONMENT_PREFIX keeps Redis off", () => {
  assert.equal(settingsOf(parseSettings({ REDIS_ENVIRONMENT_PREFIX: "" }, [])).redisEnvironmentPrefix, undefined);
});

test("reads every Redis variable, and a flag wins over its variable", () => {
  const s = settingsOf(
    parseSettings(
      {
        REDIS_ENVIRONMENT_PREFIX: "production",
        REDIS_HOST: "redis.internal",
        REDIS_PORT: "6380",
        REDIS_DB: "2",
        REDIS_USERNAME: "gate",
        REDIS_PASSWORD: "p@ss word",
        REDIS_TLS: "1",
        REDIS_KEYS_TTL_IN_SECS: "-1",
        REDIS_TIMEOUT_MS: "20",
      },
      ["--redis-host=10.0.0.7", "--redis-timeout-ms", "30"],
    ),
  );
  assert.equal(s.redisEnvironmentPrefix, "production");
  assert.equal(s.redisHost, "10.0.0.7");
  assert.equal(s.redisPort, 6380);
  assert.equal(s.redisDb, 2);
  assert.equal(s.redisUsername, "gate");
  assert.equal(s.redisPassword, "p@ss word");
  assert.equal(s.redisTls, true);
  assert.equal(s.redisKeysTtlSecs, -1);
  assert.equal(s.redisTimeoutMs, 30);
  assert.equal(settingsOf(parseSettings({ REDIS_TLS: "false" }, [])).redisTls, false);
  assert.equal(settingsOf(parseSettings({ REDIS_TLS: "true" }, [])).redisTls, true);
});

test("names the Redis variable and the bad value", () => {
  assert.deepEqual(errorsOf(parseSettings({ REDIS_PORT: "0" }, [])), ['REDIS_PORT: "0" is not a port number (1-65535)']);
  assert.match(errorsOf(parseSettings({ REDIS_PORT: "redis" }, []))[0]!, /^REDIS_PORT: "redis" is not a port number/);
  assert.match(errorsOf(parseSettings({ REDIS_DB: "-1" }, []))[0]!, /^REDIS_DB: "-1" is not a database number/);
  assert.match(errorsOf(parseSettings({ REDIS_TLS: "yes" }, []))[0]!, /^REDIS_TLS: "yes" is not a boolean/);
  assert.match(errorsOf(parseSettings({ REDIS_KEYS_TTL_IN_SECS: "0" }, []))[0]!, /^REDIS_KEYS_TTL_IN_SECS: "0" is not a number of seconds/);
  assert.match(errorsOf(parseSettings({ REDIS_KEYS_TTL_IN_SECS: "7d" }, []))[0]!, /^REDIS_KEYS_TTL_IN_SECS: /);
  assert.match(errorsOf(parseSettings({ REDIS_TIMEOUT_MS: "0" }, []))[0]!, /^REDIS_TIMEOUT_MS: "0" is not a whole number of milliseconds/);
  assert.match(errorsOf(parseSettings({ REDIS_HOST: "not a host" }, []))[0]!, /^REDIS_HOST: /);
  assert.match(errorsOf(parseSettings({ REDIS_ENVIRONMENT_PREFIX: "env*" }, []))[0]!, /^REDIS_ENVIRONMENT_PREFIX: "env\*" is not a key prefix/);
  assert.match(errorsOf(parseSettings({}, ["--redis-port", "99999"]))[0]!, /^--redis-port: /);
});

test("keeps the Redis password out of setting errors and --help", () => {
  const result = parseSettings({ REDIS_PASSWORD: "hunter2", REDIS_PORT: "x" }, []);
  assert.ok(!errorsOf(result).join("\n").includes("hunter2"));
  assert.ok(!helpText().includes("hunter2"));
});

test("documents the Redis settings in --help", () => {
  const help = helpText();
  assert.match(help, /Redis cache:/);
  for (const name of ["REDIS_ENVIRONMENT_PREFIX", "REDIS_HOST", "REDIS_PORT", "REDIS_DB", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS", "REDIS_KEYS_TTL_IN_SECS", "REDIS_TIMEOUT_MS"]) {
    assert.ok(help.includes(`(env ${name})`), name);
  }
});
