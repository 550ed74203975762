// Reads the server's reflection descriptor of stigg.sidecar.v1 and compares every message, field,
// number, label, proto3 `optional`, oneof, enum value, method and file option with Stigg's schema.
// The expected data below is transcribed from the reference listing
// (/work/shared/reference/stigg-sidecar.md a.4, regenerated from stiggio/sidecar-sdk-go v7's
// compiled descriptor), not from our .proto.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";
import "protobufjs/ext/descriptor/index.js";
import { startApiServer } from "../../control/api/apiServer.ts";
import { FileDescriptorProto } from "../../control/api/fileDescriptors.ts";
import { createLogger } from "../../control/log.ts";
import { OfflineUsageWriter } from "../../control/read/offlineUsageWriter.ts";
import { StoreReader } from "../../control/read/storeReader.ts";
import { EntitlementStore } from "../../control/store/entitlementStore.ts";

/** GRPC_FAST_PATH=false runs this suite against grpc-js alone (test/control/fastPathModes.test.ts does). */
const FAST_PATH = process.env.GRPC_FAST_PATH !== "false";

const EXPECTED_MESSAGES: Record<string, string[]> = {
  EntitlementFeature: [
    "string id = 1",
    "FeatureType feature_type = 2",
    "optional string units = 3",
    "optional string units_plural = 4",
    "MeterType meter_type = 5",
    "bool is_metered = 6",
  ],
  BooleanEntitlement: [
    "optional EntitlementFeature feature = 4",
  ],
  NumericEntitlement: [
    "optional EntitlementFeature feature = 4",
    "optional int32 value = 5",
    "bool is_unlimited = 6",
  ],
  MeteredEntitlement: [
    "optional EntitlementFeature feature = 4",
    "optional double usage_limit = 5",
    "bool is_unlimited = 6",
    "double current_usage = 7",
    "optional EntitlementResetPeriod reset_period = 9",
    "optional google.protobuf.Timestamp next_reset_date = 10 [deprecated]",
    "optional google.protobuf.Timestamp usage_period_anchor = 11",
    "optional google.protobuf.Timestamp usage_period_start = 12",
    "optional google.protobuf.Timestamp usage_period_end = 13",
    "optional bool has_soft_limit = 14",
  ],
  EnumEntitlement: [
    "optional EntitlementFeature feature = 4",
    "repeated string enum_values = 5",
  ],
  Entitlement: [
    "oneof entitlement: BooleanEntitlement boolean = 1",
    "oneof entitlement: NumericEntitlement numeric = 2",
    "oneof entitlement: MeteredEntitlement metered = 3",
    "oneof entitlement: EnumEntitlement enum = 4",
  ],
  EntitlementCurrency: [
    "string currency_id = 1",
    "string display_name = 2",
    "optional string description = 3",
    "optional string unit_singular = 4",
    "optional string unit_plural = 5",
    "optional google.protobuf.Struct additional_meta_data = 6",
  ],
  CreditEntitlement: [
    "EntitlementCurrency currency = 1",
    "double usage_limit = 2",
    "double current_usage = 3",
    "double remaining = 4",
    "optional google.protobuf.Timestamp usage_period_end = 5",
    "bool has_soft_limit = 6",
  ],
  EntitlementV2: [
    "bool has_access = 1",
    "bool is_fallback = 2",
    "optional AccessDeniedReason access_denied_reason = 3",
    "oneof entitlement: BooleanEntitlement boolean = 4",
    "oneof entitlement: NumericEntitlement numeric = 5",
    "oneof entitlement: MeteredEntitlement metered = 6",
    "oneof entitlement: EnumEntitlement enum = 7",
    "oneof entitlement: CreditEntitlement credit = 8",
  ],
  GetEntitlementV2Request: [
    "string customer_id = 1",
    "optional string resource_id = 2",
    "optional string feature_id = 3",
    "optional string currency_id = 4",
    "optional GetEntitlementOptions options = 5",
  ],
  GetEntitlementV2Response: [
    "EntitlementV2 entitlement = 1",
  ],
  GetEntitlementsStateV2Request: [
    "string customer_id = 1",
    "optional string resource_id = 2",
  ],
  GetEntitlementsStateV2Response: [
    "repeated EntitlementV2 entitlements = 1",
    "optional AccessDeniedReason access_denied_reason = 2",
  ],
  GetEntitlementsRequest: [
    "string customer_id = 1",
    "optional string resource_id = 2",
  ],
  GetEntitlementsResponse: [
    "repeated Entitlement entitlements = 1",
    "optional AccessDeniedReason access_denied_reason = 2",
  ],
  GetEntitlementFallback: [
    "bool has_access = 1",
    "optional int32 value = 2",
    "optional bool is_unlimited = 3",
    "optional double usage_limit = 4",
    "repeated string enum_values = 5",
  ],
  GetEntitlementOptions: [
    "optional GetEntitlementFallback fallback = 1",
    "optional double requested_usage = 2",
    "repeated string requested_values = 3",
  ],
  GetEntitlementRequest: [
    "string customer_id = 1",
    "string feature_id = 2",
    "optional string resource_id = 3",
    "optional GetEntitlementOptions options = 4",
  ],
  GetEntitlementResponse: [
    "bool has_access = 1",
    "bool is_fallback = 2",
    "optional AccessDeniedReason access_denied_reason = 3",
    "oneof entitlement: BooleanEntitlement boolean = 4",
    "oneof entitlement: NumericEntitlement numeric = 5",
    "oneof entitlement: MeteredEntitlement metered = 6",
    "oneof entitlement: EnumEntitlement enum = 7",
  ],
  BooleanEntitlementFallback: [
    "bool has_access = 1",
  ],
  BooleanEntitlementOptions: [
    "optional BooleanEntitlementFallback fallback = 1",
  ],
  GetBooleanEntitlementRequest: [
    "string customer_id = 1",
    "string feature_id = 2",
    "optional string resource_id = 3",
    "optional BooleanEntitlementOptions options = 4",
  ],
  GetBooleanEntitlementResponse: [
    "bool has_access = 1",
    "bool is_fallback = 2",
    "optional AccessDeniedReason access_denied_reason = 3",
    "BooleanEntitlement entitlement = 4",
  ],
  NumericEntitlementFallback: [
    "bool has_access = 1",
    "optional int32 value = 2",
    "optional bool is_unlimited = 3",
  ],
  NumericEntitlementOptions: [
    "optional NumericEntitlementFallback fallback = 1",
  ],
  GetNumericEntitlementRequest: [
    "string customer_id = 1",
    "string feature_id = 2",
    "optional string resource_id = 3",
    "optional NumericEntitlementOptions options = 4",
  ],
  GetNumericEntitlementResponse: [
    "bool has_access = 1",
    "bool is_fallback = 2",
    "optional AccessDeniedReason access_denied_reason = 3",
    "NumericEntitlement entitlement = 4",
  ],
  MeteredEntitlementFallback: [
    "bool has_access = 1",
    "optional double usage_limit = 2",
    "optional bool is_unlimited = 3",
  ],
  MeteredEntitlementOptions: [
    "optional double requested_usage = 1",
    "optional MeteredEntitlementFallback fallback = 2",
  ],
  GetMeteredEntitlementRequest: [
    "string customer_id = 1",
    "string feature_id = 2",
    "optional string resource_id = 3",
    "optional MeteredEntitlementOptions options = 4",
  ],
  GetMeteredEntitlementResponse: [
    "bool has_access = 1",
    "bool is_fallback = 2",
    "optional AccessDeniedReason access_denied_reason = 3",
    "double requested_usage = 4",
    "MeteredEntitlement entitlement = 5",
  ],
  EnumEntitlementFallback: [
    "bool has_access = 1",
    "repeated string enum_values = 2",
  ],
  EnumEntitlementOptions: [
    "repeated string requested_values = 1",
    "optional EnumEntitlementFallback fallback = 2",
  ],
  GetEnumEntitlementRequest: [
    "string customer_id = 1",
    "string feature_id = 2",
    "optional string resource_id = 3",
    "optional EnumEntitlementOptions options = 4",
  ],
  GetEnumEntitlementResponse: [
    "bool has_access = 1",
    "bool is_fallback = 2",
    "optional AccessDeniedReason access_denied_reason = 3",
    "repeated string requested_values = 4",
    "EnumEntitlement entitlement = 5",
  ],
  RedisOptions: [
    "string environment_prefix = 1",
    "optional string host = 2",
    "optional int32 port = 3",
    "optional int32 db = 4",
    "optional string username = 5",
    "optional string password = 6",
    "optional int32 ttl = 7",
  ],
  EntitlementFallback: [
    "oneof fallback: BooleanEntitlementFallback boolean = 1",
    "oneof fallback: NumericEntitlementFallback numeric = 2",
    "oneof fallback: MeteredEntitlementFallback metered = 3",
    "oneof fallback: EnumEntitlementFallback enum = 4",
  ],
  ApiConfig: [
    "string api_key = 1",
    "optional string api_url = 2",
    "optional bool edge_enabled = 3",
    "optional string edge_api_url = 4",
  ],
  LocalSidecarConfig: [
    "optional bool ws_enabled = 5",
    "optional string ws_url = 6",
    "optional RedisOptions redis = 7",
    "map<string, EntitlementFallback> entitlements_fallback = 8",
    "optional int64 cache_max_size_bytes = 9",
  ],
  ReportUsageRequest: [
    "string customer_id = 1",
    "optional string resource_id = 2",
    "string feature_id = 3",
    "double value = 4",
    "optional UsageUpdateBehavior update_behavior = 5",
    "map<string, EventDimensionValue> dimensions = 6",
    "optional google.protobuf.Timestamp timestamp = 7",
  ],
  EventDimensionValue: [
    "oneof value: string string_value = 1",
    "oneof value: double number_value = 2",
    "oneof value: bool boolean_value = 3",
  ],
  Event: [
    "string event_name = 1",
    "string customer_id = 2",
    "string idempotency_key = 3",
    "optional string resource_id = 4",
    "map<string, EventDimensionValue> dimensions = 5",
    "optional google.protobuf.Timestamp timestamp = 6",
  ],
  ReportUsageResponse: [
    "string measurement_id = 1",
    "string customer_id = 2",
    "optional string resource_id = 3",
    "string feature_id = 4",
    "optional double current_usage = 5",
    "optional google.protobuf.Timestamp usage_period_start = 6",
    "optional google.protobuf.Timestamp usage_period_end = 7",
  ],
  ReportEventsRequest: [
    "repeated Event events = 1",
  ],
  ReloadEntitlementsRequest: [
    "string customer_id = 1",
    "optional string resource_id = 2",
  ],
  ReloadEntitlementsResponse: [
    "bool entitled_entity_exists = 1",
  ],
  ReportUsageBulkRequest: [
    "repeated ReportUsageRequest usages = 1",
  ],
  ReportUsageBulkResponse: [
    "repeated ReportUsageResponse usages = 1",
  ],
};

