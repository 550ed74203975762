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
import { assertSameShape } from "../control/support/hotRequests.ts";
import { MessageFuzzer } from "./support/protoMessages.ts";
import { BOOLEAN_REQUEST, CHECK_REQUEST, MessageWriter, METERED_REQUEST, mutate, type Schema } from "./support/requestMessages.ts";
import { cases, fuzzSeed, Random } from "./support/random.ts";

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
