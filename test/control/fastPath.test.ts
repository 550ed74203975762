import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import { gzipSync } from "node:zlib";
import * as grpc from "@grpc/grpc-js";
import { startApiServer, type ApiServerHandle } from "../../control/api/apiServer.ts";
import { extAuthzServiceDefinition } from "../../control/api/extAuthzProto.ts";
import { attachFastPath } from "../../control/api/fastPath/fastPath.ts";
import { sidecarServiceDefinition } from "../../control/api/sidecarProto.ts";
import { inflightInterceptor, methodsNamed, rateLimitInterceptor } from "../../control/limits/grpcLimitInterceptors.ts";
import { grpcLimitOptions } from "../../control/limits/grpcMessageLimits.ts";
import { InflightLimiter } from "../../control/limits/inflightLimit.ts";
import { PeerRateLimiter } from "../../control/limits/peerRateLimiter.ts";
import { statusDetailsLimitInterceptor } from "../../control/limits/statusDetailsLimit.ts";
import { createLogger } from "../../control/log.ts";
import { Metrics } from "../../control/metrics/metrics.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { OfflineUsageWriter } from "../../control/read/offlineUsageWriter.ts";
import type { EntitlementReader, ReadOptions, ReadResult } from "../../control/read/readTypes.ts";
import { StoreReader } from "../../control/read/storeReader.ts";
import type { GrpcTransport } from "../../control/security/grpcTransport.ts";
import { BearerToken } from "../../control/security/bearerToken.ts";
import { bearerAuthInterceptor } from "../../control/security/grpcBearerAuth.ts";
import { decodeFailuresAsValues, undecodableRequestInterceptor } from "../../control/security/undecodableRequests.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";

const SIDECAR = "/stigg.sidecar.v1.SidecarService/";
const CHECK = "/envoy.service.auth.v3.Authorization/Check";
const NOW = Date.UTC(2026, 10, 25, 12, 0, 0);

const ACME: CustomerEntitlements = {
  customerId: "acme",
  entitlements: [
    { featureId: "sso", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    { featureId: "seats", featureType: "NUMBER", meterType: "None", usageLimit: 10, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
    {
      featureId: "api-calls",
      featureType: "NUMBER",
      meterType: "Incremental",
      usageLimit: 100,
      hasUnlimitedUsage: false,
      hasSoftLimit: false,
      currentUsage: 40,
      resetPeriod: "MONTH",
      usagePeriodStart: Date.UTC(2026, 10, 1),
      usagePeriodEnd: Date.UTC(2026, 11, 1),
    },
    { featureId: "regions", featureType: "ENUM", enumValues: ["us", "eu"], hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 },
  ],
};

const sidecarDefinition = sidecarServiceDefinition();
const extAuthzDefinition = extAuthzServiceDefinition();

function encodeRequest(path: string, request: object): Buffer {
  const definition = path === CHECK ? extAuthzDefinition.Check! : sidecarDefinition[path.slice(SIDECAR.length)]!;
  return definition.requestSerialize(request);
}

function frame(message: Buffer, flag = 0): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = flag;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

interface RawAnswer {
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders | undefined;
  body: Buffer;
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  status: number | undefined;
  message: string | undefined;
}

/** One gRPC call written by hand: `chunks` are written one by one (each its own DATA frame), `pauseMs` apart. */
async function rawCall(
  session: http2.ClientHttp2Session,
  path: string,
  chunks: Buffer[],
  options: { headers?: http2.OutgoingHttpHeaders; pauseMs?: number } = {},
): Promise<RawAnswer> {
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers", ...options.headers });
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    const body: Buffer[] = [];
    stream.on("response", (h) => (headers = h));
    stream.on("trailers", (t) => (trailers = t));
    stream.on("data", (chunk: Buffer) => body.push(chunk));
    stream.on("error", reject);
    stream.on("close", () => {
      const source = trailers ?? headers;
      const status = source["grpc-status"];
      const message = source["grpc-message"];
      resolve({
        headers,
        trailers,
        body: Buffer.concat(body),
        status: status === undefined ? undefined : Number(status),
        message: typeof message === "string" ? decodeURIComponent(message) : undefined,
      });
    });
  });
  for (const chunk of chunks) {
    stream.write(chunk);
    if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
  }
  stream.end();
  return answer;
}

