// Fuzzes every request field of every gRPC service on the real servers (FilterSync on the sync port;
// Stigg's SidecarService, ext_authz and grpc.health.v1 on GRPC_PORT): hostile strings (lone surrogates,
// 200 KB ids, injection text), NaN and infinities, negative and huge numbers, unknown enum numbers,
// missing fields, and random bytes as whole messages. Each call has a deadline. Passing means: no crash,
// no hang, and every refusal is INVALID_ARGUMENT whose details start with the field path it is about.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import type * as protoLoader from "@grpc/proto-loader";
import { loadExtAuthzPackage, extAuthzServiceDefinition } from "../../control/api/extAuthzProto.ts";
import { loadHealthPackage } from "../../control/api/grpcHealth.ts";
import { loadSidecarPackage, sidecarServiceDefinition } from "../../control/api/sidecarProto.ts";
import { SYNC_LOADER_OPTIONS, SYNC_PROTO_PATH } from "../../control/grpc/syncProto.ts";
import type { ControlPlane } from "../../control/controlPlane.ts";
import { client, plane } from "../security/support/plane.ts";
import { startStiggEmulator } from "../stigg/emulator.ts";
import { ACME } from "../stigg/fixtures.ts";
import { MessageFuzzer } from "./support/protoMessages.ts";
import { cases, fuzzSeed, Random } from "./support/random.ts";
import * as loader from "@grpc/proto-loader";
import { stiggUpstreamSettings } from "../stigg/upstreamSettings.ts";

const DEADLINE_MS = 3000;
/**
 * A field path then a colon: `customer_id`, `increments[3].delta`, `attributes.request.http.path`, and
 * map values by their JSON-quoted key anywhere along it (`events[0].dimensions["k\"]"].number_value`).
 */
const SEGMENT = String.raw`[A-Za-z_]\w*(\[(\d+|"([^"\\]|\\.)*")\])*`;
const NAMES_A_FIELD = new RegExp(String.raw`^(request|${SEGMENT}(\.${SEGMENT})*): `, "s");

interface Target {
  service: string;
  pkg: protoLoader.PackageDefinition;
  definition: grpc.ServiceDefinition;
  keepCase: boolean;
  port: "sync" | "grpc";
}

interface Outcome {
  code: grpc.status;
  details: string;
}

function call(c: grpc.Client, method: grpc.MethodDefinition<unknown, unknown>, bytes: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const options = { deadline: Date.now() + DEADLINE_MS };
    if (method.responseStream) {
      const stream = c.makeServerStreamRequest(method.path, (b: Buffer) => b, method.responseDeserialize, bytes, new grpc.Metadata(), options);
      let done = false;
      const finish = (o: Outcome): void => {
        if (done) return;
        done = true;
        resolve(o);
      };
      stream.on("data", () => {
        // The first message proves the stream works; the test does not need the rest.
        finish({ code: grpc.status.OK, details: "" });
        stream.cancel();
      });
      stream.on("error", (err: grpc.ServiceError) => finish({ code: err.code, details: err.details }));
      stream.on("end", () => finish({ code: grpc.status.OK, details: "" }));
      return;
    }
    c.makeUnaryRequest(method.path, (b: Buffer) => b, method.responseDeserialize, bytes, new grpc.Metadata(), options, (err) =>
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: "" }),
    );
  });
}

/** Runs `tasks` with at most `width` in flight. */
async function pool<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const i = next++;
        results[i] = await tasks[i]!();
      }
    }),
  );
  return results;
}

