import { test } from "node:test";
import assert from "node:assert/strict";
import { deserializeHeaderMap, EnvoyHost, serializeHeaderMap, Status } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";

test("serializes maps in the proxy-wasm format and reads them back", () => {
  const pairs: Array<[string, string]> = [[":path", "/a"], ["x-k", "välue"]];
  const bytes = serializeHeaderMap(pairs);
  const view = new DataView(bytes.buffer);
  assert.equal(view.getUint32(0, true), 2);
  assert.deepEqual([view.getUint32(4, true), view.getUint32(8, true)], [5, 2]);
  assert.deepEqual([view.getUint32(12, true), view.getUint32(16, true)], [3, 6]);
  assert.equal(Buffer.from(bytes.subarray(20)).toString("latin1"), ":path\0/a\0x-k\0v\u00c3\u00a4lue\0");
  assert.deepEqual(deserializeHeaderMap(bytes), pairs);
  assert.deepEqual(deserializeHeaderMap(new Uint8Array(0)), []);
  assert.deepEqual(deserializeHeaderMap(new Uint8Array([0])), []);
  assert.equal(deserializeHeaderMap(new Uint8Array([5, 0, 0, 0, 1])), undefined);
});

test("header map get/add/replace/remove/size work on lower-case keys and a missing key is NOT_FOUND", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("headers"), configuration: "", workers: 1 });
    const headers: Array<[string, string]> = [
      [":method", "GET"],
      [":path", "/v1/reports"],
      ["X-In", "hello"],
      ["x-replace", "old1"],
      ["x-remove", "a"],
      ["x-replace", "old2"],
      ["x-remove", "b"],
    ];
    const r = filter.requestSync({ headers });
    assert.equal(r.kind, "continue");
    if (r.kind !== "continue") return;
    const expectedSize = headers.reduce((n, [k, v]) => n + k.length + v.length, 0);
    assert.deepEqual(r.upstreamHeaders, [
      [":method", "GET"],
      [":path", "/v1/reports"],
      ["x-in", "hello"],
      ["x-replace", "new"],
      ["x-echo", "hello"],
      ["x-absent-status", String(Status.NOT_FOUND)],
      ["x-size", String(expectedSize)],
      ["x-added", "v1"],
    ]);
    // get_header_map_pairs -> set_header_map_pairs round trip into the response map.
    assert.deepEqual(r.responseHeaders, [...r.upstreamHeaders.filter(([k]) => k !== ":status"), [":status", "299"]]);
    assert.equal(r.responseStatus, 299);
  } finally {
    await host.close();
  }
});

test("stream maps are unavailable (BAD_ARGUMENT) outside a stream context", async () => {
  const host = new EnvoyHost();
  try {
    const svc = await host.addSingletonService({ vmId: "eg", rootId: "eg", wasm: await fixture("headers"), configuration: "" });
    assert.deepEqual(host.logs().filter((l) => l.vm === svc.vm.id).map((l) => l.message), [String(Status.BAD_ARGUMENT)]);
  } finally {
    await host.close();
  }
});
