// The entitlement_gate options a user configures, each seen from the client and the upstream: where the
// customer id comes from (header, JWT payload claim, resource), rule matching on method and host, deny
// responses, injected and stripped headers, missing customers, fallback, staleness, shadow mode and the
// remaining-quota response header.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock, type HttpFilter, type HttpResult } from "../host/index.ts";
import { RELEASE_WASM } from "./support/builtWasm.ts";
import { boolean, metered, seedCache } from "./support/cacheSeed.ts";

const VM_ID = "eg";
const NOW = Date.parse("2026-11-25T12:00:00Z");
type Headers = Array<[string, string]>;

let host: EnvoyHost | undefined;
afterEach(async () => {
  await host?.close();
  host = undefined;
});

async function start(config: object): Promise<{ host: EnvoyHost; filter: HttpFilter; clock: ManualClock }> {
  const clock = new ManualClock(NOW);
  host = new EnvoyHost({ clock });
  const filter = await host.addHttpFilter({ vmId: VM_ID, rootId: "entitlement_gate", wasm: RELEASE_WASM, configuration: JSON.stringify(config), workers: 1 });
  assert.deepEqual(filter.configureResults, [true], JSON.stringify(host.logs()));
  seedCache(host, VM_ID, [
    { customerId: "acme", entitlements: [boolean("reports"), metered("search", 100, 40)] },
    { customerId: "acme", resourceId: "proj-1", entitlements: [boolean("deploy")] },
    { customerId: "basic", entitlements: [boolean("other")] },
    { customerId: "gone", accessDeniedReason: "NoActiveSubscription", entitlements: [] },
  ], NOW);
  return { host, filter, clock };
}

const req = (path: string, extra: Headers = [], method = "GET", authority = "shop.example"): { headers: Headers } => ({
  headers: [[":method", method], [":path", path], [":authority", authority], ...extra],
});

function upstream(result: HttpResult, name: string): string[] {
  assert.equal(result.kind, "continue", `expected continue, got ${JSON.stringify(result)}`);
  return result.kind === "continue" ? result.upstreamHeaders.filter(([k]) => k === name).map(([, v]) => v) : [];
}

function reply(result: HttpResult): { status: number; body: string; headers: Headers } {
  assert.equal(result.kind, "localReply", `expected a local reply, got ${JSON.stringify(result)}`);
  return result.kind === "localReply" ? result : { status: 0, body: "", headers: [] };
}

const jwt = (payload: object): string => Buffer.from(JSON.stringify(payload)).toString("base64url");

describe("customer and resource ids", () => {
  it("reads the customer from a nested claim of the forwarded JWT payload", async () => {
    const { filter } = await start({ customer: { jwtPayloadHeader: "x-jwt-payload", claim: "org.customer" }, rules: [{ pathPrefix: "/r", feature: "reports" }] });
    assert.deepEqual(upstream(filter.requestSync(req("/r", [["x-jwt-payload", jwt({ sub: "u1", org: { customer: "acme" } })]])), "x-entitlement-decision"), ["allow"]);
    assert.equal(reply(filter.requestSync(req("/r", [["x-jwt-payload", jwt({ org: { customer: "basic" } })]]))).status, 403);
  });

  it("treats an unreadable JWT payload as a missing customer id", async () => {
    const { filter } = await start({ customer: { jwtPayloadHeader: "x-jwt-payload", claim: "sub" }, rules: [{ pathPrefix: "/r", feature: "reports" }] });
    for (const bad of ["%%%", Buffer.from("{oops").toString("base64url"), jwt({ other: "x" })]) {
      assert.equal(JSON.parse(reply(filter.requestSync(req("/r", [["x-jwt-payload", bad]]))).body).reason, "MissingCustomerId");
    }
  });

  it("checks the customer + resource entry when a resource id is configured", async () => {
    const { filter } = await start({ resource: { header: "x-resource-id" }, onMiss: { policy: "fallback" }, rules: [{ pathPrefix: "/deploy", feature: "deploy" }] });
    assert.equal(filter.requestSync(req("/deploy", [["x-customer-id", "acme"], ["x-resource-id", "proj-1"]])).kind, "continue");
    // The customer-level entry has no "deploy"; an unknown resource is a miss decided by the fallback.
    assert.equal(JSON.parse(reply(filter.requestSync(req("/deploy", [["x-customer-id", "acme"]]))).body).reason, "NoFeatureEntitlementInSubscription");
    assert.equal(JSON.parse(reply(filter.requestSync(req("/deploy", [["x-customer-id", "acme"], ["x-resource-id", "proj-9"]]))).body).reason, "Unknown");
  });

  it("lets a request without a customer id through when missingCustomer is allow", async () => {
    const { host, filter } = await start({ missingCustomer: "allow", rules: [{ pathPrefix: "/r", feature: "reports" }] });
    assert.deepEqual(upstream(filter.requestSync(req("/r")), "x-entitlement-decision"), []);
    assert.equal(host.metric("entitlement_gate_missing_customer_allowed"), 1);
  });
});

