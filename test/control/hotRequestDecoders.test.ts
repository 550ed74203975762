import { test } from "node:test";
import assert from "node:assert/strict";
import { extAuthzServiceDefinition } from "../../control/api/extAuthzProto.ts";
import { decodeBooleanRequest, decodeCheckRequest, decodeMeteredRequest, HOT_REQUEST_DECODERS, stringTableHolds } from "../../control/api/fastPath/hotRequestDecoders.ts";
import { sidecarServiceDefinition } from "../../control/api/sidecarProto.ts";
import { booleanRequest, checkRequest, meteredRequest } from "../bench/grpcWire.ts";
import { assertSameShape, envoyCheckRequest, fromHex, msg, str, tagged, varint } from "./support/hotRequests.ts";

const sidecar = sidecarServiceDefinition();
const extAuthz = extAuthzServiceDefinition();
const DECODERS = {
  boolean: { hand: decodeBooleanRequest, method: sidecar.GetBooleanEntitlement! },
  metered: { hand: decodeMeteredRequest, method: sidecar.GetMeteredEntitlement! },
  check: { hand: decodeCheckRequest, method: extAuthz.Check! },
} as const;
type Kind = keyof typeof DECODERS;

function encode(kind: Kind, message: object): Buffer {
  return DECODERS[kind].method.requestSerialize(message);
}

/** Decoded by hand (not left to protobufjs) into exactly proto-loader's object. */
function assertCovered(kind: Kind, bytes: Buffer | Uint8Array, what: string): unknown {
  const buf = Buffer.from(bytes);
  const hand = DECODERS[kind].hand(buf);
  assert.ok(hand !== undefined, `${kind} covered: ${what}`);
  const loader = DECODERS[kind].method.requestDeserialize(buf);
  assert.deepStrictEqual(hand, loader, `${kind}: ${what}`);
  assertSameShape(hand, loader, `${kind}: ${what}`);
  return hand;
}

function assertNotCovered(kind: Kind, bytes: Buffer | Uint8Array, what: string): void {
  assert.equal(DECODERS[kind].hand(Buffer.from(bytes)), undefined, `${kind} left to protobufjs: ${what}`);
}

test("the bench's requests are decoded by hand into proto-loader's objects", () => {
  assertCovered("boolean", booleanRequest("customer-1", "feature-reports"), "bench boolean");
  assertCovered("metered", meteredRequest("customer-1", "feature-api-calls", 1), "bench metered");
  const check = assertCovered("check", checkRequest("customer-1", "/api/v1/reports?page=2"), "bench check") as { attributes: { request: { http: { headers: object } } } };
  assert.equal(Object.keys(check.attributes.request.http.headers).length, 8);
});

test("an Envoy-shaped CheckRequest (peers, time, a dozen headers, context extensions, metadata, TLS) is decoded by hand", () => {
  const decoded = assertCovered("check", encode("check", envoyCheckRequest()), "Envoy-shaped") as Record<string, Record<string, unknown>>;
  const attributes = decoded.attributes!;
  assert.deepEqual(Object.keys(attributes).sort(), ["context_extensions", "destination", "metadata_context", "request", "route_metadata_context", "source", "tls_session"]);
  assert.deepEqual(attributes.source, {
    address: { socket_address: { address: "10.0.3.17", port_value: 48212, port_specifier: "port_value" }, address: "socket_address" },
    principal: "spiffe://cluster.local/ns/shop/sa/frontend",
  });
  // With encode_raw_headers Envoy sends header_map instead of headers.
  const raw = envoyCheckRequest();
  const http = raw.attributes.request.http as Record<string, unknown>;
  http.header_map = { headers: Object.entries(http.headers as Record<string, string>).map(([key, value]) => ({ key, raw_value: Buffer.from(value) })) };
  delete http.headers;
  const withRaw = assertCovered("check", encode("check", raw), "raw headers") as { attributes: { request: { http: { header_map: { headers: { raw_value: unknown }[] } } } } };
  assert.ok(Buffer.isBuffer(withRaw.attributes.request.http.header_map.headers[0]!.raw_value), "raw_value is a Buffer");
});

