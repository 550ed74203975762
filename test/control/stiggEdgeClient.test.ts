import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { EdgeClient, EdgeClientError, type EdgeClientOptions, type EdgeErrorKind } from "../../control/upstream/stigg/edgeClient.ts";
import { TokenBucket } from "../../control/concurrency/tokenBucket.ts";

// A small Edge stand-in on a real loopback socket. Each test installs its own handler.
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

interface Seen {
  url: string;
  headers: http.IncomingHttpHeaders;
}

class FakeEdge {
  readonly server: http.Server;
  handler: Handler = (_req, res) => sendJson(res, 200, stateBody([]));
  seen: Seen[] = [];
  connections = 0;

  constructor() {
    this.server = http.createServer((req, res) => {
      this.seen.push({ url: req.url ?? "", headers: req.headers });
      this.handler(req, res);
    });
    this.server.on("connection", () => {
      this.connections += 1;
    });
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(handler: Handler): void {
    this.handler = handler;
    this.seen = [];
    this.connections = 0;
    this.server.closeAllConnections();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

function stateBody(entitlementsV2: unknown[], accessDeniedReason: string | null = null): unknown {
  return { data: { entitlementsState: { __typename: "EntitlementsState", entitlements: [], entitlementsV2, accessDeniedReason } } };
}

const apiCalls = {
  __typename: "FeatureEntitlement",
  isGranted: true,
  accessDeniedReason: null,
  usageLimit: 1000,
  hasUnlimitedUsage: false,
  hasSoftLimit: false,
  currentUsage: 12.5,
  enumValues: null,
  usagePeriodAnchor: "2025-01-31T00:00:00.000Z",
  usagePeriodStart: "2025-02-28T00:00:00.000Z",
  usagePeriodEnd: "2025-03-31T00:00:00.000Z",
  resetPeriod: "MONTH",
  resetPeriodConfiguration: { __typename: "MonthlyResetPeriodConfig", monthlyAccordingTo: "SubscriptionStart" },
  feature: { __typename: "EntitlementFeature", featureType: "NUMBER", meterType: "Incremental", refId: "api-calls", displayName: "API calls" },
  validUntil: null,
};

const edge = new FakeEdge();
const baseUrl = await edge.listen();
const clients: EdgeClient[] = [];
after(async () => {
  for (const client of clients) client.close();
  await edge.close();
});

function client(options: Partial<EdgeClientOptions> = {}): EdgeClient {
  const c = new EdgeClient({ apiKey: "server-key-1", edgeApiUrl: baseUrl, ...options });
  clients.push(c);
  return c;
}

async function rejectsWith(promise: Promise<unknown>, kind: EdgeErrorKind): Promise<EdgeClientError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof EdgeClientError, `expected EdgeClientError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    return error;
  }
  assert.fail(`expected a ${kind} rejection`);
}

describe("Edge request", () => {
  test("fetches entitlements-state.json with Stigg's headers and maps the body", async () => {
    edge.reset((_req, res) =>
      sendJson(
        res,
        200,
        stateBody([
          apiCalls,
          { __typename: "CreditEntitlement", isGranted: true, currency: { currencyId: "credits" }, usageLimit: 10, currentUsage: 1 },
          { __typename: "FeatureEntitlement", isGranted: false, hasUnlimitedUsage: false, accessDeniedReason: "Revoked", feature: { featureType: "BOOLEAN", meterType: null, refId: "sso" } },
        ]),
      ),
    );
    const c = client({ instanceId: "instance-7" });
    const result = await c.fetchEntitlements("cust-1");
    assert.equal(edge.seen[0]?.url, "/v1/c/cust-1/entitlements-state.json");
    const headers = edge.seen[0]?.headers ?? {};
    assert.equal(headers["x-api-key"], "server-key-1");
    assert.equal(headers["x-api-version"], "1");
    assert.equal(headers["source"], "NODE_SERVER_SDK");
    assert.equal(headers["x-sdk-instance-id"], "instance-7");
    assert.match(String(headers["x-sdk-os-process-fingerprint"]), /^[0-9a-f]{32}$/);
    assert.equal(headers["x-sdk-os-process-id"], String(process.pid));
    assert.deepEqual(result.entitlements, {
      customerId: "cust-1",
      entitlements: [
        {
          featureId: "api-calls",
          featureType: "NUMBER",
          meterType: "Incremental",
          usageLimit: 1000,
          hasUnlimitedUsage: false,
          hasSoftLimit: false,
          currentUsage: 12.5,
          resetPeriod: "MONTH",
          usagePeriodAnchor: Date.parse("2025-01-31T00:00:00.000Z"),
          usagePeriodStart: Date.parse("2025-02-28T00:00:00.000Z"),
          usagePeriodEnd: Date.parse("2025-03-31T00:00:00.000Z"),
        },
        { featureId: "sso", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0, accessDeniedReason: "Revoked" },
      ],
    });
    assert.equal(result.attempts, 1);
    assert.equal(c.stats().skippedCredits, 1);
  });

  test("passes the customer-wide reason and the resource id through", async () => {
    edge.reset((_req, res) => sendJson(res, 200, stateBody([], "NoActiveSubscription")));
    const result = await client().fetchEntitlements("cust-1", "site-9");
    assert.equal(edge.seen[0]?.url, "/v1/c/cust-1/entitlements-state.json?resourceId=site-9");
    assert.deepEqual(result.entitlements, { customerId: "cust-1", resourceId: "site-9", accessDeniedReason: "NoActiveSubscription", entitlements: [] });
  });

  test("keeps a path prefix of the configured Edge URL", async () => {
    edge.reset((_req, res) => sendJson(res, 200, stateBody([])));
    await client({ edgeApiUrl: `${baseUrl}/stigg/` }).fetchEntitlements("c");
    assert.equal(edge.seen[0]?.url, "/stigg/v1/c/c/entitlements-state.json");
  });

  test("percent-encodes odd customer and resource ids so the server reads them back intact", async () => {
    edge.reset((_req, res) => sendJson(res, 200, stateBody([])));
    const c = client();
    const ids: Array<[string, string | undefined]> = [
      ["a/b", undefined],
      ["what?x=1", "r#1"],
      ["50% off & more", "k=v&x=y"],
      ["ünïcödé-客户-🚀", "ресурс"],
      ["..", "."],
      ["x".repeat(1024), "y".repeat(1024)],
      ["+plus space", " "],
    ];
    for (const [customerId, resourceId] of ids) {
      await c.fetchEntitlements(customerId, resourceId);
      const seen = edge.seen.at(-1);
      assert.ok(seen);
      const url = new URL(seen.url, "http://edge");
      const segments = seen.url.split("?")[0]?.split("/") ?? [];
      assert.equal(segments.length, 5, seen.url);
      assert.equal(decodeURIComponent(segments[3] ?? ""), customerId);
      assert.equal(segments[4], "entitlements-state.json");
      assert.equal(url.searchParams.get("resourceId"), resourceId ?? null);
      assert.ok(!url.pathname.includes("/../") && !seen.url.includes("#"));
    }
  });

  test("refuses empty ids and lone surrogates without sending anything", async () => {
    edge.reset((_req, res) => sendJson(res, 200, stateBody([])));
    const c = client();
    await rejectsWith(c.fetchEntitlements(""), "invalid-argument");
    await rejectsWith(c.fetchEntitlements("c", ""), "invalid-argument");
    await rejectsWith(c.fetchEntitlements("bad\uD800id"), "invalid-argument");
    assert.equal(edge.seen.length, 0);
  });

  test("rejects unusable options with invalid-argument", () => {
    const bad: Array<Partial<EdgeClientOptions>> = [
      { apiKey: "" },
      { apiKey: "key\nX-Injected: 1" },
      { edgeApiUrl: "not a url" },
      { edgeApiUrl: "ftp://edge.example" },
      { edgeApiUrl: `${baseUrl}/?x=1` },
      { timeoutMs: 0 },
      { timeoutMs: Number.NaN },
      { requestsPerMinute: -1 },
      { burst: 0 },
      { maxBodyBytes: 0 },
    ];
    for (const options of bad) {
      assert.throws(
        () => new EdgeClient({ apiKey: "k", edgeApiUrl: baseUrl, ...options }),
        (error: unknown) => error instanceof EdgeClientError && error.kind === "invalid-argument",
        JSON.stringify(options),
      );
    }
  });

  test("reuses one keep-alive connection for consecutive fetches", async () => {
    edge.reset((_req, res) => sendJson(res, 200, stateBody([apiCalls])));
    const c = client();
    for (let i = 0; i < 5; i += 1) await c.fetchEntitlements(`c${i}`);
    assert.equal(edge.seen.length, 5);
    assert.equal(edge.connections, 1);
  });
});

describe("Edge retries", () => {
  test("retries 5xx answers and succeeds when Edge recovers", async () => {
    let calls = 0;
    edge.reset((_req, res) => {
      calls += 1;
      if (calls <= 2) sendJson(res, calls === 1 ? 503 : 500, { error: "boom" });
      else sendJson(res, 200, stateBody([apiCalls]));
    });
    const c = client({ timeoutMs: 1000 });
    const result = await c.fetchEntitlements("c");
    assert.equal(result.attempts, 3);
    assert.equal(result.entitlements.entitlements.length, 1);
    assert.equal(c.stats().retries, 2);
  });

  test("gives up after the attempt limit with the last status", async () => {
    edge.reset((_req, res) => sendJson(res, 502, "bad gateway"));
    const error = await rejectsWith(client({ maxAttempts: 3 }).fetchEntitlements("c"), "http");
    assert.equal(error.status, 502);
    assert.equal(error.attempts, 3);
    assert.equal(edge.seen.length, 3);
  });

  test("does not retry 4xx answers other than 429", async () => {
    edge.reset((_req, res) => sendJson(res, 404, { message: "not found" }));
    const error = await rejectsWith(client().fetchEntitlements("c"), "http");
    assert.equal(error.status, 404);
    assert.equal(edge.seen.length, 1);
  });

  test("reports a refused API key as unauthorized without retrying", async () => {
    edge.reset((_req, res) => sendJson(res, 401, { message: "Unauthorized" }));
    await rejectsWith(client().fetchEntitlements("c"), "unauthorized");
    assert.equal(edge.seen.length, 1);
  });

  test("retries a connection dropped mid-body", async () => {
    let calls = 0;
    edge.reset((_req, res) => {
      calls += 1;
      if (calls === 1) {
        res.writeHead(200, { "content-type": "application/json", "content-length": 1000 });
        res.write('{"data":{"entitle', () => res.socket?.destroy());
      } else {
        sendJson(res, 200, stateBody([apiCalls]));
      }
    });
    const result = await client().fetchEntitlements("c");
    assert.equal(result.attempts, 2);
  });

  test("keeps every retry inside the time budget", async () => {
    edge.reset((_req, res) => sendJson(res, 503, "down"));
    const started = performance.now();
    const error = await client({ timeoutMs: 120, maxAttempts: 50, backoffBaseMs: 40, backoffMaxMs: 80 })
      .fetchEntitlements("c")
      .then(() => assert.fail("expected a rejection"), (e: unknown) => e);
    const elapsed = performance.now() - started;
    // The last attempt either got its 503 or was cut off by the deadline.
    assert.ok(error instanceof EdgeClientError && (error.kind === "http" || error.kind === "timeout"), String(error));
    assert.ok(elapsed < 400, `took ${elapsed} ms`);
    assert.ok(edge.seen.length >= 2 && edge.seen.length < 50, `${edge.seen.length} requests`);
  });
});

test("a backoff pause that overruns the time budget ends with the last error, not a request-budget refusal", async () => {
  edge.reset((_req, res) => sendJson(res, 503, "down"));
  const c = client({ timeoutMs: 100, maxAttempts: 5, backoffBaseMs: 60, backoffMaxMs: 60, random: () => 1 });
  // Block the event loop during the 60 ms pause, as a busy process would: the pause ends past the deadline.
  setTimeout(() => {
    const until = performance.now() + 120;
    while (performance.now() < until) {
      // busy
    }
  }, 20);
  const error = await rejectsWith(c.fetchEntitlements("c"), "http");
  assert.equal(error.status, 503);
  assert.equal(c.stats().budgetRefusals, 0, "the request budget was never short");
});

describe("Edge rate limits and the request budget", () => {
  test("does not retry a 429 and refuses further fetches locally while backing off", async () => {
    edge.reset((_req, res) => sendJson(res, 429, { error: "rate_limit_exceeded", message: "Too many requests" }));
    const c = client({ rateLimitCooldownMs: 150 });
    const first = await rejectsWith(c.fetchEntitlements("c"), "rate-limited");
    assert.equal(first.status, 429);
    assert.equal(first.attempts, 1);
    const burst = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => c.fetchEntitlements(`c${i}`)));
    assert.ok(burst.every((r) => r.status === "rejected" && (r.reason as EdgeClientError).kind === "rate-limited"));
    assert.equal(edge.seen.length, 1, "no request while backing off");
    assert.equal(c.stats().rateLimited, 1);
    assert.equal(c.stats().rateLimitCooldownRefusals, 50);

    edge.handler = (_req, res) => sendJson(res, 200, stateBody([]));
    await sleep(160);
    await c.fetchEntitlements("c");
    assert.equal(edge.seen.length, 2);
  });

  test("doubles the pause after consecutive 429s", async () => {
    edge.reset((_req, res) => sendJson(res, 429, "{}"));
    const c = client({ rateLimitCooldownMs: 100 });
    await rejectsWith(c.fetchEntitlements("c"), "rate-limited");
    await sleep(110);
    await rejectsWith(c.fetchEntitlements("c"), "rate-limited");
    await sleep(110);
    await rejectsWith(c.fetchEntitlements("c"), "rate-limited");
    assert.equal(edge.seen.length, 2, "the second pause lasts 200 ms");
  });

  test("refuses fetches beyond the request budget instead of exceeding it", async () => {
    edge.reset((_req, res) => sendJson(res, 200, stateBody([])));
    const c = client({ requestsPerMinute: 600, burst: 2, timeoutMs: 50 });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => c.fetchEntitlements(`c${i}`)));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 2);
    assert.ok(results.filter((r) => r.status === "rejected").every((r) => (r.reason as EdgeClientError).kind === "budget-exhausted"));
    assert.equal(edge.seen.length, 2);
    assert.equal(c.stats().budgetRefusals, 3);
  });

  test("spaces requests at the budgeted rate when the time budget allows waiting", async () => {
    edge.reset((_req, res) => sendJson(res, 200, stateBody([])));
    const c = client({ requestsPerMinute: 1200, burst: 1, timeoutMs: 1000 });
    const started = performance.now();
    await Promise.all(Array.from({ length: 4 }, (_, i) => c.fetchEntitlements(`c${i}`)));
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 140, `4 requests at 20/s took ${elapsed} ms`);
    assert.equal(edge.seen.length, 4);
  });

  test("token bucket reserves in order and refuses waits longer than allowed", () => {
    let now = 0;
    const bucket = new TokenBucket(60, 2, () => now);
    assert.equal(bucket.reserve(0), 0);
    assert.equal(bucket.reserve(0), 0);
    assert.equal(bucket.reserve(500), undefined);
    assert.equal(bucket.reserve(1000), 1000);
    assert.equal(bucket.reserve(2000), 2000);
    now = 2000;
    assert.equal(bucket.available(), 0);
    now = 10_000;
    assert.equal(bucket.available(), 2);
    bucket.drain();
    assert.equal(bucket.available(), 0);
  });
});

describe("Edge timeouts and cancellation", () => {
  test("rejects with a timeout when Edge is slower than the budget", async () => {
    edge.reset((_req, res) => {
      const timer = setTimeout(() => sendJson(res, 200, stateBody([])), 2000);
      res.on("close", () => clearTimeout(timer));
    });
    const started = performance.now();
    const error = await rejectsWith(client({ timeoutMs: 150 }).fetchEntitlements("c"), "timeout");
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 140 && elapsed < 600, `took ${elapsed} ms`);
    assert.equal(error.attempts, 1);
    assert.equal(edge.seen.length, 1);
  });

  test("uses a 1,500 ms budget by default", () => {
    assert.equal(client().timeoutMs, 1500);
  });

  test("stops when the caller aborts", async () => {
    edge.reset((_req, res) => {
      const timer = setTimeout(() => sendJson(res, 200, stateBody([])), 2000);
      res.on("close", () => clearTimeout(timer));
    });
    const controller = new AbortController();
    const pending = client().fetchEntitlements("c", undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(), 30);
    await rejectsWith(pending, "aborted");
  });

  test("aborts fetches in progress when the client closes", async () => {
    edge.reset((_req, res) => {
      const timer = setTimeout(() => sendJson(res, 200, stateBody([])), 2000);
      res.on("close", () => clearTimeout(timer));
    });
    const c = client();
    const pending = c.fetchEntitlements("c");
    setTimeout(() => c.close(), 30);
    await rejectsWith(pending, "aborted");
    await rejectsWith(c.fetchEntitlements("c"), "aborted");
  });
});

describe("Edge bodies", () => {
  test("rejects a truncated JSON body without retrying", async () => {
    const full = JSON.stringify(stateBody([apiCalls]));
    edge.reset((_req, res) => sendJson(res, 200, full.slice(0, full.length / 2)));
    const error = await rejectsWith(client().fetchEntitlements("c"), "malformed-body");
    assert.equal(error.attempts, 1);
    assert.equal(edge.seen.length, 1);
  });

  test("rejects numbers sent as strings and names the field", async () => {
    edge.reset((_req, res) => sendJson(res, 200, stateBody([{ ...apiCalls, usageLimit: "1000" }])));
    const error = await rejectsWith(client().fetchEntitlements("c"), "malformed-body");
    assert.match(error.message, /entitlementsV2\[0\]\.usageLimit: must be a number/);
  });

  test("rejects a body larger than the cap, declared or streamed", async () => {
    const big = JSON.stringify(stateBody(Array.from({ length: 200 }, (_, i) => ({ ...apiCalls, feature: { ...apiCalls.feature, refId: `f${i}` } }))));
    edge.reset((_req, res) => sendJson(res, 200, big));
    await rejectsWith(client({ maxBodyBytes: 4096 }).fetchEntitlements("c"), "body-too-large");
    edge.reset((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(big);
    });
    await rejectsWith(client({ maxBodyBytes: 4096 }).fetchEntitlements("c"), "body-too-large");
    assert.equal(edge.seen.length, 1);
  });

  test("accepts a body just under an 8 MiB default cap and rejects one over it", async () => {
    const padding = (bytes: number): string => JSON.stringify({ ...(stateBody([]) as object), extensions: { pad: "x".repeat(bytes) } });
    const under = padding(8 * 1024 * 1024 - 200);
    const over = padding(8 * 1024 * 1024 + 10);
    edge.reset((_req, res) => sendJson(res, 200, under));
    await client().fetchEntitlements("c");
    edge.reset((_req, res) => sendJson(res, 200, over));
    await rejectsWith(client().fetchEntitlements("c"), "body-too-large");
  });

  test("raises a non-empty errors array and spots an Unauthenticated code", async () => {
    edge.reset((_req, res) => sendJson(res, 200, { data: null, errors: [{ message: "Something broke" }] }));
    const error = await rejectsWith(client().fetchEntitlements("c"), "graphql");
    assert.match(error.message, /Something broke/);
    edge.reset((_req, res) => sendJson(res, 200, { errors: [{ message: "nope", extensions: { code: "Unauthenticated" } }] }));
    await rejectsWith(client().fetchEntitlements("c"), "unauthorized");
  });

  test("rejects bodies missing the entitlements state", async () => {
    for (const body of ["null", "[]", '{"data":{}}', '{"data":{"entitlementsState":{"entitlementsV2":{}}}}']) {
      edge.reset((_req, res) => sendJson(res, 200, body));
      await rejectsWith(client().fetchEntitlements("c"), "malformed-body");
    }
  });
});
