// Bounds: message sizes, streams per connection, the per-client check rate, the in-flight caps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { connect as http2Connect } from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { startGrpcServer } from "../../control/grpc/grpcServer.ts";
import { startHealthServer } from "../../control/http/healthServer.ts";
import { inflightInterceptor, methodsNamed } from "../../control/limits/grpcLimitInterceptors.ts";
import { InflightLimiter } from "../../control/limits/inflightLimit.ts";
import { PeerRateLimiter } from "../../control/limits/peerRateLimiter.ts";
import { createLogger } from "../../control/log.ts";
import { loadHealthPackage } from "../../control/api/grpcHealth.ts";
import { defaultSettings } from "../../control/config/settings.ts";
import { serverHardening, UPSTREAM_BOUND_METHODS } from "../../control/security/serverHardening.ts";
import { customer } from "../control/support/syncFixture.ts";
import { bearer, failure, firstStreamMessage, rawUnaryCall, unaryCall } from "./support/grpcCalls.ts";
import { apiDefinitions, client, plane, SYNC } from "./support/plane.ts";

const silent = createLogger("silent");

/** Polls `condition` every 5 ms; fails the test after `timeoutMs` instead of hanging. */
async function until(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function healthDefinition(): grpc.ServiceDefinition {
  const pkg = grpc.loadPackageDefinition(loadHealthPackage()) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  return pkg.grpc.health.v1.Health.service;
}
const BOOLEAN = { customer_id: "customer-free", feature_id: "feature-reports" };

test("refuses a request larger than MAX_RECEIVE_MESSAGE_BYTES with RESOURCE_EXHAUSTED naming the limit", async (t) => {
  const cp = await plane(t, { maxReceiveMessageBytes: 1024 });
  const c = client(t, cp.grpcPort);
  const started = performance.now();
  const err = await failure(unaryCall(c, apiDefinitions().sidecar, "GetBooleanEntitlement", { customer_id: "c".repeat(4000), feature_id: "f" }));
  assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(err.details, /larger than max \(\d+ vs\.? 1024\)/);
  assert.ok(performance.now() - started < 1000);
  // The same server still answers a request within the limit.
  const ok = await unaryCall<{ has_access: boolean }>(c, apiDefinitions().sidecar, "GetBooleanEntitlement", BOOLEAN);
  assert.equal(typeof ok.has_access, "boolean");
  // And the sync port has the same bound.
  const sync = await failure(unaryCall(client(t, cp.syncPort), SYNC, "FetchCustomer", { customerId: "x".repeat(4000) }));
  assert.equal(sync.code, grpc.status.RESOURCE_EXHAUSTED);
});

test("refuses to send a message larger than MAX_SEND_MESSAGE_BYTES with RESOURCE_EXHAUSTED", async (t) => {
  const cp = await plane(t, { maxSendMessageBytes: 1024 });
  for (let i = 0; i < 50; i++) cp.store.upsert(customer(`bulk-${i}`));
  const err = await failure(firstStreamMessage(client(t, cp.syncPort), SYNC, "Subscribe", { nodeId: "envoy" }));
  assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(err.details, /Sent message larger than max \(\d+ vs\. 1024\)/);
});

test("advertises MAX_CONCURRENT_STREAMS to HTTP/2 clients", async (t) => {
  const cp = await plane(t, { maxConcurrentStreams: 7 });
  for (const port of [cp.syncPort, cp.grpcPort]) {
    const session = http2Connect(`http://127.0.0.1:${port}`);
    t.after(() => session.destroy());
    const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve, reject) => {
      session.once("remoteSettings", resolve);
      session.once("error", reject);
    });
    assert.equal(settings.maxConcurrentStreams, 7);
  }
});

test("rate limits direct checks per client: over CHECK_RATE_LIMIT_PER_SECOND gets RESOURCE_EXHAUSTED at once, health is not limited", async (t) => {
  const cp = await plane(t, { checkRateLimitPerSecond: 2, checkRateLimitBurst: 3 });
  const c = client(t, cp.grpcPort);
  const { sidecar, extAuthz } = apiDefinitions();
  // Eight checks at once against a burst of 3: the rest are refused (one more may have refilled meanwhile).
  const started = performance.now();
  const outcomes = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      (i % 2 === 0
        ? unaryCall(c, sidecar, "GetBooleanEntitlement", BOOLEAN)
        : unaryCall(c, extAuthz, "Check", { attributes: { request: { http: { path: "/", headers: {} } } } })
      ).then(
        () => undefined,
        (err: grpc.ServiceError) => err,
      ),
    ),
  );
  const refused = outcomes.filter((o) => o !== undefined);
  assert.ok(refused.length >= 4 && refused.length <= 5, `${refused.length} of 8 refused`);
  for (const err of refused) {
    assert.equal(err.code, grpc.status.RESOURCE_EXHAUSTED);
    assert.match(err.details, /CHECK_RATE_LIMIT_PER_SECOND/);
  }
  assert.ok(performance.now() - started < 1000, "refused without waiting");
  // Health is not a check call: it answers while checks are refused.
  const health = await unaryCall<{ status: string }>(c, healthDefinition(), "Check", { service: "" });
  assert.equal(health.status, "SERVING");
  // A token comes back every 500 ms.
  await new Promise((r) => setTimeout(r, 600));
  await unaryCall(c, sidecar, "GetBooleanEntitlement", BOOLEAN);
});