const EXPECTED_ENUMS: Record<string, string[]> = {
  AccessDeniedReason: [
    "ACCESS_DENIED_REASON_UNSPECIFIED = 0",
    "ACCESS_DENIED_REASON_UNKNOWN = 1",
    "ACCESS_DENIED_REASON_CUSTOMER_IS_ARCHIVED = 2",
    "ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND = 3",
    "ACCESS_DENIED_REASON_CUSTOMER_RESOURCE_NOT_FOUND = 4",
    "ACCESS_DENIED_REASON_FEATURE_NOT_FOUND = 5",
    "ACCESS_DENIED_REASON_NO_ACTIVE_SUBSCRIPTION = 6",
    "ACCESS_DENIED_REASON_NO_FEATURE_ENTITLEMENT_IN_SUBSCRIPTION = 7",
    "ACCESS_DENIED_REASON_REQUESTED_USAGE_EXCEEDING_LIMIT = 8",
    "ACCESS_DENIED_REASON_BUDGET_EXCEEDED = 9",
    "ACCESS_DENIED_REASON_REQUESTED_VALUES_MISMATCH = 10",
    "ACCESS_DENIED_REASON_FEATURE_TYPE_MISMATCH = 11",
    "ACCESS_DENIED_REASON_INSUFFICIENT_CREDITS = 12",
    "ACCESS_DENIED_REASON_REVOKED = 13",
    "ACCESS_DENIED_REASON_ENTITLEMENT_NOT_FOUND = 14",
  ],
  FeatureType: [
    "FEATURE_TYPE_UNSPECIFIED = 0",
    "FEATURE_TYPE_BOOLEAN = 1",
    "FEATURE_TYPE_NUMBER = 2",
    "FEATURE_TYPE_ENUM = 3",
  ],
  MeterType: [
    "METER_TYPE_UNSPECIFIED = 0",
    "METER_TYPE_NONE = 1",
    "METER_TYPE_FLUCTUATING = 2",
    "METER_TYPE_INCREMENTAL = 3",
  ],
  EntitlementResetPeriod: [
    "ENTITLEMENT_RESET_PERIOD_UNSPECIFIED = 0",
    "ENTITLEMENT_RESET_PERIOD_DAY = 1",
    "ENTITLEMENT_RESET_PERIOD_HOUR = 2",
    "ENTITLEMENT_RESET_PERIOD_MONTH = 3",
    "ENTITLEMENT_RESET_PERIOD_WEEK = 4",
    "ENTITLEMENT_RESET_PERIOD_YEAR = 5",
  ],
  UsageUpdateBehavior: [
    "USAGE_UPDATE_BEHAVIOR_UNSPECIFIED = 0",
    "USAGE_UPDATE_BEHAVIOR_DELTA = 1",
    "USAGE_UPDATE_BEHAVIOR_SET = 2",
  ],
};

