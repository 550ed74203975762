import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, WasmLoadError } from "./index.ts";
import { assembleWat } from "./fixtures/assemble.ts";
import { parseWasmModule } from "./wasmBinary.ts";

const I32 = (n: number) => Array(n).fill("i32").join(" ");

async function load(wat: string): Promise<unknown> {
  const host = new EnvoyHost();
  try {
    return await host.addSingletonService({ vmId: "v", rootId: "r", wasm: await assembleWat(wat), configuration: "" });
  } finally {
    await host.close();
  }
}

test("reads every import's and export's full signature from the binary", async () => {
  const info = parseWasmModule(
    await assembleWat(`(module
      (import "env" "proxy_grpc_stream" (func (param ${I32(9)}) (result i32)))
      (import "env" "proxy_increment_metric" (func (param i32 i64) (result i32)))
      ;;PRELUDE
      (func (export "proxy_on_tick") (param i32)))`),
  );
  assert.deepEqual(info.imports[0], { module: "env", name: "proxy_grpc_stream", kind: "func", type: { params: Array(9).fill("i32"), results: ["i32"] } });
  assert.deepEqual(info.imports[1]?.type, { params: ["i32", "i64"], results: ["i32"] });
  assert.deepEqual(info.exports.find((e) => e.name === "proxy_on_tick")?.type, { params: ["i32"], results: [] });
  assert.deepEqual(info.exports.find((e) => e.name === "malloc")?.type, { params: ["i32"], results: ["i32"] });
});

test("refuses a module whose proxy_grpc_stream import has 7 params (import type mismatch)", async () => {
  await assert.rejects(
    load(`(module (import "env" "proxy_grpc_stream" (func (param ${I32(7)}) (result i32))) ;;PRELUDE
    )`),
    (e: unknown) => e instanceof WasmLoadError && e.message.startsWith("Failed to load Wasm module due to an import type mismatch: env.proxy_grpc_stream"),
  );
});

test("refuses a module whose proxy_increment_metric takes an i32 delta instead of i64", async () => {
  await assert.rejects(
    load(`(module (import "env" "proxy_increment_metric" (func (param i32 i32) (result i32))) ;;PRELUDE
    )`),
    /import type mismatch: env.proxy_increment_metric/,
  );
});

test("refuses a module with an unknown import", async () => {
  await assert.rejects(
    load(`(module (import "env" "proxy_make_coffee" (func (param i32) (result i32))) ;;PRELUDE
    )`),
    (e: unknown) => e instanceof WasmLoadError && e.message === "Failed to load Wasm module due to a missing import: env.proxy_make_coffee",
  );
});

test("refuses AssemblyScript's env.abort because Envoy does not provide it", async () => {
  await assert.rejects(
    load(`(module (import "env" "abort" (func (param i32 i32 i32 i32))) ;;PRELUDE
    )`),
    /missing import: env\.abort/,
  );
});

test("refuses an export with an unexpected signature", async () => {
  await assert.rejects(
    load(`(module ;;PRELUDE
      (func (export "proxy_on_request_headers") (param i32 i32) (result i32) (i32.const 0)))`),
    (e: unknown) => e instanceof WasmLoadError && e.message === "Bad function signature for: proxy_on_request_headers",
  );
});

test("refuses a module without a proxy_abi_version export", async () => {
  await assert.rejects(
    load(`(module (memory (export "memory") 1) (func (export "malloc") (param i32) (result i32) (i32.const 0)))`),
    /Missing or unknown Proxy-Wasm ABI version/,
  );
});

test("refuses a module without malloc or proxy_on_memory_allocate", async () => {
  await assert.rejects(load(`(module (memory (export "memory") 1) (func (export "proxy_abi_version_0_2_1")))`), /Wasm module is missing malloc function/);
});

test("accepts the WASI imports Envoy provides, under both module names", async () => {
  const plugin = await load(`(module
    (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
    (import "wasi_unstable" "clock_time_get" (func (param i32 i64 i32) (result i32)))
    (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
    ;;PRELUDE
    )`);
  assert.equal((plugin as { configureResult: boolean }).configureResult, true);
});

test("refuses a WASI import with the wrong signature", async () => {
  await assert.rejects(
    load(`(module (import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i32 i32) (result i32))) ;;PRELUDE
    )`),
    /import type mismatch: wasi_snapshot_preview1.clock_time_get/,
  );
});

test("fails the load when _initialize traps", async () => {
  await assert.rejects(
    load(`(module ;;PRELUDE
      (func (export "_initialize") unreachable))`),
    /Failed to start Wasm module: .*unreachable/,
  );
});

test("fails the load when proxy_on_vm_start returns false, and reports proxy_on_configure false as a rejected configuration", async () => {
  await assert.rejects(
    load(`(module ;;PRELUDE
      (func (export "proxy_on_vm_start") (param i32 i32) (result i32) (i32.const 0)))`),
    /proxy_on_vm_start returned false/,
  );
  const plugin = (await load(`(module ;;PRELUDE
      (func (export "proxy_on_configure") (param i32 i32) (result i32) (i32.const 0)))`)) as { configureResult: boolean };
  assert.equal(plugin.configureResult, false);
});

test("host calls made from _initialize work before any plugin callback", async () => {
  const host = new EnvoyHost();
  try {
    await host.addSingletonService({
      vmId: "v",
      rootId: "r",
      configuration: "",
      wasm: await assembleWat(`(module
        (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
        (import "env" "proxy_set_tick_period_milliseconds" (func $tick (param i32) (result i32)))
        ;;PRELUDE
        (func (export "_initialize")
          (drop (call $log (i32.const 2) $S"initialized"))
          (drop (call $tick (i32.const 0))))
        (func (export "proxy_on_context_create") (param i32 i32)
          (drop (call $log (i32.const 2) $S"root created"))))`),
    });
    assert.deepEqual(host.logs().map((l) => l.message), ["initialized", "root created"]);
  } finally {
    await host.close();
  }
});
