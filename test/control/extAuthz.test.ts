// ext_authz driven the way Envoy drives it: CheckRequests with Envoy's attribute layout, sent by a
// client built from Envoy's own protos.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { startApiServer } from "../../control/api/apiServer.ts";
import { loadExtAuthzPackage } from "../../control/api/extAuthzProto.ts";
import { parseExtAuthzRules, type ExtAuthzRule } from "../../control/api/extAuthzRules.ts";
import type { EntitlementsFallback } from "../../control/evaluation/fallback.ts";
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { OfflineUsageWriter } from "../../control/read/offlineUsageWriter.ts";
import type { EntitlementReader } from "../../control/read/readTypes.ts";
import { StoreReader } from "../../control/read/storeReader.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";

/** GRPC_FAST_PATH=false runs this suite against grpc-js alone (test/control/fastPathModes.test.ts does). */
const FAST_PATH = process.env.GRPC_FAST_PATH !== "false";

const ACME: CustomerEntitlements = {
  customerId: "acme",
  entitlements: [
    { featureId: "reports", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    { featureId: "search-calls", featureType: "NUMBER", meterType: "Incremental", usageLimit: 100, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 40 },
  ],
};

const RULES: ExtAuthzRule[] = [
  { pathPrefix: "/api/reports", feature: "reports" },
  { pathPrefix: "/api/search", feature: "search-calls", requestedUsage: 1 },
  { pathPrefix: "/api/admin", feature: "admin-console" },
];

interface HeaderOption {
  header: { key: string; value: string };
  append?: { value: boolean };
  append_action?: string;
}
interface CheckResponse {
  status: { code?: number; message?: string };
  http_response?: string;
  ok_response?: { headers?: HeaderOption[]; headers_to_remove?: string[]; response_headers_to_add?: HeaderOption[] };
  denied_response?: { status: { code: string }; headers?: HeaderOption[]; body?: string };
}

const loaded = grpc.loadPackageDefinition(loadExtAuthzPackage()) as unknown as {
  envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
};

async function authzFixture(
  t: TestContext,
  options: { reader?: EntitlementReader; entitlementsFallback?: EntitlementsFallback; customerHeader?: string } = {},
): Promise<{ check(request: object): Promise<CheckResponse>; metrics: Metrics }> {
  const store = new EntitlementStore();
  store.upsert(ACME);
  const metrics = new Metrics({ processMetrics: false });
  const api = await startApiServer({
    fastPath: FAST_PATH,
    host: "127.0.0.1",
    port: 0,
    reader: options.reader ?? new StoreReader(store),
    usage: new OfflineUsageWriter(store),
    logger: createLogger("silent"),
    metrics,
    extAuthzRules: RULES,
    ...(options.customerHeader ? { extAuthzCustomerHeader: options.customerHeader } : {}),
    ...(options.entitlementsFallback ? { entitlementsFallback: options.entitlementsFallback } : {}),
  });
  const client = new loaded.envoy.service.auth.v3.Authorization(`127.0.0.1:${api.port}`, grpc.credentials.createInsecure());
  t.after(async () => {
    client.close();
    await api.close(500);
  });
  const check = (request: object): Promise<CheckResponse> =>
    new Promise((resolve, reject) => {
      (client as unknown as { Check(r: object, cb: (e: grpc.ServiceError | null, r: CheckResponse) => void): void }).Check(request, (err, response) =>
        err ? reject(err) : resolve(response),
      );
    });
  return { check, metrics };
}

/** A CheckRequest as Envoy's ext_authz filter builds it for an HTTP request. */
function envoyCheck(path: string, headers: Record<string, string>, contextExtensions: Record<string, string> = {}): object {
  return {
    attributes: {
      source: { address: { socket_address: { address: "10.1.2.3", port_value: 51544 } } },
      destination: { address: { socket_address: { address: "10.1.9.9", port_value: 8080 } } },
      request: {
        time: { seconds: 1_764_072_000, nanos: 0 },
        http: {
          id: "7a1b0d6e-0c6f-4b7e-9d1e-2f0b6c1a9e55",
          method: "GET",
          headers: { ":authority": "api.example.com", ":method": "GET", ":path": path, ":scheme": "https", "user-agent": "curl/8.5.0", ...headers },
          path,
          host: "api.example.com",
          scheme: "https",
          protocol: "HTTP/1.1",
        },
      },
      context_extensions: contextExtensions,
    },
  };
}

function headerMap(options: HeaderOption[] | undefined): Record<string, string> {
  return Object.fromEntries((options ?? []).map((o) => [o.header.key, o.header.value]));
}

test("allows an entitled customer with the entitlement headers for the upstream", async (t) => {
  const f = await authzFixture(t);
  const response = await f.check(envoyCheck("/api/reports/monthly?year=2026", { "x-customer-id": "acme" }));
  assert.equal(response.status.code ?? 0, 0);
  assert.equal(response.http_response, "ok_response");
  assert.deepEqual(headerMap(response.ok_response!.headers), {
    "x-entitlement-decision": "allow",
    "x-entitlement-customer": "acme",
    "x-entitlement-feature": "reports",
  });
  assert.ok(response.ok_response!.headers!.every((h) => h.append?.value === false && h.append_action === "OVERWRITE_IF_EXISTS_OR_ADD"), "headers overwrite, never append");
});

test("adds the remaining quota of a metered feature, after this request", async (t) => {
  const f = await authzFixture(t);
  const response = await f.check(envoyCheck("/api/search?q=envoy", { "x-customer-id": "acme" }));
  assert.equal(headerMap(response.ok_response!.headers)["x-entitlement-remaining"], "59");
  assert.deepEqual(headerMap(response.ok_response!.response_headers_to_add), { "x-entitlement-remaining": "59" });
});

test("denies a customer without the feature with 403 and the filter's JSON body", async (t) => {
  const f = await authzFixture(t);
  const response = await f.check(envoyCheck("/api/admin/users", { "x-customer-id": "acme" }));
  assert.equal(response.status.code, grpc.status.PERMISSION_DENIED);
  assert.equal(response.http_response, "denied_response");
  assert.equal(response.denied_response!.status.code, "Forbidden");
  assert.deepEqual(headerMap(response.denied_response!.headers), { "content-type": "application/json" });
  assert.deepEqual(JSON.parse(response.denied_response!.body!), {
    error: "entitlement_denied",
    feature: "admin-console",
    reason: "NoFeatureEntitlementInSubscription",
  });
});

test("denies usage beyond the limit with 429 RequestedUsageExceedingLimit", async (t) => {
  const f = await authzFixture(t);
  const response = await f.check(
    envoyCheck("/api/export", { "x-customer-id": "acme" }, { entitlement_feature: "search-calls", entitlement_requested_usage: "61" }),
  );
  assert.equal(response.denied_response!.status.code, "TooManyRequests");
  assert.deepEqual(JSON.parse(response.denied_response!.body!), { error: "entitlement_denied", feature: "search-calls", reason: "RequestedUsageExceedingLimit" });
});

test("denies a request without the customer header with 403 MissingCustomerId", async (t) => {
  const f = await authzFixture(t);
  const response = await f.check(envoyCheck("/api/reports", {}));
  assert.equal(response.denied_response!.status.code, "Forbidden");
  assert.equal(JSON.parse(response.denied_response!.body!).reason, "MissingCustomerId");
});

test("strips client-sent x-entitlement-* headers it does not overwrite", async (t) => {
  const f = await authzFixture(t);
  const response = await f.check(
    envoyCheck("/api/reports", { "x-customer-id": "acme", "x-entitlement-decision": "allow", "x-entitlement-plan": "enterprise", "x-entitlement-fallback": "false" }),
  );
  assert.deepEqual([...response.ok_response!.headers_to_remove!].sort(), ["x-entitlement-fallback", "x-entitlement-plan"]);
  assert.equal(headerMap(response.ok_response!.headers)["x-entitlement-decision"], "allow");
  const unmatched = await f.check(envoyCheck("/healthz", { "x-entitlement-customer": "someone-else" }));
  assert.equal(unmatched.http_response, "ok_response", "no rule: allowed");
  assert.deepEqual(unmatched.ok_response!.headers ?? [], []);
  assert.deepEqual(unmatched.ok_response!.headers_to_remove, ["x-entitlement-customer"], "stripped even when no feature applies");
});

test("takes the feature and requested usage from per-route context_extensions before the path rules", async (t) => {
  const f = await authzFixture(t);
  const response = await f.check(
    envoyCheck("/api/reports", { "x-customer-id": "acme" }, { entitlement_feature: "search-calls", entitlement_requested_usage: "10" }),
  );
  assert.equal(headerMap(response.ok_response!.headers)["x-entitlement-feature"], "search-calls");
  assert.equal(headerMap(response.ok_response!.headers)["x-entitlement-remaining"], "50");
  const bad = await f.check(envoyCheck("/api/reports", { "x-customer-id": "acme" }, { entitlement_feature: "search-calls", entitlement_requested_usage: "lots" })).catch(
    (err: grpc.ServiceError) => err,
  );
  assert.equal((bad as grpc.ServiceError).code, grpc.status.INVALID_ARGUMENT);
  assert.match((bad as grpc.ServiceError).details, /entitlement_requested_usage/);
});

test("reads headers from header_map when Envoy sends raw headers, and honours a custom customer header", async (t) => {
  const f = await authzFixture(t, { customerHeader: "X-Tenant" });
  const request = envoyCheck("/api/reports", {}) as { attributes: { request: { http: Record<string, unknown> } } };
  delete request.attributes.request.http.headers;
  request.attributes.request.http.header_map = {
    headers: [
      { key: ":path", raw_value: Buffer.from("/api/reports") },
      { key: "x-tenant", raw_value: Buffer.from("acme") },
    ],
  };
  const response = await f.check(request);
  assert.equal(headerMap(response.ok_response!.headers)["x-entitlement-customer"], "acme");
});

test("header names are matched lower-cased across headers and header_map: a later value wins, each name is stripped once", async (t) => {
  const f = await authzFixture(t, { customerHeader: "X-Entitlement-Tenant" });
  const request = envoyCheck("/api/reports", { "x-entitlement-tenant": "someone-else", "x-entitlement-plan": "enterprise" }) as {
    attributes: { request: { http: Record<string, unknown> } };
  };
  request.attributes.request.http.header_map = {
    headers: [
      { key: "X-Entitlement-Tenant", raw_value: Buffer.from("acme") },
      { key: "X-ENTITLEMENT-PLAN", value: "gold" },
    ],
  };
  const response = await f.check(request);
  assert.equal(headerMap(response.ok_response!.headers)["x-entitlement-customer"], "acme", "the header_map value came later");
  assert.deepEqual(response.ok_response!.headers_to_remove, ["x-entitlement-tenant", "x-entitlement-plan"], "the customer header is ours too, and each name once");
});

test("decides from the fallback when the reader fails, and says so on allow", async (t) => {
  const failing: EntitlementReader = {
    read: () => Promise.reject(new Error("edge timed out")),
    reload: () => Promise.reject(new Error("edge timed out")),
  };
  const f = await authzFixture(t, { reader: failing, entitlementsFallback: new Map([["reports", { hasAccess: true }]]) });
  const allowed = await f.check(envoyCheck("/api/reports", { "x-customer-id": "acme" }));
  assert.equal(allowed.http_response, "ok_response");
  assert.equal(headerMap(allowed.ok_response!.headers)["x-entitlement-fallback"], "true");
  const denied = await f.check(envoyCheck("/api/search", { "x-customer-id": "acme" }));
  assert.equal(denied.denied_response!.status.code, "Forbidden");
  assert.equal(JSON.parse(denied.denied_response!.body!).reason, "Unknown");
  const metrics = await f.metrics.render();
  assert.match(metrics, /entitlement_gate_decisions_total\{api="ext_authz",result="fallback",reason=""\} 1/);
  assert.match(metrics, /entitlement_gate_decisions_total\{api="ext_authz",result="fallback",reason="Unknown"\} 1/);
});

test("EXT_AUTHZ_RULES errors name the rule and field", () => {
  assert.deepEqual(parseExtAuthzRules('[{"pathPrefix":"/api/reports","feature":"reports","requestedUsage":1}]'), {
    ok: true,
    rules: [{ pathPrefix: "/api/reports", feature: "reports", requestedUsage: 1 }],
  });
  assert.deepEqual(parseExtAuthzRules('[{"pathPrefix":"api","feature":""},{"path":"/x","feature":"f"}]'), {
    ok: false,
    errors: [
      'EXT_AUTHZ_RULES[0].pathPrefix: must be a string starting with "/"',
      "EXT_AUTHZ_RULES[0].feature: must be a non-empty string",
      "EXT_AUTHZ_RULES[1].path: unknown field (expected pathPrefix, feature, requestedUsage)",
      'EXT_AUTHZ_RULES[1].pathPrefix: must be a string starting with "/"',
    ],
  });
});
