// The HTTP filter (root_id entitlement_gate) running in the test host the way Envoy runs it: shared data
// seeded directly, requests through worker VMs, answers asserted as a client would see them.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock, type HttpFilter, type HttpResult } from "../host/index.ts";
import { Kind, Period, encodeEntry, u32le, withGeneration, type EntrySpec } from "./support/entryBytes.ts";
import { loadFilterWasm } from "./support/builtWasm.ts";

const VM_ID = "entitlements";
const CONFIG = {
  customerHeader: "x-customer-id",
  rules: [
    { pathPrefix: "/api/reports", feature: "reports" },
    { pathPrefix: "/api/search", feature: "search-calls", requestedUsage: 1 },
    { pathPrefix: "/api/export", feature: "exp\"ort" },
  ],
};

const get = (path: string, customer?: string, extra: Array<[string, string]> = []): Array<[string, string]> => [
  [":method", "GET"], [":path", path], [":authority", "example.com"],
  ...(customer === undefined ? [] : [["x-customer-id", customer] as [string, string]]),
  ...extra,
];

function header(result: HttpResult & { kind: "continue" }, name: string): string[] {
  return result.upstreamHeaders.filter(([k]) => k === name).map(([, v]) => v);
}

function expectContinue(result: HttpResult): HttpResult & { kind: "continue" } {
  assert.equal(result.kind, "continue", `expected continue, got ${JSON.stringify(result)}`);
  return result as HttpResult & { kind: "continue" };
}

function expectDeny(result: HttpResult, status: number, feature: string, reason: string): void {
  assert.equal(result.kind, "localReply", `expected a local reply, got ${JSON.stringify(result)}`);
  if (result.kind !== "localReply") return;
  assert.equal(result.status, status);
  assert.equal(result.details, "entitlement_denied");
  assert.equal(result.grpcStatus, -1);
  assert.deepEqual(JSON.parse(result.body), { error: "entitlement_denied", feature, reason });
  assert.deepEqual(result.headers.filter(([k]) => k === "content-type"), [["content-type", "application/json"]]);
}

