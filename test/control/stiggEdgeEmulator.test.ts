// The Edge client against the Stigg emulator (test/stigg/): Stigg's real wire shapes and its faults.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { startStiggEmulator } from "../stigg/emulator.ts";
import { ACME, PERIOD_END, PERIOD_START } from "../stigg/fixtures.ts";
import { EdgeClient, EdgeClientError, type EdgeClientOptions, type EdgeErrorKind } from "../../control/upstream/stigg/edgeClient.ts";
import { evaluate } from "../../control/evaluation/evaluate.ts";
import { SingleFlight } from "../../control/concurrency/singleFlight.ts";
import { entityKey } from "../../control/model/entitlements.ts";

const stigg = await startStiggEmulator({ customers: { acme: ACME, "org/acme?#1 ü": ACME } });
const clients: EdgeClient[] = [];
after(async () => {
  for (const c of clients) c.close();
  await stigg.close();
});

function client(options: Partial<EdgeClientOptions> = {}): EdgeClient {
  const c = new EdgeClient({ apiKey: stigg.apiKey, edgeApiUrl: stigg.edgeUrl, ...options });
  clients.push(c);
  return c;
}

async function rejectsWith(promise: Promise<unknown>, kind: EdgeErrorKind): Promise<EdgeClientError> {
  const error = await promise.then(
    () => assert.fail(`expected a ${kind} rejection`),
    (e: unknown) => e,
  );
  assert.ok(error instanceof EdgeClientError, String(error));
  assert.equal(error.kind, kind, error.message);
  return error;
}

function edgeReads(): number {
  return stigg.requestCount("entitlements-state");
}

test("maps the emulator's EntitlementsState for a customer and leaves credits out", async () => {
  stigg.clearFaults();
  const c = client();
  const { entitlements } = await c.fetchEntitlements("acme");
  const byId = new Map(entitlements.entitlements.map((e) => [e.featureId, e]));
  assert.deepEqual([...byId.keys()].sort(), ["api-calls", "sso", "tier"]);
  assert.deepEqual(byId.get("api-calls"), {
    featureId: "api-calls",
    featureType: "NUMBER",
    meterType: "Incremental",
    usageLimit: 100,
    hasUnlimitedUsage: false,
    hasSoftLimit: false,
    currentUsage: 40,
    resetPeriod: "MONTH",
    usagePeriodAnchor: PERIOD_START,
    usagePeriodStart: PERIOD_START,
    usagePeriodEnd: PERIOD_END,
  });
  assert.deepEqual(byId.get("tier")?.enumValues, ["basic", "pro"]);
  assert.equal(entitlements.accessDeniedReason, undefined);
  assert.equal(c.stats().skippedCredits, 1);

  const now = PERIOD_START + 1000;
  assert.equal(evaluate(entitlements, { featureId: "api-calls", requestedUsage: 60 }, now).hasAccess, true);
  assert.equal(evaluate(entitlements, { featureId: "api-calls", requestedUsage: 61 }, now).accessDeniedReason, "RequestedUsageExceedingLimit");
  assert.equal(evaluate(entitlements, { featureId: "tier", requestedValues: ["enterprise"] }, now).accessDeniedReason, "RequestedValuesMismatch");
});

test("reads a resource's own entitlements", async () => {
  const { entitlements } = await client().fetchEntitlements("acme", "site-1");
  assert.equal(entitlements.resourceId, "site-1");
  assert.equal(evaluate(entitlements, { featureId: "sso" }, Date.now()).accessDeniedReason, "Revoked");
});

test("returns CustomerNotFound for an unknown customer and NoActiveSubscription for an unknown resource", async () => {
  const unknown = await client().fetchEntitlements("nobody");
  assert.equal(unknown.entitlements.accessDeniedReason, "CustomerNotFound");
  const noResource = await client().fetchEntitlements("acme", "site-404");
  assert.equal(noResource.entitlements.accessDeniedReason, "NoActiveSubscription");
});

