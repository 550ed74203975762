// Fuzzes what the filter's sync role receives: Subscribe streams carrying valid SyncMessages with hostile
// contents (random entry values, 64 KiB ids, unknown kinds, version and epoch extremes) and byte-level
// mutations of valid messages (flips, truncation, garbage). Runs the built .wasm in the proxy-wasm host:
// the singleton sync role and two gate workers on the same vm_id, against a test FilterSync server.
// Passing means: no VM ever traps, gate answers stay well-formed (allow, 403, 429), and one valid
// snapshot afterwards restores correct decisions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { encodeEntry } from "../../control/codec/entryCodec.ts";
import { filterSyncServiceDefinition, type SyncMessageOut } from "../../control/grpc/syncProto.ts";
import type { CustomerEntitlements } from "../../control/model/entitlements.ts";
import { EnvoyHost } from "../host/index.ts";
import { loadFilterWasm } from "../filter/support/builtWasm.ts";
import { SyncServer, type SubscribeStream } from "../filter/support/syncServer.ts";
import { cases, fuzzSeed, Random } from "./support/random.ts";

const VM_ID = "fuzz";
const serialize = filterSyncServiceDefinition().Subscribe!.responseSerialize as (m: SyncMessageOut) => Buffer;
const KINDS = ["MESSAGE_KIND_SNAPSHOT", "MESSAGE_KIND_DELTA", "MESSAGE_KIND_HEARTBEAT", "MESSAGE_KIND_UNSPECIFIED"] as const;

function reportsCustomer(customerId: string, granted: boolean): CustomerEntitlements {
  return {
    customerId,
    entitlements: [{ featureId: granted ? "reports" : "other", featureType: "BOOLEAN", hasUnlimitedUsage: false, hasSoftLimit: false, currentUsage: 0 }],
  };
}

function hostileMessage(random: Random): SyncMessageOut {
  const entries = Array.from({ length: random.int(random.chance(0.05) ? 300 : 5) }, () => {
    const customerId = random.chance(0.5) ? random.pick(["acme", "globex", ""]) : random.chance(0.1) ? "c".repeat(65_536) : random.string().slice(0, 300);
    const value = random.chance(0.5)
      ? Buffer.from(encodeEntry(reportsCustomer(customerId, random.chance(0.5))))
      : random.chance(0.3)
        ? Buffer.alloc(0)
        : random.bytes(random.chance(0.1) ? 70_000 : 80);
    return { customerId, resourceId: random.chance(0.2) ? random.string().slice(0, 100) : "", value };
  });
  return {
    kind: random.pick(KINDS),
    version: random.pick([0, 1, random.int(1000), 2 ** 53 - 1, -1]),
    epoch: random.pick(["ep", "", random.string().slice(0, 500)]),
    entries,
    sentAtUnixMs: random.pick([0, Date.now(), -1, 2 ** 53 - 1]),
    snapshotComplete: random.chance(0.3),
    heartbeatIntervalMs: random.pick([0, 1, 5000, 2 ** 31 - 1]),
  };
}

function mutateBytes(random: Random, bytes: Buffer): Buffer {
  const out = Buffer.from(bytes);
  switch (random.int(4)) {
    case 0:
      for (let i = 0; i < 1 + random.int(4) && out.length > 0; i++) out[random.int(out.length)] = random.int(256);
      return out;
    case 1:
      return out.subarray(0, random.int(out.length + 1));
    case 2:
      return Buffer.concat([out, random.bytes(20)]);
    default:
      return random.bytes(random.int(200));
  }
}