describe("rules", () => {
  it("gates by method, host and path pattern; first match wins", async () => {
    const { filter } = await start({
      onMiss: { policy: "fallback" },
      rules: [
        { pathPattern: "/orgs/*/reports/**", methods: ["GET"], feature: "reports" },
        { pathPrefix: "/orgs/", host: "*.admin.example", feature: "admin" },
        { path: "/search", methods: ["POST"], feature: "search", requestedUsage: 1 },
      ],
    });
    const acme: Headers = [["x-customer-id", "acme"]];
    assert.equal(filter.requestSync(req("/orgs/o1/reports/2026", acme)).kind, "continue");
    assert.equal(filter.requestSync(req("/orgs/o1/reports", acme, "DELETE")).kind, "continue", "no rule for DELETE on shop.example");
    assert.equal(JSON.parse(reply(filter.requestSync(req("/orgs/o1/settings", acme, "GET", "eu.admin.example:443"))).body).feature, "admin");
    assert.equal(filter.requestSync(req("/search", acme, "POST")).kind, "continue");
    assert.equal(filter.requestSync(req("/search/x", acme, "POST")).kind, "continue", "exact path only");
  });
});

describe("deny responses", () => {
  it("answers with the configured status, templated body and headers per reason, else the default entry", async () => {
    const { filter } = await start({
      rules: [{ pathPrefix: "/r", feature: "reports" }, { pathPrefix: "/s", feature: "search", requestedUsage: 100 }],
      denyResponses: {
        RequestedUsageExceedingLimit: { status: 402, body: "quota for {feature} used up ({reason})", headers: { "content-type": "text/plain", "retry-after": "3600" } },
        MissingCustomerId: { status: 401 },
        default: { status: 451 },
      },
    });
    const over = reply(filter.requestSync(req("/s", [["x-customer-id", "acme"]])));
    assert.equal(over.status, 402);
    assert.equal(over.body, "quota for search used up (RequestedUsageExceedingLimit)");
    assert.deepEqual(over.headers, [["content-type", "text/plain"], ["retry-after", "3600"]]);
    const missing = reply(filter.requestSync(req("/r")));
    assert.equal(missing.status, 401);
    assert.equal(JSON.parse(missing.body).reason, "MissingCustomerId");
    const other = reply(filter.requestSync(req("/r", [["x-customer-id", "gone"]])));
    assert.equal(other.status, 451);
    assert.deepEqual(JSON.parse(other.body), { error: "entitlement_denied", feature: "reports", reason: "NoActiveSubscription" });
  });
});

describe("headers to and from the upstream", () => {
  it("injects the configured x-entitlement-* headers and strips forged and configured ones", async () => {
    const { filter } = await start({
      rules: [{ pathPrefix: "/s", feature: "search", requestedUsage: 1 }],
      injectHeaders: ["x-entitlement-decision", "x-entitlement-customer", "x-entitlement-feature", "x-entitlement-remaining", "x-entitlement-fallback"],
      stripHeaders: ["X-Internal-Plan"],
    });
    const result = filter.requestSync(req("/s", [["x-customer-id", "acme"], ["x-internal-plan", "gold"], ["x-entitlement-customer", "forged"]]));
    assert.deepEqual(upstream(result, "x-entitlement-customer"), ["acme"]);
    assert.deepEqual(upstream(result, "x-entitlement-feature"), ["search"]);
    assert.deepEqual(upstream(result, "x-entitlement-remaining"), ["59"], "100 - 40 - this request");
    assert.deepEqual(upstream(result, "x-entitlement-fallback"), ["false"]);
    assert.deepEqual(upstream(result, "x-internal-plan"), []);
  });

  it("adds the remaining quota to the response of a metered request when enabled", async () => {
    const { filter } = await start({ remainingResponseHeader: true, rules: [{ pathPrefix: "/s", feature: "search", requestedUsage: 2 }, { pathPrefix: "/r", feature: "reports" }] });
    const metered = filter.requestSync({ ...req("/s", [["x-customer-id", "acme"]]), upstream: { status: 200, headers: [["x-entitlement-remaining", "upstream-lie"]] } });
    assert.equal(metered.kind, "continue");
    if (metered.kind === "continue") assert.deepEqual(metered.responseHeaders.filter(([k]) => k === "x-entitlement-remaining"), [["x-entitlement-remaining", "58"]]);
    const plain = filter.requestSync(req("/r", [["x-customer-id", "acme"]]));
    if (plain.kind === "continue") assert.deepEqual(plain.responseHeaders.filter(([k]) => k === "x-entitlement-remaining"), []);
  });
});