function messageOf(answer: RawAnswer): Buffer {
  assert.ok(answer.body.length >= 5, "a response message");
  assert.equal(answer.body[0], 0);
  const length = answer.body.readUInt32BE(1);
  assert.equal(answer.body.length, 5 + length, "exactly one message");
  return answer.body.subarray(5);
}

async function apiFixture(
  t: TestContext,
  options: { fastPath?: boolean; reader?: EntitlementReader; transport?: GrpcTransport; metrics?: Metrics } = {},
): Promise<{ api: ApiServerHandle; session: http2.ClientHttp2Session }> {
  const store = new EntitlementStore();
  store.upsert(ACME);
  const api = await startApiServer({
    host: "127.0.0.1",
    port: 0,
    reader: options.reader ?? new StoreReader(store),
    usage: new OfflineUsageWriter(store),
    logger: createLogger("silent"),
    now: () => NOW,
    extAuthzRules: [{ pathPrefix: "/api", feature: "api-calls", requestedUsage: 1 }],
    fastPath: options.fastPath ?? true,
    ...(options.transport ? { transport: options.transport } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  });
  const session = http2.connect(`http://127.0.0.1:${api.port}`);
  session.on("error", () => {});
  t.after(async () => {
    session.destroy();
    await api.close(200);
  });
  return { api, session };
}

/**
 * A reader that never answers by itself: it records the signal and, unless `answersOnAbort` is false,
 * settles when the caller gives up. Without that, only `release()` settles it (so the deadline status
 * cannot race the handler's own answer).
 */
class HangingReader implements EntitlementReader {
  readonly signals: AbortSignal[] = [];
  private readonly pending: (() => void)[] = [];
  constructor(private readonly answersOnAbort = true) {}
  read(_customerId: string, _resourceId: string | undefined, options?: ReadOptions): Promise<ReadResult> {
    const signal = options?.signal;
    if (signal) this.signals.push(signal);
    return new Promise((resolve) => {
      const settle = (): void => resolve({ source: "unavailable", error: "aborted" });
      this.pending.push(settle);
      if (this.answersOnAbort) signal?.addEventListener("abort", settle, { once: true });
    });
  }
  release(): void {
    for (const settle of this.pending.splice(0)) settle();
  }
  async reload(): Promise<{ entitledEntityExists: boolean }> {
    return { entitledEntityExists: false };
  }
  /** Resolves once `count` reads have started. */
  async started(count: number): Promise<void> {
    for (let i = 0; i < 200 && this.signals.length < count; i++) await new Promise((r) => setTimeout(r, 5));
    assert.ok(this.signals.length >= count, `${count} reads started`);
  }
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(condition(), what);
}

const HOT_CALLS: [string, object][] = [
  [`${SIDECAR}GetBooleanEntitlement`, { customer_id: "acme", feature_id: "sso" }],
  [`${SIDECAR}GetMeteredEntitlement`, { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: 1 } }],
  [`${SIDECAR}GetNumericEntitlement`, { customer_id: "acme", feature_id: "seats" }],
  [`${SIDECAR}GetEnumEntitlement`, { customer_id: "acme", feature_id: "regions", options: { requested_values: ["eu"] } }],
  [`${SIDECAR}GetEntitlement`, { customer_id: "acme", feature_id: "api-calls" }],
  [`${SIDECAR}GetMeteredEntitlement`, { customer_id: "nobody", feature_id: "api-calls" }],
  [`${SIDECAR}GetBooleanEntitlement`, { customer_id: "acme", feature_id: "seats" }],
  [CHECK, { attributes: { request: { http: { path: "/api/x", headers: { "x-customer-id": "acme", "x-entitlement-decision": "forged" } } } } }],
  [CHECK, { attributes: { request: { http: { path: "/api/x", headers: {} } } } }],
  [`${SIDECAR}GetBooleanEntitlement`, { customer_id: "", feature_id: "sso" }],
  [`${SIDECAR}GetMeteredEntitlement`, { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: -1 } }],
];

