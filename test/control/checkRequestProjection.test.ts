// The ext_authz Check's projection (control/api/fastPath/checkRequestProjection.ts): CheckRequest bytes
// decoded straight into what the decision reads give the same view as proto-loader's whole object,
// and the bytes it does not cover are left to the full decoders. The fuzzer
// (test/fuzz/checkRequestProjection.test.ts) covers random and mutated messages; these are the cases
// Envoy sends and the rules' corners, each named.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CheckRequestView, viewOfCheckRequest } from "../../control/api/checkRequestView.ts";
import { extAuthzServiceDefinition, loadExtAuthzPackage, type WireCheckRequest } from "../../control/api/extAuthzProto.ts";
import { checkRequestProjection } from "../../control/api/fastPath/checkRequestProjection.ts";
import { decodeCheckRequest } from "../../control/api/fastPath/hotRequestDecoders.ts";
import { checkRequest as benchCheckRequest } from "../bench/grpcWire.ts";
import { envoyCheckRequest, msg, str, tagged } from "./support/hotRequests.ts";

const check = extAuthzServiceDefinition(loadExtAuthzPackage()).Check!;
const project = checkRequestProjection("x-customer-id")!;

function encode(request: object): Buffer {
  return check.requestSerialize(request);
}

/** The projection's view, asserted equal to the view of proto-loader's object. */
function projected(bytes: Buffer, customerHeader = "x-customer-id"): CheckRequestView {
  const view = checkRequestProjection(customerHeader)!(bytes);
  assert.ok(view !== undefined, "projected");
  assert.deepStrictEqual(view, viewOfCheckRequest(check.requestDeserialize(bytes) as WireCheckRequest, customerHeader));
  return view;
}

function withHttp(http: Record<string, unknown>, extensions?: Record<string, string>): Buffer {
  return encode({ attributes: { request: { http }, ...(extensions ? { context_extensions: extensions } : {}) } });
}

test("an Envoy-shaped CheckRequest is projected to its customer, path and context extensions", () => {
  const view = projected(encode(envoyCheckRequest()));
  assert.deepEqual({ ...view }, { customerId: "customer-1", strip: [], path: "/api/v1/reports?page=2", feature: "feature-reports", requestedUsage: "1" });
  assert.equal(projected(Buffer.from(benchCheckRequest("customer-7", "/reports/q3"))).customerId, "customer-7");
});

test("a request with no attributes, no http or no headers has an empty customer and nothing to strip", () => {
  for (const bytes of [Buffer.alloc(0), encode({ attributes: {} }), encode({ attributes: { request: {} } }), withHttp({ path: "" })]) {
    const view = projected(bytes);
    assert.equal(view.customerId, "");
    assert.deepEqual(view.strip, []);
  }
});

/** One http.headers map entry, written by hand (protobufjs would not write a key twice). */
function entry(key: string, value: string): Buffer {
  const inner = Buffer.concat([str(1, key), str(2, value)]);
  return tagged(3, msg(inner));
}

/** A CheckRequest whose http message is these bytes. */
function http(...fields: Buffer[]): Buffer {
  return tagged(1, msg(tagged(4, msg(tagged(2, msg(Buffer.concat(fields)))))));
}

test("header names are matched in any case; a repeated name keeps its first place and its last value", () => {
  assert.equal(projected(http(entry("X-Customer-Id", "a"))).customerId, "a");
  // X-Customer-Id comes first in the object, so x-customer-id (later) decides, with its last value.
  assert.equal(projected(http(entry("X-Customer-Id", "a"), entry("x-customer-id", "b"), entry("X-Customer-Id", "c"), entry("x-customer-id", "d"))).customerId, "d");
  assert.equal(projected(http(entry("x-customer-id", "b"), entry("X-Customer-Id", "a"), entry("x-customer-id", "d"))).customerId, "a");
  assert.deepEqual(projected(http(entry("X-Entitlement-Decision", "allow"), entry("x-entitlement-decision", "deny"), entry("x-entitlement-", ""))).strip, ["x-entitlement-decision", "x-entitlement-"]);
});

