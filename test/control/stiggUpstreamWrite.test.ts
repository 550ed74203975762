import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, test } from "node:test";
import { UpstreamError } from "../../control/read/readTypes.ts";
import { GraphqlClient, StiggGraphqlError } from "../../control/upstream/stigg/graphqlClient.ts";
import { startHarness, metricValue, type Harness } from "./stiggUpstreamHarness.ts";

describe("Stigg writer", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(async () => {
    await h.close();
  });

  test("ReportUsage reaches Stigg and updates the cached usage from the answer", async () => {
    await h.upstream.reader.read("acme", undefined);
    const ack = await h.upstream.usage.reportUsage({ customerId: "acme", featureId: "api-calls", value: 5, timestamp: Date.parse("2026-01-01T00:00:00Z"), dimensions: { region: "eu" } });
    assert.equal(ack.customerId, "acme");
    assert.equal(ack.featureId, "api-calls");
    assert.equal(ack.currentUsage, 45);
    assert.ok(ack.measurementId);
    assert.ok(ack.usagePeriodEnd !== undefined && ack.usagePeriodEnd > Date.now());
    assert.equal(h.stigg.usageOf("acme", "api-calls"), 45);
    const reported = h.stigg.reportedUsage.at(-1);
    assert.equal(reported?.value, 5);
    // Without waiting for the usage event: the mutation's answer is applied at once.
    assert.equal(h.store.get("acme")?.value.entitlements.find((e) => e.featureId === "api-calls")?.currentUsage, 45);
    assert.equal(h.stigg.requestCount("ReportUsage"), 1);
  });

  test("ReportUsageBulk reaches Stigg with SET behaviour and returns one ack per usage", async () => {
    const acks = await h.upstream.usage.reportUsageBulk([
      { customerId: "acme", featureId: "api-calls", value: 10, updateBehavior: "SET" },
      { customerId: "acme", featureId: "api-calls", value: 2 },
    ]);
    assert.deepEqual(acks.map((a) => a.currentUsage), [10, 12]);
    assert.equal(h.stigg.usageOf("acme", "api-calls"), 12);
    assert.equal(h.stigg.requestCount("ReportUsageBulk"), 1);
  });

  test("ReportEvent sends every event once", async () => {
    await h.upstream.usage.reportEvents([
      { eventName: "page-view", customerId: "acme", idempotencyKey: "k-1", dimensions: { path: "/" }, timestamp: Date.now() },
      { eventName: "page-view", customerId: "acme", idempotencyKey: "k-2", resourceId: "site-1" },
    ]);
    assert.deepEqual(h.stigg.reportedEvents.map((e) => e.idempotencyKey), ["k-1", "k-2"]);
    assert.equal(h.stigg.requestCount("ReportEvent"), 1);
  });

  test("a rejected usage report surfaces as UpstreamError 'rejected' with Stigg's code", async () => {
    await assert.rejects(h.upstream.usage.reportUsage({ customerId: "acme", featureId: "no-such-feature", value: 1 }), (error: unknown) => {
      assert.ok(error instanceof StiggGraphqlError);
      assert.equal(error.kind, "rejected");
      assert.equal(error.details.code, "FeatureNotFound");
      return true;
    });
  });

  test("a GraphQL outage surfaces as UpstreamError 'unavailable' and a write is not retried blindly", async () => {
    h.stigg.setFault("graphql", { kind: "serverError", status: 502 });
    const before = h.stigg.requestCount("ReportUsage");
    await assert.rejects(h.upstream.usage.reportUsage({ customerId: "acme", featureId: "api-calls", value: 1 }), (error: unknown) => {
      assert.ok(error instanceof UpstreamError);
      assert.equal(error.kind, "unavailable");
      return true;
    });
    assert.equal(h.stigg.requestCount("ReportUsage") - before, 1);
    h.stigg.clearFaults();
  });

  test("a slow GraphQL write surfaces as UpstreamError 'timeout' within the caller's bound", async () => {
    h.stigg.setFault("graphql", { latencyMs: 2000 });
    const start = performance.now();
    await assert.rejects(h.upstream.usage.reportEvents([{ eventName: "e", customerId: "acme", idempotencyKey: "slow" }], { timeoutMs: 100 }), (error: unknown) => {
      assert.ok(error instanceof UpstreamError);
      assert.equal(error.kind, "timeout");
      return true;
    });
    assert.ok(performance.now() - start < 500);
    h.stigg.clearFaults();
  });
});

describe("GraphQL client", () => {
  test("a refused key is UpstreamError 'unauthenticated' and counts as an invalid-key error", async () => {
    const h = await startHarness({ apiKey: "not-the-key", wsEnabled: false });
    try {
      await assert.rejects(h.upstream.usage.reportUsage({ customerId: "acme", featureId: "api-calls", value: 1 }), (error: unknown) => {
        assert.ok(error instanceof UpstreamError);
        assert.equal(error.kind, "unauthenticated");
        return true;
      });
      assert.ok((await metricValue(h.metrics, "sidecar_invalid_api_key_errors_total")) >= 2);
      assert.equal(await metricValue(h.metrics, "entitlement_gate_upstream_api_key_valid"), 0);
    } finally {
      await h.close();
    }
  });

  test("reads are retried on 5xx, with the operation name header on every attempt", async () => {
    let calls = 0;
    const seen: string[] = [];
    const server = createServer((req, res) => {
      calls++;
      seen.push(String(req.headers["x-graphql-operation-name"]));
      req.resume();
      if (calls < 3) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ data: { entitlementsState: { accessDeniedReason: null, entitlementsV2: [] } } }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address && typeof address === "object");
    const client = new GraphqlClient({ apiKey: "k", apiUrl: `http://127.0.0.1:${address.port}`, backoffBaseMs: 1, backoffMaxMs: 5 });
    try {
      const state = await client.getEntitlementsState("c1", undefined);
      assert.equal(state.entitlements.customerId, "c1");
      assert.equal(calls, 3);
      assert.deepEqual(seen, ["GetEntitlementsState", "GetEntitlementsState", "GetEntitlementsState"]);
    } finally {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a garbage body is UpstreamError 'internal', never a value", async () => {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"data":{"entitlementsState":{"entitlementsV2":[{"feature":{"refId":"x","featureType":"NUMBER"},"usageLimit":"ten"}]}}}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address && typeof address === "object");
    const client = new GraphqlClient({ apiKey: "k", apiUrl: `http://127.0.0.1:${address.port}` });
    try {
      await assert.rejects(client.getEntitlementsState("c1", undefined), (error: unknown) => {
        assert.ok(error instanceof UpstreamError);
        assert.equal(error.kind, "internal");
        assert.match(error.message, /usageLimit/);
        return true;
      });
    } finally {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test("a write to a port nobody listens on is retried (nothing was sent) and then fails as 'unavailable'", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    assert.ok(address && typeof address === "object");
    await new Promise((resolve) => server.close(resolve));
    const client = new GraphqlClient({ apiKey: "k", apiUrl: `http://127.0.0.1:${address.port}`, backoffBaseMs: 1, backoffMaxMs: 2 });
    try {
      await assert.rejects(client.reportUsage({ customerId: "c", featureId: "f", value: 1 }), (error: unknown) => {
        assert.ok(error instanceof StiggGraphqlError);
        assert.equal(error.kind, "unavailable");
        assert.equal(error.details.attempts, 3);
        return true;
      });
    } finally {
      client.close();
    }
  });
});