test("Sidecar requests: every field, absent and present-empty options, fallbacks and edge doubles", () => {
  const rows: [Kind, object][] = [
    ["boolean", {}],
    ["boolean", { customer_id: "", feature_id: "" }],
    ["boolean", { customer_id: "acme", feature_id: "sso", resource_id: "" }],
    ["boolean", { customer_id: "acme", feature_id: "sso", resource_id: "site-1", options: {} }],
    ["boolean", { customer_id: "acme", feature_id: "sso", options: { fallback: {} } }],
    ["boolean", { customer_id: "acme", feature_id: "sso", options: { fallback: { has_access: true } } }],
    ["boolean", { customer_id: "acme", feature_id: "sso", options: { fallback: { has_access: false } } }],
    ["boolean", { customer_id: "kunde-ü-🦄-\u0000", feature_id: "功能", resource_id: "x".repeat(300) }],
    ["metered", { customer_id: "acme", feature_id: "api-calls" }],
    ["metered", { customer_id: "acme", feature_id: "api-calls", options: {} }],
    ["metered", { customer_id: "acme", feature_id: "api-calls", options: { fallback: { has_access: false, usage_limit: 7, is_unlimited: false } } }],
    ["metered", { customer_id: "acme", feature_id: "api-calls", options: { fallback: { usage_limit: -0, is_unlimited: true } } }],
  ];
  for (const usage of [0, -0, 1, -1.5, 2 ** 53 + 2, 1e308, Number.MIN_VALUE, NaN, Infinity, -Infinity]) {
    rows.push(["metered", { customer_id: "acme", feature_id: "api-calls", resource_id: "r", options: { requested_usage: usage, fallback: { has_access: true, usage_limit: usage } } }]);
  }
  for (const [kind, message] of rows) assertCovered(kind, encode(kind, message), JSON.stringify(message));
  // -0 stays -0 (deepStrictEqual tells it from 0).
  const negativeZero = assertCovered("metered", encode("metered", { options: { requested_usage: -0 } }), "-0") as { options: { requested_usage: number } };
  assert.ok(Object.is(negativeZero.options.requested_usage, -0));
});

test("CheckRequest edge values: empty and present-empty messages, ports, enums, int64s, map quirks", () => {
  const rows: object[] = [
    {},
    { attributes: {} },
    { attributes: { source: {}, destination: { address: {} }, request: {} } },
    { attributes: { source: { address: { socket_address: {} } } } },
    { attributes: { source: { address: { socket_address: { protocol: "UDP", address: "::1", port_value: 0, resolver_name: "", ipv4_compat: true } } } } },
    { attributes: { source: { address: { socket_address: { protocol: "TCP", address: "", named_port: "https", ipv4_compat: false } } } } },
    { attributes: { source: { address: { socket_address: { port_value: 65535 } } }, destination: { address: { socket_address: { port_value: 4294967295 } } } } },
    { attributes: { source: { service: "", labels: { app: "shop", "": "", "1": "one", "10": "ten", zz: "ü" }, principal: "", certificate: "-----BEGIN CERTIFICATE-----" } } },
    { attributes: { request: { time: {} } } },
    { attributes: { request: { time: { seconds: 0, nanos: 0 } } } },
    { attributes: { request: { time: { seconds: 1_764_100_000, nanos: 999_999_999 } } } },
    { attributes: { request: { time: { seconds: -62_135_596_800 } } } },
    { attributes: { request: { time: { seconds: 253_402_300_799, nanos: 2_147_483_647 } } } },
    { attributes: { request: { http: {} } } },
    { attributes: { request: { http: { id: "", method: "", path: "", host: "", scheme: "", query: "", fragment: "", protocol: "", body: "", size: 0 } } } },
    { attributes: { request: { http: { size: -1 } } } },
    { attributes: { request: { http: { size: 2 ** 53 - 1 } } } },
    { attributes: { request: { http: { size: -(2 ** 53 - 1) } } } },
    { attributes: { request: { http: { size: 4294967296 } } } },
    { attributes: { request: { http: { raw_body: Buffer.alloc(0), body: "" } } } },
    { attributes: { request: { http: { raw_body: Buffer.from([0, 1, 0xff, 0x80]), body: "{\"a\":\"ü\"}" } } } },
    { attributes: { request: { http: { header_map: {} } } } },
    { attributes: { request: { http: { header_map: { headers: [{}, { key: "" }, { key: "a", value: "" }, { key: "b", raw_value: Buffer.alloc(0) }, { key: "c", value: "v", raw_value: Buffer.from("v") }] } } } } },
    { attributes: { request: { http: { headers: { "x-ü": "wert-é", "x-emoji": "🦄", constructor: "c", toString: "t", hasOwnProperty: "h" } } } } },
    { attributes: { context_extensions: { "": "" } } },
    { attributes: { metadata_context: {}, route_metadata_context: {}, tls_session: {} } },
    { attributes: { tls_session: { sni: "" } } },
    { attributes: { tls_session: { sni: "shop.example.com" } } },
  ];
  for (const message of rows) assertCovered("check", encode("check", message), JSON.stringify(message));

  const socket = (fields: Buffer): Buffer => tagged(1, msg(tagged(1, msg(tagged(1, msg(tagged(1, msg(fields))))))));
  // An enum number the schema does not know stays a number; a 5-byte port is read as protobufjs reads it.
  assertCovered("check", socket(Buffer.concat([varint(1 << 3), varint(7)])), "unknown protocol number");
  assertCovered("check", socket(Buffer.concat([varint(3 << 3), fromHex("ffffffff0f")])), "port 2^32-1 in five bytes");
  assertCovered("check", socket(Buffer.concat([varint(3 << 3), fromHex("8080808000")])), "port 0 in five bytes");
  assertCovered("check", socket(Buffer.concat([varint(6 << 3), varint(2)])), "ipv4_compat as 2");
});

