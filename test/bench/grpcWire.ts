// Just enough protobuf and gRPC framing to pre-encode the load generator's request bodies (h2load
// sends bytes from a file) and the bare server's constant answer.

const utf8 = new TextEncoder();

export class ProtoWriter {
  private readonly parts: number[] = [];

  private varint(value: number): void {
    let v = value;
    while (v > 0x7f) {
      this.parts.push((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.parts.push(v);
  }

  private tag(field: number, wire: number): void {
    this.varint(field * 8 + wire);
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    for (const b of value) this.parts.push(b);
    return this;
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  /** A map<string, string> entry. */
  mapEntry(field: number, key: string, value: string): this {
    return this.message(field, (w) => w.string(1, key).string(2, value));
  }

  bool(field: number, value: boolean): this {
    return this.uint(field, value ? 1 : 0);
  }

  /** A varint field (uint32, uint64 and non-negative int32/int64 values). */
  uint(field: number, value: number): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  double(field: number, value: number): this {
    this.tag(field, 1);
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, value, true);
    for (const x of b) this.parts.push(x);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

/** One length-prefixed, uncompressed gRPC message. */
export function grpcFrame(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.length);
  new DataView(out.buffer).setUint32(1, message.length, false);
  out.set(message, 5);
  return out;
}

export const SIDECAR_SERVICE = "stigg.sidecar.v1.SidecarService";
export const EXT_AUTHZ_SERVICE = "envoy.service.auth.v3.Authorization";

export function booleanRequest(customerId: string, featureId: string): Uint8Array {
  return new ProtoWriter().string(1, customerId).string(2, featureId).finish();
}

export function meteredRequest(customerId: string, featureId: string, requestedUsage: number): Uint8Array {
  return new ProtoWriter()
    .string(1, customerId)
    .string(2, featureId)
    .message(4, (o) => o.double(1, requestedUsage))
    .finish();
}

/** A config.core.v3.Address holding a TCP socket address (protocol TCP is the default, so not written). */
function socketAddress(w: ProtoWriter, address: string, port: number): void {
  w.message(1, (socket) => socket.string(2, address).uint(3, port));
}

/**
 * envoy.service.auth.v3.CheckRequest as Envoy sends it for an HTTP request: the source and destination
 * peers, the request time and attributes.request.http (headers as a map, encode_raw_headers off).
 */
export function checkRequest(customerId: string, path: string): Uint8Array {
  const headers: Array<[string, string]> = [
    [":authority", "shop.example.com"],
    [":method", "GET"],
    [":path", path],
    [":scheme", "https"],
    ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) bench"],
    ["accept", "application/json"],
    ["x-request-id", "4f6c1c8e-7d1a-4c5e-9b3f-2a6d8e9f0a1b"],
    ["x-customer-id", customerId],
  ];
  return new ProtoWriter()
    .message(1, (attributes) =>
      attributes
        .message(1, (source) => source.message(1, (a) => socketAddress(a, "10.0.3.17", 48_212)))
        .message(2, (destination) => destination.message(1, (a) => socketAddress(a, "10.0.1.5", 8_080)))
        .message(4, (request) =>
          request
            .message(1, (time) => time.uint(1, 1_764_100_000).uint(2, 123_456_789))
            .message(2, (http) => {
              http.string(1, "4f6c1c8e-7d1a-4c5e-9b3f-2a6d8e9f0a1b").string(2, "GET");
              for (const [k, v] of headers) http.mapEntry(3, k, v);
              http.string(4, path).string(5, "shop.example.com").string(6, "https").string(10, "HTTP/1.1");
            }),
        ),
    )
    .finish();
}

/** What the bare server answers: a GetBooleanEntitlementResponse granting access. */
export function constantAnswer(): Uint8Array {
  return grpcFrame(new ProtoWriter().bool(1, true).message(4, (e) => e.bool(1, true)).finish());
}