test("a token bucket per peer: another address keeps its own budget, and the table of peers stays bounded", () => {
  let now = 0;
  const limiter = new PeerRateLimiter({ ratePerSecond: 1, burst: 2, maxPeers: 3, nowMs: () => now });
  assert.deepEqual([limiter.tryTake("a"), limiter.tryTake("a"), limiter.tryTake("a")], [true, true, false]);
  assert.equal(limiter.tryTake("b"), true);
  now += 1000;
  assert.equal(limiter.tryTake("a"), true);
  for (const peer of ["c", "d", "e", "f"]) limiter.tryTake(peer);
  assert.equal(limiter.peers, 3);
});

test("caps calls in progress: over the cap gets RESOURCE_EXHAUSTED at once, the slot comes back when a call ends or is cancelled", async (t) => {
  const limiter = new InflightLimiter(2);
  const pending: (() => void)[] = [];
  const server = await startGrpcServer(
    "127.0.0.1",
    0,
    [
      {
        definition: SYNC,
        handlers: {
          // A fetch that waits on "the upstream" until the test lets it go.
          FetchCustomer: (call: grpc.ServerUnaryCall<{ customerId: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
            if (call.request.customerId === "fast") return callback(null, { version: "1" });
            pending.push(() => callback(null, { version: "1" }));
          },
          Subscribe: (call: grpc.ServerWritableStream<unknown, unknown>) => call.end(),
          ReportUsage: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, { accepted: 0 }),
        },
      },
    ],
    silent,
    { interceptors: [inflightInterceptor({ limiter, methods: methodsNamed(UPSTREAM_BOUND_METHODS), settingName: "MAX_INFLIGHT_UPSTREAM" })] },
  );
  t.after(() => server.close(100));
  const c = client(t, server.port);
  const first = unaryCall(c, SYNC, "FetchCustomer", { customerId: "slow-1" });
  const cancelled = new AbortController();
  const second = new Promise<grpc.ServiceError>((resolve) => {
    const call = c.makeUnaryRequest(
      SYNC.FetchCustomer!.path,
      SYNC.FetchCustomer!.requestSerialize,
      SYNC.FetchCustomer!.responseDeserialize,
      { customerId: "slow-2" },
      new grpc.Metadata(),
      { deadline: Date.now() + 3000 },
      (err) => resolve(err!),
    );
    cancelled.signal.addEventListener("abort", () => call.cancel());
  });
  await until(() => limiter.inflight === 2);

  const started = performance.now();
  const refused = await failure(unaryCall(c, SYNC, "FetchCustomer", { customerId: "fast" }));
  assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(refused.details, /2 calls already in progress \(MAX_INFLIGHT_UPSTREAM\)/);
  assert.ok(performance.now() - started < 500, "refused without queueing");
  // Methods outside the cap are not affected.
  await unaryCall(c, SYNC, "ReportUsage", { nodeId: "n", increments: [] });

  cancelled.abort();
  assert.equal((await second).code, grpc.status.CANCELLED);
  await until(() => limiter.inflight === 1);
  await unaryCall(c, SYNC, "FetchCustomer", { customerId: "fast" });
  pending[0]!();
  await first;
  assert.equal(limiter.inflight, 0);
});

