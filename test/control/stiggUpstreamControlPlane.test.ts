import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeEntry } from "../../control/codec/entryCodec.ts";
import { defaultSettings, type ControlPlaneSettings } from "../../control/config/settings.ts";
import { startControlPlane } from "../../control/controlPlane.ts";
import { createLogger } from "../../control/log.ts";
import { startStiggEmulator, type StiggEmulator } from "../stigg/emulator.ts";
import { fetchCustomer, reportUsage, syncClient } from "./support/syncClient.ts";
import { ACME } from "./stiggUpstreamHarness.ts";
import { stiggUpstreamSettings } from "../stigg/upstreamSettings.ts";

function stiggSettings(stigg: StiggEmulator, overrides: Partial<ControlPlaneSettings> = {}): ControlPlaneSettings {
  return {
    ...defaultSettings(),
    syncPort: 0,
    httpPort: 0,
    grpcPort: 0,
    bindAddress: "127.0.0.1",
    ...stiggUpstreamSettings(stigg),
    missTimeoutMs: 500,
    ...overrides,
  };
}

test("with SERVER_API_KEY set, a filter's FetchCustomer miss becomes one Edge read and lands in the store", async (t) => {
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const plane = await startControlPlane(stiggSettings(stigg), { logger: createLogger("silent") });
  t.after(() => plane.close());
  assert.match(plane.source.description, /^Stigg Edge/);
  assert.equal(plane.store.size, 0, "nothing is preloaded in Stigg mode");

  const ready = await fetch(`http://127.0.0.1:${plane.httpPort}/readyz`);
  assert.equal(ready.status, 200);

  const client = syncClient(plane.syncPort);
  t.after(() => client.close());
  const response = await fetchCustomer(client, "acme");
  const entry = decodeEntry(response.entry.value);
  assert.equal(response.entry.customerId, "acme");
  assert.equal(entry.entitlements.length, 2);
  assert.ok(plane.store.get("acme"), "pushed to every filter through the store");
  assert.equal(stigg.requestCount("entitlements-state", { customerId: "acme" }), 1);
  assert.equal((await plane.reader.read("acme", undefined)).source, "cache");

  const ack = await plane.usage.reportUsage({ customerId: "acme", featureId: "api-calls", value: 1 });
  assert.equal(ack.currentUsage, 41);
});

test("a FetchCustomer that Stigg cannot answer is UNAVAILABLE, so the filter uses its fallbacks", async (t) => {
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const plane = await startControlPlane(stiggSettings(stigg, { wsEnabled: false, missTimeoutMs: 100 }), { logger: createLogger("silent") });
  t.after(() => plane.close());
  stigg.setFault("edge", { kind: "serverError" });
  const client = syncClient(plane.syncPort);
  t.after(() => client.close());
  await assert.rejects(fetchCustomer(client, "acme"), (error: { code?: number }) => error.code === 14);
});

test("OFFLINE=1 keeps the offline file even with an API key", async (t) => {
  const stigg = await startStiggEmulator();
  t.after(() => stigg.close());
  const plane = await startControlPlane(stiggSettings(stigg, { offline: true }), { logger: createLogger("silent") });
  t.after(() => plane.close());
  assert.match(plane.source.description, /^file /);
  assert.ok(plane.store.size > 0);
  assert.equal(stigg.requests.length, 0, "no call to Stigg");
});

test("a refused API key turns readiness red with a reason naming SERVER_API_KEY", async (t) => {
  const stigg = await startStiggEmulator();
  t.after(() => stigg.close());
  const plane = await startControlPlane(stiggSettings(stigg, { serverApiKey: "revoked" }), { logger: createLogger("silent") });
  t.after(() => plane.close());
  const ready = await fetch(`http://127.0.0.1:${plane.httpPort}/readyz`);
  assert.equal(ready.status, 503);
  assert.match(await ready.text(), /SERVER_API_KEY/);
  assert.match(await plane.metrics.render(), /sidecar_initialization_errors_total 1/);
});

test("in Stigg mode the usage the filters report reaches Stigg, summed into one upstream call, and comes back as the new usage", async (t) => {
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const plane = await startControlPlane(stiggSettings(stigg), { logger: createLogger("silent") });
  t.after(() => plane.close());
  const client = syncClient(plane.syncPort);
  t.after(() => client.close());
  await fetchCustomer(client, "acme"); // cached, as it is once a filter has asked for it

  const first = await reportUsage(client, [
    { customerId: "acme", featureId: "api-calls", delta: 2 },
    { customerId: "acme", featureId: "api-calls", delta: 3 },
  ]);
  const second = await reportUsage(client, [{ customerId: "acme", featureId: "api-calls", delta: 1 }]);
  assert.equal(first.accepted + second.accepted, 3);

  await stigg.waitUntil(() => stigg.usageOf("acme", "api-calls") === 46, 3000, "Stigg to hold 40 + 6");
  const usageCalls = stigg.requests.filter((r) => r.operationName === "ReportUsageBulk" || r.operationName === "ReportUsage");
  assert.equal(usageCalls.length, 1, "three increments, one upstream call");
  await stigg.waitUntil(() => {
    const stored = plane.store.get("acme");
    return stored?.value.entitlements.find((e) => e.featureId === "api-calls")?.currentUsage === 46;
  }, 3000, "Stigg's acknowledged usage in the store the filters are synced from");
});

test("in Stigg mode usage reported while Stigg refuses is kept and delivered once Stigg answers again", async (t) => {
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const plane = await startControlPlane(stiggSettings(stigg), { logger: createLogger("silent") });
  t.after(() => plane.close());
  const client = syncClient(plane.syncPort);
  t.after(() => client.close());
  stigg.setFault("graphql", { kind: "serverError", times: 3 });
  await reportUsage(client, [{ customerId: "acme", featureId: "api-calls", delta: 4 }]);
  await stigg.waitUntil(() => stigg.usageOf("acme", "api-calls") === 44, 8000, "the retried report to land");
});