test("map entries: a missing key or value is \"\", a repeated key keeps the last value in the first place", () => {
  const entry = (fields: Buffer): Buffer => Buffer.concat([varint((10 << 3) | 2), msg(fields)]);
  const ctx = (...entries: Buffer[]): Buffer => tagged(1, msg(Buffer.concat(entries)));
  assertCovered("check", ctx(entry(str(1, "k"))), "no value");
  assertCovered("check", ctx(entry(str(2, "v"))), "no key");
  assertCovered("check", ctx(entry(Buffer.alloc(0))), "empty entry");
  assertCovered("check", ctx(entry(Buffer.concat([str(2, "v"), str(1, "k")]))), "value before key");
  const repeated = assertCovered("check", ctx(entry(Buffer.concat([str(1, "a"), str(2, "1")])), entry(Buffer.concat([str(1, "b"), str(2, "2")])), entry(Buffer.concat([str(1, "a"), str(2, "3")]))), "repeated key") as {
    attributes: { context_extensions: Record<string, string> };
  };
  assert.deepEqual(Object.entries(repeated.attributes.context_extensions), [["a", "3"], ["b", "2"]]);
});

test("strings with invalid UTF-8 decode to the same replacement characters as protobufjs", () => {
  for (const hex of ["ff", "c3", "c328", "e282", "eda080", "f4908080", "f09f", "41ff42", "c0af", "efbfbd", "ed9fbf"]) {
    assertCovered("boolean", Buffer.concat([varint(0x0a), msg(fromHex(hex))]), `customer_id ${hex}`);
    const header = Buffer.concat([varint((3 << 3) | 2), msg(Buffer.concat([varint(0x0a), msg(fromHex(hex)), varint(0x12), msg(fromHex(hex))]))]);
    assertCovered("check", tagged(1, msg(tagged(4, msg(tagged(2, msg(header)))))), `header ${hex}`);
  }
});

test("recurring strings come back equal, never one for another: same length, same sampled bytes, interleaved", () => {
  // Short ASCII strings are kept in a table by length and a few of their bytes (first, last, middle,
  // three quarters); these differ only elsewhere, so they share slots and must be told apart.
  const ids: string[] = [];
  for (const c of "0123456789") ids.push(`x${c}yyyyyyyyyx`, `xyyy${c}yyyyyyx`, `xyyyyyyyy${c}yx`);
  ids.push("xyyyyyyyyyyx", "x\u00e9yyyyyyyx", "x\u00e9yyyyyyyx");
  for (let round = 0; round < 3; round++) {
    for (const id of round === 1 ? [...ids].reverse() : ids) {
      const decoded = assertCovered("boolean", encode("boolean", { customer_id: id, feature_id: id.toUpperCase() }), id) as { customer_id: string; feature_id: string };
      assert.equal(decoded.customer_id, id);
      assert.equal(decoded.feature_id, id.toUpperCase());
    }
  }
  // Bytes that UTF-8 decoding turns into as many UTF-16 units (replacement characters) are not kept as ASCII.
  for (const hex of ["78ff78", "787878", "78fe78", "787878"]) assertCovered("boolean", Buffer.concat([varint(0x0a), msg(fromHex(hex))]), hex);
});

