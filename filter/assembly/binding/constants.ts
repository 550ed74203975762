// Numeric values of the ABI 0.2.1 enums (proxy-wasm spec), named so call sites read as intent.

export namespace Status {
  export const OK: i32 = 0;
  export const NOT_FOUND: i32 = 1;
  export const BAD_ARGUMENT: i32 = 2;
  export const SERIALIZATION_FAILURE: i32 = 3;
  export const PARSE_FAILURE: i32 = 4;
  export const INVALID_MEMORY_ACCESS: i32 = 6;
  export const EMPTY: i32 = 7;
  export const CAS_MISMATCH: i32 = 8;
  export const INTERNAL_FAILURE: i32 = 10;
  export const UNIMPLEMENTED: i32 = 12;
}

export namespace Action {
  export const CONTINUE: i32 = 0;
  export const PAUSE: i32 = 1;
}

export namespace BufferType {
  export const HTTP_REQUEST_BODY: i32 = 0;
  export const HTTP_RESPONSE_BODY: i32 = 1;
  export const HTTP_CALL_RESPONSE_BODY: i32 = 4;
  export const GRPC_RECEIVE_BUFFER: i32 = 5;
  export const VM_CONFIGURATION: i32 = 6;
  export const PLUGIN_CONFIGURATION: i32 = 7;
}

export namespace MapType {
  export const HTTP_REQUEST_HEADERS: i32 = 0;
  export const HTTP_REQUEST_TRAILERS: i32 = 1;
  export const HTTP_RESPONSE_HEADERS: i32 = 2;
  export const HTTP_RESPONSE_TRAILERS: i32 = 3;
  export const GRPC_RECEIVE_INITIAL_METADATA: i32 = 4;
  export const GRPC_RECEIVE_TRAILING_METADATA: i32 = 5;
  export const HTTP_CALL_RESPONSE_HEADERS: i32 = 6;
  export const HTTP_CALL_RESPONSE_TRAILERS: i32 = 7;
}

export namespace MetricType {
  export const COUNTER: i32 = 0;
  export const GAUGE: i32 = 1;
  export const HISTOGRAM: i32 = 2;
}

export namespace LogLevel {
  export const TRACE: i32 = 0;
  export const DEBUG: i32 = 1;
  export const INFO: i32 = 2;
  export const WARN: i32 = 3;
  export const ERROR: i32 = 4;
  export const CRITICAL: i32 = 5;
}

/** proxy_send_local_response's "no gRPC status" value: any other 0..16 turns the reply into a gRPC error. */
export const NO_GRPC_STATUS: i32 = -1;
