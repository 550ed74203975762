// The fast path decodes the hot requests with hand-written decoders (control/api/fastPath/
// hotRequestDecoders.ts) and leaves everything else to proto-loader: through the whole control plane
// (its real interceptor list), every answer, refusal text included, is the one grpc-js gives with the
// fast path off, whether the hand decoder covered the bytes or protobufjs decoded or refused them.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { decodeBooleanRequest, decodeCheckRequest, decodeMeteredRequest } from "../../control/api/fastPath/hotRequestDecoders.ts";
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

function call(c: grpc.Client, path: string, bytes: Buffer): Promise<Answer> {
  return new Promise((resolve) => {
    c.makeUnaryRequest(path, (b: Buffer) => b, (b: Buffer) => b, bytes, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (err, body) =>
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

function envoyCheck(customer: string, feature: string): Buffer {
  const request = envoyCheckRequest();
  const http = request.attributes.request.http;
  http.headers = { ...(http.headers as Record<string, string>), "x-customer-id": customer };
  request.attributes.context_extensions = { entitlement_feature: feature };
  return apiDefinitions().extAuthz.Check!.requestSerialize(request);
}

test("every answer and refusal text is the same with the fast path's hand decoders as with grpc-js alone", async (t) => {
  const fast = await plane(t, { grpcFastPath: true });
  const slow = await plane(t, { grpcFastPath: false });
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
  for (const [path, bytes, what] of notCovered) assert.equal(hand[path]!(bytes), undefined, `left to protobufjs: ${what}`);

  const fastClient = client(t, fast.grpcPort);
  const slowClient = client(t, slow.grpcPort);
  const answers: Answer[] = [];
  for (const [path, bytes, what] of [...covered, ...notCovered]) {
    const [a, b] = await Promise.all([call(fastClient, path, bytes), call(slowClient, path, bytes)]);
    assert.deepEqual(a, b, `${path}: ${what}`);
    answers.push(a);
  }
  assert.deepEqual(
    answers.map((a) => grpc.status[a.code]),
    ["OK", "OK", "INVALID_ARGUMENT", "OK", "INVALID_ARGUMENT", "OK", "OK", "OK", "OK", "OK", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "INVALID_ARGUMENT", "OK"],
  );
  // The last-wins customer: protobufjs decoded it on the fast path too.
  const lastWins = sidecar.GetBooleanEntitlement!.responseDeserialize(answers[7]!.body!) as { has_access: boolean };
  assert.equal(lastWins.has_access, true);
  assert.match(answers[10]!.details, /^request: not a valid GetBooleanEntitlement request message/);
  // The fast plane really answered on the fast path (grpc-js would say application/grpc+proto).
  assert.equal(await contentType(t, fast.grpcPort, CHECK, envoyCheck("customer-free", "feature-reports")), "application/grpc");
  assert.equal(await contentType(t, slow.grpcPort, CHECK, envoyCheck("customer-free", "feature-reports")), "application/grpc+proto");
});