const EXPECTED_METHODS = [
  "GetEntitlements(GetEntitlementsRequest) returns (GetEntitlementsResponse)",
  "GetEntitlement(GetEntitlementRequest) returns (GetEntitlementResponse)",
  "GetBooleanEntitlement(GetBooleanEntitlementRequest) returns (GetBooleanEntitlementResponse)",
  "GetNumericEntitlement(GetNumericEntitlementRequest) returns (GetNumericEntitlementResponse)",
  "GetMeteredEntitlement(GetMeteredEntitlementRequest) returns (GetMeteredEntitlementResponse)",
  "GetEnumEntitlement(GetEnumEntitlementRequest) returns (GetEnumEntitlementResponse)",
  "ReportUsage(ReportUsageRequest) returns (ReportUsageResponse)",
  "ReportEvents(ReportEventsRequest) returns (google.protobuf.Empty)",
  "ReloadEntitlements(ReloadEntitlementsRequest) returns (ReloadEntitlementsResponse)",
  "ReportUsageBulk(ReportUsageBulkRequest) returns (ReportUsageBulkResponse)",
  "GetEntitlementV2(GetEntitlementV2Request) returns (GetEntitlementV2Response)",
  "GetEntitlementsStateV2(GetEntitlementsStateV2Request) returns (GetEntitlementsStateV2Response)",
];

