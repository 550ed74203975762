// The request fuzzer's message generator (support/protoMessages.ts) must reach the nested messages and
// enums of every request type it fuzzes: a generator that cannot find a field's type sends `{}` for it,
// and the servers' validation of everything below that field is never exercised. Every generated
// message goes through the service's own protobufjs serializer and back, so a field the generator
// filled under a wrong name or type would not survive to be counted.
import { test } from "node:test";
import assert from "node:assert/strict";
import type * as grpc from "@grpc/grpc-js";
import * as loader from "@grpc/proto-loader";
import { extAuthzServiceDefinition, loadExtAuthzPackage } from "../../control/api/extAuthzProto.ts";
import { loadHealthPackage } from "../../control/api/grpcHealth.ts";
import { loadSidecarPackage, sidecarServiceDefinition } from "../../control/api/sidecarProto.ts";
import { SYNC_LOADER_OPTIONS, SYNC_PROTO_PATH } from "../../control/grpc/syncProto.ts";
import { MessageFuzzer, ProtoTypes } from "./support/protoMessages.ts";
import { fuzzSeed, Random } from "./support/random.ts";

const DRAWS = 300;

/** Every value at `path` (dot-separated); arrays on the way are looked into item by item. */
function valuesAt(value: unknown, path: string): unknown[] {
  let level: unknown[] = [value];
  for (const key of path.split(".")) {
    const next: unknown[] = [];
    for (const v of level) {
      const items = Array.isArray(v) ? v : [v];
      for (const item of items) {
        if (item !== null && typeof item === "object" && Object.hasOwn(item, key)) next.push((item as Record<string, unknown>)[key]);
      }
    }
    level = next;
  }
  return level.flatMap((v) => (Array.isArray(v) ? v : [v]));
}

const present = (v: unknown): boolean => v !== undefined && v !== null;
const nonEmpty = (v: unknown): boolean => v !== null && typeof v === "object" && Object.keys(v).length > 0;
/** With `enums: String`, protobufjs decodes a number the schema knows to its name. */
const enumName = (v: unknown): boolean => typeof v === "string" && /^[A-Z][A-Z0-9_]*$/.test(v);

interface Expectation {
  path: string;
  holds: (v: unknown) => boolean;
  what: string;
}

const expect = (path: string, holds: (v: unknown) => boolean = present, what = "present"): Expectation => ({ path, holds, what });

/**
 * Draws `DRAWS` random requests of `typeName`, round-trips each through the method's serializer and
 * returns the expectations no decoded request ever met.
 */
function unmet(method: grpc.MethodDefinition<unknown, unknown>, fuzzer: MessageFuzzer, typeName: string, expectations: Expectation[]): string[] {
  const met = new Set<Expectation>();
  let serialized = 0;
  for (let i = 0; i < DRAWS; i++) {
    let decoded: unknown;
    try {
      decoded = method.requestDeserialize(method.requestSerialize(fuzzer.message(typeName)));
    } catch {
      continue;
    }
    serialized++;
    for (const e of expectations) if (!met.has(e) && valuesAt(decoded, e.path).some(e.holds)) met.add(e);
  }
  assert.ok(serialized >= DRAWS / 2, `${typeName}: most generated messages serialize (${serialized}/${DRAWS})`);
  return expectations.filter((e) => !met.has(e)).map((e) => `${typeName}.${e.path} ${e.what}`);
}

test("generated ext_authz CheckRequests reach the nested attribute messages, maps and enums", (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  const pkg = loadExtAuthzPackage();
  const fuzzer = new MessageFuzzer(pkg, new Random(seed), true);
  const missing = unmet(extAuthzServiceDefinition(pkg).Check!, fuzzer, "envoy.service.auth.v3.CheckRequest", [
    expect("attributes.source.address.socket_address.address"),
    expect("attributes.source.address.socket_address.protocol", (v) => v === "UDP", "a known enum name"),
    expect("attributes.destination.principal"),
    expect("attributes.source.labels", nonEmpty, "a non-empty map"),
    expect("attributes.request.time.seconds"),
    expect("attributes.request.http.headers", nonEmpty, "a non-empty map"),
    expect("attributes.request.http.header_map.headers"),
    expect("attributes.request.http.path"),
    expect("attributes.context_extensions", nonEmpty, "a non-empty map"),
    expect("attributes.metadata_context.filter_metadata", nonEmpty, "a non-empty map"),
    expect("attributes.tls_session.sni"),
  ]);
  assert.deepEqual(missing, [], `FUZZ_SEED=${seed}`);
});

