// The fast path decodes the hot requests with hand-written decoders (control/api/fastPath/
// hotRequestDecoders.ts; a Check straight into what the decision reads, checkRequestProjection.ts when
// no interceptor wraps the call) and leaves everything else to proto-loader: through the whole control plane
// (its real interceptor list), and with interceptors wrapping each fast call, every answer, refusal
// text included, is the one grpc-js gives with the fast path off, whether the hand decoder covered the
// bytes or protobufjs decoded or refused them.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { startApiServer, type ApiServerHandle } from "../../control/api/apiServer.ts";
import { checkRequestProjection } from "../../control/api/fastPath/checkRequestProjection.ts";
import { decodeBooleanRequest, decodeCheckRequest, decodeMeteredRequest } from "../../control/api/fastPath/hotRequestDecoders.ts";
import { statusDetailsLimitInterceptor } from "../../control/limits/statusDetailsLimit.ts";
import { createLogger } from "../../control/log.ts";
import { OfflineUsageWriter } from "../../control/read/offlineUsageWriter.ts";
import { StoreReader } from "../../control/read/storeReader.ts";
import { BearerToken } from "../../control/security/bearerToken.ts";
import { bearerAuthInterceptor } from "../../control/security/grpcBearerAuth.ts";
import { decodeFailuresAsValues, undecodableRequestInterceptor } from "../../control/security/undecodableRequests.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";
import { apiDefinitions, client, plane } from "../security/support/plane.ts";
import { envoyCheckRequest, fromHex, str } from "./support/hotRequests.ts";

const BOOLEAN = "/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement";
const METERED = "/stigg.sidecar.v1.SidecarService/GetMeteredEntitlement";
const CHECK = "/envoy.service.auth.v3.Authorization/Check";

interface Answer {
  code: grpc.status;
  details: string;
  body?: Buffer;
}

function call(c: grpc.Client, path: string, bytes: Buffer, metadata = new grpc.Metadata()): Promise<Answer> {
  return new Promise((resolve) => {
    c.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, bytes, metadata, { deadline: Date.now() + 3000 }, (err, body) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: "", ...(body ? { body } : {}) }),
    );
  });
}

/** The response's content-type on a raw HTTP/2 call: the fast path answers application/grpc, grpc-js application/grpc+proto. */
function contentType(t: TestContext, port: number, path: string, bytes: Buffer): Promise<string | undefined> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  t.after(() => session.destroy());
  const frame = Buffer.alloc(5 + bytes.length);
  frame.writeUInt32BE(bytes.length, 1);
  bytes.copy(frame, 5);
  const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
  return new Promise((resolve, reject) => {
    let type: string | undefined;
    stream.on("response", (headers) => (type = headers["content-type"]));
    stream.on("data", () => {});
    stream.on("error", reject);
    stream.on("close", () => resolve(type));
    stream.end(frame);
  });
}

function envoyCheck(customer: string, feature: string, extraHeaders: Record<string, string> = {}): Buffer {
  const request = envoyCheckRequest();
  const http = request.attributes.request.http;
  http.headers = { ...(http.headers as Record<string, string>), ...extraHeaders, "x-customer-id": customer };
  request.attributes.context_extensions = { entitlement_feature: feature };
  return apiDefinitions().extAuthz.Check!.requestSerialize(request);
}

/** Envoy's newer header encoding: header_map entries, a value that is not UTF-8 in raw_value. */
function headerMapCheck(customer: string, feature: string): Buffer {
  const headers = [{ key: ":path", value: "/reports" }, { key: "x-customer-id", raw_value: Buffer.from(customer) }, { key: "x-entitlement-feature", value: "forged" }];
  return apiDefinitions().extAuthz.Check!.requestSerialize({ attributes: { request: { http: { path: "/reports", header_map: { headers } } }, context_extensions: { entitlement_feature: feature } } });
}

