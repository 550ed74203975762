// Stigg entirely unreachable (connections refused), then back on the same address; and the Edge
// budget that revalidation after a reconnect keeps to.
import assert from "node:assert/strict";
import { createServer, connect, type Server, type Socket } from "node:net";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { StiggUpstream } from "../../control/upstream/stigg/stiggUpstream.ts";
import { startStiggEmulator, type CustomerSpec } from "../stigg/emulator.ts";
import { ACME, startHarness } from "./stiggUpstreamHarness.ts";

/** A TCP forwarder on loopback that can be taken down (refusing connections) and brought back on its port. */
class Outage {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: number) {}

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    const address = server.address();
    if (address && typeof address === "object") this.port = address.port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

test("with Stigg unreachable reads answer stale or unavailable within the miss timeout, and everything recovers when it is back", async (t) => {
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const outage = new Outage(stigg.port);
  await outage.up();
  t.after(() => outage.down());
  const base = `http://127.0.0.1:${outage.port}`;
  const store = new EntitlementStore();
  const upstream = new StiggUpstream({
    apiKey: stigg.apiKey,
    apiUrl: base,
    edgeApiUrl: base,
    wsUrl: `ws://127.0.0.1:${outage.port}`,
    cacheMaxSizeBytes: 1024 * 1024,
    missTimeoutMs: 300,
    maxStalenessSeconds: 3600,
    edgeBudgetPerMinute: 6000,
    store,
    logger: createLogger("silent"),
    metrics: new Metrics({ processMetrics: false }),
    // Values age out at once while the stream is down, so every read during the outage tries Stigg.
    tuning: { unstreamedTtlMs: 1, reconnectBackoffBaseMs: 20, reconnectBackoffMaxMs: 100 },
  });
  t.after(() => upstream.stop());
  await upstream.start(store);
  await stigg.waitUntil(() => upstream.stream?.healthy === true, 3000, "the stream");
  const before = await upstream.reader.read("acme", undefined);
  assert.equal(before.source, "upstream");

  await outage.down();
  await stigg.waitUntil(() => upstream.stream?.healthy === false, 2000, "the stream to notice");
  stigg.setCustomer("acme", { entitlements: { sso: { featureType: "BOOLEAN" }, added: { featureType: "BOOLEAN" } } });
  for (const [id, expected] of [
    ["acme", "stale"],
    ["someone-new", "unavailable"],
  ] as const) {
    const start = performance.now();
    const result = await upstream.reader.read(id, undefined);
    const ms = performance.now() - start;
    assert.equal(result.source, expected, result.error);
    assert.ok(ms < 400, `${id} answered in ${ms.toFixed(0)} ms`);
  }
  assert.deepEqual(store.get("acme")?.value, before.entry, "the last good value is kept");

  await outage.up();
  // No call needed: the stream reconnects and revalidation fetches the change it missed.
  await stigg.waitUntil(() => store.get("acme")?.value.entitlements.some((e) => e.featureId === "added") === true, 5000, "recovery");
  assert.equal(upstream.stream?.healthy, true);
  const after = await upstream.reader.read("acme", undefined);
  assert.equal(after.source, "cache");
});

test("revalidation after a reconnect goes most recently used first, within its share of the Edge budget, and live misses still get through", async () => {
  const customers: Record<string, CustomerSpec> = {};
  for (let i = 0; i < 12; i++) customers[`c${i}`] = { entitlements: { sso: { featureType: "BOOLEAN" } } };
  customers["late"] = { entitlements: { sso: { featureType: "BOOLEAN" } } };
  // 600/min: revalidation may use 300/min (5/s, burst 5); one fetch at a time to see the order.
  const h = await startHarness({ edgeBudgetPerMinute: 600, missTimeoutMs: 1000, tuning: { revalidationConcurrency: 1 } }, { customers });
  try {
    for (let i = 0; i < 12; i++) assert.equal((await h.upstream.reader.read(`c${i}`, undefined)).source, "upstream");
    assert.equal((await h.upstream.reader.read("c3", undefined)).source, "cache");
    assert.equal((await h.upstream.reader.read("c7", undefined)).source, "cache");
    await sleep(1000); // let the Edge client's own bucket refill
    h.stigg.resetLogs();

    h.stigg.dropWebSockets();
    await h.stigg.waitUntil(() => h.upstream.reader.revalidation.runs === 1, 3000, "a revalidation run");
    const live = await h.upstream.reader.read("late", undefined);
    assert.equal(live.source, "upstream", live.error);
    await sleep(500);
    const revalidated = h.stigg.requests.filter((r) => r.endpoint === "entitlements-state" && r.customerId !== "late").map((r) => r.customerId);
    assert.deepEqual(revalidated.slice(0, 2), ["c7", "c3"], "most recently used first");
    // Burst of 5, then 5/s: about 7 in 500 ms, far from all 12.
    assert.ok(revalidated.length >= 3 && revalidated.length <= 9, `${revalidated.length} revalidation requests in 500 ms`);
    assert.equal(h.store.size, 13, "nothing was flushed");
  } finally {
    await h.close();
  }
});
