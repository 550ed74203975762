import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, Status } from "./index.ts";
import { assembleWat } from "./fixtures/assemble.ts";

// on_request_body remembers: bytes 2.. of the body, the buffer size, the status of reading past the
// end, and the status of looking up :path (request headers are gone once on_request_headers returned
// CONTINUE). on_response_headers reports them as response headers; on_response_body logs the body.
const BODY_PLUGIN = `(module
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_status" (func $buffer_status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_get_header_map_value" (func $get (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
  ;;PRELUDE
  (global $tail_ptr (mut i32) (i32.const 0))
  (global $tail_len (mut i32) (i32.const 0))
  (global $size (mut i32) (i32.const 0))
  (global $past_end (mut i32) (i32.const 0))
  (global $path_status (mut i32) (i32.const 0))
  (func $addnum (param $k i32) (param $kl i32) (param $n i32)
    (drop (call $add (i32.const 2) (local.get $k) (local.get $kl) (i32.const 800) (call $itoa (local.get $n) (i32.const 800)))))
  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $get_buffer (i32.const 0) (i32.const 2) (i32.const 100) (i32.const 256) (i32.const 260)))
    (global.set $tail_ptr (i32.load (i32.const 256)))
    (global.set $tail_len (i32.load (i32.const 260)))
    (drop (call $buffer_status (i32.const 0) (i32.const 264) (i32.const 268)))
    (global.set $size (i32.load (i32.const 264)))
    (drop (call $get_buffer (i32.const 0) (i32.add (local.get $size) (i32.const 1)) (i32.const 1) (i32.const 256) (i32.const 260)))
    (global.set $past_end (i32.load (i32.const 260)))
    (global.set $path_status (call $get (i32.const 0) $S":path" (i32.const 272) (i32.const 276)))
    (i32.const 0))
  (func (export "proxy_on_response_headers") (param $ctx i32) (param $n i32) (param $eos i32) (result i32)
    (drop (call $add (i32.const 2) $S"x-body-tail" (global.get $tail_ptr) (global.get $tail_len)))
    (call $addnum $S"x-body-size" (global.get $size))
    (call $addnum $S"x-past-end-size" (global.get $past_end))
    (call $addnum $S"x-path-status" (global.get $path_status))
    (i32.const 0))
  (func (export "proxy_on_response_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $get_buffer (i32.const 1) (i32.const 0) (local.get $size) (i32.const 256) (i32.const 260)))
    (drop (call $log (i32.const 2) (i32.load (i32.const 256)) (i32.load (i32.const 260))))
    (i32.const 0)))`;

test("bodies are readable as buffers 0 and 1 during their callbacks; request headers are gone by then", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await assembleWat(BODY_PLUGIN), configuration: "", workers: 1 });
    const r = filter.requestSync({ headers: [[":method", "POST"], [":path", "/"]], body: '{"usage":3}', upstream: { status: 200, body: "done" } });
    assert.equal(r.kind, "continue");
    if (r.kind !== "continue") return;
    assert.deepEqual(r.responseHeaders, [
      [":status", "200"],
      ["x-body-tail", 'usage":3}'],
      ["x-body-size", "11"],
      ["x-past-end-size", "0"],
      ["x-path-status", String(Status.BAD_ARGUMENT)],
    ]);
    assert.deepEqual(host.logs().map((l) => l.message), ["done"]);
  } finally {
    await host.close();
  }
});