/** The cases: decoded by hand, and left to protobufjs (which decodes or refuses them). */
function requestCases(): { covered: [string, Buffer, string][]; notCovered: [string, Buffer, string][] } {
  const { sidecar } = apiDefinitions();
  const boolean = (message: object): Buffer => sidecar.GetBooleanEntitlement!.requestSerialize(message);
  const metered = (message: object): Buffer => sidecar.GetMeteredEntitlement!.requestSerialize(message);
  const covered: [string, Buffer, string][] = [
    [BOOLEAN, boolean({ customer_id: "customer-free", feature_id: "feature-reports" }), "granted boolean"],
    [BOOLEAN, boolean({ customer_id: "customer-free", feature_id: "feature-storage-gb", resource_id: "", options: { fallback: { has_access: true } } }), "boolean with fallback"],
    [BOOLEAN, boolean({ customer_id: "", feature_id: "feature-reports" }), "empty customer id (refused by validation)"],
    [METERED, metered({ customer_id: "customer-free", feature_id: "feature-api-calls", options: { requested_usage: 5 } }), "metered"],
    [METERED, metered({ customer_id: "customer-free", feature_id: "feature-api-calls", options: { requested_usage: NaN } }), "metered NaN (refused by validation)"],
    [CHECK, envoyCheck("customer-free", "feature-reports"), "Envoy-shaped Check, granted"],
    [CHECK, envoyCheck("nobody", "feature-reports"), "Envoy-shaped Check, unknown customer"],
    [CHECK, envoyCheck("customer-free", "feature-api-calls", { "X-Entitlement-Remaining": "999", "x-entitlement-decision": "forged" }), "Check with forged x-entitlement-* headers to strip"],
    [CHECK, headerMapCheck("customer-pro", "feature-reports"), "Check with the customer in header_map's raw_value"],
  ];
  const notCovered: [string, Buffer, string][] = [
    // protobufjs keeps the last customer_id: customer-pro is entitled.
    [BOOLEAN, Buffer.concat([str(1, "nobody"), str(2, "feature-reports"), str(1, "customer-pro")]), "customer_id twice"],
    [BOOLEAN, Buffer.concat([boolean({ customer_id: "customer-free", feature_id: "feature-reports" }), str(9, "from a newer client")]), "unknown field"],
    [CHECK, Buffer.concat([envoyCheck("customer-free", "feature-reports"), fromHex("0a00")]), "attributes twice (the second one replaces the first)"],
    [BOOLEAN, fromHex("22030a0108"), "truncated nested message (protobufjs refuses it)"],
    [METERED, fromHex("220509000000"), "truncated double"],
    [CHECK, fromHex("0aff"), "truncated attributes"],
    // protobufjs reads a known field by its number whatever the wire type says: an empty source.
    [CHECK, fromHex("0a020b00"), "source with a group's wire type"],
  ];
  const hand: Record<string, (bytes: Buffer) => object | undefined> = { [BOOLEAN]: decodeBooleanRequest, [METERED]: decodeMeteredRequest, [CHECK]: decodeCheckRequest };
  for (const [path, bytes, what] of covered) assert.ok(hand[path]!(bytes) !== undefined, `decoded by hand: ${what}`);
  const project = checkRequestProjection("x-customer-id")!;
  for (const [path, bytes, what] of covered) if (path === CHECK) assert.ok(project(bytes) !== undefined, `projected: ${what}`);
  for (const [path, bytes, what] of notCovered) assert.equal(hand[path]!(bytes), undefined, `left to protobufjs: ${what}`);
  return { covered, notCovered };
}

const EXPECTED_CODES = ["OK", "OK", "INVALID_ARGUMENT", "OK", "INVALID_ARGUMENT", "OK", "OK", "OK", "OK", "OK", "OK", "OK", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "OK"];

/** Every case on both servers: the same answers, bytes and texts; returns the fast server's. */
async function sameAnswers(fast: grpc.Client, slow: grpc.Client, metadata?: grpc.Metadata): Promise<Answer[]> {
  const { covered, notCovered } = requestCases();
  const answers: Answer[] = [];
  for (const [path, bytes, what] of [...covered, ...notCovered]) {
    const [a, b] = await Promise.all([call(fast, path, bytes, metadata), call(slow, path, bytes, metadata)]);
    assert.deepEqual(a, b, `${path}: ${what}`);
    answers.push(a);
  }
  assert.deepEqual(
    answers.map((a) => grpc.status[a.code]),
    EXPECTED_CODES,
  );
  // The last-wins customer: protobufjs decoded it on the fast path too.
  const lastWins = apiDefinitions().sidecar.GetBooleanEntitlement!.responseDeserialize(answers[9]!.body!) as { has_access: boolean };
  assert.equal(lastWins.has_access, true);
  assert.match(answers[12]!.details, /^request: not a valid GetBooleanEntitlement request message/);
  return answers;
}

test("every answer and refusal text is the same with the fast path's hand decoders as with grpc-js alone", async (t) => {
  const fast = await plane(t, { grpcFastPath: true });
  const slow = await plane(t, { grpcFastPath: false });
  await sameAnswers(client(t, fast.grpcPort), client(t, slow.grpcPort));
  // The fast plane really answered on the fast path (grpc-js would say application/grpc+proto).
  assert.equal(await contentType(t, fast.grpcPort, CHECK, envoyCheck("customer-free", "feature-reports")), "application/grpc");
  assert.equal(await contentType(t, slow.grpcPort, CHECK, envoyCheck("customer-free", "feature-reports")), "application/grpc+proto");
});

test("the same when an interceptor without a plain form (a bearer token) wraps every fast call", async (t) => {
  const store = new EntitlementStore();
  const reports = { featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 } as const;
  const apiCalls = { featureType: "NUMBER", meterType: "Incremental", usageLimit: 100, hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 12 } as const;
  store.upsert({ customerId: "customer-free", entitlements: [{ featureId: "feature-reports", ...reports }, { featureId: "feature-api-calls", ...apiCalls }] });
  store.upsert({ customerId: "customer-pro", entitlements: [{ featureId: "feature-reports", ...reports }] });
  const server = async (fastPath: boolean): Promise<ApiServerHandle> => {
    const api = await startApiServer({
      host: "127.0.0.1",
      port: 0,
      reader: new StoreReader(store),
      usage: new OfflineUsageWriter(store),
      logger: createLogger("silent"),
      now: () => Date.UTC(2026, 10, 25, 12),
      fastPath,
      transport: {
        interceptors: [statusDetailsLimitInterceptor(), bearerAuthInterceptor({ token: new BearerToken("a-long-enough-api-token") }), undecodableRequestInterceptor],
        wrapService: decodeFailuresAsValues,
      },
    });
    t.after(() => api.close(200));
    return api;
  };
  const [fast, slow] = [await server(true), await server(false)];
  const metadata = new grpc.Metadata();
  metadata.set("authorization", "Bearer a-long-enough-api-token");
  await sameAnswers(client(t, fast.port), client(t, slow.port), metadata);
  assert.equal(fast.fastPath?.calls(), EXPECTED_CODES.length, "every call went through the fast path");
});