test("generated Sidecar requests reach their options, fallbacks, dimensions, timestamps and enums", (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  const pkg = loadSidecarPackage();
  const service = sidecarServiceDefinition(pkg);
  const fuzzer = new MessageFuzzer(pkg, new Random(seed), true);
  const withOptions = (fallbackField: string): Expectation[] => [expect("options", nonEmpty, "non-empty"), expect("options.fallback"), expect(`options.fallback.${fallbackField}`)];
  const cases: [string, Expectation[]][] = [
    ["GetEntitlement", [...withOptions("usage_limit"), expect("options.requested_usage"), expect("options.requested_values")]],
    ["GetEntitlementV2", withOptions("usage_limit")],
    ["GetBooleanEntitlement", withOptions("has_access")],
    ["GetNumericEntitlement", withOptions("value")],
    ["GetMeteredEntitlement", [...withOptions("usage_limit"), expect("options.requested_usage")]],
    ["GetEnumEntitlement", withOptions("has_access")],
    ["ReportUsage", [expect("update_behavior", enumName, "a known enum name"), expect("dimensions", (v) => Object.values(v as object).some(nonEmpty), "a map with a non-empty value"), expect("timestamp.seconds")]],
    ["ReportEvents", [expect("events.event_name"), expect("events.dimensions", (v) => Object.values(v as object).some(nonEmpty), "a map with a non-empty value"), expect("events.timestamp")]],
    ["ReportUsageBulk", [expect("usages.customer_id"), expect("usages.update_behavior", enumName, "a known enum name"), expect("usages.dimensions", nonEmpty, "a non-empty map")]],
  ];
  const missing: string[] = [];
  for (const [name, expectations] of cases) {
    const method = service[name] as grpc.MethodDefinition<unknown, unknown> & { requestType: { type: { name: string } } };
    assert.ok(method, `SidecarService/${name} exists`);
    missing.push(...unmet(method, fuzzer, `stigg.sidecar.v1.${method.requestType.type.name}`, expectations));
  }
  assert.deepEqual(missing, [], `FUZZ_SEED=${seed}`);
});

test("generated sync usage reports carry their increments, and health checks their service name", (t) => {
  const seed = fuzzSeed();
  t.diagnostic(`FUZZ_SEED=${seed}`);
  const random = new Random(seed);
  const syncPkg = loader.loadSync(SYNC_PROTO_PATH, SYNC_LOADER_OPTIONS);
  const sync = syncPkg["entitlementgate.sync.v1.FilterSync"] as grpc.ServiceDefinition;
  const healthPkg = loadHealthPackage();
  const health = healthPkg["grpc.health.v1.Health"] as grpc.ServiceDefinition;
  const missing = [
    ...unmet(sync.ReportUsage!, new MessageFuzzer(syncPkg, random, false), "entitlementgate.sync.v1.UsageReport", [expect("increments.customerId"), expect("increments.delta")]),
    ...unmet(health.Check!, new MessageFuzzer(healthPkg, random, true), "grpc.health.v1.HealthCheckRequest", [expect("service")]),
  ];
  assert.deepEqual(missing, [], `FUZZ_SEED=${seed}`);
});

test("every message and enum field type of every fuzzed package resolves to a type of its kind", () => {
  const packages: [string, loader.PackageDefinition][] = [
    ["ext_authz", loadExtAuthzPackage()],
    ["sidecar", loadSidecarPackage()],
    ["sync", loader.loadSync(SYNC_PROTO_PATH, SYNC_LOADER_OPTIONS)],
    ["health", loadHealthPackage()],
  ];
  const unresolved: string[] = [];
  let checked = 0;
  for (const [label, pkg] of packages) {
    const types = new ProtoTypes(pkg);
    for (const [scope, message] of types.messages()) {
      for (const field of message.field) {
        if (field.type !== "TYPE_MESSAGE" && field.type !== "TYPE_ENUM") continue;
        checked++;
        const full = types.resolve(field.typeName, scope);
        const found = full === undefined ? undefined : field.type === "TYPE_MESSAGE" ? types.message(full) : types.enum(full);
        if (!found) unresolved.push(`${label}: ${scope}.${field.name} (${field.type} ${field.typeName})`);
      }
    }
  }
  assert.ok(checked > 100, `fields with a type name were checked (${checked})`);
  assert.deepEqual(unresolved, []);
});

test("a type name resolves in the innermost scope that has it, outward to the package and root, or fully qualified", () => {
  const pkg = loader.fromJSON({
    nested: {
      a: {
        nested: {
          Inner: { fields: { top: { type: "string", id: 1 } } },
          b: {
            nested: {
              Inner: { fields: { pkg: { type: "string", id: 1 } } },
              Outer: {
                fields: { x: { type: "Inner", id: 1 } },
                nested: { Inner: { fields: { nested: { type: "string", id: 1 } }, nested: { Kind: { values: { K0: 0 } } } } },
              },
            },
          },
        },
      },
    },
  });
  const types = new ProtoTypes(pkg);
  assert.equal(types.resolve("Inner", "a.b.Outer"), "a.b.Outer.Inner");
  assert.equal(types.resolve("Inner", "a.b.Other"), "a.b.Inner");
  assert.equal(types.resolve("Inner", "a.Other"), "a.Inner");
  assert.equal(types.resolve("b.Outer.Inner.Kind", "a.Other"), "a.b.Outer.Inner.Kind");
  assert.equal(types.resolve(".a.Inner", "a.b.Outer"), "a.Inner");
  assert.equal(types.resolve("Missing", "a.b.Outer"), undefined);
  assert.ok(types.enum("a.b.Outer.Inner.Kind"), "nested enums are indexed");
});