test("finds a customer whose id holds a slash, ?, # and unicode", async () => {
  stigg.resetLogs();
  const { entitlements } = await client().fetchEntitlements("org/acme?#1 ü");
  assert.equal(entitlements.entitlements.length, 3);
  assert.equal(stigg.requestCount("entitlements-state", { customerId: "org/acme?#1 ü" }), 1);
});

test("reports a wrong API key as unauthorized after one request", async () => {
  stigg.resetLogs();
  await rejectsWith(client({ apiKey: "wrong-key" }).fetchEntitlements("acme"), "unauthorized");
  assert.equal(edgeReads(), 1);
});

test("recovers from two 5xx answers within one fetch", async () => {
  stigg.resetLogs();
  stigg.setFault("edge", { kind: "serverError", status: 503, times: 2 });
  const result = await client({ timeoutMs: 1500 }).fetchEntitlements("acme");
  assert.equal(result.attempts, 3);
  assert.equal(edgeReads(), 3);
});

test("sends one request per fetch while Edge rate-limits, then none until the pause ends", async () => {
  stigg.resetLogs();
  stigg.setFault("edge", { kind: "rateLimit" });
  const c = client({ rateLimitCooldownMs: 10_000 });
  await rejectsWith(c.fetchEntitlements("acme"), "rate-limited");
  const rest = await Promise.allSettled(Array.from({ length: 100 }, () => c.fetchEntitlements("acme")));
  assert.ok(rest.every((r) => r.status === "rejected"));
  assert.equal(edgeReads(), 1);
  stigg.clearFaults();
});

test("rejects truncated JSON and mistyped fields from the emulator", async () => {
  stigg.setFault("edge", { kind: "malformedJson" });
  await rejectsWith(client().fetchEntitlements("acme"), "malformed-body");
  stigg.setFault("edge", { kind: "wrongTypes" });
  const error = await rejectsWith(client().fetchEntitlements("acme"), "malformed-body");
  assert.match(error.message, /must be a/);
  stigg.clearFaults();
});

test("rejects a body over the cap and accepts a large one under it", async () => {
  stigg.setFault("edge", { kind: "hugePayload", hugeBytes: 2 * 1024 * 1024 });
  await rejectsWith(client({ maxBodyBytes: 1024 * 1024 }).fetchEntitlements("acme"), "body-too-large");
  stigg.setFault("edge", { kind: "hugePayload", hugeBytes: 256 * 1024 });
  const { entitlements } = await client().fetchEntitlements("acme");
  assert.ok(entitlements.entitlements.length >= 3);
  stigg.clearFaults();
});

test("retries a dropped socket", async () => {
  stigg.resetLogs();
  stigg.setFault("edge", { kind: "dropSocket", times: 1 });
  const result = await client().fetchEntitlements("acme");
  assert.equal(result.attempts, 2);
});

test("gives up on a slow Edge within its time budget", async () => {
  stigg.setFault("edge", { latencyMs: 1000 });
  const started = performance.now();
  await rejectsWith(client({ timeoutMs: 150 }).fetchEntitlements("acme"), "timeout");
  assert.ok(performance.now() - started < 600);
  stigg.clearFaults();
});

test("1,000 concurrent misses for one customer cost one Edge request through single-flight", async () => {
  stigg.clearFaults();
  stigg.resetLogs();
  stigg.setFault("edge", { latencyMs: 50 });
  const c = client();
  const flights = new SingleFlight<string, Awaited<ReturnType<EdgeClient["fetchEntitlements"]>>>();
  const misses = Array.from({ length: 1000 }, (_, i) => {
    const resourceId = i % 2 === 0 ? undefined : "site-1";
    return flights.run(entityKey("acme", resourceId), () => c.fetchEntitlements("acme", resourceId));
  });
  const results = await Promise.all(misses);
  assert.equal(stigg.requestCount("entitlements-state"), 2);
  assert.equal(results[0]?.entitlements.resourceId, undefined);
  assert.equal(results[1]?.entitlements.resourceId, "site-1");
  stigg.clearFaults();
});
