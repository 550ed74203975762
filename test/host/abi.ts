// Proxy-Wasm ABI constants and the exact function types Envoy (proxy-wasm-cpp-host) links against.
import type { FuncType, ValType } from "./wasmBinary.ts";

export const Status = {
  OK: 0,
  NOT_FOUND: 1,
  BAD_ARGUMENT: 2,
  SERIALIZATION_FAILURE: 3,
  PARSE_FAILURE: 4,
  INVALID_MEMORY_ACCESS: 6,
  EMPTY: 7,
  CAS_MISMATCH: 8,
  INTERNAL_FAILURE: 10,
  BROKEN_CONNECTION: 11,
  UNIMPLEMENTED: 12,
} as const;

export const Action = { CONTINUE: 0, PAUSE: 1 } as const;

export const BufferType = {
  HTTP_REQUEST_BODY: 0,
  HTTP_RESPONSE_BODY: 1,
  DOWNSTREAM_DATA: 2,
  UPSTREAM_DATA: 3,
  HTTP_CALL_RESPONSE_BODY: 4,
  GRPC_CALL_MESSAGE: 5,
  VM_CONFIGURATION: 6,
  PLUGIN_CONFIGURATION: 7,
  FOREIGN_FUNCTION_ARGUMENTS: 8,
} as const;

export const MapType = {
  HTTP_REQUEST_HEADERS: 0,
  HTTP_REQUEST_TRAILERS: 1,
  HTTP_RESPONSE_HEADERS: 2,
  HTTP_RESPONSE_TRAILERS: 3,
  GRPC_CALL_INITIAL_METADATA: 4,
  GRPC_CALL_TRAILING_METADATA: 5,
  HTTP_CALL_RESPONSE_HEADERS: 6,
  HTTP_CALL_RESPONSE_TRAILERS: 7,
} as const;

export const StreamType = { HTTP_REQUEST: 0, HTTP_RESPONSE: 1, DOWNSTREAM: 2, UPSTREAM: 3 } as const;

export const MetricType = { COUNTER: 0, GAUGE: 1, HISTOGRAM: 2 } as const;

export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5 } as const;
export type LogLevelName = keyof typeof LogLevel;

export const GrpcCode = { OK: 0, CANCELLED: 1, UNKNOWN: 2, DEADLINE_EXCEEDED: 4, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14 } as const;

export const WasiErrno = { SUCCESS: 0, BADF: 8, FAULT: 21, INVAL: 28, NOSYS: 52, NOTSUP: 58 } as const;

export type AbiVersion = "0_1_0" | "0_2_0" | "0_2_1";

const ABI_MARKERS: Array<[string, AbiVersion]> = [
  ["proxy_abi_version_0_2_1", "0_2_1"],
  ["proxy_abi_version_0_2_0", "0_2_0"],
  ["proxy_abi_version_0_1_0", "0_1_0"],
];

export function detectAbiVersion(exportNames: Iterable<string>): AbiVersion | undefined {
  const names = new Set(exportNames);
  for (const [marker, version] of ABI_MARKERS) if (names.has(marker)) return version;
  return undefined;
}

function sig(params: number | ValType[], results: ValType[] = ["i32"]): FuncType {
  return { params: typeof params === "number" ? Array<ValType>(params).fill("i32") : params, results };
}

