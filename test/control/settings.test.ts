import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ENTITLEMENTS_FILE, defaultSettings, helpText, parseSettings, SETTINGS, type SettingsResult } from "../../control/config/settings.ts";

function errorsOf(result: SettingsResult): string[] {
  assert.equal(result.kind, "invalid");
  return result.kind === "invalid" ? result.errors : [];
}

test("uses the documented defaults when nothing is set", () => {
  const result = parseSettings({}, []);
  assert.equal(result.kind, "run");
  if (result.kind !== "run") return;
  // The foundation's settings, spelled out; later groups are checked against their SETTINGS rows below.
  assert.deepEqual(
    {
      entitlementsFile: result.settings.entitlementsFile,
      syncPort: result.settings.syncPort,
      httpPort: result.settings.httpPort,
      bindAddress: result.settings.bindAddress,
      logLevel: result.settings.logLevel,
      healthEndpointUrl: result.settings.healthEndpointUrl,
      readyEndpointUrl: result.settings.readyEndpointUrl,
      syncHeartbeatMs: result.settings.syncHeartbeatMs,
    },
    {
      entitlementsFile: DEFAULT_ENTITLEMENTS_FILE,
      syncPort: 9000,
      httpPort: 8080,
      bindAddress: "0.0.0.0",
      logLevel: "info",
      healthEndpointUrl: "/livez",
      readyEndpointUrl: "/readyz",
      syncHeartbeatMs: 5000,
    },
  );
  for (const spec of SETTINGS) {
    assert.deepEqual(result.settings[spec.key], spec.defaultValue, `${spec.env} defaults to what --help documents`);
  }
  assert.deepEqual(defaultSettings(), result.settings);
});

test("reads environment variables, and a flag wins over its variable", () => {
  const result = parseSettings(
    { SYNC_PORT: "9100", HTTP_PORT: "0", LOG_LEVEL: "DEBUG", SYNC_HEARTBEAT_MS: "250", READY_ENDPOINT_URL: "/ready" },
    ["--sync-port", "9200", "--bind-address=127.0.0.1"],
  );
  assert.equal(result.kind, "run");
  if (result.kind !== "run") return;
  assert.equal(result.settings.syncPort, 9200);
  assert.equal(result.settings.httpPort, 0);
  assert.equal(result.settings.bindAddress, "127.0.0.1");
  assert.equal(result.settings.logLevel, "debug");
  assert.equal(result.settings.syncHeartbeatMs, 250);
  assert.equal(result.settings.readyEndpointUrl, "/ready");
});

test("names the variable and the bad value", () => {
  assert.deepEqual(errorsOf(parseSettings({ SYNC_PORT: "abc" }, [])), ['SYNC_PORT: "abc" is not a port number (1-65535, or 0 for any free port)']);
  assert.deepEqual(errorsOf(parseSettings({ HTTP_PORT: "70000" }, [])), ['HTTP_PORT: "70000" is not a port number (1-65535, or 0 for any free port)']);
  assert.deepEqual(errorsOf(parseSettings({ LOG_LEVEL: "verbose" }, [])), ['LOG_LEVEL: "verbose" is not a log level (error, warn, info, debug)']);
  assert.match(errorsOf(parseSettings({ ENTITLEMENTS_FILE: "/no/such/file.yaml" }, []))[0]!, /^ENTITLEMENTS_FILE: "\/no\/such\/file\.yaml" cannot be read \(ENOENT\)$/);
  assert.match(errorsOf(parseSettings({ HEALTH_ENDPOINT_URL: "livez" }, []))[0]!, /^HEALTH_ENDPOINT_URL: "livez" is not a URL path/);
  assert.match(errorsOf(parseSettings({ SYNC_HEARTBEAT_MS: "5s" }, []))[0]!, /^SYNC_HEARTBEAT_MS: "5s" is not a whole number of milliseconds/);
  assert.match(errorsOf(parseSettings({ BIND_ADDRESS: "not an address" }, []))[0]!, /^BIND_ADDRESS: /);
});

test("names the flag when the bad value came from the command line", () => {
  assert.deepEqual(errorsOf(parseSettings({ SYNC_PORT: "9000" }, ["--sync-port=-1"])), ['--sync-port: "-1" is not a port number (1-65535, or 0 for any free port)']);
  assert.deepEqual(errorsOf(parseSettings({}, ["--http-port"])), ["--http-port: needs a value"]);
  assert.deepEqual(errorsOf(parseSettings({}, ["--sync-prot", "1"])), ['"--sync-prot": unknown option (see --help)', '"1": unknown option (see --help)']);
});

test("reports every bad setting at once", () => {
  assert.equal(errorsOf(parseSettings({ SYNC_PORT: "x", HTTP_PORT: "y", LOG_LEVEL: "z" }, [])).length, 3);
});

test("rejects the same path for liveness and readiness, and one port for both servers", () => {
  assert.match(errorsOf(parseSettings({ READY_ENDPOINT_URL: "/livez" }, []))[0]!, /^READY_ENDPOINT_URL: /);
  assert.match(errorsOf(parseSettings({ SYNC_PORT: "8080" }, []))[0]!, /^HTTP_PORT: 8080 is also SYNC_PORT/);
});

test("prints every option with its variable and default in --help", () => {
  const result = parseSettings({ SYNC_PORT: "bad" }, ["--help"]);
  assert.equal(result.kind, "help");
  const text = helpText();
  for (const s of SETTINGS) {
    assert.ok(text.includes(s.flag), s.flag);
    assert.ok(text.includes(s.env), s.env);
    assert.ok(text.includes(`default: ${s.defaultText}`), s.env);
  }
});
