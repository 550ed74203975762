// Misses: a customer absent from shared data is fetched from the control plane (FetchCustomer) while the
// request waits; every concurrent miss for that customer on a worker shares one call; the answer is
// written to shared data; a timeout or an unreachable control plane hands the decision to the fallback.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "./support/builtWasm.ts";
import { boolean, seedCache } from "./support/cacheSeed.ts";
import { startControlPlaneRig, type ControlPlaneRig } from "./support/controlPlaneRig.ts";

const VM_ID = "eg";
const CATALOGUE = `
customers:
  acme:
    entitlements:
      reports: { featureType: BOOLEAN }
  basic:
    entitlements:
      other: { featureType: BOOLEAN }
`;

const req = (customer: string, path = "/reports", worker = 0): { headers: Array<[string, string]>; worker: number } => ({
  headers: [[":method", "GET"], [":path", path], [":authority", "shop.example"], ["x-customer-id", customer]],
  worker,
});

function reason(result: HttpResult): string {
  return result.kind === "localReply" ? JSON.parse(result.body).reason : "allow";
}

async function filterFor(port: number, onMiss: object, extra: object = {}): Promise<{ host: EnvoyHost; filter: HttpFilter }> {
  const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port } } });
  const filter = await host.addHttpFilter({
    vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, workers: 2,
    configuration: JSON.stringify({ onMiss, rules: [{ pathPrefix: "/reports", feature: "reports" }], ...extra }),
  });
  assert.deepEqual(filter.configureResults, [true, true]);
  seedCache(host, VM_ID, [{ customerId: "cached", entitlements: [boolean("reports")] }]);
  return { host, filter };
}

describe("misses fetched from the control plane", () => {
  let rig: ControlPlaneRig;
  let host: EnvoyHost;
  let filter: HttpFilter;

  before(async () => {
    rig = await startControlPlaneRig(CATALOGUE);
    ({ host, filter } = await filterFor(rig.cp.syncPort, { policy: "fetch", timeoutMs: 2000 }));
  });
  after(async () => {
    await host.close();
    await rig.close();
  });

  it("pauses the first request of an uncached customer, fetches it, and decides from the answer", async () => {
    const result = await filter.request(req("acme"));
    assert.equal(reason(result), "allow");
    assert.equal(host.metric("entitlement_gate_fetches"), 1);
    // Written to shared data: the next request on any worker is a hit.
    assert.ok(host.sharedData(VM_ID).get("eg1/c/acme")!.value.length > 4);
    assert.equal(reason(filter.requestSync(req("acme", "/reports", 1))), "allow");
    assert.equal(host.metric("entitlement_gate_fetches"), 1);
  });

  it("denies a fetched customer without the feature, and an unknown one as CustomerNotFound", async () => {
    assert.equal(reason(await filter.request(req("basic"))), "NoFeatureEntitlementInSubscription");
    assert.equal(reason(await filter.request(req("nobody"))), "CustomerNotFound");
    assert.equal(reason(filter.requestSync(req("nobody"))), "CustomerNotFound", "the not-found answer is cached too");
  });

  it("shares one FetchCustomer call among every concurrent miss for a customer on a worker", async () => {
    rig.cp.store.upsert({ customerId: "burst", entitlements: [boolean("reports")] });
    const before = host.metric("entitlement_gate_fetches") ?? 0;
    const results = await Promise.all(Array.from({ length: 25 }, () => filter.request(req("burst", "/reports", 0))));
    assert.deepEqual(new Set(results.map(reason)), new Set(["allow"]));
    assert.equal(host.metric("entitlement_gate_fetches"), before + 1);
  });

  it("never fetches for a cached customer", async () => {
    const before = host.metric("entitlement_gate_fetches") ?? 0;
    assert.equal(reason(filter.requestSync(req("cached"))), "allow");
    assert.equal(host.metric("entitlement_gate_fetches"), before);
  });
});

describe("misses the control plane cannot answer", () => {
  let silent: http2.Http2Server;
  let silentPort = 0;
  const sessions = new Set<http2.ServerHttp2Session>();

  before(async () => {
    // Accepts the call and never answers: only the timeout can end the wait.
    silent = http2.createServer();
    silent.on("session", (s) => sessions.add(s));
    silent.on("stream", () => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sessions) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  it("decides by the fallback once onMiss.timeoutMs has passed, never later", async () => {
    const { host, filter } = await filterFor(silentPort, { policy: "fetch", timeoutMs: 150 }, { fallback: { reports: { hasAccess: true } } });
    try {
      const started = performance.now();
      const results = await Promise.all([filter.request(req("slow")), filter.request(req("slow"))]);
      const waited = performance.now() - started;
      for (const result of results) {
        assert.equal(result.kind, "continue");
        if (result.kind === "continue") assert.deepEqual(result.upstreamHeaders.filter(([k]) => k === "x-entitlement-fallback"), [["x-entitlement-fallback", "true"]]);
      }
      assert.ok(waited >= 140 && waited < 600, `waited ${waited.toFixed(0)} ms`);
      assert.equal(host.metric("entitlement_gate_fetch_failures"), 1);
      assert.equal(host.metric("entitlement_gate_fallbacks"), 2);
    } finally {
      await host.close();
    }
  });

  it("decides by the fallback at once when the control plane is unreachable (no entry: Unknown)", async () => {
    const closed = http2.createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const { host, filter } = await filterFor(port, { policy: "fetch", timeoutMs: 2000 });
    try {
      const started = performance.now();
      const result = await filter.request(req("someone"));
      assert.equal(reason(result), "Unknown");
      assert.ok(performance.now() - started < 1500);
      assert.equal(host.metric("entitlement_gate_fetch_failures"), 1);
    } finally {
      await host.close();
    }
  });

  it("decides by the fallback when no cluster of that name exists", async () => {
    const { host, filter } = await filterFor(silentPort, { policy: "fetch", cluster: "missing_cluster" }, { fallback: { reports: { hasAccess: true } } });
    try {
      assert.equal(reason(filter.requestSync(req("someone"))), "allow");
      assert.equal(host.metric("entitlement_gate_fetches") ?? 0, 0);
    } finally {
      await host.close();
    }
  });
});

describe("misses answered with garbage", () => {
  it("decides by the fallback when the FetchCustomer answer cannot be decoded", async () => {
    const server = http2.createServer();
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on("session", (s) => sessions.add(s));
    server.on("stream", (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
      // A gRPC frame whose protobuf body is truncated mid-field.
      stream.end(Buffer.from([0, 0, 0, 0, 3, 0x0a, 0x09, 0x0a]));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { host, filter } = await filterFor((server.address() as AddressInfo).port, { policy: "fetch", timeoutMs: 1000 }, { fallback: { reports: { hasAccess: false } } });
    try {
      assert.equal(reason(await filter.request(req("garbled"))), "Unknown");
      assert.equal(host.metric("entitlement_gate_fetch_failures"), 1);
      assert.equal(host.sharedData(VM_ID).get("eg1/c/garbled"), undefined, "nothing cached from a bad answer");
      assert.equal(filter.workers.some((w) => w.failed), false);
    } finally {
      await host.close();
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