test("bytes the hand decoders do not cover are left to protobufjs", () => {
  const ok = encode("boolean", { customer_id: "acme", feature_id: "sso" });
  const notCovered: [Kind, Buffer, string][] = [
    ["boolean", Buffer.concat([ok, str(5, "x")]), "unknown field 5"],
    ["boolean", Buffer.concat([ok, varint(15 << 3), varint(1)]), "unknown varint field 15"],
    ["boolean", Buffer.concat([ok, varint(0), varint(1)]), "field 0"],
    ["boolean", Buffer.concat([varint(1 << 3), varint(3)]), "customer_id as a varint"],
    ["boolean", Buffer.concat([varint((1 << 3) | 1), Buffer.alloc(8)]), "customer_id as fixed64"],
    ["boolean", Buffer.concat([ok, str(1, "again")]), "customer_id twice"],
    ["boolean", Buffer.concat([str(3, "r"), str(3, "r")]), "resource_id twice"],
    ["boolean", Buffer.concat([tagged(4, msg(Buffer.alloc(0))), tagged(4, msg(Buffer.alloc(0)))]), "options twice"],
    ["boolean", tagged(4, msg(Buffer.concat([tagged(1, msg(varint(8))), tagged(1, msg(Buffer.alloc(0)))]))), "fallback twice"],
    ["boolean", tagged(4, msg(tagged(1, msg(Buffer.concat([varint(8), varint(1), varint(8), varint(0)]))))), "has_access twice"],
    ["metered", tagged(4, msg(Buffer.concat([varint(9), Buffer.alloc(8), varint(9), Buffer.alloc(8)]))), "requested_usage twice"],
    ["metered", tagged(4, msg(Buffer.concat([varint(9), Buffer.alloc(7)]))), "truncated double"],
    ["metered", tagged(4, msg(Buffer.concat([varint(8), varint(1)]))), "requested_usage as a varint"],
    ["boolean", tagged(4, msg(tagged(1, msg(Buffer.concat([varint(0x11), Buffer.alloc(8)]))))), "a Metered fallback field in a Boolean fallback"],
    ["boolean", Buffer.concat([ok, varint((6 << 3) | 3), varint((6 << 3) | 4)]), "a group (wire type 3/4)"],
    ["boolean", Buffer.concat([ok, varint((6 << 3) | 4)]), "an end-group tag"],
    ["boolean", Buffer.concat([ok, varint((6 << 3) | 5), Buffer.alloc(4)]), "fixed32 unknown field"],
    ["boolean", Buffer.concat([ok, varint((1 << 3) | 6)]), "wire type 6"],
    ["boolean", Buffer.concat([ok, varint((1 << 3) | 7)]), "wire type 7"],
    ["boolean", fromHex("8a0000"), "a two-byte tag for field 1"],
    ["boolean", Buffer.concat([varint((16 << 3) | 2), msg(Buffer.alloc(0))]), "field 16"],
    ["boolean", fromHex("0a05414243"), "string past the end (protobufjs cuts it short)"],
    ["boolean", fromHex("0a"), "tag without a value"],
    ["boolean", fromHex("0a80"), "length varint cut short"],
    ["boolean", fromHex("0affffffff0f41"), "length 2^32-1"],
    ["boolean", fromHex("0affffffffff0141"), "length varint longer than five bytes"],
    ["boolean", fromHex("22030a0108"), "nested lengths past their message"],
    ["check", Buffer.concat([tagged(1, msg(Buffer.alloc(0))), tagged(1, msg(Buffer.alloc(0)))]), "attributes twice"],
    ["check", tagged(1, msg(Buffer.concat([tagged(4, msg(Buffer.alloc(0))), tagged(4, msg(Buffer.alloc(0)))]))), "request twice"],
    ["check", tagged(1, msg(str(3, "x"))), "unknown AttributeContext field 3"],
    ["check", tagged(1, msg(tagged(11, msg(tagged(1, msg(str(1, "k"))))))), "non-empty metadata_context"],
    ["check", tagged(1, msg(tagged(13, msg(tagged(2, msg(str(1, "k"))))))), "non-empty route_metadata_context"],
    ["check", tagged(1, msg(tagged(1, msg(tagged(1, msg(tagged(2, msg(str(1, "/tmp/sock"))))))))), "a pipe address"],
    ["check", tagged(1, msg(tagged(1, msg(tagged(1, msg(tagged(3, msg(str(1, "listener"))))))))), "an envoy_internal_address"],
  ];
  const socket = (fields: Buffer): Buffer => tagged(1, msg(tagged(1, msg(tagged(1, msg(tagged(1, msg(fields))))))));
  notCovered.push(
    ["check", socket(Buffer.concat([varint(3 << 3), varint(80), str(4, "http")])), "port_value and named_port"],
    ["check", socket(Buffer.concat([str(4, "http"), varint(3 << 3), varint(80)])), "named_port and port_value"],
    ["check", socket(Buffer.concat([varint(3 << 3), varint(80), varint(3 << 3), varint(81)])), "port_value twice"],
    ["check", socket(Buffer.concat([varint(3 << 3), fromHex("ffffffff1f")])), "port beyond 32 bits"],
    ["check", socket(Buffer.concat([varint(3 << 3), fromHex("ffffffffffffffffff01")])), "port as a ten-byte varint"],
    ["check", socket(Buffer.concat([varint(1 << 3), fromHex("ffffffffffffffffff01")])), "negative protocol (ten bytes)"],
    ["check", tagged(1, msg(tagged(4, msg(tagged(1, msg(Buffer.concat([varint(2 << 3), fromHex("ffffffffffffffffff01")]))))))), "negative nanos"],
    ["check", tagged(1, msg(tagged(4, msg(tagged(1, msg(Buffer.concat([varint(1 << 3), fromHex("ffffffffffffffffffff01")]))))))), "an eleven-byte int64"],
    ["check", tagged(1, msg(tagged(4, msg(tagged(1, msg(Buffer.concat([varint(1 << 3), fromHex("ffff")]))))))), "an int64 cut short"],
  );
  const entry = (fields: Buffer): Buffer => tagged(1, msg(Buffer.concat([varint((10 << 3) | 2), msg(fields)])));
  notCovered.push(
    ["check", entry(Buffer.concat([str(1, "k"), str(1, "k2"), str(2, "v")])), "map key twice in one entry"],
    ["check", entry(Buffer.concat([str(1, "k"), str(2, "v"), str(2, "v2")])), "map value twice in one entry"],
    ["check", entry(Buffer.concat([str(1, "k"), str(3, "x")])), "a third field in a map entry"],
    ["check", entry(Buffer.concat([varint(1 << 3), varint(1)])), "a map key as a varint"],
    ["check", entry(Buffer.concat([str(1, "__proto__"), str(2, "v")])), "the key __proto__"],
  );
  for (const [kind, bytes, what] of notCovered) assertNotCovered(kind, bytes, what);
  // A Uint8Array that is not a Buffer: protobufjs would read its strings with its own UTF-8 decoder.
  assert.equal(decodeBooleanRequest(new Uint8Array(ok) as Buffer), undefined);
});

