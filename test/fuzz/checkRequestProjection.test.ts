// Differential fuzz of the ext_authz CheckRequest projection (control/api/fastPath/
// checkRequestProjection.ts) against proto-loader: random CheckRequests written field by field (header
// names and context-extension keys the decision looks for, in every case, repeated, in both header
// encodings, near misses), random objects encoded by protobufjs, and mutations of both. Passing means:
// whenever the projection returns a view, protobufjs accepts the same bytes and viewOfCheckRequest of
// its object is the same view; and whenever the hand-written decoder covers a message, the projection
// does too unless a header name is one it leaves to the full decoder (non-ASCII, digits only).
import { test } from "node:test";
import assert from "node:assert/strict";
import { viewOfCheckRequest } from "../../control/api/checkRequestView.ts";
import { extAuthzServiceDefinition, loadExtAuthzPackage, type WireCheckRequest } from "../../control/api/extAuthzProto.ts";
import { checkRequestProjection } from "../../control/api/fastPath/checkRequestProjection.ts";
import { decodeCheckRequest } from "../../control/api/fastPath/hotRequestDecoders.ts";
import { MessageFuzzer } from "./support/protoMessages.ts";
import { cases, fuzzSeed, Random } from "./support/random.ts";
import { CHECK_REQUEST, checkRequestWithHttp, MessageWriter, mutate } from "./support/requestMessages.ts";

/** Names the projection leaves to the full decoder on purpose. */
function leftOnPurpose(name: string): boolean {
  return /[^\x00-\x7f]/.test(name) || /^[0-9]+$/.test(name);
}

function headerNames(request: WireCheckRequest): string[] {
  const http = request.attributes?.request?.http;
  return [...Object.keys(http?.headers ?? {}), ...(http?.header_map?.headers ?? []).map((h) => h.key ?? "")];
}

for (const customerHeader of ["x-customer-id", "x-entitlement-customer"]) {
  test(`the CheckRequest projection gives the view of protobufjs's object, or leaves the bytes to it (customer header ${customerHeader})`, (t) => {
    const seed = fuzzSeed();
    t.diagnostic(`FUZZ_SEED=${seed}`);
    console.log(`# CheckRequest projection fuzz: FUZZ_SEED=${seed}`);
    const random = new Random(seed);
    const pkg = loadExtAuthzPackage();
    const method = extAuthzServiceDefinition(pkg).Check!;
    const fuzzer = new MessageFuzzer(pkg, random, true);
    const project = checkRequestProjection(customerHeader)!;
    const problems: string[] = [];
    const tally = { inputs: 0, projected: 0, handDecoded: 0, leftOnPurpose: 0, withCustomer: 0, withStrip: 0, withFeature: 0 };

    const check = (bytes: Buffer, what: string): void => {
      tally.inputs++;
      const hex = bytes.toString("hex").slice(0, 240);
      let view;
      try {
        view = project(bytes);
      } catch (err) {
        problems.push(`${what}: the projection threw ${String(err)} for ${hex}`);
        return;
      }
      const hand = decodeCheckRequest(bytes) as WireCheckRequest | undefined;
      if (hand !== undefined) tally.handDecoded++;
      if (view === undefined) {
        if (hand === undefined) return;
        if (headerNames(hand).some(leftOnPurpose)) tally.leftOnPurpose++;
        else problems.push(`${what}: covered by the hand decoder but not projected: ${hex}`);
        return;
      }
      tally.projected++;
      if (view.customerId !== "") tally.withCustomer++;
      if (view.strip.length > 0) tally.withStrip++;
      if (view.feature !== undefined) tally.withFeature++;
      let loader: WireCheckRequest;
      try {
        loader = method.requestDeserialize(bytes) as WireCheckRequest;
      } catch (err) {
        problems.push(`${what}: projected but protobufjs throws ${String(err)} for ${hex}`);
        return;
      }
      try {
        assert.deepStrictEqual(view, viewOfCheckRequest(loader, customerHeader));
      } catch (err) {
        problems.push(`${what}: differs from the view of protobufjs's object for ${hex}: ${String(err).slice(0, 600)}`);
      }
    };

    let previous: Buffer = Buffer.alloc(0);
    const count = cases(3000);
    for (let i = 0; i < count; i++) {
      const writer = new MessageWriter(random);
      const bytes = i % 2 === 0 ? checkRequestWithHttp(writer) : writer.message(CHECK_REQUEST);
      check(bytes, "written");
      for (let m = random.int(3); m >= 0; m--) check(mutate(random, bytes, previous), "mutated");
      previous = bytes;
      if (i % 4 === 0) {
        let serialized: Buffer | undefined;
        try {
          serialized = method.requestSerialize(fuzzer.message("envoy.service.auth.v3.CheckRequest"));
        } catch {
          // protobufjs refused its own random object: nothing to compare.
        }
        if (serialized !== undefined) {
          check(serialized, "serialized");
          check(mutate(random, serialized, bytes), "serialized, mutated");
        }
      }
    }
    t.diagnostic(JSON.stringify(tally));
    // The generator must reach what the projection reads, or passing says little.
    assert.ok(tally.projected >= count * 0.3, `most written messages are projected (${tally.projected}/${count})`);
    for (const key of ["withCustomer", "withStrip", "withFeature", "leftOnPurpose"] as const) assert.ok(tally[key] >= count * 0.01, `${key}: ${tally[key]}`);
    assert.deepEqual(problems.slice(0, 10), [], `FUZZ_SEED=${seed}: ${problems.length} problems`);
  });
}