const EXPECTED_FILE_OPTIONS = {
  javaPackage: "io.stigg.sidecar.proto.v1",
  javaOuterClassname: "SidecarProto",
  javaMultipleFiles: true,
  goPackage: "github.com/stiggio/sidecar-sdk-go/generated/stigg/sidecar/v1;sidecarv1",
  objcClassPrefix: "SSX",
  csharpNamespace: "Stigg.Sidecar.V1",
  phpNamespace: "Stigg\\Sidecar\\V1",
  phpMetadataNamespace: "Stigg\\Sidecar\\V1\\GPBMetadata",
  rubyPackage: "Stigg::Sidecar::V1",
};

// ---- the descriptor, rendered in the listing's notation -------------------------------------

interface FieldDesc {
  name: string;
  number: number;
  label: string;
  type: string;
  typeName?: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
  options?: { deprecated?: boolean };
}
interface MessageDesc {
  name: string;
  field?: FieldDesc[];
  nestedType?: MessageDesc[];
  oneofDecl?: { name: string }[];
  options?: { mapEntry?: boolean };
}
interface FileDesc {
  name: string;
  package: string;
  syntax?: string;
  dependency?: string[];
  messageType: MessageDesc[];
  enumType: { name: string; value: { name: string; number: number }[] }[];
  service: { name: string; method: { name: string; inputType: string; outputType: string }[] }[];
  options?: Record<string, unknown>;
}

const PACKAGE_PREFIX = ".stigg.sidecar.v1.";

function typeOf(field: FieldDesc): string {
  if (field.typeName) return field.typeName.startsWith(PACKAGE_PREFIX) ? field.typeName.slice(PACKAGE_PREFIX.length) : field.typeName.replace(/^\./, "");
  return field.type.replace(/^TYPE_/, "").toLowerCase();
}

