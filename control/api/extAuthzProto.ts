// Envoy's ext_authz v3 API (envoy.service.auth.v3.Authorization/Check), loaded from the Envoy API
// protos that @grpc/grpc-js-xds ships (deps/envoy-api and its imports). Vendoring a trimmed copy
// would mean hand-transcribing ~25 files; the package gives Envoy's own text at a pinned version.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

export const EXT_AUTHZ_SERVICE_NAME = "envoy.service.auth.v3.Authorization";
export const EXT_AUTHZ_PROTO_FILE = "envoy/service/auth/v3/external_auth.proto";

function xdsDepsDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve("@grpc/grpc-js-xds/package.json")), "deps");
}

export function envoyIncludeDirs(): string[] {
  const deps = xdsDepsDir();
  return ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d));
}

export const EXT_AUTHZ_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  oneofs: true,
};

export function loadExtAuthzPackage(): protoLoader.PackageDefinition {
  return protoLoader.loadSync(EXT_AUTHZ_PROTO_FILE, { ...EXT_AUTHZ_LOADER_OPTIONS, includeDirs: envoyIncludeDirs() });
}

export function extAuthzServiceDefinition(pkg: protoLoader.PackageDefinition = loadExtAuthzPackage()): grpc.ServiceDefinition {
  return pkg[EXT_AUTHZ_SERVICE_NAME] as grpc.ServiceDefinition;
}

export interface WireHeaderValue {
  key?: string;
  value?: string;
  raw_value?: Buffer;
}

export interface WireHttpRequest {
  id?: string;
  method?: string;
  headers?: Record<string, string>;
  /** Sent instead of `headers` when Envoy's `encode_raw_headers` is on. */
  header_map?: { headers?: WireHeaderValue[] };
  path?: string;
  host?: string;
}

export interface WireCheckRequest {
  attributes?: {
    request?: { http?: WireHttpRequest };
    context_extensions?: Record<string, string>;
  };
}

export interface WireHeaderValueOption {
  header: { key: string; value: string };
  append: { value: boolean };
  append_action: "OVERWRITE_IF_EXISTS_OR_ADD";
}

export interface WireCheckResponse {
  status: { code: number; message?: string };
  ok_response?: { headers: WireHeaderValueOption[]; headers_to_remove: string[]; response_headers_to_add?: WireHeaderValueOption[] };
  denied_response?: { status: { code: "Forbidden" | "TooManyRequests" }; headers: WireHeaderValueOption[]; body: string };
}
