// /status.json and the page's HTTP contract, against a whole control plane driven through its real
// Sidecar API and sync stream.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseSettings } from "../../control/config/settings.ts";
import { driveDecisions, eventually, startStatusPlane } from "../observability/support/statusPlane.ts";
import { startStiggEmulator } from "../stigg/emulator.ts";
import { ACME } from "./stiggUpstreamHarness.ts";
import { StreamReader, syncClient } from "./support/syncClient.ts";
import { stiggUpstreamSettings } from "../stigg/upstreamSettings.ts";

const TOKEN = "status-admin-token-0123456789";

test("serves a self-contained status page whose scripts only run by hash", async (t) => {
  const plane = await startStatusPlane(t);
  const response = await fetch(`${plane.baseUrl}/`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
  assert.equal(response.headers.get("cache-control"), "no-store");
  const csp = response.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'sha256-[A-Za-z0-9+/]+=*'/);
  assert.match(csp, /connect-src 'self'/);
  const html = await response.text();
  assert.match(html, /<canvas id="chart"/);
  // Nothing is fetched from anywhere else: no CDN, no web fonts, no remote scripts or images.
  assert.doesNotMatch(html, /https?:\/\//);
  assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href="(?!data:)|@import|url\(/);
});

test("reports readiness, the file upstream, cache size and no customer ids without the admin token", async (t) => {
  const plane = await startStatusPlane(t, { statusAdminToken: TOKEN });
  const status = await plane.status();
  assert.deepEqual(status.health, { live: true, ready: true });
  assert.equal(status.upstream.kind, "file");
  assert.equal(status.upstream.loaded, true);
  assert.match(status.upstream.description, /entitlements\.yaml/);
  assert.equal(status.upstream.eventStreamConnected, null);
  assert.equal(status.upstream.apiKeyValid, null);
  assert.deepEqual(status.upstream.errors, { initialization: 0, invalidApiKey: 0, network: 0, redis: 0 });
  assert.equal(status.cache.entries, plane.cp.store.size);
  const bytes = plane.cp.store.all().reduce((sum, e) => sum + e.bytes.byteLength, 0);
  assert.equal(status.cache.bytes, bytes);
  assert.equal(status.store.version, plane.cp.store.version);
  assert.equal(status.admin, false);
  assert.equal("recentChanges" in status, false);
  const text = JSON.stringify(status);
  for (const entry of plane.cp.store.all()) assert.equal(text.includes(entry.customerId), false, `${entry.customerId} leaked`);
});

test("counts decisions per second by result and fallbacks by cause from real Sidecar calls", async (t) => {
  const plane = await startStatusPlane(t);
  const before = await plane.status();
  assert.deepEqual(before.decisions.decisionsInWindow, { allow: 0, deny: 0, fallback: 0 });
  await driveDecisions(plane, 5);
  const after = await eventually(
    "the sampler to see 15 decisions",
    () => plane.status(),
    (s) => s.decisions.decisionsInWindow.allow === 5 && s.decisions.decisionsInWindow.deny === 5 && s.decisions.decisionsInWindow.fallback === 5,
  );
  assert.deepEqual(after.fallbacks.byCauseInWindow, { feature_type_mismatch: 5 });
  assert.equal(after.fallbacks.totalInWindow, 5);
  assert.equal(after.decisions.totals.allow, 5);
  const { times, decisionsPerSecond } = after.decisions;
  assert.ok(times.length >= 1);
  for (const result of ["allow", "deny", "fallback"]) {
    const series = decisionsPerSecond[result]!;
    assert.equal(series.length, times.length, result);
    assert.ok(Math.max(...series) > 0, `${result} rate never rose`);
  }
  // Each interval's rate times its length adds back up to the count.
  const intervals = times.map((time, i) => (i === 0 ? after.decisions.intervalMs : time - times[i - 1]!) / 1000);
  const allowed = decisionsPerSecond.allow!.reduce((sum, rate, i) => sum + rate * intervals[i]!, 0);
  assert.ok(Math.abs(allowed - 5) < 2.5, `allow rates integrate to ${allowed}`);
});

test("counts connected filters from the sync stream", async (t) => {
  const plane = await startStatusPlane(t);
  assert.equal((await plane.status()).filters.connected, 0);
  const client = syncClient(plane.cp.syncPort);
  t.after(() => client.close());
  const stream = new StreamReader(client.Subscribe({ nodeId: "envoy-status" }));
  t.after(() => stream.cancel());
  await stream.snapshot();
  const status = await eventually("one connected filter", () => plane.status(), (s) => s.filters.connected === 1);
  assert.equal(status.filters.connected, 1);
  // Each filter by its node id, with how many store versions it has not been sent yet.
  assert.deepEqual(status.filters.nodes, [{ nodeId: "envoy-status", lagVersions: 0 }]);
  assert.equal(status.filters.maxLagVersions, 0);
});

test("lists recently changed customers, newest first, only with the admin token", async (t) => {
  const plane = await startStatusPlane(t, { statusAdminToken: TOKEN });
  const usage = { customer_id: "customer-free", feature_id: "feature-api-calls", value: 1 };
  await plane.sidecar("ReportUsage", usage);
  await plane.sidecar("ReportUsage", { ...usage, customer_id: "customer-pro" });

  const anonymous = await plane.status();
  assert.equal(anonymous.admin, false);
  assert.equal(anonymous.recentChanges, undefined);

  const wrong = await plane.status({ authorization: "Bearer not-the-token-at-all" });
  assert.equal(wrong.admin, false);
  assert.equal(wrong.recentChanges, undefined);
  assert.match(wrong.adminError ?? "", /not STATUS_ADMIN_TOKEN/);

  const admin = await plane.status({ authorization: `Bearer ${TOKEN}` });
  assert.equal(admin.admin, true);
  // The initial load counts as changes too; the two usage reports are the newest.
  assert.deepEqual(
    admin.recentChanges?.slice(0, 2).map((c) => [c.customerId, c.resourceId]),
    [
      ["customer-pro", undefined],
      ["customer-free", undefined],
    ],
  );
  assert.equal(admin.recentChanges?.length, plane.cp.store.size);
  assert.equal(admin.recentChanges?.[0]?.version, plane.cp.store.version);
  assert.equal(admin.recentChanges?.[0]?.removed, false);
});

test("never opens the admin view when no admin token is configured", async (t) => {
  const plane = await startStatusPlane(t);
  await plane.sidecar("ReportUsage", { customer_id: "customer-free", feature_id: "feature-api-calls", value: 1 });
  const status = await plane.status({ authorization: "Bearer anything-at-all-really" });
  assert.equal(status.admin, false);
  assert.equal(status.recentChanges, undefined);
  assert.match(status.adminError ?? "", /STATUS_ADMIN_TOKEN is not set/);
});

test("in Stigg mode shows the event stream and API key state, the hit ratio, and a revoked key", async (t) => {
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const plane = await startStatusPlane(t, { ...stiggUpstreamSettings(stigg), missTimeoutMs: 500 });
  const up = await eventually("the event stream to connect", () => plane.status(), (s) => s.upstream.eventStreamConnected === true);
  assert.equal(up.upstream.kind, "stigg");
  assert.equal(up.upstream.eventStreamEnabled, true);
  assert.equal(up.upstream.apiKeyValid, true);
  assert.equal(up.cache.hitRatio, null);

  // One miss (read from Edge), then one hit.
  for (let i = 0; i < 2; i++) await plane.sidecar("GetBooleanEntitlement", { customer_id: "acme", feature_id: "sso" });
  const read = await eventually("two cache reads in the window", () => plane.status(), (s) => s.cache.hits + s.cache.misses === 2 && s.cache.hitRatioScope === "window");
  assert.equal(read.cache.hitRatio, 0.5);
  assert.equal(read.cache.entries, 1);

  // Stigg revokes the key: the socket closes with graphql-ws's invalid-key code.
  stigg.dropWebSockets(4500, "Invalid API key");
  const revoked = await eventually("the revoked key to show", () => plane.status(), (s) => s.upstream.apiKeyValid === false);
  assert.equal(revoked.upstream.eventStreamConnected, false);
  assert.equal(revoked.health.ready, false);
  assert.match(revoked.health.reason ?? "", /API key/);
  assert.ok(revoked.upstream.errors.invalidApiKey >= 1);
});

test("STATUS_ADMIN_TOKEN comes from the variable or the flag and must be at least 16 characters", () => {
  const fromEnv = parseSettings({ STATUS_ADMIN_TOKEN: TOKEN }, []);
  assert.equal(fromEnv.kind === "run" && fromEnv.settings.statusAdminToken, TOKEN);
  const fromFlag = parseSettings({ STATUS_ADMIN_TOKEN: "ignored-because-the-flag-wins" }, ["--status-admin-token", `${TOKEN}-flag`]);
  assert.equal(fromFlag.kind === "run" && fromFlag.settings.statusAdminToken, `${TOKEN}-flag`);
  const unset = parseSettings({}, []);
  assert.equal(unset.kind === "run" && unset.settings.statusAdminToken, undefined);
  const short = parseSettings({ STATUS_ADMIN_TOKEN: "short" }, []);
  assert.equal(short.kind, "invalid");
  assert.match(short.kind === "invalid" ? short.errors[0]! : "", /^STATUS_ADMIN_TOKEN: is not a usable token/);
  // The error never echoes the value.
  assert.doesNotMatch(short.kind === "invalid" ? short.errors.join() : "", /short/);
});
