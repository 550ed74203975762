// Random protobuf messages for the differential fuzzers of the fast path's request decoders
// (hotRequestDecoders.test.ts, checkRequestProjection.test.ts): the three hot request types written
// field by field from a schema, and mutations of any bytes.
import { msg, varint } from "../../control/support/hotRequests.ts";
import type { Random } from "./random.ts";

// ---- a field-by-field writer of random messages ----------------------------------------------------

type Scalar = "string" | "bytes" | "double" | "bool" | "uint32" | "int32" | "int64" | "name";
interface Field {
  n: number;
  kind: Scalar | "map" | "message" | "repeated";
  of?: Schema;
}
export type Schema = readonly Field[];

const BOOLEAN_FALLBACK: Schema = [{ n: 1, kind: "bool" }];
const METERED_FALLBACK: Schema = [
  { n: 1, kind: "bool" },
  { n: 2, kind: "double" },
  { n: 3, kind: "bool" },
];
const typed = (options: Schema): Schema => [
  { n: 1, kind: "string" },
  { n: 2, kind: "string" },
  { n: 3, kind: "string" },
  { n: 4, kind: "message", of: options },
];
export const BOOLEAN_REQUEST = typed([{ n: 1, kind: "message", of: BOOLEAN_FALLBACK }]);
export const METERED_REQUEST = typed([
  { n: 1, kind: "double" },
  { n: 2, kind: "message", of: METERED_FALLBACK },
]);
/** SocketAddress; port_value 3 and named_port 4 share a oneof (the writer keeps at most one). */
const SOCKET_ADDRESS: Schema = [
  { n: 1, kind: "int32" },
  { n: 2, kind: "string" },
  { n: 3, kind: "uint32" },
  { n: 4, kind: "string" },
  { n: 5, kind: "string" },
  { n: 6, kind: "bool" },
];
const PEER: Schema = [
  { n: 1, kind: "message", of: [{ n: 1, kind: "message", of: SOCKET_ADDRESS }] },
  { n: 2, kind: "string" },
  { n: 3, kind: "map" },
  { n: 4, kind: "string" },
  { n: 5, kind: "string" },
];
const HEADER_VALUE: Schema = [
  { n: 1, kind: "name" },
  { n: 2, kind: "string" },
  { n: 3, kind: "bytes" },
];
const HTTP_REQUEST: Schema = [
  { n: 1, kind: "string" },
  { n: 2, kind: "string" },
  { n: 3, kind: "map" },
  ...[4, 5, 6, 7, 8].map((n): Field => ({ n, kind: "string" })),
  { n: 9, kind: "int64" },
  { n: 10, kind: "string" },
  { n: 11, kind: "string" },
  { n: 12, kind: "bytes" },
  { n: 13, kind: "message", of: [{ n: 1, kind: "repeated", of: HEADER_VALUE }] },
];
const ATTRIBUTE_CONTEXT: Schema = [
  { n: 1, kind: "message", of: PEER },
  { n: 2, kind: "message", of: PEER },
  {
    n: 4,
    kind: "message",
    of: [
      {
        n: 1,
        kind: "message",
        of: [
          { n: 1, kind: "int64" },
          { n: 2, kind: "int32" },
        ],
      },
      { n: 2, kind: "message", of: HTTP_REQUEST },
    ],
  },
  { n: 10, kind: "map" },
  { n: 11, kind: "message", of: [] },
  { n: 12, kind: "message", of: [{ n: 1, kind: "string" }] },
  { n: 13, kind: "message", of: [] },
];
export const CHECK_REQUEST: Schema = [{ n: 1, kind: "message", of: ATTRIBUTE_CONTEXT }];

const tag = (n: number, wire: number): Buffer => varint((n << 3) | wire);