function render(message: MessageDesc): string[] {
  const entries = new Map((message.nestedType ?? []).filter((n) => n.options?.mapEntry).map((n) => [`${PACKAGE_PREFIX}${message.name}.${n.name}`, n]));
  return (message.field ?? []).map((field) => {
    const entry = field.typeName ? entries.get(field.typeName) : undefined;
    let text: string;
    if (entry) {
      const [key, value] = entry.field!;
      text = `map<${typeOf(key!)}, ${typeOf(value!)}> ${field.name} = ${field.number}`;
    } else {
      const label = field.label === "LABEL_REPEATED" ? "repeated " : field.proto3Optional ? "optional " : "";
      text = `${label}${typeOf(field)} ${field.name} = ${field.number}`;
    }
    if (field.options?.deprecated) text += " [deprecated]";
    if (field.oneofIndex !== undefined && !field.proto3Optional) text = `oneof ${message.oneofDecl![field.oneofIndex]!.name}: ${text}`;
    return text;
  });
}

// ---- a reflection client --------------------------------------------------------------------

function reflectionClient(t: TestContext, port: number, version: "v1" | "v1alpha"): grpc.Client {
  const require = createRequire(import.meta.url);
  const protoDir = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto");
  const pkg = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, { includeDirs: [protoDir], keepCase: true, oneofs: true });
  const loaded = grpc.loadPackageDefinition(pkg) as unknown as { grpc: { reflection: Record<string, { ServerReflection: grpc.ServiceClientConstructor }> } };
  const client = new loaded.grpc.reflection[version]!.ServerReflection(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  return client;
}

interface ReflectionResponse {
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  list_services_response?: { service: { name: string }[] };
  error_response?: { error_code: number; error_message: string };
}

function ask(client: grpc.Client, request: object): Promise<ReflectionResponse> {
  return new Promise((resolve, reject) => {
    const stream = (client as unknown as { ServerReflectionInfo(): grpc.ClientDuplexStream<object, ReflectionResponse> }).ServerReflectionInfo();
    stream.once("data", (response: ReflectionResponse) => {
      resolve(response);
      stream.end();
    });
    stream.once("error", reject);
    stream.write(request);
  });
}

function decodeFiles(response: ReflectionResponse): FileDesc[] {
  return (response.file_descriptor_response?.file_descriptor_proto ?? []).map(
    (bytes) => FileDescriptorProto.toObject(FileDescriptorProto.decode(bytes), { enums: String }) as unknown as FileDesc,
  );
}

async function server(t: TestContext): Promise<number> {
  const store = new EntitlementStore();
  const api = await startApiServer({
    fastPath: FAST_PATH,
    host: "127.0.0.1",
    port: 0,
    reader: new StoreReader(store),
    usage: new OfflineUsageWriter(store),
    logger: createLogger("silent"),
  });
  t.after(() => api.close(500));
  return api.port;
}

test("reflection serves stigg.sidecar.v1 exactly as Stigg's schema: messages, fields, numbers, optional, oneofs, enums, methods, options", async (t) => {
  const port = await server(t);
  const response = await ask(reflectionClient(t, port, "v1"), { file_containing_symbol: "stigg.sidecar.v1.SidecarService" });
  const files = decodeFiles(response);
  const sidecar = files.find((f) => f.package === "stigg.sidecar.v1");
  assert.ok(sidecar, "the sidecar file is served");
  assert.equal(sidecar.name, "stigg/sidecar/v1/sidecar.proto");
  assert.equal(sidecar.syntax, "proto3");
  assert.deepEqual([...(sidecar.dependency ?? [])].sort(), ["google/protobuf/empty.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"]);
  assert.deepEqual(
    files.map((f) => f.name).sort(),
    ["google/protobuf/empty.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto", "stigg/sidecar/v1/sidecar.proto"],
    "the file comes with its dependencies",
  );
  assert.deepEqual(sidecar.options, EXPECTED_FILE_OPTIONS);

  const actualMessages = Object.fromEntries(sidecar.messageType.map((m) => [m.name, render(m)]));
  assert.deepEqual(Object.keys(actualMessages).sort(), Object.keys(EXPECTED_MESSAGES).sort(), "the same message names");
  for (const [name, fields] of Object.entries(EXPECTED_MESSAGES)) {
    assert.deepEqual(actualMessages[name], fields, `message ${name}`);
  }
  const actualEnums = Object.fromEntries(sidecar.enumType.map((e) => [e.name, e.value.map((v) => `${v.name} = ${v.number}`)]));
  assert.deepEqual(actualEnums, EXPECTED_ENUMS);

  assert.equal(sidecar.service.length, 1);
  assert.equal(sidecar.service[0]!.name, "SidecarService");
  const strip = (name: string): string => (name.startsWith(PACKAGE_PREFIX) ? name.slice(PACKAGE_PREFIX.length) : name.replace(/^\./, ""));
  assert.deepEqual(
    sidecar.service[0]!.method.map((m) => `${m.name}(${strip(m.inputType)}) returns (${strip(m.outputType)})`),
    EXPECTED_METHODS,
  );
});

