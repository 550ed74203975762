// The shortcuts that make host calls cheap (byte-keyed lookups, a short-string cache, memory views kept
// across calls, one-pass header-map encoding) must never show a plugin anything stale or different.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, serializeHeaderMap, Status } from "./index.ts";
import { HeaderMapEncoder, type HeaderList } from "./headerMap.ts";
import { ShortStringCache } from "./shortStrings.ts";
import { assembleWat, fixture } from "./fixtures/assemble.ts";
import { Op, probe } from "./fixtures/opsProbe.ts";

/** The wire format written out the slow, obvious way, to compare the encoder with. */
function referenceMap(pairs: HeaderList): Uint8Array {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(4 + pairs.length * 8);
  head.writeUInt32LE(pairs.length, 0);
  pairs.forEach(([k, v], i) => {
    const key = Buffer.from(k, "utf8");
    const value = Buffer.from(v, "utf8");
    head.writeUInt32LE(key.length, 4 + i * 8);
    head.writeUInt32LE(value.length, 8 + i * 8);
    parts.push(key, Buffer.from([0]), value, Buffer.from([0]));
  });
  return new Uint8Array(Buffer.concat([head, ...parts]));
}

test("header maps encode byte for byte like a string-by-string UTF-8 encoding, whatever the text", () => {
  const maps: HeaderList[] = [
    [],
    [["", ""]],
    [[":path", "/a"], ["x-k", "välue"], ["x-emoji", "😀 ok"]],
    [["x-nul", "a\0b"], ["x-lone-high", "a\ud800"], ["x-lone-low", "\udc00b"], ["x-pair", "\ud83d\ude00"]],
    [["k".repeat(5000), "v".repeat(70_000)], ["x", "ü".repeat(3000)]],
  ];
  const encoder = new HeaderMapEncoder();
  for (const pairs of maps) {
    assert.deepEqual(serializeHeaderMap(pairs), referenceMap(pairs));
    // Into memory that already holds other bytes, at an offset: every byte of the map is written.
    const size = encoder.encode(pairs);
    const out = new Uint8Array(size + 16).fill(0xee);
    encoder.writeTo(out, new DataView(out.buffer), 8);
    assert.deepEqual(out.subarray(8, 8 + size), referenceMap(pairs));
    assert.deepEqual([...out.subarray(0, 8), ...out.subarray(8 + size)], new Array(16).fill(0xee));
  }
});

test("the short-string cache decodes like TextDecoder, also when strings evict each other", () => {
  const cache = new ShortStringCache();
  const decoder = new TextDecoder();
  const memory = new Uint8Array(4096);
  const samples: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) samples.push(new TextEncoder().encode(`x-header-${i % 700}`));
  samples.push(new Uint8Array([0x6b, 0xc3, 0xa9]), new Uint8Array([0x6b, 0xff, 0xfe]), new Uint8Array(0), new Uint8Array(100).fill(0x61));
  for (const [i, bytes] of samples.entries()) {
    const at = (i * 37) % 2000;
    memory.set(bytes, at);
    assert.equal(cache.decode(memory, at, at + bytes.length), decoder.decode(bytes));
  }
  // Same bytes written over by different ones of the same length at the same place: the new text.
  memory.set(new TextEncoder().encode("allow"), 10);
  assert.equal(cache.decode(memory, 10, 15), "allow");
  memory.set(new TextEncoder().encode("deny!"), 10);
  assert.equal(cache.decode(memory, 10, 15), "deny!");
});

test("a header map read again after the plugin changed it shows every change", async () => {
  const host = new EnvoyHost();
  try {
    // pairs; add x-new; pairs; replace :path; pairs; remove x-new; pairs. Each size is logged, and the
    // third read is written back as the whole request map so the test sees its content.
    const wasm = await assembleWat(`(module
      (import "env" "proxy_log" (func $log (param i32 i32 i32) (result i32)))
      (import "env" "proxy_get_header_map_pairs" (func $pairs (param i32 i32 i32) (result i32)))
      (import "env" "proxy_set_header_map_pairs" (func $set_pairs (param i32 i32 i32) (result i32)))
      (import "env" "proxy_add_header_map_value" (func $add (param i32 i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_replace_header_map_value" (func $replace (param i32 i32 i32 i32 i32) (result i32)))
      (import "env" "proxy_remove_header_map_value" (func $remove (param i32 i32 i32) (result i32)))
      ;;PRELUDE
      (func $read_and_log
        (drop (call $pairs (i32.const 0) (i32.const 256) (i32.const 260)))
        (drop (call $log (i32.const 2) (i32.const 800) (call $itoa (i32.load (i32.const 260)) (i32.const 800)))))
      (func (export "proxy_on_request_headers") (param i32 i32 i32) (result i32)
        (local $p i32) (local $n i32)
        (call $read_and_log)
        (drop (call $add (i32.const 0) $S"x-new" $S"v"))
        (call $read_and_log)
        (drop (call $replace (i32.const 0) $S":path" $S"/b"))
        (call $read_and_log)
        (local.set $p (i32.load (i32.const 256)))
        (local.set $n (i32.load (i32.const 260)))
        (drop (call $remove (i32.const 0) $S"x-new"))
        (call $read_and_log)
        (drop (call $set_pairs (i32.const 0) (local.get $p) (local.get $n)))
        (i32.const 0)))`);
    const filter = await host.addHttpFilter({ vmId: "v", rootId: "r", wasm, configuration: "", workers: 1 });
    const start: HeaderList = [[":path", "/a"], ["x-in", "é"]];
    const r = filter.requestSync({ headers: start });
    assert.equal(r.kind, "continue");
    if (r.kind !== "continue") return;
    const added: HeaderList = [...start, ["x-new", "v"]];
    const replaced: HeaderList = [[":path", "/b"], ["x-in", "é"], ["x-new", "v"]];
    const removed: HeaderList = [[":path", "/b"], ["x-in", "é"]];
    const sizes = host.logs().filter((l) => l.vm === filter.workers[0]!.id).map((l) => Number(l.message));
    assert.deepEqual(sizes, [start, added, replaced, removed].map((m) => serializeHeaderMap(m).length));
    assert.deepEqual(r.upstreamHeaders, replaced);
  } finally {
    await host.close();
  }
});

