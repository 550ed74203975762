// The event stream client against a hand-driven graphql-transport-ws server on loopback, for what
// the emulator does not produce: malformed events, server pings, subscription errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { WebSocketServer, type WebSocket } from "ws";
import { EventStream, type EntitlementsUpdate, type EventStreamHandlers } from "../../control/upstream/stigg/eventStream.ts";

interface Server {
  url: string;
  sockets: WebSocket[];
  subscribes: Map<WebSocket, Map<string, string>>;
  received: Record<string, unknown>[];
  close(): Promise<void>;
}

async function startServer(): Promise<Server> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => (protocols.has("graphql-transport-ws") ? "graphql-transport-ws" : false) });
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  const address = wss.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const server: Server = {
    url: `ws://127.0.0.1:${address.port}`,
    sockets: [],
    subscribes: new Map(),
    received: [],
    async close() {
      for (const socket of wss.clients) socket.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
  wss.on("connection", (socket) => {
    server.sockets.push(socket);
    const subscriptions = new Map<string, string>();
    server.subscribes.set(socket, subscriptions);
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString()) as { type: string; id?: string; payload?: { operationName?: string } };
      server.received.push(message);
      if (message.type === "connection_init") socket.send(JSON.stringify({ type: "connection_ack" }));
      if (message.type === "subscribe" && message.id) subscriptions.set(message.payload?.operationName ?? "", message.id);
    });
  });
  return server;
}

function recorder(): { handlers: EventStreamHandlers; updates: EntitlementsUpdate[]; malformed: string[]; connects: boolean[] } {
  const updates: EntitlementsUpdate[] = [];
  const malformed: string[] = [];
  const connects: boolean[] = [];
  return {
    updates,
    malformed,
    connects,
    handlers: {
      entitlementsUpdated: (u) => updates.push(u),
      usageUpdated: () => undefined,
      packagePublished: () => undefined,
      connected: ({ reconnect }) => connects.push(reconnect),
      disconnected: () => undefined,
      authFailed: () => undefined,
      malformed: (what) => malformed.push(what),
    },
  };
}

async function until(condition: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

test("a malformed event is dropped and reported, never applied; a good one after it still arrives", async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const r = recorder();
  const stream = new EventStream({ apiKey: "key-1", wsUrl: server.url, handlers: r.handlers });
  t.after(() => stream.stop());
  stream.start();
  await until(() => (server.subscribes.get(server.sockets[0]!)?.size ?? 0) === 3, "three subscriptions");
  const socket = server.sockets[0]!;
  const id = server.subscribes.get(socket)!.get("OnEntitlementsUpdatedV2")!;
  const send = (entitlements: unknown): void =>
    socket.send(JSON.stringify({ id, type: "next", payload: { data: { entitlementsUpdatedV2: { customerId: "c1", resourceId: null, accessDeniedReason: null, entitlements } } } }));
  send([{ __typename: "FeatureEntitlement", isGranted: true, hasUnlimitedUsage: "yes", feature: { refId: "sso", featureType: "BOOLEAN" } }]);
  socket.send("not json");
  send([{ __typename: "FeatureEntitlement", isGranted: true, hasUnlimitedUsage: false, feature: { refId: "sso", featureType: "BOOLEAN" } }]);
  await until(() => r.updates.length === 1, "the good update");
  assert.equal(r.malformed.length, 2);
  assert.match(r.malformed[0]!, /hasUnlimitedUsage/);
  assert.equal(r.updates[0]?.state?.entitlements.entitlements[0]?.featureId, "sso");
  assert.equal(r.updates[0]?.purge, false);
  assert.equal(stream.healthy, true);
});

test("sends the key in connection_init headers, answers server pings, and subscribes to the three V2 operations", async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const r = recorder();
  const stream = new EventStream({ apiKey: "key-2", wsUrl: server.url, handlers: r.handlers });
  t.after(() => stream.stop());
  stream.start();
  await until(() => r.connects.length === 1, "connected");
  const init = server.received.find((m) => m["type"] === "connection_init") as { payload: { headers: Record<string, string> } };
  assert.equal(init.payload.headers["X-API-KEY"], "key-2");
  assert.equal(init.payload.headers["source"], "NODE_SERVER_SDK");
  await until(() => server.received.filter((m) => m["type"] === "subscribe").length === 3, "subscriptions");
  const operations = server.received.filter((m) => m["type"] === "subscribe").map((m) => (m["payload"] as { operationName: string }).operationName);
  assert.deepEqual(operations.sort(), ["OnEntitlementsUpdatedV2", "OnPackagePublished", "OnUsageUpdatedV2"]);
  server.sockets[0]!.send(JSON.stringify({ type: "ping" }));
  await until(() => server.received.some((m) => m["type"] === "pong"), "a pong");
});

test("a subscription error (e.g. throttling) reconnects with back-off; 'Invalid API key' stops for good", async (t) => {
  const server = await startServer();
  t.after(() => server.close());
  const r = recorder();
  const stream = new EventStream({ apiKey: "key-3", wsUrl: server.url, handlers: r.handlers, backoffBaseMs: 20, backoffMaxMs: 50, backoffMinMs: 5 });
  t.after(() => stream.stop());
  stream.start();
  await until(() => (server.subscribes.get(server.sockets[0]!)?.size ?? 0) === 3, "first subscriptions");
  const first = server.sockets[0]!;
  const id = server.subscribes.get(first)!.get("OnUsageUpdatedV2")!;
  first.send(JSON.stringify({ id, type: "error", payload: [{ message: "ThrottlerException: Too Many Requests" }] }));
  await until(() => r.connects.length === 2, "the reconnect");
  assert.deepEqual(r.connects, [false, true]);
  await until(() => (server.subscribes.get(server.sockets[1]!)?.size ?? 0) === 3, "second subscriptions");
  const second = server.sockets[1]!;
  const id2 = server.subscribes.get(second)!.get("OnEntitlementsUpdatedV2")!;
  second.send(JSON.stringify({ id: id2, type: "error", payload: [{ message: "Invalid API key" }] }));
  await until(() => stream.state === "auth-failed", "auth-failed");
  await sleep(150);
  assert.equal(server.sockets.length, 2, "no further connection");
});