test("synthetic oneofs of proto3 optional fields come after the real oneof, as protoc orders them", async (t) => {
  const port = await server(t);
  const files = decodeFiles(await ask(reflectionClient(t, port, "v1"), { file_containing_symbol: "stigg.sidecar.v1.EntitlementV2" }));
  const v2 = files.find((f) => f.package === "stigg.sidecar.v1")!.messageType.find((m) => m.name === "EntitlementV2")!;
  assert.deepEqual(v2.oneofDecl!.map((o) => o.name), ["entitlement", "_access_denied_reason"]);
  const reason = v2.field!.find((f) => f.name === "access_denied_reason")!;
  assert.equal(reason.proto3Optional, true);
  assert.equal(reason.oneofIndex, 1);
});

test("reflection lists the Sidecar, ext_authz and health services, over v1 and v1alpha", async (t) => {
  const port = await server(t);
  for (const version of ["v1", "v1alpha"] as const) {
    const response = await ask(reflectionClient(t, port, version), { list_services: "" });
    const names = response.list_services_response!.service.map((s) => s.name).sort();
    assert.deepEqual(names, ["envoy.service.auth.v3.Authorization", "grpc.health.v1.Health", "stigg.sidecar.v1.SidecarService"], version);
  }
  const auth = decodeFiles(await ask(reflectionClient(t, port, "v1"), { file_containing_symbol: "envoy.service.auth.v3.Authorization" }));
  assert.equal(auth[0]!.name, "envoy/service/auth/v3/external_auth.proto");
  assert.ok(auth.some((f) => f.name === "envoy/service/auth/v3/attribute_context.proto"), "with its imports");
});

test("a client can build a working schema from reflection alone and call the server with it", async (t) => {
  const port = await server(t);
  const response = await ask(reflectionClient(t, port, "v1"), { file_containing_symbol: "stigg.sidecar.v1.SidecarService" });
  const set = { file: (response.file_descriptor_response?.file_descriptor_proto ?? []).map((bytes) => FileDescriptorProto.decode(bytes)) };
  // protobufjs/ext/descriptor adds fromDescriptor at run time; its typings do not declare it.
  const root = (protobuf.Root as unknown as { fromDescriptor(set: object): protobuf.Root }).fromDescriptor(set);
  const request = root.lookupType("stigg.sidecar.v1.GetBooleanEntitlementRequest");
  const reply = root.lookupType("stigg.sidecar.v1.GetBooleanEntitlementResponse");
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.after(() => client.close());
  const bytes = await new Promise<Buffer>((resolve, reject) => {
    client.makeUnaryRequest(
      "/stigg.sidecar.v1.SidecarService/GetBooleanEntitlement",
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.from(request.encode(request.fromObject({ customer_id: "nobody", feature_id: "sso" })).finish()),
      (err, value) => (err ? reject(err) : resolve(value!)),
    );
  });
  const decoded = reply.toObject(reply.decode(bytes), { enums: String });
  assert.equal(decoded.has_access ?? false, false);
  assert.equal(decoded.access_denied_reason, "ACCESS_DENIED_REASON_CUSTOMER_NOT_FOUND");
});

test("well-known types are served as protoc names them (google.protobuf.Value.null_value, file options)", async (t) => {
  const port = await server(t);
  const files = decodeFiles(await ask(reflectionClient(t, port, "v1"), { file_by_filename: "google/protobuf/struct.proto" }));
  const struct = files.find((f) => f.name === "google/protobuf/struct.proto")!;
  const value = struct.messageType.find((m) => m.name === "Value")!;
  assert.deepEqual(value.field!.map((f) => f.name), ["null_value", "number_value", "string_value", "bool_value", "struct_value", "list_value"]);
  assert.equal(struct.options?.goPackage, "google.golang.org/protobuf/types/known/structpb");
});