describe("entitlement_gate filter", () => {
  let host: EnvoyHost;
  let filter: HttpFilter;
  const clock = new ManualClock(Date.parse("2026-11-25T12:00:00Z"));

  const seed = (customer: string, entry: EntrySpec, generation = 1): void => {
    host.sharedData(VM_ID).set(`eg1/c/${customer}`, withGeneration(generation, encodeEntry(entry)));
  };

  before(async () => {
    host = new EnvoyHost({ clock });
    filter = await host.addHttpFilter({
      vmId: VM_ID, rootId: "entitlement_gate", wasm: loadFilterWasm(), configuration: JSON.stringify(CONFIG), workers: 2,
    });
    assert.deepEqual(filter.configureResults, [true, true]);
    host.sharedData(VM_ID).set("eg1/sync/gen", u32le(1));
    seed("acme", { features: [
      { id: "reports", kind: Kind.BOOLEAN },
      { id: "search-calls", kind: Kind.METERED, limit: 100, usage: 10 },
      { id: "exp\"ort", kind: Kind.BOOLEAN, reason: 13 },
    ] });
    seed("capped", { features: [{ id: "search-calls", kind: Kind.METERED, limit: 5, usage: 5 }] });
    seed("archived", { reason: 2, features: [{ id: "reports", kind: Kind.BOOLEAN }] });
    seed("basic", { features: [{ id: "other", kind: Kind.BOOLEAN }] });
    seed("stale", { features: [{ id: "reports", kind: Kind.BOOLEAN }] }, 0);
    seed("rolled", { features: [{
      id: "search-calls", kind: Kind.METERED, limit: 5, usage: 5,
      period: { reset: Period.MONTH, anchorSec: Date.parse("2026-01-10T00:00:00Z") / 1000, endSec: Date.parse("2026-11-10T00:00:00Z") / 1000 },
    }] });
    host.sharedData(VM_ID).set("eg1/c/corrupt", Uint8Array.from([1, 0, 0, 0, 1, 0, 9, 1]));
    host.sharedData(VM_ID).set("eg1/c/removed", new Uint8Array(0));
  });

  after(async () => {
    await host.close();
  });

  it("allows an entitled customer and tells the upstream", async () => {
    const result = expectContinue(await filter.request({ headers: get("/api/reports/daily?x=1", "acme") }));
    assert.deepEqual(header(result, "x-entitlement-decision"), ["allow"]);
  });

  it("keeps the allow path within 8 host calls", async () => {
    const result = expectContinue(await filter.request({ headers: get("/api/reports", "acme") }));
    assert.ok(result.hostCalls <= 8, `hit path used ${result.hostCalls} host calls`);
  });

  it("strips client-supplied x-entitlement-* headers, on matched and unmatched routes", async () => {
    const forged: Array<[string, string]> = [["x-entitlement-decision", "allow"], ["x-entitlement-remaining", "999"], ["x-other", "kept"]];
    const matched = expectContinue(await filter.request({ headers: get("/api/reports", "acme", forged) }));
    assert.deepEqual(header(matched, "x-entitlement-decision"), ["allow"]);
    assert.deepEqual(header(matched, "x-entitlement-remaining"), []);
    assert.deepEqual(header(matched, "x-other"), ["kept"]);
    const unmatched = expectContinue(await filter.request({ headers: get("/public", "acme", forged) }));
    assert.equal(unmatched.upstreamHeaders.some(([k]) => k.startsWith("x-entitlement-")), false);
  });

  it("does not let a forged header turn a deny into an allow", async () => {
    expectDeny(await filter.request({ headers: get("/api/reports", "basic", [["x-entitlement-decision", "allow"]]) }),
      403, "reports", "NoFeatureEntitlementInSubscription");
  });

  it("passes requests that match no rule untouched", async () => {
    const before = host.metric("entitlement_gate_unmatched") ?? 0;
    const result = expectContinue(await filter.request({ headers: get("/health") }));
    assert.deepEqual(header(result, "x-entitlement-decision"), []);
    assert.equal(host.metric("entitlement_gate_unmatched"), before + 1);
  });

  it("answers 403 MissingCustomerId without a customer header, or with an empty one", async () => {
    expectDeny(await filter.request({ headers: get("/api/reports") }), 403, "reports", "MissingCustomerId");
    expectDeny(await filter.request({ headers: get("/api/reports", "") }), 403, "reports", "MissingCustomerId");
  });

  it("decides an uncached customer by the fallback (no entry: Unknown) when nothing can be fetched", async () => {
    expectDeny(await filter.request({ headers: get("/api/reports", "nobody") }), 403, "reports", "Unknown");
  });

  it("treats a removed (empty) entry as a miss", async () => {
    expectDeny(await filter.request({ headers: get("/api/reports", "removed") }), 403, "reports", "Unknown");
  });

  it("treats an entry older than the last snapshot as a miss", async () => {
    expectDeny(await filter.request({ headers: get("/api/reports", "stale") }), 403, "reports", "Unknown");
  });

  it("treats a corrupt entry as a miss and counts it", async () => {
    const before = host.metric("entitlement_gate_corrupt_entry") ?? 0;
    expectDeny(await filter.request({ headers: get("/api/reports", "corrupt") }), 403, "reports", "Unknown");
    assert.equal(host.metric("entitlement_gate_corrupt_entry"), before + 1);
    assert.equal(filter.workers.some((w) => w.failed), false);
  });

  it("denies with the customer-wide reason", async () => {
    expectDeny(await filter.request({ headers: get("/api/reports", "archived") }), 403, "reports", "CustomerIsArchived");
  });

  it("denies a feature outside the subscription", async () => {
    expectDeny(await filter.request({ headers: get("/api/reports", "basic") }), 403, "reports", "NoFeatureEntitlementInSubscription");
  });

  it("answers 429 when the requested usage exceeds the limit", async () => {
    expectContinue(await filter.request({ headers: get("/api/search?q=a", "acme") }));
    expectDeny(await filter.request({ headers: get("/api/search?q=a", "capped") }), 429, "search-calls", "RequestedUsageExceedingLimit");
  });

  it("resets usage once the usage period has ended", async () => {
    expectContinue(await filter.request({ headers: get("/api/search", "rolled") }));
  });

  it("JSON-escapes the feature id in the deny body", async () => {
    expectDeny(await filter.request({ headers: get("/api/export", "acme") }), 403, "exp\"ort", "Revoked");
  });

  it("survives random shared-data values without trapping", async () => {
    let seedValue = 99;
    const next = (): number => (seedValue = (seedValue * 1103515245 + 12345) >>> 0);
    const valid = withGeneration(1, encodeEntry({ features: [
      { id: "reports", kind: Kind.METERED, limit: 3, usage: 1, period: { reset: Period.WEEK, anchorSec: 1_700_000_000, endSec: 1_700_600_000 } },
      { id: "search-calls", kind: Kind.ENUM, values: ["a", "b"] },
    ] }));
    for (let i = 0; i < 300; i++) {
      const bytes = i % 2 === 0 ? Uint8Array.from(valid) : Uint8Array.from({ length: next() % 40 }, () => next() & 0xff);
      if (i % 2 === 0) for (let k = 0; k < 2; k++) bytes[4 + (next() % (bytes.length - 4))] = next() & 0xff;
      host.sharedData(VM_ID).set("eg1/c/fuzz", bytes);
      const result = await filter.request({ headers: get(i % 3 === 0 ? "/api/search" : "/api/reports", "fuzz") });
      assert.ok(result.kind === "continue" || result.status === 403 || result.status === 429, JSON.stringify(result));
    }
    assert.equal(filter.workers.some((w) => w.failed), false);
  });

  it("keeps worker memory flat over many requests", () => {
    const worker = filter.workers[0]!;
    for (let i = 0; i < 2000; i++) filter.requestSync({ headers: get("/api/reports", "acme"), worker: 0 });
    const settled = worker.memoryBytes();
    for (let i = 0; i < 20000; i++) {
      filter.requestSync({ headers: get(i % 2 ? "/api/reports" : "/api/search", i % 3 ? "acme" : "nobody", [["x-entitlement-x", "1"]]), worker: 0 });
    }
    assert.equal(worker.memoryBytes(), settled);
  });

  it("counts allowed and denied requests across workers", async () => {
    await clock.advance(50); // allows are counted on the filter's 50 ms tick
    assert.ok((host.metric("entitlement_gate_allowed") ?? 0) >= 5);
    assert.ok((host.metric("entitlement_gate_denied") ?? 0) >= 10);
  });

  it("makes no log host calls per request at the default level", () => {
    const perRequest = host.logs().filter((l) => l.level < 4 && !/configured/.test(l.message));
    assert.deepEqual(perRequest, []);
  });
});

