import { after, afterEach, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { WebSocket } from "ws";
import { startStiggEmulator, type StiggEmulator } from "./emulator.ts";
import { ACME, SUBSCRIBE_PACKAGE_PUBLISHED, postGraphql } from "./fixtures.ts";
import { WsTestClient } from "./wsTestClient.ts";

describe("Stigg emulator fault injection", () => {
  let emulator: StiggEmulator;
  const edge = (customerId = "acme"): Promise<Response> =>
    fetch(`${emulator.edgeUrl}/v1/c/${customerId}/entitlements-state.json`, { headers: { "X-API-KEY": emulator.apiKey } });

  before(async () => {
    emulator = await startStiggEmulator({ customers: { acme: ACME } });
  });
  afterEach(() => emulator.clearFaults());
  after(() => emulator.close());

  test("rateLimit answers 429 with Stigg's body and no Retry-After, for `times` requests only", async () => {
    emulator.setFault("edge", { kind: "rateLimit", times: 2 });
    for (let i = 0; i < 2; i++) {
      const limited = await edge();
      assert.equal(limited.status, 429);
      assert.equal(limited.headers.get("retry-after"), null);
      assert.deepEqual(await limited.json(), { error: "rate_limit_exceeded", message: "Too many requests" });
    }
    assert.equal((await edge()).status, 200);
  });

  test("serverError answers the chosen 5xx", async () => {
    emulator.setFault("edge", { kind: "serverError", status: 503 });
    assert.equal((await edge()).status, 503);
  });

  test("malformedJson answers 200 with a complete but truncated JSON body", async () => {
    emulator.setFault("edge", { kind: "malformedJson" });
    const response = await edge();
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.ok(text.startsWith('{"data":'));
    assert.throws(() => JSON.parse(text));
  });

  test("wrongTypes keeps the structure but turns numbers and booleans into strings", async () => {
    emulator.setFault("edge", { kind: "wrongTypes" });
    const body = (await (await edge()).json()) as { data: { entitlementsState: { entitlementsV2: Record<string, unknown>[] } } };
    const calls = body.data.entitlementsState.entitlementsV2.find((e) => e["usageLimit"] !== null) as Record<string, unknown>;
    assert.equal(calls["usageLimit"], "100");
    assert.equal(calls["isGranted"], "true");
  });

  test("hugePayload answers a valid body of at least the requested size", async () => {
    emulator.setFault("edge", { kind: "hugePayload", hugeBytes: 2_000_000 });
    const text = await (await edge()).text();
    assert.ok(text.length >= 2_000_000, `body was ${text.length} bytes`);
    const body = JSON.parse(text) as { data: { entitlementsState: { entitlementsV2: unknown[] } } };
    assert.ok(body.data.entitlementsState.entitlementsV2.length > 1000);
  });

  test("dropSocket cuts the connection mid-body", async () => {
    emulator.setFault("edge", { kind: "dropSocket" });
    await assert.rejects(async () => (await edge()).text());
    assert.equal(emulator.requests.at(-1)?.status, "dropped");
  });

  test("latency delays the answer by at least latencyMs", async () => {
    emulator.setFault("edge", { latencyMs: 120 });
    const started = performance.now();
    assert.equal((await edge()).status, 200);
    assert.ok(performance.now() - started >= 115);
  });

  test("GraphQL faults leave Edge alone, and Edge faults leave GraphQL alone", async () => {
    emulator.setFault("graphql", { kind: "serverError", status: 502 });
    const { status } = await postGraphql(emulator.graphqlUrl, emulator.apiKey, "GetSdkConfiguration", "query GetSdkConfiguration { sdkConfiguration { sentryDsn } }");
    assert.equal(status, 502);
    assert.equal((await edge()).status, 200);
    emulator.clearFaults();
    emulator.setFault("edge", { kind: "rateLimit" });
    const ok = await postGraphql(emulator.graphqlUrl, emulator.apiKey, "GetSdkConfiguration", "query GetSdkConfiguration { sdkConfiguration { sentryDsn } }");
    assert.equal(ok.status, 200);
  });

  test("GraphQL body faults shape the GraphQL answer: truncated, mistyped, padded", async () => {
    const ask = () =>
      fetch(emulator.graphqlUrl, {
        method: "POST",
        headers: { "content-type": "application/json", "X-API-KEY": emulator.apiKey },
        body: JSON.stringify({ query: "query State { entitlementsState(query: {customerId: \"acme\"}) { entitlementsV2 { ... on FeatureEntitlement { usageLimit } } } }" }),
      });
    emulator.setFault("graphql", { kind: "malformedJson", times: 1 });
    const truncated = await (await ask()).text();
    assert.throws(() => JSON.parse(truncated), SyntaxError);
    emulator.setFault("graphql", { kind: "wrongTypes", times: 1 });
    const mistyped = (await (await ask()).json()) as { data: { entitlementsState: { entitlementsV2: { usageLimit: unknown }[] } } };
    assert.ok(mistyped.data.entitlementsState.entitlementsV2.some((e) => e.usageLimit === "100"));
    emulator.setFault("graphql", { kind: "hugePayload", hugeBytes: 100_000, times: 1 });
    const padded = await (await ask()).text();
    assert.ok(padded.length >= 100_000);
    assert.ok(JSON.parse(padded));
  });

  test("GraphQL rateLimit answers 429 with the rate-limit body", async () => {
    emulator.setFault("graphql", { kind: "rateLimit", times: 1 });
    const response = await fetch(emulator.graphqlUrl, {
      method: "POST",
      headers: { "content-type": "application/json", "X-API-KEY": emulator.apiKey },
      body: JSON.stringify({ query: "{ sdkConfiguration { sentryDsn } }" }),
    });
    assert.equal(response.status, 429);
    assert.equal(((await response.json()) as { error: string }).error, "rate_limit_exceeded");
  });

  test("a silent WebSocket stays open but sends nothing, not even pongs, until the fault clears", async () => {
    const client = await WsTestClient.connect(emulator.wsEndpointUrl, emulator.apiKey);
    try {
      client.subscribe("p", SUBSCRIBE_PACKAGE_PUBLISHED);
      await emulator.waitForSubscription("packagePublished");
      emulator.setFault("ws", { silent: true });
      const before = client.messages.length;
      client.send({ type: "ping" });
      emulator.publishPackage("ALL_CUSTOMERS");
      let wsPong = false;
      client.socket.once("pong", () => void (wsPong = true));
      client.socket.ping();
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(client.messages.length, before);
      assert.equal(wsPong, false);
      assert.equal(client.socket.readyState, WebSocket.OPEN);
      assert.equal(emulator.events.at(-1)?.delivered, 0);
      emulator.clearFaults();
      client.send({ type: "ping" });
      assert.ok(await client.next((m) => m.type === "pong"));
    } finally {
      client.close();
    }
  });

  test("WebSocket latency delays every server message", async () => {
    const client = await WsTestClient.connect(emulator.wsEndpointUrl, emulator.apiKey);
    try {
      emulator.setFault("ws", { latencyMs: 100 });
      const started = performance.now();
      client.send({ type: "ping" });
      await client.next((m) => m.type === "pong");
      assert.ok(performance.now() - started >= 95);
    } finally {
      client.close();
    }
  });

  test("subscribeError answers new subscriptions with an error message and registers none", async () => {
    const client = await WsTestClient.connect(emulator.wsEndpointUrl, emulator.apiKey);
    try {
      emulator.setFault("ws", { subscribeError: "ThrottlerException: Too Many Requests" });
      client.subscribe("t", SUBSCRIBE_PACKAGE_PUBLISHED);
      const error = await client.next((m) => m.id === "t");
      assert.equal(error.type, "error");
      assert.deepEqual(error.payload, [{ message: "ThrottlerException: Too Many Requests" }]);
      assert.equal(emulator.subscriptions().length, 0);
    } finally {
      client.close();
    }
  });

  test("refuseConnections answers new upgrades with 503; open sockets stay", async () => {
    const open = await WsTestClient.connect(emulator.wsEndpointUrl, emulator.apiKey);
    try {
      emulator.setFault("ws", { refuseConnections: true });
      await assert.rejects(WsTestClient.open(emulator.wsEndpointUrl), /503/);
      assert.equal(open.socket.readyState, WebSocket.OPEN);
      assert.equal(emulator.requestCount("refused"), 1);
    } finally {
      open.close();
    }
  });

  test("dropWebSockets cuts every socket abruptly, or with a close code when given", async () => {
    const a = await WsTestClient.connect(emulator.wsEndpointUrl, emulator.apiKey);
    const b = await WsTestClient.connect(emulator.wsEndpointUrl, emulator.apiKey);
    emulator.dropWebSockets();
    assert.equal(await a.closed(), 1006);
    assert.equal(await b.closed(), 1006);
    const c = await WsTestClient.connect(emulator.wsEndpointUrl, emulator.apiKey);
    emulator.dropWebSockets(1012, "Service restart");
    assert.equal(await c.closed(), 1012);
    await emulator.waitUntil(() => emulator.webSocketCount() === 0, 1000, "sockets to be gone");
  });

  test("the Edge rate limit answers 429 past N requests per key in the window, then recovers", async () => {
    emulator.setEdgeRateLimit({ requests: 3, windowMs: 150 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++) statuses.push((await edge()).status);
      assert.deepEqual(statuses, [200, 200, 200, 429]);
      await new Promise((resolve) => setTimeout(resolve, 170));
      assert.equal((await edge()).status, 200);
    } finally {
      emulator.setEdgeRateLimit(undefined);
    }
  });

  test("closing the emulator does not wait for a request held by latency", async () => {
    const slow = await startStiggEmulator({ customers: { acme: ACME } });
    slow.setFault("edge", { latencyMs: 60_000 });
    const pending = fetch(`${slow.edgeUrl}/v1/c/acme/entitlements-state.json`, { headers: { "X-API-KEY": slow.apiKey } });
    await new Promise((resolve) => setTimeout(resolve, 30));
    const started = performance.now();
    await slow.close();
    await assert.rejects(pending);
    assert.ok(performance.now() - started < 1000);
  });

  test("/health is exempt from faults", async () => {
    emulator.setFault("edge", { kind: "rateLimit" });
    const response = await new Promise<number>((resolve, reject) => {
      request(`${emulator.url}/health`, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
        .on("error", reject)
        .end();
    });
    assert.equal(response, 200);
  });
});
