// Fuzzes Stigg's real-time event stream as the control plane receives it: a graphql-transport-ws server
// on loopback acknowledges the control plane's EventStream, then sends `next` messages built from the
// Stigg emulator's own event shapes and mutated (values retyped, removed, unknown keys, hostile numbers),
// plus random JSON, random text and unknown message types. Passing means: nothing throws out of the
// client, every event handed on is complete (finite usage, encodable entitlements), everything else is
// reported as malformed, and the stream still delivers a valid event at the end.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { WebSocketServer, type WebSocket } from "ws";
import { encodeEntry } from "../../control/codec/entryCodec.ts";
import { EventStream, type EntitlementsUpdate, type UsageUpdate } from "../../control/upstream/stigg/eventStream.ts";
import { CustomerStore, entitlementUnionList } from "../stigg/customers.ts";
import { ACME, PERIOD_END, PERIOD_START } from "../stigg/fixtures.ts";
import { cases, fuzzSeed, Random } from "./support/random.ts";

interface Connection {
  socket: WebSocket;
  ids: Map<string, string>;
}

test("fuzzed event-stream messages are applied complete or reported malformed, never thrown", async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  console.log(`# event stream fuzz: FUZZ_SEED=${seed}`);
  const random = new Random(seed);
  const store = new CustomerStore();
  store.set("acme", ACME, PERIOD_START);
  const entity = store.entity("acme", undefined);
  const samples: Record<string, unknown> = {
    OnEntitlementsUpdatedV2: { entitlementsUpdatedV2: { customerId: "acme", resourceId: null, accessDeniedReason: null, entitlements: entitlementUnionList(entity) } },
    OnUsageUpdatedV2: {
      usageUpdatedV2: {
        customerId: "acme",
        resourceId: null,
        entitlementReference: { id: "api-calls", type: "FEATURE" },
        usage: { currentUsage: 41, usageUpdatedAt: new Date(PERIOD_START).toISOString(), usagePeriodStart: new Date(PERIOD_START).toISOString(), usagePeriodEnd: new Date(PERIOD_END).toISOString() },
      },
    },
    OnPackagePublished: { packagePublished: { accountId: "a", environmentId: "e", packageType: "PLAN", packageRefId: "p", packageVersion: 2, migrationType: "NEW_CUSTOMERS" } },
  };
  const jsonSamples = JSON.parse(JSON.stringify(samples)) as Record<string, unknown>;

  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, handleProtocols: (protocols) => (protocols.has("graphql-transport-ws") ? "graphql-transport-ws" : false) });
  await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
  const connections: Connection[] = [];
  const subscribed: (() => void)[] = [];
  wss.on("connection", (socket) => {
    const connection: Connection = { socket, ids: new Map() };
    connections.push(connection);
    socket.on("message", (data) => {
      const message = JSON.parse(String(data)) as { type: string; id?: string; payload?: { operationName?: string } };
      if (message.type === "connection_init") socket.send(JSON.stringify({ type: "connection_ack" }));
      else if (message.type === "ping") socket.send(JSON.stringify({ type: "pong" }));
      else if (message.type === "subscribe" && message.id && message.payload?.operationName) {
        connection.ids.set(message.payload.operationName, message.id);
        if (connection.ids.size === 3) subscribed.splice(0).forEach((f) => f());
      }
    });
  });

  const problems: string[] = [];
  const seen = { entitlements: 0, purges: 0, usage: 0, packages: 0, malformed: 0, disconnects: 0 };
  const checkEntitlements = (u: EntitlementsUpdate): void => {
    if (typeof u.customerId !== "string" || u.customerId === "") problems.push(`entitlements update without a customer id: ${JSON.stringify(u)}`);
    if (u.purge) return void seen.purges++;
    seen.entitlements++;
    if (!u.state) return void problems.push("a non-purge update without state");
    for (const e of u.state.entitlements.entitlements) {
      for (const [k, v] of Object.entries(e)) if (typeof v === "number" && !Number.isFinite(v)) problems.push(`${e.featureId}.${k} is ${v}`);
    }
    try {
      encodeEntry(u.state.entitlements);
    } catch (err) {
      problems.push(`applied update not encodable: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  const checkUsage = (u: UsageUpdate): void => {
    seen.usage++;
    if (!Number.isFinite(u.currentUsage) || u.featureId === "" || u.customerId === "") problems.push(`usage update ${JSON.stringify(u)}`);
    for (const d of [u.usagePeriodStart, u.usagePeriodEnd]) if (d !== undefined && !Number.isFinite(d)) problems.push(`usage period ${d}`);
  };
  let lastUsage: UsageUpdate | undefined;
  const stream = new EventStream({
    apiKey: "fuzz-key",
    wsUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`,
    pingIntervalMs: 60_000,
    backoffBaseMs: 5,
    backoffMaxMs: 20,
    backoffMinMs: 1,
    handlers: {
      entitlementsUpdated: checkEntitlements,
      usageUpdated: (u) => {
        lastUsage = u;
        checkUsage(u);
      },
      packagePublished: () => void seen.packages++,
      connected: () => undefined,
      disconnected: () => void seen.disconnects++,
      authFailed: (reason) => problems.push(`auth failed: ${reason}`),
      malformed: () => void seen.malformed++,
    },
  });
  t.after(async () => {
    stream.stop();
    for (const c of connections) c.socket.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });
  const ready = new Promise<void>((resolve) => subscribed.push(resolve));
  stream.start();
  await ready;
  const live = connections.at(-1)!;

  const total = cases(800);
  for (let i = 0; i < total; i++) {
    const roll = random.int(20);
    let text: string;
    if (roll < 15) {
      const operation = random.pick(Object.keys(jsonSamples));
      const data = roll < 12 ? random.mutate(jsonSamples[operation]) : random.mutate(random.mutate(random.mutate(jsonSamples[operation])));
      text = JSON.stringify({ id: live.ids.get(operation), type: "next", payload: { data } });
    } else if (roll < 17) {
      text = JSON.stringify(random.mutate({ id: live.ids.get("OnUsageUpdatedV2"), type: "next", payload: { data: jsonSamples["OnUsageUpdatedV2"] } }));
    } else if (roll < 18) {
      text = JSON.stringify(random.json(3));
    } else if (roll < 19) {
      text = random.string();
    } else {
      text = JSON.stringify({ type: random.pick(["ping", "pong", "bogus", random.string().slice(0, 20)]) });
    }
    live.socket.send(text);
  }
  // A final valid event proves the stream survived everything before it.
  live.socket.send(JSON.stringify({ id: live.ids.get("OnUsageUpdatedV2"), type: "next", payload: { data: { usageUpdatedV2: { ...(jsonSamples["OnUsageUpdatedV2"] as { usageUpdatedV2: object }).usageUpdatedV2, usage: { currentUsage: 777 } } } } }));
  const deadline = Date.now() + 3000;
  while (lastUsage?.currentUsage !== 777) {
    assert.ok(Date.now() < deadline, `FUZZ_SEED=${seed}: the final valid event never arrived (state ${stream.state})`);
    await new Promise((r) => setTimeout(r, 5));
  }
  t.diagnostic(`${total} messages: ${JSON.stringify(seen)}`);
  assert.deepEqual(problems.slice(0, 10), [], `FUZZ_SEED=${seed}: ${problems.length} problems`);
  assert.ok(seen.malformed > 0 && seen.entitlements + seen.usage > 0, "both outcomes exercised");
});
