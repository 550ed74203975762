// Checks Envoy configuration objects against Envoy's own API protos (the snapshot vendored by
// @grpc/grpc-js-xds, a runtime dependency), as Envoy's config loader would: every field name must exist on
// its message, enums must name a value, Any payloads are checked against their @type, oneofs hold one
// member. `validate --envoy-config` and the snippets test use it: it catches the typos and misplaced fields
// a YAML parser cannot, with no Envoy binary.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import protobuf from "protobufjs";

const require = createRequire(import.meta.url);
const DEPS = join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
// protobufjs ships google/protobuf/descriptor.proto (custom options need it).
const INCLUDE = [...["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(DEPS, d)), dirname(require.resolve("protobufjs/package.json"))];

const FILES = [
  "envoy/config/bootstrap/v3/bootstrap.proto",
  "envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "envoy/extensions/filters/http/wasm/v3/wasm.proto",
  "envoy/extensions/wasm/v3/wasm.proto",
  "envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto",
  "envoy/extensions/filters/http/router/v3/router.proto",
  "envoy/extensions/upstreams/http/v3/http_protocol_options.proto",
  "envoy/extensions/transport_sockets/tls/v3/tls.proto",
  "google/protobuf/wrappers.proto",
];

/**
 * Fields newer than the vendored snapshot, verified against Envoy's current docs: PluginConfig
 * failure_policy (7) and reload_config (8) arrived in Envoy 1.33 (proxy-wasm.md, section 3 (i)).
 */
const NEWER_FIELDS: Record<string, readonly string[]> = {
  "envoy.extensions.wasm.v3.PluginConfig": ["failure_policy", "reload_config"],
};

let root: protobuf.Root | undefined;

function loadRoot(): protobuf.Root {
  if (root) return root;
  const r = new protobuf.Root();
  r.resolvePath = (_origin: string, target: string): string => {
    for (const dir of INCLUDE) {
      const candidate = join(dir, target);
      if (existsSync(candidate)) return candidate;
    }
    return target;
  };
  r.loadSync(FILES, { keepCase: true });
  r.resolveAll();
  root = r;
  return r;
}

const WRAPPERS = new Set(["DoubleValue", "FloatValue", "Int64Value", "UInt64Value", "Int32Value", "UInt32Value", "BoolValue", "StringValue", "BytesValue"].map((n) => `google.protobuf.${n}`));

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkScalar(type: string, value: unknown, path: string, problems: string[]): void {
  const numeric = ["double", "float", "int32", "uint32", "sint32", "fixed32", "sfixed32", "int64", "uint64", "sint64", "fixed64", "sfixed64"];
  if (numeric.includes(type)) {
    if (typeof value !== "number" && !(typeof value === "string" && /^-?\d+(\.\d+)?$/.test(value))) problems.push(`${path}: ${type} expected, got ${JSON.stringify(value)}`);
  } else if (type === "bool") {
    if (typeof value !== "boolean") problems.push(`${path}: bool expected, got ${JSON.stringify(value)}`);
  } else if (type === "string" || type === "bytes") {
    if (typeof value !== "string" && typeof value !== "number") problems.push(`${path}: string expected, got ${JSON.stringify(value)}`);
  }
}

function checkMessage(type: protobuf.Type, value: unknown, path: string, problems: string[]): void {
  const name = type.fullName.replace(/^\./, "");
  if (name === "google.protobuf.Any") {
    if (!isObject(value) || typeof value["@type"] !== "string") {
      problems.push(`${path}: an Any needs "@type"`);
      return;
    }
    const typeName = (value["@type"] as string).replace(/^type\.googleapis\.com\//, "");
    let inner: protobuf.Type;
    try {
      inner = loadRoot().lookupType(typeName);
    } catch {
      problems.push(`${path}: @type ${typeName} is not a known Envoy type`);
      return;
    }
    const { "@type": _ignored, ...rest } = value;
    if (WRAPPERS.has(typeName)) checkScalar(typeName === "google.protobuf.BoolValue" ? "bool" : "string", rest.value, `${path}.value`, problems);
    else checkMessage(inner, rest, path, problems);
    return;
  }
  if (name === "google.protobuf.Duration") {
    if (typeof value !== "string" || !/^-?\d+(\.\d+)?s$/.test(value)) problems.push(`${path}: a Duration like "1s" expected, got ${JSON.stringify(value)}`);
    return;
  }
  if (name === "google.protobuf.Struct" || name === "google.protobuf.Value" || name === "google.protobuf.ListValue") return;
  if (WRAPPERS.has(name)) {
    checkScalar(name === "google.protobuf.BoolValue" ? "bool" : name === "google.protobuf.StringValue" ? "string" : "double", value, path, problems);
    return;
  }
  if (!isObject(value)) {
    problems.push(`${path}: ${name} expects an object, got ${JSON.stringify(value)}`);
    return;
  }
  for (const [key, child] of Object.entries(value)) {
    const field = type.fields[key] ?? type.fieldsArray.find((f) => f.options?.json_name === key || camel(f.name) === key);
    if (!field) {
      if (!NEWER_FIELDS[name]?.includes(key)) problems.push(`${path}.${key}: no such field in ${name}`);
      continue;
    }
    checkField(field, child, `${path}.${key}`, problems);
  }
  for (const oneof of type.oneofsArray) {
    const set = oneof.fieldsArray.filter((f) => value[f.name] !== undefined || value[camel(f.name)] !== undefined);
    if (set.length > 1) problems.push(`${path}: oneof ${oneof.name} has ${set.map((f) => f.name).join(" and ")}`);
  }
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function checkValue(field: protobuf.Field, value: unknown, path: string, problems: string[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Type) checkMessage(resolved, value, path, problems);
  else if (resolved instanceof protobuf.Enum) {
    if (typeof value === "string" ? resolved.values[value] === undefined : typeof value !== "number") {
      problems.push(`${path}: ${JSON.stringify(value)} is not a value of ${resolved.fullName.replace(/^\./, "")} (${Object.keys(resolved.values).join(", ")})`);
    }
  } else checkScalar(field.type, value, path, problems);
}

function checkField(field: protobuf.Field, value: unknown, path: string, problems: string[]): void {
  if (field instanceof protobuf.MapField) {
    if (!isObject(value)) problems.push(`${path}: map expected`);
    else for (const [k, v] of Object.entries(value)) checkValue(field, v, `${path}.${k}`, problems);
    return;
  }
  if (field.repeated) {
    if (!Array.isArray(value)) problems.push(`${path}: list expected`);
    else value.forEach((item, i) => checkValue(field, item, `${path}[${i}]`, problems));
    return;
  }
  checkValue(field, value, path, problems);
}

/** Problems of `value` as an Envoy message of `typeName` (e.g. envoy.config.bootstrap.v3.Bootstrap); empty = valid. */
export function envoyConfigProblems(typeName: string, value: unknown, path = typeName): string[] {
  const problems: string[] = [];
  checkMessage(loadRoot().lookupType(typeName), value, path, problems);
  return problems;
}

export interface EnvoyObject {
  where: string;
  typeName: string;
  value: unknown;
}

/**
 * The Envoy API objects in a YAML file: a bootstrap (a document without `kind`), the envoy.yaml inside a
 * ConfigMap, and the BOOTSTRAP / HTTP_FILTER values of an Istio EnvoyFilter. WasmPlugins are Istio's own
 * API, not Envoy's, and are skipped.
 */
export function envoyObjects(documents: readonly unknown[], origin: string, parseNested: (text: string) => unknown): EnvoyObject[] {
  const out: EnvoyObject[] = [];
  documents.forEach((doc, index) => {
    if (!isObject(doc)) return;
    const where = `${origin}#${index}`;
    if (doc.kind === undefined) out.push({ where, typeName: "envoy.config.bootstrap.v3.Bootstrap", value: doc });
    else if (doc.kind === "ConfigMap" && isObject(doc.data)) {
      for (const [key, text] of Object.entries(doc.data)) {
        if (key.endsWith("envoy.yaml") && typeof text === "string") out.push({ where: `${where}.data.${key}`, typeName: "envoy.config.bootstrap.v3.Bootstrap", value: parseNested(text) });
      }
    } else if (doc.kind === "EnvoyFilter" && isObject(doc.spec) && Array.isArray(doc.spec.configPatches)) {
      doc.spec.configPatches.forEach((patch: unknown, i: number) => {
        if (!isObject(patch) || !isObject(patch.patch)) return;
        const typeName = patch.applyTo === "BOOTSTRAP" ? "envoy.config.bootstrap.v3.Bootstrap"
          : patch.applyTo === "HTTP_FILTER" ? "envoy.extensions.filters.network.http_connection_manager.v3.HttpFilter" : undefined;
        if (typeName) out.push({ where: `${where}.spec.configPatches[${i}].patch.value`, typeName, value: patch.patch.value });
      });
    }
  });
  return out;
}