test("a shared-data value read after a new write is the new value, whoever wrote it", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "v", rootId: "r", wasm: await fixture("ops"), configuration: "", workers: 2 });
    assert.equal(probe(filter, Op.getShared, { "x-key": "eg1/c/acme" })["x-status"], String(Status.NOT_FOUND));
    host.sharedData("v").set("eg1/c/acme", "one");
    assert.equal(probe(filter, Op.getShared, { "x-key": "eg1/c/acme" }, 0)["x-value"], "one");
    assert.equal(probe(filter, Op.setShared, { "x-key": "eg1/c/acme", "x-value": "two", "x-cas": 0 }, 1)["x-status"], "0");
    assert.equal(probe(filter, Op.getShared, { "x-key": "eg1/c/acme" }, 0)["x-value"], "two");
    host.sharedData("v").set("eg1/c/acme", "three");
    const read = probe(filter, Op.getShared, { "x-key": "eg1/c/acme" }, 1);
    assert.equal(read["x-value"], "three");
    assert.equal(read["x-cas"], String(host.sharedData("v").get("eg1/c/acme")!.cas));
    // Keys whose bytes differ only past ASCII stay apart; a key is only found by its exact bytes.
    host.sharedData("v").set("k\u00e9", "e-acute");
    host.sharedData("v").set("k\u00c3\u00a9", "mojibake");
    assert.equal(probe(filter, Op.getShared, { "x-key": "k\u00e9" })["x-value"], "e-acute");
    assert.equal(probe(filter, Op.getShared, { "x-key": "k\u00c3\u00a9" })["x-value"], "mojibake");
    assert.equal(probe(filter, Op.getShared, { "x-key": "eg1/c/acm" })["x-status"], String(Status.NOT_FOUND));
    assert.deepEqual(host.sharedData("v").keys().sort(), ["eg1/c/acme", "k\u00c3\u00a9", "k\u00e9"]);
  } finally {
    await host.close();
  }
});

test("a value that makes the module's memory grow is copied in whole, and later calls still read it right", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "v", rootId: "r", wasm: await fixture("ops"), configuration: "", workers: 1 });
    const vm = filter.workers[0]!;
    const before = vm.memoryBytes();
    host.sharedData("v").set("big", "b".repeat(300_000));
    host.sharedData("v").set("small", "s");
    assert.equal(probe(filter, Op.getShared, { "x-key": "big" })["x-value"], "b".repeat(300_000));
    assert.ok(vm.memoryBytes() > before, "the read grew the memory");
    assert.equal(probe(filter, Op.getShared, { "x-key": "small" })["x-value"], "s");
  } finally {
    await host.close();
  }
});

test("a queue is resolved by its exact name, also one registered after a failed resolve or not in ASCII", async () => {
  const host = new EnvoyHost();
  try {
    const wasm = await fixture("ops");
    const filter = await host.addHttpFilter({ vmId: "v", rootId: "r", wasm, configuration: "", workers: 1 });
    assert.deepEqual(probe(filter, Op.enqueue, { "x-vm": "v", "x-name": "usage", "x-value": "a" }), { "x-status": String(Status.NOT_FOUND) });
    await host.addSingletonService({ vmId: "v", rootId: "sync", wasm, configuration: "qusage" });
    await host.addSingletonService({ vmId: "v", rootId: "sync2", wasm, configuration: "qüsage" });
    assert.deepEqual(probe(filter, Op.enqueue, { "x-vm": "v", "x-name": "usage", "x-value": "a" }), { "x-status": "0", "x-enqueue-status": "0" });
    assert.deepEqual(probe(filter, Op.enqueue, { "x-vm": "v", "x-name": "qüsage".slice(1), "x-value": "b" }), { "x-status": "0", "x-enqueue-status": "0" });
    assert.equal(probe(filter, Op.enqueue, { "x-vm": "v", "x-name": "usag", "x-value": "c" })["x-status"], String(Status.NOT_FOUND));
    assert.equal(probe(filter, Op.enqueue, { "x-vm": "w", "x-name": "usage", "x-value": "c" })["x-status"], String(Status.NOT_FOUND));
    assert.equal(host.queueSize("v", "usage"), 1);
    assert.equal(host.queueSize("v", "üsage"), 1);
  } finally {
    await host.close();
  }
});
