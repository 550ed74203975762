// SYNC_AUTH_TOKEN: every FilterSync call needs `authorization: Bearer <token>`.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { BearerToken } from "../../control/security/bearerToken.ts";
import { bearer, failure, firstStreamMessage, unaryCall } from "./support/grpcCalls.ts";
import { client, plane, SYNC } from "./support/plane.ts";

const TOKEN = "s3cr3t-sync-token-0123456789abcdef";

test("refuses a Subscribe without a bearer token as UNAUTHENTICATED when SYNC_AUTH_TOKEN is set", async (t) => {
  const cp = await plane(t, { syncAuthToken: TOKEN });
  const err = await failure(firstStreamMessage(client(t, cp.syncPort), SYNC, "Subscribe", { nodeId: "intruder" }));
  assert.equal(err.code, grpc.status.UNAUTHENTICATED);
  assert.match(err.details, /missing authorization/);
  assert.equal(cp.sync.subscriberCount, 0, "a refused call never became a subscriber");
});

test("refuses a wrong token on every FilterSync method", async (t) => {
  const cp = await plane(t, { syncAuthToken: TOKEN });
  const c = client(t, cp.syncPort);
  const wrong = { metadata: bearer(TOKEN.slice(0, -1) + "X") };
  const subscribe = await failure(firstStreamMessage(c, SYNC, "Subscribe", { nodeId: "x" }, wrong));
  const fetch = await failure(unaryCall(c, SYNC, "FetchCustomer", { customerId: "customer-pro" }, wrong));
  const report = await failure(unaryCall(c, SYNC, "ReportUsage", { nodeId: "x", increments: [] }, wrong));
  for (const err of [subscribe, fetch, report]) {
    assert.equal(err.code, grpc.status.UNAUTHENTICATED);
    assert.equal(err.details, "invalid bearer token");
  }
  const metrics = await (await globalThis.fetch(`http://127.0.0.1:${cp.httpPort}/metrics`)).text();
  assert.match(metrics, /entitlement_gate_refused_calls_total\{server="sync",reason="unauthenticated"\} 3/);
});

test("refuses the token sent under another scheme", async (t) => {
  const cp = await plane(t, { syncAuthToken: TOKEN });
  const c = client(t, cp.syncPort);
  const basic = new grpc.Metadata();
  basic.set("authorization", `Basic ${TOKEN}`);
  assert.equal((await failure(unaryCall(c, SYNC, "FetchCustomer", { customerId: "a" }, { metadata: basic }))).code, grpc.status.UNAUTHENTICATED);
});

test("streams the snapshot to a filter presenting the right token", async (t) => {
  const cp = await plane(t, { syncAuthToken: TOKEN });
  const c = client(t, cp.syncPort);
  const first = await firstStreamMessage<{ kind: string; entries: unknown[] }>(c, SYNC, "Subscribe", { nodeId: "envoy-1" }, { metadata: bearer(TOKEN) });
  assert.equal(first.kind, "MESSAGE_KIND_SNAPSHOT");
  assert.ok(first.entries.length > 0);
  const fetched = await unaryCall<{ entry: { customerId: string } }>(c, SYNC, "FetchCustomer", { customerId: "customer-pro" }, { metadata: bearer(TOKEN) });
  assert.equal(fetched.entry.customerId, "customer-pro");
});

test("leaves FilterSync open without SYNC_AUTH_TOKEN (the default)", async (t) => {
  const cp = await plane(t);
  const first = await firstStreamMessage<{ kind: string }>(client(t, cp.syncPort), SYNC, "Subscribe", { nodeId: "envoy-1" });
  assert.equal(first.kind, "MESSAGE_KIND_SNAPSHOT");
});

test("compares tokens by digest: right token accepted, any other string refused", () => {
  const token = new BearerToken(TOKEN);
  assert.equal(token.accepts(`Bearer ${TOKEN}`), true);
  assert.equal(token.accepts(`bearer ${TOKEN}`), true, "the scheme is case-insensitive (RFC 6750)");
  for (const other of [undefined, "", "Bearer", `Bearer ${TOKEN}x`, `Bearer ${TOKEN.toUpperCase()}`, `Bearer  ${TOKEN} extra`, TOKEN]) {
    assert.equal(token.accepts(other), false, String(other));
  }
});