test("header_map entries are read after the map: value, else raw_value, and an empty value still overrides", () => {
  const headerMap = (headers: object[]): Record<string, unknown> => ({ headers: { "x-customer-id": "from-map" }, header_map: { headers } });
  assert.equal(projected(withHttp(headerMap([{ key: "x-customer-id", value: "from-list" }]))).customerId, "from-list");
  assert.equal(projected(withHttp(headerMap([{ key: "x-customer-id", raw_value: Buffer.from("raw") }]))).customerId, "raw");
  assert.equal(projected(withHttp(headerMap([{ key: "x-customer-id", value: "v", raw_value: Buffer.from("raw") }]))).customerId, "v");
  assert.equal(projected(withHttp(headerMap([{ key: "X-CUSTOMER-ID" }]))).customerId, "");
  // An entry without a key is skipped.
  assert.equal(projected(withHttp(headerMap([{ value: "no-key" }]))).customerId, "from-map");
  assert.deepEqual(projected(withHttp({ headers: { "x-entitlement-a": "1" }, header_map: { headers: [{ key: "x-entitlement-b" }, { key: "X-Entitlement-A" }] } })).strip, ["x-entitlement-a", "x-entitlement-b"]);
});

test("a customer header named like ours is both the customer and stripped", () => {
  const view = projected(withHttp({ headers: { "x-entitlement-customer": "c-1", "x-entitlement-feature": "f" } }), "x-entitlement-customer");
  assert.equal(view.customerId, "c-1");
  assert.deepEqual(view.strip, ["x-entitlement-customer", "x-entitlement-feature"]);
});

test("only the two context extensions are kept, each with its last value", () => {
  const view = projected(withHttp({ path: "/x" }, { other: "1", entitlement_feature: "feature-a", entitlement_requested_usage: "" }));
  assert.equal(view.feature, "feature-a");
  assert.equal(view.requestedUsage, "");
  assert.equal(projected(withHttp({ path: "/x" }, { Entitlement_Feature: "no" })).feature, undefined);
});

test("header names that are not ASCII or only digits, and a map key __proto__, are left to the full decoders", () => {
  const cases: Record<string, unknown>[] = [
    { headers: { "x-\u212Aey": "kelvin sign" } },
    { headers: { "123": "digits" } },
    { header_map: { headers: [{ key: "x-customer-\u0130d", value: "dotted I" }] } },
  ];
  for (const http of cases) {
    const bytes = withHttp(http);
    assert.equal(project(bytes), undefined, JSON.stringify(http));
    assert.ok(decodeCheckRequest(bytes) !== undefined, "the hand decoder still covers it");
  }
  // A map key "__proto__" is left to protobufjs altogether (the hand decoder leaves it too).
  const proto = http(entry("__proto__", "anything"));
  assert.equal(project(proto), undefined);
  assert.equal(decodeCheckRequest(proto), undefined);
});

test("bytes the hand decoder leaves to protobufjs are not projected either", () => {
  const envoy = encode(envoyCheckRequest());
  const cases: Buffer[] = [
    Buffer.concat([envoy, Buffer.from("0a00", "hex")]), // attributes twice
    Buffer.from("0aff", "hex"), // truncated
    Buffer.from("0a020b00", "hex"), // a group's wire type
    encode({ attributes: { source: { address: { pipe: { path: "/run/envoy.sock" } } } } }),
    encode({ attributes: { metadata_context: { filter_metadata: { a: {} } } } }),
    Buffer.concat([envoy, Buffer.from("7a00", "hex")]), // an unknown field
  ];
  for (const bytes of cases) {
    assert.equal(decodeCheckRequest(bytes), undefined, bytes.toString("hex").slice(0, 40));
    assert.equal(project(bytes), undefined, bytes.toString("hex").slice(0, 40));
  }
});

test("a customer header that is not lower-case printable ASCII gets no projection", () => {
  assert.equal(checkRequestProjection("X-Customer-Id"), undefined);
  assert.equal(checkRequestProjection("x customer"), undefined);
  assert.equal(checkRequestProjection("x-kunde-\u00fc"), undefined);
  assert.ok(checkRequestProjection("x-tenant") !== undefined);
});
