// Differential fuzz of the fast path's hand-written request decoders (control/api/fastPath/
// hotRequestDecoders.ts) against proto-loader's requestDeserialize: random well-formed messages of each
// of the three request types written field by field (random subsets and orders, non-ASCII and invalid
// UTF-8 strings, repeated map keys, entries missing key or value, negative and huge int64s), random
// objects encoded by protobufjs itself, and mutations of both (bit flips, truncation, inserted and
// deleted bytes, duplicated fields, concatenations). Passing means: whenever a hand decoder returns an
// object, protobufjs accepts the same bytes and returns a deep-equal object with the same keys and value
// types; and every well-formed message using only what the decoders cover is decoded by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import type * as grpc from "@grpc/grpc-js";
import { extAuthzServiceDefinition, loadExtAuthzPackage } from "../../control/api/extAuthzProto.ts";
import { decodeBooleanRequest, decodeCheckRequest, decodeMeteredRequest } from "../../control/api/fastPath/hotRequestDecoders.ts";
import { loadSidecarPackage, sidecarServiceDefinition } from "../../control/api/sidecarProto.ts";
import { assertSameShape, msg, varint } from "../control/support/hotRequests.ts";
import { MessageFuzzer } from "./support/protoMessages.ts";
import { cases, fuzzSeed, Random } from "./support/random.ts";

// ---- a field-by-field writer of random messages ----------------------------------------------------

type Scalar = "string" | "bytes" | "double" | "bool" | "uint32" | "int32" | "int64";
interface Field {
  n: number;
  kind: Scalar | "map" | "message" | "repeated";
  of?: Schema;
}
type Schema = readonly Field[];

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
const BOOLEAN_REQUEST = typed([{ n: 1, kind: "message", of: BOOLEAN_FALLBACK }]);
const METERED_REQUEST = typed([
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
  { n: 1, kind: "string" },
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
const CHECK_REQUEST: Schema = [{ n: 1, kind: "message", of: ATTRIBUTE_CONTEXT }];

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

class MessageWriter {
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

  scalar(kind: Scalar): Buffer {
    const r = this.random;
    switch (kind) {
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
    let key = keys.length > 0 && r.chance(0.1) ? r.pick(keys) : this.text();
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
          const wire = field.kind === "double" ? 1 : field.kind === "string" || field.kind === "bytes" ? 2 : 0;
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

function mutate(random: Random, bytes: Buffer, other: Buffer): Buffer {
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

// ---- the differential check -----------------------------------------------------------------------

interface Target {
  name: string;
  schema: Schema;
  hand: (bytes: Buffer) => object | undefined;
  method: grpc.MethodDefinition<unknown, unknown>;
  fuzzer: MessageFuzzer;
  typeName: string;
  /** The share of protobufjs-encoded random objects the hand decoder must cover. */
  minSerializedCovered: number;
}

/**
 * Random CheckRequests reach, at every level, what the decoder leaves to protobufjs on purpose: Address
 * pipe and envoy_internal_address, non-empty Metadata, negative int32s and enums, several members of
 * one oneof (the generator fills each independently). About a third stays covered.
 */
const CHECK_MIN_SERIALIZED_COVERED = 0.2;

test("the hand-written request decoders accept only what protobufjs accepts and return its very objects", (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  console.log(`# hot request decoders fuzz: FUZZ_SEED=${seed}`);
  const random = new Random(seed);
  const sidecarPkg = loadSidecarPackage();
  const authzPkg = loadExtAuthzPackage();
  const sidecar = sidecarServiceDefinition(sidecarPkg);
  const authz = extAuthzServiceDefinition(authzPkg);
  const targets: Target[] = [
    { name: "GetBooleanEntitlementRequest", schema: BOOLEAN_REQUEST, hand: decodeBooleanRequest, method: sidecar.GetBooleanEntitlement!, fuzzer: new MessageFuzzer(sidecarPkg, random, true), typeName: "stigg.sidecar.v1.GetBooleanEntitlementRequest", minSerializedCovered: 0.3 },
    { name: "GetMeteredEntitlementRequest", schema: METERED_REQUEST, hand: decodeMeteredRequest, method: sidecar.GetMeteredEntitlement!, fuzzer: new MessageFuzzer(sidecarPkg, random, true), typeName: "stigg.sidecar.v1.GetMeteredEntitlementRequest", minSerializedCovered: 0.3 },
    { name: "CheckRequest", schema: CHECK_REQUEST, hand: decodeCheckRequest, method: authz.Check!, fuzzer: new MessageFuzzer(authzPkg, random, true), typeName: "envoy.service.auth.v3.CheckRequest", minSerializedCovered: CHECK_MIN_SERIALIZED_COVERED },
  ];
  const perType = cases(1500);
  const problems: string[] = [];

  for (const target of targets) {
    const tally = { inputs: 0, handDecoded: 0, plain: 0, plainCovered: 0, serialized: 0, serializedCovered: 0 };
    /** Returns whether the hand decoder covered the bytes; records a problem when it disagrees with protobufjs. */
    const check = (bytes: Buffer, what: string): boolean => {
      tally.inputs++;
      let hand: object | undefined;
      try {
        hand = target.hand(bytes);
      } catch (err) {
        problems.push(`${target.name} ${what}: the hand decoder threw ${String(err)} for ${bytes.toString("hex").slice(0, 200)}`);
        return false;
      }
      if (hand === undefined) return false;
      tally.handDecoded++;
      let loader: unknown;
      try {
        loader = target.method.requestDeserialize(bytes);
      } catch (err) {
        problems.push(`${target.name} ${what}: decoded by hand but protobufjs throws ${String(err)} for ${bytes.toString("hex").slice(0, 200)}`);
        return true;
      }
      try {
        assert.deepStrictEqual(hand, loader);
        assertSameShape(hand, loader, what);
      } catch (err) {
        problems.push(`${target.name} ${what}: differs from protobufjs for ${bytes.toString("hex").slice(0, 200)}: ${String(err).slice(0, 600)}`);
      }
      return true;
    };

    let previous: Buffer = Buffer.alloc(0);
    for (let i = 0; i < perType; i++) {
      const writer = new MessageWriter(random);
      const bytes = writer.message(target.schema);
      const covered = check(bytes, "written");
      if (!writer.uncovered) {
        tally.plain++;
        if (covered) tally.plainCovered++;
        else problems.push(`${target.name}: a well-formed message using only covered fields was left to protobufjs: ${bytes.toString("hex").slice(0, 200)}`);
      }
      for (let m = random.int(3); m >= 0; m--) check(mutate(random, bytes, previous), "mutated");
      previous = bytes;

      if (i % 4 === 0) {
        let serialized: Buffer | undefined;
        try {
          serialized = target.method.requestSerialize(target.fuzzer.message(target.typeName));
        } catch {
          // protobufjs refused its own random object: nothing to compare.
        }
        if (serialized !== undefined) {
          tally.serialized++;
          if (check(serialized, "serialized")) tally.serializedCovered++;
          check(mutate(random, serialized, bytes), "serialized, mutated");
        }
      }
    }
    t.diagnostic(`${target.name}: ${JSON.stringify(tally)}`);
    assert.ok(tally.plain >= perType * 0.5, `${target.name}: most written messages use only covered fields (${tally.plain}/${perType})`);
    assert.ok(tally.serializedCovered >= tally.serialized * target.minSerializedCovered, `${target.name}: protobufjs-encoded random objects are often covered (${tally.serializedCovered}/${tally.serialized})`);
  }
  assert.deepEqual(problems.slice(0, 10), [], `FUZZ_SEED=${seed}: ${problems.length} problems`);
});