test("hostile and corrupt sync messages never trap the filter, and a valid snapshot restores decisions", async (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  console.log(`# sync stream fuzz: FUZZ_SEED=${seed}`);
  const random = new Random(seed);
  const server = new SyncServer();
  await server.listen();
  const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port: server.port } } });
  t.after(async () => {
    await host.close();
    await server.close();
  });
  const wasm = loadFilterWasm();
  const sync = await host.addSingletonService({
    vmId: VM_ID,
    rootId: "entitlement_sync",
    wasm,
    configuration: JSON.stringify({ cluster: "control_plane", nodeId: "fuzz", reconnectMinMs: 1, reconnectMaxMs: 5 }),
  });
  const gate = await host.addHttpFilter({
    vmId: VM_ID,
    rootId: "entitlement_gate",
    wasm,
    workers: 2,
    configuration: JSON.stringify({ onMiss: { policy: "fallback" }, rules: [{ pathPrefix: "/api/reports", feature: "reports" }] }),
  });
  assert.equal(sync.configureResult, true);

  const decide = async (customer: string): Promise<string> => {
    const result = await gate.request({ headers: [[":method", "GET"], [":path", "/api/reports"], [":authority", "x"], ["x-customer-id", customer]] });
    return result.kind === "continue" ? "allow" : String(result.status);
  };
  /** The open stream the sync role holds now (it cancels a stream after an undecodable message). */
  const current = async (): Promise<SubscribeStream> => {
    const last = server.streams.at(-1);
    if (last && !last.destroyed) return last;
    return server.stream(server.streams.length, 3000);
  };

  // Capped: after ~200 streams cancelled by the role on one HTTP/2 connection, the test server's
  // session starts resetting new streams before their headers (seen at FUZZ_SCALE=10; a harness limit,
  // the role keeps resubscribing correctly), so more rounds would test the harness, not the filter.
  const rounds = Math.min(cases(60), 120);
  const answers = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    const stream = await current();
    for (let i = 1 + random.int(4); i > 0; i--) {
      const bytes = serialize(hostileMessage(random));
      stream.send(random.chance(0.35) ? mutateBytes(random, bytes) : bytes);
    }
    await new Promise((r) => setTimeout(r, 5));
    for (const customer of ["acme", "globex", random.string().slice(0, 50)]) {
      const answer = await decide(customer);
      answers.set(answer, (answers.get(answer) ?? 0) + 1);
    }
    assert.equal(sync.vm.failed, false, `sync role trapped (round ${round}, FUZZ_SEED=${seed}): ${sync.vm.failure ?? ""}`);
    for (const w of gate.workers) assert.equal(w.failed, false, `gate worker trapped (round ${round}, FUZZ_SEED=${seed}): ${w.failure ?? ""}`);
  }
  t.diagnostic(`${rounds} rounds on ${server.streams.length} streams; gate answers ${JSON.stringify(Object.fromEntries(answers))}`);
  for (const answer of answers.keys()) assert.ok(["allow", "403", "429"].includes(answer), `unexpected gate answer ${answer}`);

  // Recovery: a valid snapshot from a fresh epoch decides correctly again. It is sent again on each new
  // stream: a fuzzed heartbeat_interval_ms of 1 makes the role drop quiet streams at once until a
  // message with a sane interval arrives.
  const snapshot = serialize({
    kind: "MESSAGE_KIND_SNAPSHOT",
    version: 1,
    epoch: "recovered",
    entries: [
      { customerId: "acme", resourceId: "", value: Buffer.from(encodeEntry(reportsCustomer("acme", true))) },
      { customerId: "globex", resourceId: "", value: Buffer.from(encodeEntry(reportsCustomer("globex", false))) },
    ],
    sentAtUnixMs: Date.now(),
    snapshotComplete: true,
    heartbeatIntervalMs: 5000,
  });
  const deadline = Date.now() + 5000;
  let sentOn: SubscribeStream | undefined;
  while ((await decide("acme")) !== "allow" || (await decide("globex")) !== "403") {
    assert.ok(Date.now() < deadline, `FUZZ_SEED=${seed}: decisions did not recover after a valid snapshot`);
    const stream = await current();
    if (stream !== sentOn) {
      stream.send(snapshot);
      sentOn = stream;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
});
