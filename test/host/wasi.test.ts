import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, LogLevel, ManualClock } from "./index.ts";
import { assembleWat } from "./fixtures/assemble.ts";

// On configure: writes to stdout and stderr, then logs the environment size, the realtime clock in
// seconds and whether random_get filled 16 bytes.
const WASI_PLUGIN = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $env_sizes (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $env_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  ;;PRELUDE
  (func $lognum (param $n i32)
    (drop (call $log (i32.const 2) (i32.const 800) (call $itoa (local.get $n) (i32.const 800)))))
  (func (export "proxy_on_configure") (param i32 i32) (result i32)
    (i32.store (i32.const 300) (i32.const 2000)) (i32.store (i32.const 304) (i32.const 6))
    (i32.store (i32.const 308) (i32.const 2010)) (i32.store (i32.const 312) (i32.const 4))
    (i32.store (i32.const 2000) (i32.const 0x6c6c6568)) (i32.store16 (i32.const 2004) (i32.const 0x0a6f))
    (i32.store (i32.const 2010) (i32.const 0x73706f6f))
    (drop (call $fd_write (i32.const 1) (i32.const 300) (i32.const 1) (i32.const 320)))
    (call $lognum (i32.load (i32.const 320)))
    (drop (call $fd_write (i32.const 2) (i32.const 308) (i32.const 1) (i32.const 320)))
    (drop (call $env_sizes (i32.const 330) (i32.const 334)))
    (call $lognum (i32.load (i32.const 330)))
    (drop (call $env_get (i32.const 3000) (i32.const 3100)))
    (drop (call $log (i32.const 2) (i32.load (i32.const 3000)) (i32.sub (i32.load (i32.const 334)) (i32.const 1))))
    (drop (call $clock (i32.const 0) (i64.const 1) (i32.const 340)))
    (call $lognum (i32.wrap_i64 (i64.div_u (i64.load (i32.const 340)) (i64.const 1000000000))))
    (call $lognum (call $random (i32.const 400) (i32.const 16)))
    (call $lognum (call $random (i32.const 400) (i32.const 70000)))
    (i32.const 1)))`;

test("WASI: stdout logs at info, stderr at error; environ, realtime clock and random_get work", async () => {
  const host = new EnvoyHost({ clock: new ManualClock(1_750_000_000_000) });
  try {
    await host.addSingletonService({
      vmId: "eg",
      rootId: "eg",
      wasm: await assembleWat(WASI_PLUGIN),
      configuration: "",
      environmentVariables: { EG_MODE: "test" },
    });
    assert.deepEqual(
      host.logs().map((l) => [l.level, l.message]),
      [
        [LogLevel.info, "hello"],
        [LogLevel.info, "6"],
        [LogLevel.error, "oops"],
        [LogLevel.info, "1"],
        [LogLevel.info, "EG_MODE=test"],
        [LogLevel.info, "1750000000"],
        [LogLevel.info, "0"],
        [LogLevel.info, "28"],
      ],
    );
  } finally {
    await host.close();
  }
});