/** A varint of a 64-bit two's complement value given as a BigInt (negative numbers take ten bytes). */
function varint64(value: bigint): Buffer {
  let v = BigInt.asUintN(64, value);
  const out: number[] = [];
  while (v > 0x7fn) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

/**
 * Names ext_authz reads (the default customer header, our x-entitlement-* prefix, the two context
 * extensions) in several cases, and near misses: digits only, non-ASCII look-alikes (U+212A KELVIN SIGN
 * lower-cases to "k", U+0130 to "i̇"), the bare prefix.
 */
const NAMES = [
  "x-customer-id",
  "X-Customer-Id",
  "X-CUSTOMER-ID",
  "x-customer-id ",
  "x-entitlement-decision",
  "X-Entitlement-Customer",
  "x-entitlement-",
  "x-entitlement-x",
  "x-entitlement-customer",
  "entitlement_feature",
  "entitlement_requested_usage",
  "Entitlement_Feature",
  "content-type",
  ":path",
  "123",
  "0",
  "x-\u212Aey",
  "x-customer-\u0130d",
  "__proto__",
];

export class MessageWriter {
  /** Set when the message uses something the hand decoders leave to protobufjs. */
  uncovered = false;
  constructor(private readonly random: Random) {}

  /** Random bytes of a string: ASCII, any Unicode, raw (often invalid UTF-8), empty. */
  text(): Buffer {
    const r = this.random;
    switch (r.int(6)) {
      case 0:
        return Buffer.alloc(0);
      case 1:
        return Buffer.from(r.string().slice(0, 300));
      case 2:
        return r.bytes(24);
      case 3:
        return Buffer.from(r.pick(["ü", "🦄", "\uD800", "é".repeat(20), "x-ß-功能", "\u0000"]));
      default:
        return Buffer.from(r.ascii(1 + r.int(40)));
    }
  }

  /** A header name or map key: often one the ext_authz decision looks for, in any case, or a near miss. */
  name(): Buffer {
    return this.random.chance(0.5) ? Buffer.from(this.random.pick(NAMES)) : this.text();
  }

  scalar(kind: Scalar): Buffer {
    const r = this.random;
    switch (kind) {
      case "name":
        return msg(this.name());
      case "string":
      case "bytes":
        return msg(this.text());
      case "double": {
        const b = Buffer.alloc(8);
        if (r.chance(0.3)) b.writeDoubleLE(r.number());
        else for (let i = 0; i < 8; i++) b[i] = r.int(256);
        return b;
      }
      case "bool":
        return varint(r.pick([0, 1, 1, 2, 127, 300]));
      case "uint32":
        return varint(r.pick([0, 80, 443, 65535, 65536, 2 ** 31, 2 ** 32 - 1, r.int(100_000)]));
      case "int32": {
        // Negative int32s take ten bytes, which the hand decoders leave to protobufjs.
        const v = r.chance(0.05) ? -1 - r.int(1000) : r.pick([0, 1, 2, 7, 999_999_999, 2 ** 31 - 1]);
        if (v < 0) this.uncovered = true;
        return varint64(BigInt(v));
      }
      case "int64":
        return varint64(
          r.pick([0n, 1n, -1n, 17n, 1_764_100_000n, -62_135_596_800n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(r.int(2 ** 31)) * 3n, -BigInt(r.int(2 ** 31))]),
        );
    }
  }

  /** A map<string, string> entry: usually key and value, sometimes either missing or swapped. */
  entry(keys: Buffer[]): Buffer {
    const r = this.random;
    let key = keys.length > 0 && r.chance(0.1) ? r.pick(keys) : this.name();
    if (key.toString("latin1") === "__proto__") key = Buffer.from("proto");
    keys.push(key);
    const k = Buffer.concat([tag(1, 2), msg(key)]);
    const v = Buffer.concat([tag(2, 2), msg(this.text())]);
    const parts = r.chance(0.9) ? [k, v] : r.pick([[k], [v], [], [v, k]]);
    return Buffer.concat(parts);
  }

  message(schema: Schema, depth = 0): Buffer {
    const r = this.random;
    const parts: Buffer[] = [];
    let oneofTaken = false;
    for (const field of schema) {
      if (!r.chance(0.6)) continue;
      if (schema === SOCKET_ADDRESS && (field.n === 3 || field.n === 4)) {
        if (oneofTaken) continue;
        oneofTaken = true;
      }
      switch (field.kind) {
        case "map": {
          const keys: Buffer[] = [];
          for (let i = r.int(r.chance(0.2) ? 20 : 5); i > 0; i--) parts.push(Buffer.concat([tag(field.n, 2), msg(this.entry(keys))]));
          break;
        }
        case "repeated":
          for (let i = r.int(6); i > 0; i--) parts.push(Buffer.concat([tag(field.n, 2), msg(this.message(field.of!, depth + 1))]));
          break;
        case "message":
          if (field.of!.length === 0 && r.chance(0.05)) {
            // A non-empty Metadata: left to protobufjs.
            this.uncovered = true;
            parts.push(Buffer.concat([tag(field.n, 2), msg(Buffer.concat([tag(1, 2), msg(Buffer.concat([tag(1, 2), msg(Buffer.from("filter"))]))]))]));
          } else parts.push(Buffer.concat([tag(field.n, 2), msg(this.message(field.of!, depth + 1))]));
          break;
        default: {
          const wire = field.kind === "double" ? 1 : field.kind === "string" || field.kind === "bytes" || field.kind === "name" ? 2 : 0;
          parts.push(Buffer.concat([tag(field.n, wire), this.scalar(field.kind)]));
        }
      }
    }
    // Fields in any order are the same message (the decoders must not care).
    if (r.chance(0.1)) parts.sort(() => r.next() - 0.5);
    return Buffer.concat(parts);
  }
}

// ---- mutations ---------------------------------------------------------------------------------------

export function mutate(random: Random, bytes: Buffer, other: Buffer): Buffer {
  const at = (): number => random.int(bytes.length + 1);
  switch (random.int(8)) {
    case 0: {
      if (bytes.length === 0) return Buffer.from([random.int(256)]);
      const out = Buffer.from(bytes);
      const i = random.int(out.length);
      out[i] = out[i]! ^ (1 << random.int(8));
      return out;
    }
    case 1:
      return bytes.subarray(0, at());
    case 2: {
      const i = at();
      return Buffer.concat([bytes.subarray(0, i), random.bytes(3), bytes.subarray(i)]);
    }
    case 3: {
      const i = at();
      return Buffer.concat([bytes.subarray(0, i), bytes.subarray(Math.min(bytes.length, i + 1 + random.int(3)))]);
    }
    case 4:
      // Protobuf concatenation merges: every field of the message is now present twice.
      return Buffer.concat([bytes, bytes]);
    case 5:
      return Buffer.concat(random.chance(0.5) ? [bytes, other] : [other, bytes]);
    case 6: {
      // A slice appended again: often one field duplicated, sometimes a torn one.
      const i = at();
      return Buffer.concat([bytes, bytes.subarray(i, i + random.int(40))]);
    }
    default: {
      const out = Buffer.from(bytes);
      if (out.length > 0) out[random.int(out.length)] = random.pick([0x00, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x1a, 0x22, 0x0b, 0x0c, 0x0e, 0x0f]);
      return out;
    }
  }
}

/** A CheckRequest that always has attributes.request.http (the random one reaches it one time in five). */
export function checkRequestWithHttp(writer: MessageWriter): Buffer {
  const http = Buffer.concat([tag(2, 2), msg(writer.message(HTTP_REQUEST))]);
  const attributes = Buffer.concat([writer.message(ATTRIBUTE_CONTEXT.filter((f) => f.n !== 4)), tag(4, 2), msg(http)]);
  return Buffer.concat([tag(1, 2), msg(attributes)]);
}