describe("fallback and staleness", () => {
  it("decides a miss by the fallback table, says so in a header and counts it", async () => {
    const { host, filter } = await start({
      onMiss: { policy: "fallback" },
      fallback: { reports: { hasAccess: true }, search: { hasAccess: false, usageLimit: 5 } },
      rules: [{ pathPrefix: "/r", feature: "reports" }, { pathPrefix: "/s", feature: "search", requestedUsage: 1 }, { pathPrefix: "/x", feature: "unlisted" }],
    });
    const allowed = filter.requestSync(req("/r", [["x-customer-id", "newcomer"]]));
    assert.deepEqual(upstream(allowed, "x-entitlement-fallback"), ["true"]);
    assert.deepEqual(upstream(allowed, "x-entitlement-decision"), ["allow"]);
    const denied = reply(filter.requestSync(req("/s", [["x-customer-id", "newcomer"]])));
    assert.equal(denied.status, 403);
    assert.equal(JSON.parse(denied.body).reason, "Unknown");
    assert.deepEqual(denied.headers.filter(([k]) => k === "x-entitlement-fallback"), [["x-entitlement-fallback", "true"]]);
    assert.equal(JSON.parse(reply(filter.requestSync(req("/x", [["x-customer-id", "newcomer"]]))).body).reason, "Unknown", "Stigg's built-in fallback");
    assert.equal(host.metric("entitlement_gate_fallbacks"), 3);
    assert.equal(host.metric("entitlement_gate_misses"), 3);
  });

  it("treats the cache as absent once the last sync is older than maxStaleSeconds", async () => {
    const { host, filter, clock } = await start({
      maxStaleSeconds: 30, onMiss: { policy: "fallback" }, fallback: { reports: { hasAccess: true } },
      rules: [{ pathPrefix: "/r", feature: "reports" }, { pathPrefix: "/o", feature: "other" }],
    });
    assert.deepEqual(upstream(filter.requestSync(req("/r", [["x-customer-id", "acme"]])), "x-entitlement-fallback"), []);
    assert.equal(JSON.parse(reply(filter.requestSync(req("/o", [["x-customer-id", "acme"]]))).body).reason, "NoFeatureEntitlementInSubscription");
    await clock.advance(31_000);
    assert.deepEqual(upstream(filter.requestSync(req("/r", [["x-customer-id", "acme"]])), "x-entitlement-fallback"), ["true"]);
    assert.equal(JSON.parse(reply(filter.requestSync(req("/o", [["x-customer-id", "acme"]]))).body).reason, "Unknown");
    assert.equal(host.metric("entitlement_gate_stale_misses"), 2);
  });
});

describe("shadow mode", () => {
  it("never blocks: adds the decision it would have made and counts disagreements", async () => {
    const { host, filter, clock } = await start({ shadow: true, rules: [{ pathPrefix: "/r", feature: "reports" }] });
    assert.deepEqual(upstream(filter.requestSync(req("/r", [["x-customer-id", "acme"]])), "x-entitlement-shadow-decision"), ["allow"]);
    const denied = filter.requestSync(req("/r", [["x-customer-id", "basic"]]));
    assert.deepEqual(upstream(denied, "x-entitlement-shadow-decision"), ["deny:NoFeatureEntitlementInSubscription"]);
    assert.deepEqual(upstream(filter.requestSync(req("/r")), "x-entitlement-shadow-decision"), ["deny:MissingCustomerId"]);
    assert.equal(host.metric("entitlement_gate_shadow_disagreements"), 2);
    assert.equal(host.metric("entitlement_gate_denied_NoFeatureEntitlementInSubscription"), 1);
    await clock.advance(50); // allows are counted on the filter's 50 ms tick
    assert.equal(host.metric("entitlement_gate_allowed"), 1);
  });
});

describe("metrics", () => {
  it("defines one denial counter per reason name, once, and counts decisions by result and reason", async () => {
    const { host, filter } = await start({ rules: [{ pathPrefix: "/r", feature: "reports" }, { pathPrefix: "/s", feature: "search", requestedUsage: 1000 }] });
    filter.requestSync(req("/r", [["x-customer-id", "basic"]]));
    filter.requestSync(req("/s", [["x-customer-id", "acme"]]));
    filter.requestSync(req("/r", [["x-customer-id", "gone"]]));
    filter.requestSync(req("/r"));
    const names = [...host.metrics().keys()].filter((n) => n.startsWith("entitlement_gate_denied_"));
    assert.equal(names.length, 15);
    assert.equal(host.metric("entitlement_gate_denied_NoFeatureEntitlementInSubscription"), 1);
    assert.equal(host.metric("entitlement_gate_denied_RequestedUsageExceedingLimit"), 1);
    assert.equal(host.metric("entitlement_gate_denied_NoActiveSubscription"), 1);
    assert.equal(host.metric("entitlement_gate_denied_MissingCustomerId"), 1);
    assert.equal(host.metric("entitlement_gate_denied"), 4);
  });
});
