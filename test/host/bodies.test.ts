import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, Status } from "./index.ts";
import { assembleWat } from "./fixtures/assemble.ts";

// Request body: copies bytes 2.. of the body into header x-body-tail, reports buffer status size in
// x-body-size, the status of reading past the end in x-past-end and of reading nothing at the end in x-at-end. Response body: copied into x-resp-body.
const BODY_PLUGIN = `(module
  (import "env" "proxy_get_buffer_bytes" (func $get_buffer (param i32 i32 i32 i32 i32) (result i32)))
  (import "env" "proxy_get_buffer_status" (func $buffer_status (param i32 i32 i32) (result i32)))
  (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
  ;;PRELUDE
  (func $addnum (param $map i32) (param $k i32) (param $kl i32) (param $n i32)
    (drop (call $add (local.get $map) (local.get $k) (local.get $kl) (i32.const 800) (call $itoa (local.get $n) (i32.const 800)))))
  (func (export "proxy_on_request_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $get_buffer (i32.const 0) (i32.const 2) (i32.const 100) (i32.const 256) (i32.const 260)))
    (drop (call $add (i32.const 0) $S"x-body-tail" (i32.load (i32.const 256)) (i32.load (i32.const 260))))
    (drop (call $buffer_status (i32.const 0) (i32.const 264) (i32.const 268)))
    (call $addnum (i32.const 0) $S"x-body-size" (i32.load (i32.const 264)))
    (call $addnum (i32.const 0) $S"x-past-end" (call $get_buffer (i32.const 0) (i32.add (local.get $size) (i32.const 1)) (i32.const 1) (i32.const 256) (i32.const 260)))
    (call $addnum (i32.const 0) $S"x-at-end" (call $get_buffer (i32.const 0) (local.get $size) (i32.const 10) (i32.const 256) (i32.const 260)))
    (i32.const 0))
  (func (export "proxy_on_response_body") (param $ctx i32) (param $size i32) (param $eos i32) (result i32)
    (drop (call $get_buffer (i32.const 1) (i32.const 0) (local.get $size) (i32.const 256) (i32.const 260)))
    (drop (call $add (i32.const 2) $S"x-resp-body" (i32.load (i32.const 256)) (i32.load (i32.const 260))))
    (i32.const 0)))`;

test("request and response bodies are readable as buffers 0 and 1 during their callbacks", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await assembleWat(BODY_PLUGIN), configuration: "", workers: 1 });
    const r = filter.requestSync({ headers: [[":method", "POST"], [":path", "/"]], body: "{\"usage\":3}", upstream: { status: 200, body: "done" } });
    assert.equal(r.kind, "continue");
    if (r.kind !== "continue") return;
    assert.deepEqual(r.upstreamHeaders.slice(2), [
      ["x-body-tail", "usage\":3}"],
      ["x-body-size", "11"],
      ["x-past-end", String(Status.BAD_ARGUMENT)],
      ["x-at-end", String(Status.NOT_FOUND)],
    ]);
    assert.deepEqual(r.responseHeaders, [[":status", "200"], ["x-resp-body", "done"]]);
  } finally {
    await host.close();
  }
});