test("HOT_REQUEST_DECODERS names the three hot methods by full path", () => {
  assert.deepEqual([...HOT_REQUEST_DECODERS.keys()].sort(), [sidecar.GetBooleanEntitlement!.path, sidecar.GetMeteredEntitlement!.path, extAuthz.Check!.path].sort());
  assert.equal(HOT_REQUEST_DECODERS.get(extAuthz.Check!.path), decodeCheckRequest);
});

test("credentials, paths, queries and bodies are never kept in the decoder's string table; recurring names and values are", () => {
  const secrets = ["Bearer t0k3n-not-kept", "sid=s3ss10n-not-kept", "k3y-not-kept", "/private/path-not-kept", "token=q-not-kept", "body-not-kept", "frag-not-kept", "req-id-not-kept"];
  const request = envoyCheckRequest();
  const http = request.attributes.request.http as Record<string, unknown>;
  http.headers = { ...(http.headers as Record<string, string>), authorization: secrets[0]!, cookie: secrets[1]!, "x-api-key": secrets[2]!, "x-kept": "kept-value" };
  Object.assign(http, { path: secrets[3], query: secrets[4], body: secrets[5], fragment: secrets[6], id: secrets[7] });
  const raw = structuredClone(request);
  const rawHttp = raw.attributes.request.http as Record<string, unknown>;
  rawHttp.header_map = { headers: [{ key: "authorization", value: secrets[0] }, { key: "x-kept-raw", value: "kept-raw-value" }] };
  delete rawHttp.headers;
  for (const message of [request, raw]) {
    for (let i = 0; i < 3; i++) assertCovered("check", encode("check", message), "with credentials");
  }
  for (const secret of secrets) assert.equal(stringTableHolds(secret), false, `${secret} is not kept`);
  for (const kept of ["kept-value", "kept-raw-value", "x-kept"]) assert.ok(stringTableHolds(kept), `${kept} is kept`);
});
