// The request path under hostile input: random, binary and oversized (64 KiB) header values and ids,
// JWT payloads that are not base64 or not JSON, and corrupt shared-data entries. Zero traps are allowed,
// and worker memory must stay flat across 1,000,000 requests.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, type HttpFilter, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "./support/builtWasm.ts";
import { boolean, cachedValue, metered, seedCache } from "./support/cacheSeed.ts";

const VM_ID = "eg";
const KIB64 = 64 * 1024;

let seed = 20261125;
const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
const pick = <T>(items: readonly T[]): T => items[next() % items.length]!;

function randomText(maxLength: number, binary: boolean): string {
  const length = next() % (maxLength + 1);
  let out = "";
  for (let i = 0; i < length; i++) out += String.fromCharCode(binary ? 1 + (next() % 255) : 0x20 + (next() % 95));
  return out;
}

function randomValue(): string {
  switch (next() % 6) {
    case 0: return "x".repeat(KIB64);
    case 1: return randomText(64, true);
    case 2: return Buffer.from(randomText(200, true), "latin1").toString("base64url");
    case 3: return Buffer.from(JSON.stringify({ sub: randomText(20, false), org: { id: next() } })).toString("base64url");
    case 4: return "";
    default: return randomText(40, false);
  }
}

const CONFIGS = [
  { onMiss: { policy: "fallback" }, resource: { header: "x-resource-id" }, maxStaleSeconds: 60, fallback: { reports: { hasAccess: true } },
    injectHeaders: ["x-entitlement-decision", "x-entitlement-customer", "x-entitlement-remaining"], remainingResponseHeader: true,
    rules: [{ pathPattern: "/a/*/b/**", methods: ["GET", "POST"], feature: "reports" }, { pathPrefix: "/", feature: "search", requestedUsage: 1 }] },
  { onMiss: { policy: "fallback" }, customer: { jwtPayloadHeader: "x-jwt", claim: "org.id" }, shadow: true,
    rules: [{ pathPrefix: "/", host: "*.example.com", feature: "search", requestedUsage: 0.5 }, { path: "/x", feature: "reports" }] },
];

describe("request path robustness", () => {
  const hosts: EnvoyHost[] = [];
  const filters: HttpFilter[] = [];

  before(async () => {
    for (const config of CONFIGS) {
      const host = new EnvoyHost();
      const filter = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, configuration: JSON.stringify(config), workers: 1 });
      assert.deepEqual(filter.configureResults, [true]);
      seedCache(host, VM_ID, [
        { customerId: "acme", entitlements: [boolean("reports"), metered("search", 1e9, 0)] },
        { customerId: "123", entitlements: [metered("search", 50, 0)] },
      ], Date.now());
      hosts.push(host);
      filters.push(filter);
    }
  });
  after(async () => {
    for (const host of hosts) await host.close();
  });

  it("never traps on random, binary and 64 KiB header values or corrupt entries", () => {
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      const index = i % filters.length;
      const host = hosts[index]!;
      const filter = filters[index]!;
      const customer = pick(["acme", "123", randomValue(), "x".repeat(KIB64)]);
      if (i % 7 === 0) {
        // A corrupt or truncated entry for the id this request uses (or a valid one cut short).
        const valid = cachedValue({ customerId: customer, entitlements: [metered("search", 10, 1), boolean("reports")] });
        const corrupt = next() % 2 === 0
          ? Uint8Array.from({ length: next() % 64 }, () => next() & 0xff)
          : valid.subarray(0, next() % valid.length);
        host.sharedData(VM_ID).set(`eg1/c/${customer}`, corrupt);
      }
      const headers: Array<[string, string]> = [
        [":method", pick(["GET", "POST", randomValue()])],
        [":path", pick(["/a/1/b/c", "/", "/x", randomValue(), "/" + "p".repeat(KIB64)])],
        [":authority", pick(["api.example.com", "example.com", randomValue()])],
        ["x-customer-id", customer],
        ["x-jwt", pick([randomValue(), Buffer.from(JSON.stringify({ org: { id: customer } })).toString("base64url")])],
        ["x-resource-id", randomValue()],
        [pick(["x-entitlement-decision", "x-entitlement-" + randomText(10, false).toLowerCase().replace(/[^a-z]/g, "a")]), randomValue()],
      ];
      let result: HttpResult;
      try {
        result = filter.requestSync({ headers, worker: 0 });
      } catch (e) {
        assert.fail(`request ${i} paused or failed: ${(e as Error).message}`);
      }
      const key = result.kind === "continue" ? "continue" : String(result.status);
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      assert.ok(result.kind === "continue" || [403, 429].includes(result.status), `request ${i}: ${result.kind} ${JSON.stringify(result).slice(0, 200)}`);
    }
    for (const filter of filters) assert.equal(filter.workers[0]!.failed, false, filter.workers[0]!.failure);
    assert.ok((outcomes.get("continue") ?? 0) > 0 && (outcomes.get("403") ?? 0) > 0, JSON.stringify([...outcomes]));
  });

  it("keeps linear memory flat across 1,000,000 requests", (t) => {
    const filter = filters[0]!;
    const worker = filter.workers[0]!;
    const requests = [
      { headers: [[":method", "GET"], [":path", "/a/1/b/c?q=1"], [":authority", "api.example.com"], ["x-customer-id", "acme"]] as Array<[string, string]>, worker: 0 },
      { headers: [[":method", "GET"], [":path", "/search"], [":authority", "api.example.com"], ["x-customer-id", "acme"], ["x-entitlement-decision", "allow"]] as Array<[string, string]>, worker: 0 },
      { headers: [[":method", "GET"], [":path", "/search"], [":authority", "api.example.com"], ["x-customer-id", "123"]] as Array<[string, string]>, worker: 0 },
      { headers: [[":method", "POST"], [":path", "/a/1/b"], [":authority", "api.example.com"], ["x-customer-id", "unknown-customer"]] as Array<[string, string]>, worker: 0 },
      { headers: [[":method", "GET"], [":path", "/a/1/b"], [":authority", "api.example.com"]] as Array<[string, string]>, worker: 0 },
    ];
    for (let i = 0; i < 50_000; i++) filter.requestSync(requests[i % requests.length]!);
    const settled = worker.memoryBytes();
    const started = performance.now();
    const total = 1_000_000;
    for (let i = 0; i < total; i++) filter.requestSync(requests[i % requests.length]!);
    const seconds = (performance.now() - started) / 1000;
    t.diagnostic(`${total} requests in ${seconds.toFixed(1)} s (${((seconds * 1e6) / total).toFixed(1)} µs/request); memory ${settled} -> ${worker.memoryBytes()} bytes`);
    assert.equal(worker.failed, false);
    assert.equal(worker.memoryBytes(), settled);
  });
});