async function fuzzPlane(t: TestContext, cp: ControlPlane, label: string, allowed: (method: string, outcome: Outcome) => boolean = () => false): Promise<void> {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  console.log(`# grpc request fuzz (${label}): FUZZ_SEED=${seed}`);
  const random = new Random(seed);
  const syncPkg = loader.loadSync(SYNC_PROTO_PATH, SYNC_LOADER_OPTIONS);
  const healthPkg = loadHealthPackage();
  const sidecarPkg = loadSidecarPackage();
  const authzPkg = loadExtAuthzPackage();
  const targets: Target[] = [
    { service: "entitlementgate.sync.v1.FilterSync", pkg: syncPkg, definition: syncPkg["entitlementgate.sync.v1.FilterSync"] as grpc.ServiceDefinition, keepCase: false, port: "sync" },
    { service: "stigg.sidecar.v1.SidecarService", pkg: sidecarPkg, definition: sidecarServiceDefinition(sidecarPkg), keepCase: true, port: "grpc" },
    { service: "envoy.service.auth.v3.Authorization", pkg: authzPkg, definition: extAuthzServiceDefinition(authzPkg), keepCase: true, port: "grpc" },
    { service: "grpc.health.v1.Health", pkg: healthPkg, definition: healthPkg["grpc.health.v1.Health"] as grpc.ServiceDefinition, keepCase: true, port: "grpc" },
  ];
  const clients = { sync: client(t, cp.syncPort), grpc: client(t, cp.grpcPort) };
  const perMethod = cases(40);
  const tasks: (() => Promise<{ method: string; kind: string; outcome: Outcome; sample: string }>)[] = [];
  let unserializable = 0;
  for (const target of targets) {
    const fuzzer = new MessageFuzzer(target.pkg, random, target.keepCase);
    for (const [name, m] of Object.entries(target.definition)) {
      const method = m as grpc.MethodDefinition<unknown, unknown> & { requestType: { type: { name: string } } };
      if (method.requestStream) continue;
      // Every request type here lives in its service's package.
      const requestTypeName = `${target.service.slice(0, target.service.lastIndexOf("."))}.${method.requestType.type.name}`;
      assert.ok(target.pkg[requestTypeName], `request type ${requestTypeName} not found`);
      for (let i = 0; i < perMethod; i++) {
        const raw = random.chance(0.25);
        let bytes: Buffer;
        let sample: string;
        if (raw) {
          bytes = random.bytes(random.chance(0.1) ? 50_000 : 200);
          sample = `bytes ${bytes.subarray(0, 32).toString("hex")}…`;
        } else {
          const message = fuzzer.message(requestTypeName);
          try {
            bytes = method.requestSerialize(message);
          } catch {
            unserializable++;
            continue;
          }
          sample = JSON.stringify(message, (_k, v: unknown) => (typeof v === "string" && v.length > 80 ? `${v.slice(0, 80)}…(${v.length})` : v)).slice(0, 400);
        }
        tasks.push(async () => ({ method: `${target.service}/${name}`, kind: raw ? "bytes" : "message", outcome: await call(clients[target.port], method, bytes), sample }));
      }
    }
  }
  const results = await pool(tasks, 8);

  const tally = new Map<string, number>();
  const problems: string[] = [];
  for (const r of results) {
    const key = `${r.method} ${grpc.status[r.outcome.code]}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    const { code, details } = r.outcome;
    const fine =
      code === grpc.status.OK ||
      (code === grpc.status.INVALID_ARGUMENT && NAMES_A_FIELD.test(details)) ||
      // grpc.health.v1 answers a service it does not know with NOT_FOUND, as the health protocol says.
      (code === grpc.status.NOT_FOUND && r.method === "grpc.health.v1.Health/Check") ||
      allowed(r.method, r.outcome);
    if (!fine) problems.push(`${r.method} (${r.kind}) -> ${grpc.status[code]} ${JSON.stringify(details.slice(0, 200))} for ${r.sample}`);
  }
  t.diagnostic(`${results.length} calls, ${unserializable} generated messages the client library itself refused`);
  for (const [key, n] of [...tally].sort()) t.diagnostic(`${key}: ${n}`);
  assert.deepEqual(problems.slice(0, 20), [], `FUZZ_SEED=${seed}: ${problems.length} calls broke the contract`);

  // Still serving normally afterwards.
  const sidecar = sidecarServiceDefinition(sidecarPkg).GetBooleanEntitlement!;
  const after = await call(clients.grpc, sidecar, sidecar.requestSerialize({ customer_id: "customer-free", feature_id: "feature-reports" }));
  assert.equal(after.code, grpc.status.OK);
}

test("fuzzed requests to every gRPC method get an answer or INVALID_ARGUMENT naming the field, never a crash or hang", async (t) => {
  await fuzzPlane(t, await plane(t), "entitlements file");
});

test("the same in Stigg mode, reads and writes going to the Stigg emulator", async (t) => {
  const stigg = await startStiggEmulator({ customers: { acme: ACME } });
  t.after(() => stigg.close());
  const cp = await plane(t, { ...stiggUpstreamSettings(stigg), missTimeoutMs: 500 });
  await fuzzPlane(t, cp, "Stigg mode");
});