/** Host functions in module `env`, by ABI version (the ABI-specific ones differ). */
export function envImportTypes(abi: AbiVersion): Map<string, FuncType> {
  const m = new Map<string, FuncType>([
    ["proxy_log", sig(3)],
    ["proxy_get_status", sig(3)],
    ["proxy_set_property", sig(4)],
    ["proxy_get_property", sig(4)],
    ["proxy_send_local_response", sig(8)],
    ["proxy_get_shared_data", sig(5)],
    ["proxy_set_shared_data", sig(5)],
    ["proxy_register_shared_queue", sig(3)],
    ["proxy_resolve_shared_queue", sig(5)],
    ["proxy_dequeue_shared_queue", sig(3)],
    ["proxy_enqueue_shared_queue", sig(3)],
    ["proxy_get_header_map_value", sig(5)],
    ["proxy_add_header_map_value", sig(5)],
    ["proxy_replace_header_map_value", sig(5)],
    ["proxy_remove_header_map_value", sig(3)],
    ["proxy_get_header_map_pairs", sig(3)],
    ["proxy_set_header_map_pairs", sig(3)],
    ["proxy_get_header_map_size", sig(2)],
    ["proxy_get_buffer_status", sig(3)],
    ["proxy_get_buffer_bytes", sig(5)],
    ["proxy_set_buffer_bytes", sig(5)],
    ["proxy_http_call", sig(10)],
    ["proxy_grpc_call", sig(12)],
    ["proxy_grpc_stream", sig(9)],
    ["proxy_grpc_close", sig(1)],
    ["proxy_grpc_cancel", sig(1)],
    ["proxy_grpc_send", sig(4)],
    ["proxy_set_tick_period_milliseconds", sig(1)],
    ["proxy_get_current_time_nanoseconds", sig(1)],
    ["proxy_define_metric", sig(4)],
    ["proxy_increment_metric", sig(["i32", "i64"])],
    ["proxy_record_metric", sig(["i32", "i64"])],
    ["proxy_get_metric", sig(2)],
    ["proxy_set_effective_context", sig(1)],
    ["proxy_done", sig(0)],
    ["proxy_call_foreign_function", sig(6)],
    ["pthread_equal", sig(2)],
    ["emscripten_notify_memory_growth", sig(1, [])],
  ]);
  if (abi === "0_1_0") {
    m.set("proxy_get_configuration", sig(2));
    m.set("proxy_continue_request", sig(0));
    m.set("proxy_continue_response", sig(0));
    m.set("proxy_clear_route_cache", sig(0));
  } else {
    m.set("proxy_continue_stream", sig(1));
    m.set("proxy_close_stream", sig(1));
    if (abi === "0_2_1") m.set("proxy_get_log_level", sig(1));
  }
  return m;
}

/** WASI functions, served under both `wasi_snapshot_preview1` and `wasi_unstable`. */
export const WASI_IMPORT_TYPES = new Map<string, FuncType>([
  ["fd_write", sig(4)],
  ["fd_read", sig(4)],
  ["fd_seek", sig(["i32", "i64", "i32", "i32"])],
  ["fd_close", sig(1)],
  ["fd_fdstat_get", sig(2)],
  ["environ_get", sig(2)],
  ["environ_sizes_get", sig(2)],
  ["args_get", sig(2)],
  ["args_sizes_get", sig(2)],
  ["clock_time_get", sig(["i32", "i64", "i32"])],
  ["random_get", sig(2)],
  ["proc_exit", sig(1, [])],
  ["path_open", sig(["i32", "i32", "i32", "i32", "i32", "i64", "i64", "i32", "i32"])],
  ["fd_prestat_get", sig(2)],
  ["fd_prestat_dir_name", sig(3)],
]);

export const WASI_MODULES = ["wasi_snapshot_preview1", "wasi_unstable"];

/** Exports the host calls, with the type it insists on ("Bad function signature for: <name>"). */
export function exportTypes(abi: AbiVersion): Map<string, FuncType> {
  const headerArity = abi === "0_1_0" ? 2 : 3;
  return new Map<string, FuncType>([
    ["_initialize", sig(0, [])],
    ["_start", sig(0, [])],
    ["main", sig(2)],
    ["malloc", sig(1)],
    ["proxy_on_memory_allocate", sig(1)],
    ["proxy_on_context_create", sig(2, [])],
    ["proxy_on_vm_start", sig(2)],
    ["proxy_validate_configuration", sig(2)],
    ["proxy_on_configure", sig(2)],
    ["proxy_on_tick", sig(1, [])],
    ["proxy_on_foreign_function", sig(3, [])],
    ["proxy_on_queue_ready", sig(2, [])],
    ["proxy_on_new_connection", sig(1)],
    ["proxy_on_downstream_data", sig(3)],
    ["proxy_on_downstream_connection_close", sig(2, [])],
    ["proxy_on_upstream_data", sig(3)],
    ["proxy_on_upstream_connection_close", sig(2, [])],
    ["proxy_on_request_headers", sig(headerArity)],
    ["proxy_on_request_body", sig(3)],
    ["proxy_on_request_trailers", sig(2)],
    ["proxy_on_request_metadata", sig(2)],
    ["proxy_on_response_headers", sig(headerArity)],
    ["proxy_on_response_body", sig(3)],
    ["proxy_on_response_trailers", sig(2)],
    ["proxy_on_response_metadata", sig(2)],
    ["proxy_on_http_call_response", sig(5, [])],
    ["proxy_on_grpc_receive_initial_metadata", sig(3, [])],
    ["proxy_on_grpc_receive", sig(3, [])],
    ["proxy_on_grpc_receive_trailing_metadata", sig(3, [])],
    ["proxy_on_grpc_close", sig(3, [])],
    ["proxy_on_done", sig(1)],
    ["proxy_on_log", sig(1, [])],
    ["proxy_on_delete", sig(1, [])],
  ]);
}
