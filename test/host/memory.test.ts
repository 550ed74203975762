import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, Status } from "./index.ts";
import { assembleWat } from "./fixtures/assemble.ts";

test("a pointer outside linear memory answers INVALID_MEMORY_ACCESS instead of trapping the VM", async () => {
  const host = new EnvoyHost();
  try {
    host.sharedData("v").set("k", "value");
    const svc = await host.addSingletonService({
      vmId: "v",
      rootId: "r",
      configuration: "",
      wasm: await assembleWat(`(module
        (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
        (import "env" "proxy_get_shared_data" (func $get (param i32 i32 i32 i32 i32) (result i32)))
        ;;PRELUDE
        (func (export "proxy_on_configure") (param i32 i32) (result i32)
          (local $a i32) (local $b i32)
          (local.set $a (call $log (i32.const 2) (i32.const 0x7fffff00) (i32.const 10)))
          (local.set $b (call $get $S"k" (i32.const -8) (i32.const 260) (i32.const 264)))
          (drop (call $log (i32.const 2) (i32.const 800) (call $itoa (local.get $a) (i32.const 800))))
          (drop (call $log (i32.const 2) (i32.const 800) (call $itoa (local.get $b) (i32.const 800))))
          (i32.const 1)))`),
    });
    assert.deepEqual(host.logs().map((l) => l.message), [String(Status.INVALID_MEMORY_ACCESS), String(Status.INVALID_MEMORY_ACCESS)]);
    assert.equal(svc.vm.failed, false);
  } finally {
    await host.close();
  }
});

test("an allocator that returns 0 makes host calls that return data answer INVALID_MEMORY_ACCESS", async () => {
  const host = new EnvoyHost();
  try {
    await host.addSingletonService({
      vmId: "v",
      rootId: "r",
      configuration: "",
      wasm: await assembleWat(`(module
        (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
        (import "env" "proxy_get_property" (func $prop (param i32 i32 i32 i32) (result i32)))
        (memory (export "memory") 1)
        (func (export "proxy_abi_version_0_2_1"))
        (func (export "proxy_on_memory_allocate") (param i32) (result i32) (i32.const 0))
        (data (i32.const 100) "plugin_root_id")
        (func (export "proxy_on_configure") (param i32 i32) (result i32)
          (i32.store8 (i32.const 200) (i32.add (i32.const 48) (call $prop (i32.const 100) (i32.const 14) (i32.const 300) (i32.const 304))))
          (drop (call $log (i32.const 2) (i32.const 200) (i32.const 1)))
          (i32.const 1)))`),
    });
    assert.deepEqual(host.logs().map((l) => l.message), [String(Status.INVALID_MEMORY_ACCESS)]);
  } finally {
    await host.close();
  }
});
