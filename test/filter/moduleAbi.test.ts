// The built module links the way Envoy requires: it imports only ABI 0.2.1 host functions, each with the
// exact parameter types of the reference (a mismatch makes Envoy refuse the module), and exports every
// callback with Envoy's signature.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseWasmModule, type FuncType } from "../host/index.ts";
import { RELEASE_WASM, loadFilterWasm } from "./support/builtWasm.ts";

const i32 = (n: number): string[] => Array<string>(n).fill("i32");

/** ABI 0.2.1 host functions (shared/reference/proxy-wasm.md, section 2): params, all returning a status. */
const HOST_FUNCTIONS: Record<string, string[]> = {
  proxy_log: i32(3),
  proxy_get_log_level: i32(1),
  proxy_get_current_time_nanoseconds: i32(1),
  proxy_set_tick_period_milliseconds: i32(1),
  proxy_get_buffer_bytes: i32(5),
  proxy_get_buffer_status: i32(3),
  proxy_set_buffer_bytes: i32(5),
  proxy_get_header_map_value: i32(5),
  proxy_get_header_map_pairs: i32(3),
  proxy_set_header_map_pairs: i32(3),
  proxy_add_header_map_value: i32(5),
  proxy_replace_header_map_value: i32(5),
  proxy_remove_header_map_value: i32(3),
  proxy_get_header_map_size: i32(2),
  proxy_continue_stream: i32(1),
  proxy_close_stream: i32(1),
  proxy_send_local_response: i32(8),
  proxy_get_status: i32(3),
  proxy_http_call: i32(10),
  proxy_grpc_call: i32(12),
  proxy_grpc_stream: i32(9),
  proxy_grpc_send: i32(4),
  proxy_grpc_cancel: i32(1),
  proxy_grpc_close: i32(1),
  proxy_set_shared_data: i32(5),
  proxy_get_shared_data: i32(5),
  proxy_register_shared_queue: i32(3),
  proxy_resolve_shared_queue: i32(5),
  proxy_enqueue_shared_queue: i32(3),
  proxy_dequeue_shared_queue: i32(3),
  proxy_define_metric: i32(4),
  proxy_increment_metric: ["i32", "i64"],
  proxy_record_metric: ["i32", "i64"],
  proxy_get_metric: i32(2),
  proxy_get_property: i32(4),
  proxy_set_property: i32(4),
  proxy_set_effective_context: i32(1),
  proxy_done: [],
};

/** Exports Envoy looks up, with their types (bool results are i32). */
const CALLBACKS: Record<string, FuncType> = {
  proxy_abi_version_0_2_1: { params: [], results: [] },
  _initialize: { params: [], results: [] },
  proxy_on_memory_allocate: { params: ["i32"], results: ["i32"] },
  proxy_on_context_create: { params: ["i32", "i32"], results: [] },
  proxy_on_vm_start: { params: ["i32", "i32"], results: ["i32"] },
  proxy_on_configure: { params: ["i32", "i32"], results: ["i32"] },
  proxy_on_tick: { params: ["i32"], results: [] },
  proxy_on_request_headers: { params: ["i32", "i32", "i32"], results: ["i32"] },
  proxy_on_request_body: { params: ["i32", "i32", "i32"], results: ["i32"] },
  proxy_on_request_trailers: { params: ["i32", "i32"], results: ["i32"] },
  proxy_on_response_headers: { params: ["i32", "i32", "i32"], results: ["i32"] },
  proxy_on_response_body: { params: ["i32", "i32", "i32"], results: ["i32"] },
  proxy_on_response_trailers: { params: ["i32", "i32"], results: ["i32"] },
  proxy_on_http_call_response: { params: ["i32", "i32", "i32", "i32", "i32"], results: [] },
  proxy_on_grpc_receive_initial_metadata: { params: ["i32", "i32", "i32"], results: [] },
  proxy_on_grpc_receive: { params: ["i32", "i32", "i32"], results: [] },
  proxy_on_grpc_receive_trailing_metadata: { params: ["i32", "i32", "i32"], results: [] },
  proxy_on_grpc_close: { params: ["i32", "i32", "i32"], results: [] },
  proxy_on_queue_ready: { params: ["i32", "i32"], results: [] },
  proxy_on_done: { params: ["i32"], results: ["i32"] },
  proxy_on_log: { params: ["i32"], results: [] },
  proxy_on_delete: { params: ["i32"], results: [] },
};

describe("built filter module", () => {
  for (const file of [RELEASE_WASM, resolve(RELEASE_WASM, "../entitlement_gate.debug.wasm")]) {
    const name = file.endsWith("debug.wasm") ? "debug" : "release";

    it(`imports only proxy-wasm host functions with the reference's parameter types (${name})`, () => {
      const info = parseWasmModule(name === "release" ? loadFilterWasm() : new Uint8Array(readFileSync(file)));
      assert.ok(info.imports.length > 0);
      for (const imp of info.imports) {
        assert.equal(imp.module, "env", `${imp.module}.${imp.name} is not an env import`);
        assert.equal(imp.kind, "func");
        const expected = HOST_FUNCTIONS[imp.name];
        assert.ok(expected !== undefined, `env.${imp.name} is not an ABI 0.2.1 host function`);
        assert.deepEqual(imp.type?.params, expected, `env.${imp.name} parameters`);
        assert.deepEqual(imp.type?.results, ["i32"], `env.${imp.name} result`);
      }
      const names = info.imports.map((i) => i.name);
      for (const needed of ["proxy_grpc_stream", "proxy_send_local_response", "proxy_get_shared_data", "proxy_get_log_level"]) {
        assert.ok(names.includes(needed), `${needed} missing`);
      }
    });

    it(`exports every callback with Envoy's signature and no SDK leftovers (${name})`, () => {
      const info = parseWasmModule(new Uint8Array(readFileSync(file)));
      for (const [callback, type] of Object.entries(CALLBACKS)) {
        const exp = info.exports.find((e) => e.name === callback);
        assert.ok(exp !== undefined, `${callback} not exported`);
        assert.deepEqual(exp.type, type, `${callback} signature`);
      }
      const names = info.exports.map((e) => e.name);
      assert.equal(names.includes("proxy_on_grpc_trailing_metadata"), false);
      assert.equal(names.includes("_start"), false, "the host must call _initialize, not a start function");
      assert.ok(names.includes("memory"));
    });
  }
});