test("answers every hot method with the same bytes, status and message as grpc-js", async (t) => {
  const fast = await apiFixture(t, { fastPath: true });
  const slow = await apiFixture(t, { fastPath: false });
  assert.equal(slow.api.fastPath, undefined);
  for (const [path, request] of HOT_CALLS) {
    const body = [frame(encodeRequest(path, request))];
    const [a, b] = await Promise.all([rawCall(fast.session, path, body), rawCall(slow.session, path, body)]);
    const what = `${path} ${JSON.stringify(request)}`;
    assert.equal(a.status, b.status, what);
    assert.equal(a.message, b.message, what);
    assert.deepEqual(a.body, b.body, what);
  }
  // Envoy's ext_authz sends a grpc-timeout on every Check.
  const check = [frame(encodeRequest(CHECK, HOT_CALLS[7]![1]))];
  const withTimeout = { headers: { "grpc-timeout": "200m" } };
  const [a, b] = await Promise.all([rawCall(fast.session, CHECK, check, withTimeout), rawCall(slow.session, CHECK, check, withTimeout)]);
  assert.equal(a.status, grpc.status.OK);
  assert.deepEqual([a.status, a.body], [b.status, b.body]);
  assert.equal(fast.api.fastPath?.calls(), HOT_CALLS.length + 1, "every call went through the fast path");
});

test("answers with :status 200, content-type application/grpc, one framed message and grpc-status 0 trailers", async (t) => {
  const { session } = await apiFixture(t);
  const answer = await rawCall(session, `${SIDECAR}GetBooleanEntitlement`, [frame(encodeRequest(`${SIDECAR}GetBooleanEntitlement`, { customer_id: "acme", feature_id: "sso" }))]);
  assert.equal(answer.headers[":status"], 200);
  assert.equal(answer.headers["content-type"], "application/grpc");
  assert.equal(answer.trailers?.["grpc-status"], "0");
  const response = sidecarDefinition.GetBooleanEntitlement!.responseDeserialize(messageOf(answer)) as { has_access: boolean };
  assert.equal(response.has_access, true);
});

test("refuses an invalid request trailers-only with INVALID_ARGUMENT naming the field, percent-encoded", async (t) => {
  const { session } = await apiFixture(t);
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const answer = await rawCall(session, path, [frame(encodeRequest(path, { customer_id: "é".repeat(600), feature_id: "sso" }))]);
  assert.equal(answer.trailers, undefined, "trailers-only");
  assert.equal(answer.headers[":status"], 200);
  assert.equal(answer.status, grpc.status.INVALID_ARGUMENT);
  assert.equal(answer.headers["grpc-message"], encodeURI("customer_id: must be at most 1024 bytes (got 1200)"));
  assert.equal(answer.body.length, 0);
});

test("reassembles a request split across many DATA frames, prefix included", async (t) => {
  const { api, session } = await apiFixture(t);
  const path = `${SIDECAR}GetMeteredEntitlement`;
  const whole = frame(encodeRequest(path, { customer_id: "acme", feature_id: "api-calls", options: { requested_usage: 5 } }));
  const pieces = [...whole].map((byte) => Buffer.from([byte]));
  const answer = await rawCall(session, path, pieces, { pauseMs: 1 });
  assert.equal(answer.status, grpc.status.OK);
  const response = sidecarDefinition.GetMeteredEntitlement!.responseDeserialize(messageOf(answer)) as { has_access: boolean; requested_usage: number };
  assert.deepEqual([response.has_access, response.requested_usage], [true, 5]);
  assert.equal(api.fastPath?.calls(), 1);
});

test("refuses a compressed-flag message on an identity stream with UNIMPLEMENTED", async (t) => {
  const { session } = await apiFixture(t);
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const answer = await rawCall(session, path, [frame(encodeRequest(path, { customer_id: "acme", feature_id: "sso" }), 1)]);
  assert.equal(answer.status, grpc.status.UNIMPLEMENTED);
  assert.match(answer.message ?? "", /compressed/);
});

test("hands a gzip-encoded request to grpc-js, which decompresses and answers it", async (t) => {
  const { api, session } = await apiFixture(t);
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const compressed = gzipSync(encodeRequest(path, { customer_id: "acme", feature_id: "sso" }));
  const answer = await rawCall(session, path, [frame(compressed, 1)], { headers: { "grpc-encoding": "gzip" } });
  assert.equal(answer.status, grpc.status.OK);
  assert.equal((sidecarDefinition.GetBooleanEntitlement!.responseDeserialize(messageOf(answer)) as { has_access: boolean }).has_access, true);
  assert.equal(api.fastPath?.calls(), 0);
});

