// Requests for the hand-written request decoders' tests (test/control/hotRequestDecoders.test.ts and
// the differential fuzzer): protobuf bytes built field by field, an Envoy-shaped CheckRequest, and a
// check that two decoded objects have the same keys and value types all the way down.
import assert from "node:assert/strict";

export function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** Bytes with their varint length in front. */
export function msg(bytes: Buffer): Buffer {
  return Buffer.concat([varint(bytes.length), bytes]);
}

/** A length-delimited field: tag (wire type 2) and already length-prefixed bytes. */
export function tagged(field: number, lengthPrefixed: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), lengthPrefixed]);
}

export function str(field: number, value: string): Buffer {
  return tagged(field, msg(Buffer.from(value)));
}

export function fromHex(hex: string): Buffer {
  return Buffer.from(hex, "hex");
}

/**
 * envoy.service.auth.v3.CheckRequest as Envoy's ext_authz filter builds it for an HTTPS request:
 * both peers as TCP socket addresses, the request time, a dozen headers, context extensions from the
 * route, empty metadata contexts and the TLS session's SNI (proto-loader object form).
 */
export interface CheckRequestObject {
  attributes: Record<string, unknown> & { request: Record<string, unknown> & { http: Record<string, unknown> } };
}

export function envoyCheckRequest(): CheckRequestObject {
  return {
    attributes: {
      source: {
        address: { socket_address: { address: "10.0.3.17", port_value: 48212 } },
        principal: "spiffe://cluster.local/ns/shop/sa/frontend",
      },
      destination: {
        address: { socket_address: { address: "10.0.1.5", port_value: 8443 } },
        principal: "spiffe://cluster.local/ns/shop/sa/api",
        labels: { app: "api", version: "v2" },
      },
      request: {
        time: { seconds: 1_764_100_000, nanos: 123_456_789 },
        http: {
          id: "4861207923186524583",
          method: "POST",
          headers: {
            ":authority": "shop.example.com",
            ":method": "POST",
            ":path": "/api/v1/reports?page=2",
            ":scheme": "https",
            "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
            accept: "application/json",
            "accept-encoding": "gzip, deflate, br",
            "content-type": "application/json",
            "content-length": "17",
            "x-forwarded-proto": "https",
            "x-request-id": "4f6c1c8e-7d1a-4c5e-9b3f-2a6d8e9f0a1b",
            "x-customer-id": "customer-1",
            authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXN0b21lci0xIn0.c2lnbmF0dXJl",
          },
          path: "/api/v1/reports?page=2",
          host: "shop.example.com",
          scheme: "https",
          size: 17,
          protocol: "HTTP/2",
        },
      },
      context_extensions: { entitlement_feature: "feature-reports", entitlement_requested_usage: "1" },
      metadata_context: {},
      route_metadata_context: {},
      tls_session: { sni: "shop.example.com" },
    },
  };
}

function kindOf(value: unknown): string {
  if (Buffer.isBuffer(value)) return "Buffer";
  if (value instanceof Uint8Array) return "Uint8Array";
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  if (typeof value === "object") return Object.getPrototypeOf(value) === Object.prototype ? "object" : `object ${String(Object.getPrototypeOf(value)?.constructor?.name)}`;
  return typeof value;
}

/** Same own keys (in any order) and the same kind of value at every path. */
export function assertSameShape(actual: unknown, expected: unknown, what: string, path = "$"): void {
  assert.equal(kindOf(actual), kindOf(expected), `${what}: kind at ${path}`);
  if (Array.isArray(actual) && Array.isArray(expected)) {
    assert.equal(actual.length, expected.length, `${what}: length at ${path}`);
    actual.forEach((item, i) => assertSameShape(item, expected[i], what, `${path}[${i}]`));
  } else if (kindOf(actual) === "object") {
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    assert.deepEqual(Object.keys(a).sort(), Object.keys(e).sort(), `${what}: keys at ${path}`);
    for (const key of Object.keys(e)) assertSameShape(a[key], e[key], what, `${path}.${key}`);
  }
}