test("HTTP over HTTP_MAX_INFLIGHT answers 503 with Retry-After at once while probes still answer", async (t) => {
  const hardening = serverHardening({ ...defaultSettings(), httpMaxInflight: 1 }, silent);
  let release: (() => void) | undefined;
  const http = await startHealthServer({
    host: "127.0.0.1",
    port: 0,
    livenessPath: "/livez",
    readinessPath: "/readyz",
    readiness: () => ({ ready: true }),
    protect: hardening.http.protect,
    extraRoutes: (app) => {
      app.get("/slow", () => new Promise((resolve) => (release = () => resolve({ ok: true }))));
      app.get("/admin/ping", async () => ({ pong: true }));
    },
  });
  t.after(() => http.close());
  const base = `http://127.0.0.1:${http.port}`;
  const slow = fetch(`${base}/slow`);
  await until(() => release !== undefined);
  const over = await fetch(`${base}/slow`);
  assert.equal(over.status, 503);
  assert.equal(over.headers.get("retry-after"), "1");
  assert.match(((await over.json()) as { reason: string }).reason, /HTTP_MAX_INFLIGHT/);
  assert.equal((await fetch(`${base}/livez`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  release!();
  assert.equal((await slow).status, 200);
  // Without STATUS_ADMIN_TOKEN the admin namespace is closed.
  assert.equal((await fetch(`${base}/admin/ping`)).status, 403);
});

test("admin routes need STATUS_ADMIN_TOKEN as a bearer token", async (t) => {
  const token = "admin-token-0123456789abcdef";
  const hardening = serverHardening({ ...defaultSettings(), statusAdminToken: token }, silent);
  const http = await startHealthServer({
    host: "127.0.0.1",
    port: 0,
    livenessPath: "/livez",
    readinessPath: "/readyz",
    readiness: () => ({ ready: true }),
    protect: hardening.http.protect,
    extraRoutes: (app) => app.get("/admin/ping", async () => ({ pong: true })),
  });
  t.after(() => http.close());
  const base = `http://127.0.0.1:${http.port}`;
  const anonymous = await fetch(`${base}/admin/ping`);
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.headers.get("www-authenticate") ?? "", /^Bearer/);
  assert.equal((await fetch(`${base}/admin/ping`, { headers: { authorization: "Bearer wrong-token-0123456789" } })).status, 401);
  // The router decodes percent-escapes; the guard must judge the route it matched, not the raw text.
  assert.equal((await fetch(`${base}/%61dmin/ping`)).status, 401);
  const admin = await fetch(`${base}/admin/ping`, { headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual(await admin.json(), { pong: true });
  assert.equal((await fetch(`${base}/livez`)).status, 200, "probes never need the token");
});

test("a refusal quoting a huge non-ASCII value is truncated, so the connection and its other calls survive", async (t) => {
  const cp = await plane(t);
  const c = client(t, cp.grpcPort);
  const wide = Array.from({ length: 20_000 }, (_, i) => String.fromCharCode(0x4e00 + (i % 5000))).join("");
  const err = await failure(unaryCall(c, healthDefinition(), "Check", { service: wide }, { deadlineMs: 2000 }));
  assert.equal(err.code, grpc.status.NOT_FOUND);
  assert.match(err.details, /… \(\d+ characters, truncated\)$/);
  assert.ok(err.details.length < 1100);
  const next = await unaryCall<{ status: string }>(c, healthDefinition(), "Check", { service: "" });
  assert.equal(next.status, "SERVING");
});

test("bytes that are not a request message get INVALID_ARGUMENT naming the request, not INTERNAL", async (t) => {
  const cp = await plane(t);
  const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x0a, 0xff]);
  const api = await failure(rawUnaryCall(client(t, cp.grpcPort), apiDefinitions().sidecar, "GetEntitlement", garbage));
  assert.equal(api.code, grpc.status.INVALID_ARGUMENT);
  assert.match(api.details, /^request: not a valid GetEntitlement request message \(/);
  const sync = await failure(rawUnaryCall(client(t, cp.syncPort), SYNC, "FetchCustomer", garbage));
  assert.equal(sync.code, grpc.status.INVALID_ARGUMENT);
  assert.match(sync.details, /^request: not a valid FetchCustomer request message/);
});

test("an unauthenticated call spends no in-flight slot: the token is checked before the limits", async (t) => {
  const token = "sync-token-0123456789abcdef";
  const cp = await plane(t, { syncAuthToken: token, maxInflightUpstream: 1 });
  const c = client(t, cp.syncPort);
  // Many refused calls at once; if they took slots, the authenticated call below would be refused.
  const refused = await Promise.all(Array.from({ length: 20 }, () => failure(unaryCall(c, SYNC, "FetchCustomer", { customerId: "customer-pro" }))));
  assert.ok(refused.every((e) => e.code === grpc.status.UNAUTHENTICATED));
  const ok = await unaryCall<{ entry: { customerId: string } }>(c, SYNC, "FetchCustomer", { customerId: "customer-pro" }, { metadata: bearer(token) });
  assert.equal(ok.entry.customerId, "customer-pro");
});

test("ids longer than the Sidecar API's 1,024 bytes are INVALID_ARGUMENT on FetchCustomer too", async (t) => {
  const cp = await plane(t);
  const c = client(t, cp.syncPort);
  const long = await failure(unaryCall(c, SYNC, "FetchCustomer", { customerId: "c".repeat(1025) }));
  assert.equal(long.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(long.details, "customer_id: must be at most 1024 bytes (got 1025)");
  const resource = await failure(unaryCall(c, SYNC, "FetchCustomer", { customerId: "customer-pro", resourceId: "é".repeat(600) }));
  assert.equal(resource.details, "resource_id: must be at most 1024 bytes (got 1200)");
});

test("a usage timestamp outside years 1 to 9999 is INVALID_ARGUMENT naming the field, not INTERNAL", async (t) => {
  const cp = await plane(t);
  const err = await failure(
    unaryCall(client(t, cp.grpcPort), apiDefinitions().sidecar, "ReportUsage", { customer_id: "customer-pro", feature_id: "feature-api-calls", value: 1, timestamp: { seconds: "9007199254740992", nanos: 0 } }),
  );
  assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(err.details, "timestamp: is outside 0001-01-01 to 9999-12-31");
});
