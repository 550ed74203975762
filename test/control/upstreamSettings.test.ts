import assert from "node:assert/strict";
import { test } from "node:test";
import { getHeapStatistics } from "node:v8";
import { helpText, parseSettings, type SettingsResult } from "../../control/config/settings.ts";

function run(result: SettingsResult) {
  assert.equal(result.kind, "run", result.kind === "invalid" ? result.errors.join("\n") : "");
  if (result.kind !== "run") throw new Error("unreachable");
  return result.settings;
}

test("Stigg settings default to Stigg's values, the offline file and our resilience bounds", () => {
  const s = run(parseSettings({}, []));
  assert.equal(s.serverApiKey, undefined);
  assert.equal(s.apiUrl, "https://api.stigg.io");
  assert.equal(s.edgeEnabled, true);
  assert.equal(s.edgeApiUrl, "https://edge.api.stigg.io");
  assert.equal(s.wsEnabled, true);
  assert.equal(s.wsUrl, "wss://api.stigg.io");
  assert.equal(s.entitlementsFallback.size, 0);
  assert.equal(s.offline, false);
  assert.equal(s.missTimeoutMs, 1500);
  assert.equal(s.maxStalenessSeconds, 86_400);
  assert.equal(s.edgeBudgetPerMinute, 6000);
  assert.equal(s.cacheMaxSizeBytes, Math.floor(getHeapStatistics().heap_size_limit * 0.05));
});

test("every Stigg variable is read, and flags win", () => {
  const s = run(
    parseSettings(
      {
        SERVER_API_KEY: "server-abc",
        API_URL: "http://127.0.0.1:1234/",
        EDGE_ENABLED: "0",
        EDGE_API_URL: "http://127.0.0.1:1235",
        WS_ENABLED: "false",
        WS_URL: "ws://127.0.0.1:1234",
        ENTITLEMENTS_FALLBACK: '{"seats":{"hasAccess":true,"usageLimit":5}}',
        CACHE_MAX_SIZE_BYTES: "1048576",
        OFFLINE: "true",
        MISS_TIMEOUT_MS: "200",
        MAX_STALENESS_SECONDS: "0",
        EDGE_BUDGET_PER_MINUTE: "3000",
        EVENT_STREAM_PING_MS: "2000",
      },
      ["--miss-timeout-ms", "250", "--event-stream-pong-timeout-ms", "750"],
    ),
  );
  assert.equal(s.serverApiKey, "server-abc");
  assert.equal(s.apiUrl, "http://127.0.0.1:1234");
  assert.equal(s.edgeEnabled, false);
  assert.equal(s.edgeApiUrl, "http://127.0.0.1:1235");
  assert.equal(s.wsEnabled, false);
  assert.equal(s.wsUrl, "ws://127.0.0.1:1234");
  assert.deepEqual(s.entitlementsFallback.get("seats"), { hasAccess: true, usageLimit: 5 });
  assert.equal(s.cacheMaxSizeBytes, 1_048_576);
  assert.equal(s.offline, true);
  assert.equal(s.missTimeoutMs, 250);
  assert.equal(s.maxStalenessSeconds, 0);
  assert.equal(s.edgeBudgetPerMinute, 3000);
  assert.equal(s.eventStreamPingMs, 2000);
  assert.equal(s.eventStreamPongTimeoutMs, 750);
});

test("bad Stigg values are rejected naming the variable and the value (never the API key)", () => {
  const result = parseSettings(
    {
      SERVER_API_KEY: "has space",
      EDGE_ENABLED: "yes",
      WS_URL: "https://api.stigg.io",
      API_URL: "not a url",
      ENTITLEMENTS_FALLBACK: "{",
      MISS_TIMEOUT_MS: "0",
      MAX_STALENESS_SECONDS: "-1",
      CACHE_MAX_SIZE_BYTES: "12abc",
      EDGE_BUDGET_PER_MINUTE: "0",
      EVENT_STREAM_PING_MS: "100",
    },
    [],
  );
  assert.equal(result.kind, "invalid");
  if (result.kind !== "invalid") return;
  const text = result.errors.join("\n");
  for (const [name, value] of [
    ["EDGE_ENABLED", '"yes"'],
    ["WS_URL", '"https://api.stigg.io"'],
    ["API_URL", '"not a url"'],
    ["MISS_TIMEOUT_MS", '"0"'],
    ["MAX_STALENESS_SECONDS", '"-1"'],
    ["CACHE_MAX_SIZE_BYTES", '"12abc"'],
    ["EDGE_BUDGET_PER_MINUTE", '"0"'],
    ["EVENT_STREAM_PING_MS", '"100"'],
  ]) {
    assert.ok(result.errors.some((e) => e.startsWith(`${name}:`) && e.includes(value!)), `${name} ${value} in\n${text}`);
  }
  assert.ok(result.errors.some((e) => e.startsWith("ENTITLEMENTS_FALLBACK:")));
  assert.ok(result.errors.some((e) => e.startsWith("SERVER_API_KEY:")));
  assert.ok(!text.includes("has space"), "the API key is not echoed");
});

test("--help groups the Stigg settings", () => {
  const text = helpText();
  assert.match(text, /Stigg upstream:\n/);
  assert.match(text, /Stigg cache and resilience:\n/);
  for (const name of ["SERVER_API_KEY", "EDGE_ENABLED", "WS_URL", "ENTITLEMENTS_FALLBACK", "CACHE_MAX_SIZE_BYTES", "OFFLINE", "MISS_TIMEOUT_MS", "MAX_STALENESS_SECONDS", "EDGE_BUDGET_PER_MINUTE"]) {
    assert.match(text, new RegExp(`env ${name}\\)`));
  }
});