test("refuses a request over the receive limit with RESOURCE_EXHAUSTED before reading it whole", async (t) => {
  const transport: GrpcTransport = { channelOptions: grpcLimitOptions({ maxReceiveMessageBytes: 100, maxSendMessageBytes: 1 << 20, maxConcurrentStreams: 100 }) };
  const { session } = await apiFixture(t, { transport });
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const big = frame(encodeRequest(path, { customer_id: "a".repeat(500), feature_id: "sso" }));
  const answer = await rawCall(session, path, [big.subarray(0, 20)]);
  assert.equal(answer.status, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(answer.message, `Received message larger than max (${big.length - 5} vs 100)`);
});

test("refuses a second request message and a missing one with grpc-js's UNIMPLEMENTED", async (t) => {
  const { session } = await apiFixture(t);
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const one = frame(encodeRequest(path, { customer_id: "acme", feature_id: "sso" }));
  const two = await rawCall(session, path, [Buffer.concat([one, one])]);
  assert.equal(two.status, grpc.status.UNIMPLEMENTED);
  assert.match(two.message ?? "", /second request message/);
  const none = await rawCall(session, path, []);
  assert.equal(none.status, grpc.status.UNIMPLEMENTED);
  assert.match(none.message ?? "", /no request message/);
});

test("answers DEADLINE_EXCEEDED at the grpc-timeout and aborts the reader's work", async (t) => {
  const reader = new HangingReader(false);
  t.after(() => reader.release());
  const { session } = await apiFixture(t, { reader });
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const started = Date.now();
  const answer = await rawCall(session, path, [frame(encodeRequest(path, { customer_id: "acme", feature_id: "sso" }))], { headers: { "grpc-timeout": "80m" } });
  assert.equal(answer.status, grpc.status.DEADLINE_EXCEEDED);
  assert.equal(answer.message, "Deadline exceeded");
  assert.ok(Date.now() - started >= 70, "not before the deadline");
  await until(() => reader.signals[0]?.aborted === true, "the reader's signal is aborted");
});

test("refuses an unreadable grpc-timeout with INTERNAL as grpc-js does", async (t) => {
  const { session } = await apiFixture(t);
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const answer = await rawCall(session, path, [frame(encodeRequest(path, { customer_id: "acme", feature_id: "sso" }))], { headers: { "grpc-timeout": "soon" } });
  assert.equal(answer.status, grpc.status.INTERNAL);
  assert.equal(answer.message, 'Invalid grpc-timeout value "soon"');
});

test("a client that resets its stream aborts the reader's work and releases its in-flight slot", async (t) => {
  const reader = new HangingReader();
  const limiter = new InflightLimiter(10);
  const transport: GrpcTransport = { interceptors: [inflightInterceptor({ limiter, methods: methodsNamed([SIDECAR]), settingName: "MAX_INFLIGHT_UPSTREAM" })] };
  const { session } = await apiFixture(t, { reader, transport });
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
  stream.on("error", () => {});
  stream.end(frame(encodeRequest(path, { customer_id: "acme", feature_id: "sso" })));
  await reader.started(1);
  assert.equal(limiter.inflight, 1);
  stream.close(http2.constants.NGHTTP2_CANCEL);
  await until(() => reader.signals[0]?.aborted === true, "the reader's signal is aborted");
  await until(() => limiter.inflight === 0, "the slot is released");
});

test("applies the in-flight cap: a call over it gets RESOURCE_EXHAUSTED naming the setting", async (t) => {
  const reader = new HangingReader(false);
  t.after(() => reader.release());
  const limiter = new InflightLimiter(1);
  const transport: GrpcTransport = { interceptors: [inflightInterceptor({ limiter, methods: methodsNamed([SIDECAR]), settingName: "MAX_INFLIGHT_UPSTREAM" })] };
  const { session } = await apiFixture(t, { reader, transport });
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const body = [frame(encodeRequest(path, { customer_id: "acme", feature_id: "sso" }))];
  const first = rawCall(session, path, body, { headers: { "grpc-timeout": "300m" } });
  await reader.started(1);
  const second = await rawCall(session, path, body);
  assert.equal(second.status, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(second.message ?? "", /1 calls already in progress \(MAX_INFLIGHT_UPSTREAM\)/);
  assert.equal((await first).status, grpc.status.DEADLINE_EXCEEDED);
  await until(() => limiter.inflight === 0, "the slot is released after the deadline");
});

test("applies the per-client rate limit to fast calls", async (t) => {
  const limiter = new PeerRateLimiter({ ratePerSecond: 2, burst: 2 });
  const transport: GrpcTransport = { interceptors: [rateLimitInterceptor({ limiter, methods: methodsNamed([CHECK]) })] };
  const { session } = await apiFixture(t, { transport });
  const body = [frame(encodeRequest(CHECK, { attributes: { request: { http: { path: "/other", headers: {} } } } }))];
  const answers = await Promise.all([1, 2, 3, 4].map(() => rawCall(session, CHECK, body)));
  const codes = answers.map((a) => a.status);
  assert.ok(codes.filter((c) => c === grpc.status.OK).length <= 2, `at most the burst passes (${codes.join()})`);
  assert.ok(codes.includes(grpc.status.RESOURCE_EXHAUSTED), `the rest are refused (${codes.join()})`);
  assert.equal(limiter.peers, 1, "one bucket: the client address, as grpc-js reports it");
});

test("answers undecodable bytes with INVALID_ARGUMENT through the same decoder and interceptor as grpc-js", async (t) => {
  const transport: GrpcTransport = { interceptors: [statusDetailsLimitInterceptor(), undecodableRequestInterceptor], wrapService: decodeFailuresAsValues };
  const { api, session } = await apiFixture(t, { transport });
  const answer = await rawCall(session, `${SIDECAR}GetBooleanEntitlement`, [frame(Buffer.from([0x0a, 0xff, 0xff, 0xff]))]);
  assert.equal(answer.status, grpc.status.INVALID_ARGUMENT);
  assert.match(answer.message ?? "", /^request: not a valid GetBooleanEntitlement request message/);
  assert.equal(api.fastPath?.calls(), 1);
});

/** The API server's interceptor list as serverHardening builds it, with its own limiters. */
function hardenedTransport(rate: PeerRateLimiter, inflight: InflightLimiter): GrpcTransport {
  return {
    interceptors: [
      statusDetailsLimitInterceptor(),
      rateLimitInterceptor({ limiter: rate, methods: methodsNamed([CHECK]) }),
      inflightInterceptor({ limiter: inflight, methods: methodsNamed([SIDECAR, CHECK]), settingName: "MAX_INFLIGHT_UPSTREAM" }),
      undecodableRequestInterceptor,
    ],
    wrapService: decodeFailuresAsValues,
  };
}

test("with the API's whole interceptor list, refusals and bounded statuses match grpc-js's word for word and every slot comes back", async (t) => {
  const fastLimits = { rate: new PeerRateLimiter({ ratePerSecond: 1, burst: 1 }), inflight: new InflightLimiter(10) };
  const slowLimits = { rate: new PeerRateLimiter({ ratePerSecond: 1, burst: 1 }), inflight: new InflightLimiter(10) };
  const fast = await apiFixture(t, { transport: hardenedTransport(fastLimits.rate, fastLimits.inflight) });
  const slow = await apiFixture(t, { transport: hardenedTransport(slowLimits.rate, slowLimits.inflight), fastPath: false });
  const both = async (path: string, body: Buffer[]): Promise<[RawAnswer, RawAnswer]> => [await rawCall(fast.session, path, body), await rawCall(slow.session, path, body)];

  const boolean = `${SIDECAR}GetBooleanEntitlement`;
  const cases: [string, Buffer[]][] = [
    [boolean, [frame(Buffer.from([0x0a, 0xff, 0xff, 0xff]))]],
    [boolean, [frame(encodeRequest(boolean, { customer_id: "acme", feature_id: "sso" }))]],
    [boolean, [frame(encodeRequest(boolean, { customer_id: "", feature_id: "sso" }))]],
    [boolean, []],
    // A refusal quoting 3,000 characters: bounded by the first interceptor on both paths.
    [CHECK, [frame(encodeRequest(CHECK, { attributes: { request: { http: { path: "/x", headers: { "x-customer-id": "acme" } } }, context_extensions: { entitlement_feature: "api-calls", entitlement_requested_usage: "é".repeat(3000) } } }))]],
    // The rate limit (1 per second, burst 1) has been spent by the call above: refused by the second step.
    [CHECK, [frame(encodeRequest(CHECK, { attributes: { request: { http: { path: "/api/x", headers: { "x-customer-id": "acme" } } } } }))]],
    [CHECK, [frame(Buffer.from([0x0a, 0xff]))]],
  ];
  const answers: RawAnswer[] = [];
  for (const [path, body] of cases) {
    const [a, b] = await both(path, body);
    const what = `${path} ${body[0]?.toString("hex").slice(0, 40) ?? "no message"}`;
    assert.equal(a.status, b.status, what);
    assert.equal(a.message, b.message, what);
    assert.deepEqual(a.body, b.body, what);
    answers.push(a);
  }
  assert.deepEqual(
    answers.map((a) => a.status),
    [grpc.status.INVALID_ARGUMENT, grpc.status.OK, grpc.status.INVALID_ARGUMENT, grpc.status.UNIMPLEMENTED, grpc.status.INVALID_ARGUMENT, grpc.status.RESOURCE_EXHAUSTED, grpc.status.RESOURCE_EXHAUSTED],
  );
  assert.match(answers[4]!.message ?? "", /characters, truncated\)$/);
  assert.equal(fast.api.fastPath?.calls(), cases.length, "every call went through the fast path");
  await until(() => fastLimits.inflight.inflight === 0 && slowLimits.inflight.inflight === 0, "every in-flight slot is given back");
});

test("an interceptor without a plain form (a bearer token) still wraps every fast call, in order", async (t) => {
  const limiter = new InflightLimiter(10);
  const transport: GrpcTransport = {
    interceptors: [
      statusDetailsLimitInterceptor(),
      bearerAuthInterceptor({ token: new BearerToken("a-long-enough-api-token") }),
      inflightInterceptor({ limiter, methods: methodsNamed([SIDECAR]), settingName: "MAX_INFLIGHT_UPSTREAM" }),
      undecodableRequestInterceptor,
    ],
    wrapService: decodeFailuresAsValues,
  };
  const { api, session } = await apiFixture(t, { transport });
  const path = `${SIDECAR}GetBooleanEntitlement`;
  const body = [frame(encodeRequest(path, { customer_id: "acme", feature_id: "sso" }))];
  const refused = await rawCall(session, path, body);
  assert.equal(refused.status, grpc.status.UNAUTHENTICATED);
  assert.equal(refused.message, "missing authorization metadata (Bearer token)");
  const answered = await rawCall(session, path, body, { headers: { authorization: "Bearer a-long-enough-api-token" } });
  assert.equal(answered.status, grpc.status.OK);
  const undecodable = await rawCall(session, path, [frame(Buffer.from([0x0a, 0xff]))], { headers: { authorization: "Bearer a-long-enough-api-token" } });
  assert.equal(undecodable.status, grpc.status.INVALID_ARGUMENT);
  assert.match(undecodable.message ?? "", /^request: not a valid GetBooleanEntitlement request message/);
  assert.equal(api.fastPath?.calls(), 3);
  await until(() => limiter.inflight === 0, "the slots are given back");
});

test("counts fast-path decisions in the same metrics as grpc-js", async (t) => {
  const metrics = new Metrics({ processMetrics: false });
  const { session } = await apiFixture(t, { metrics });
  const path = `${SIDECAR}GetBooleanEntitlement`;
  await rawCall(session, path, [frame(encodeRequest(path, { customer_id: "acme", feature_id: "sso" }))]);
  const text = await metrics.registry.metrics();
  assert.match(text, /entitlement_gate_decisions_total\{api="sidecar",result="allow",reason=""\} 1/);
});

test("leaves other methods, health, unknown paths and wrong content types to grpc-js on the same port", async (t) => {
  const { api, session } = await apiFixture(t);
  const reload = await rawCall(session, `${SIDECAR}ReloadEntitlements`, [frame(encodeRequest(`${SIDECAR}ReloadEntitlements`, { customer_id: "acme" }))]);
  assert.equal(reload.status, grpc.status.OK);
  const health = await rawCall(session, "/grpc.health.v1.Health/Check", [frame(Buffer.alloc(0))]);
  assert.equal(health.status, grpc.status.OK);
  const unknown = await rawCall(session, "/no.Such/Method", [frame(Buffer.alloc(0))]);
  assert.equal(unknown.status, grpc.status.UNIMPLEMENTED);
  const json = await rawCall(session, `${SIDECAR}GetBooleanEntitlement`, [Buffer.from("{}")], { headers: { "content-type": "application/json" } });
  assert.equal(json.headers[":status"], 415);
  assert.equal(api.fastPath?.calls(), 0);
});

test("refuses to attach to a grpc-js server that has no HTTP/2 server to take streams from", () => {
  assert.throws(() => attachFastPath(new grpc.Server(), { services: [] }), /GRPC_FAST_PATH=false/);
});