describe("entitlement_gate configuration", () => {
  it("rejects an invalid configuration with one error line naming the field", async () => {
    const host = new EnvoyHost();
    try {
      const filter = await host.addHttpFilter({
        vmId: "bad", rootId: "entitlement_gate", wasm: loadFilterWasm(), workers: 1,
        configuration: JSON.stringify({ rules: [{ pathPrefix: "/a", feature: "a" }, { pathPrefix: "/b", feature: "b" }, { pathPrefix: "c", feature: "c" }] }),
      });
      assert.deepEqual(filter.configureResults, [false]);
      const errors = host.logs().filter((l) => l.level >= 4);
      assert.equal(errors.length, 1);
      assert.match(errors[0]!.message, /rules\[2\]\.pathPrefix: must be a string starting with "\/"/);
    } finally {
      await host.close();
    }
  });

  it("rejects an unknown field and malformed JSON", async () => {
    const host = new EnvoyHost();
    try {
      const unknown = await host.addHttpFilter({
        vmId: "bad", rootId: "entitlement_gate", wasm: loadFilterWasm(), workers: 1, configuration: '{"rules":[],"shadowMode":true}',
      });
      assert.deepEqual(unknown.configureResults, [false]);
      const broken = await host.addHttpFilter({
        vmId: "bad2", rootId: "entitlement_gate", wasm: loadFilterWasm(), workers: 1, configuration: '{"rules":[',
      });
      assert.deepEqual(broken.configureResults, [false]);
      const messages = host.logs().filter((l) => l.level >= 4).map((l) => l.message);
      assert.equal(messages.length, 2);
      assert.match(messages[0]!, /shadowMode: unknown field/);
      assert.match(messages[1]!, /invalid JSON/);
    } finally {
      await host.close();
    }
  });

  it("rejects a plugin whose root_id the module does not serve", async () => {
    const host = new EnvoyHost();
    try {
      const filter = await host.addHttpFilter({ vmId: "x", rootId: "something_else", wasm: loadFilterWasm(), workers: 1, configuration: "{}" });
      assert.deepEqual(filter.configureResults, [false]);
      assert.match(host.logs().find((l) => l.level >= 4)?.message ?? "", /unknown root_id "something_else"/);
    } finally {
      await host.close();
    }
  });

  it("applies a new configuration on reconfigure", async () => {
    const host = new EnvoyHost();
    try {
      const filter = await host.addHttpFilter({
        vmId: "re", rootId: "entitlement_gate", wasm: loadFilterWasm(), workers: 1, configuration: '{"rules":[]}',
      });
      expectContinue(await filter.request({ headers: get("/api/reports") }));
      assert.deepEqual(filter.reconfigure(JSON.stringify({ customerHeader: "X-Tenant", rules: [{ pathPrefix: "/api", feature: "reports" }] })), [true]);
      expectDeny(await filter.request({ headers: get("/api/reports", "acme") }), 403, "reports", "MissingCustomerId");
      expectDeny(await filter.request({ headers: [...get("/api/reports"), ["x-tenant", "acme"]] }), 403, "reports", "Unknown");
    } finally {
      await host.close();
    }
  });
});
