import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";

function messages(host: EnvoyHost, vm: string): string[] {
  return host.logs().filter((l) => l.vm === vm).map((l) => l.message);
}

test("starts each plugin like cpp-host: root context (with plugin_* properties), vm_start, configure", async () => {
  const host = new EnvoyHost({ properties: { "node\0id": "sidecar~10.0.0.1" } });
  try {
    const svc = await host.addSingletonService({
      vmId: "eg",
      rootId: "eg_sync",
      name: "entitlements_sync",
      wasm: await fixture("lifecycle"),
      configuration: '{"a":1}',
      vmConfiguration: "vmcfg",
    });
    assert.equal(svc.configureResult, true);
    assert.deepEqual(messages(host, svc.vm.id), [
      "create 1 0",
      "plugin_root_id=eg_sync",
      "plugin_name=entitlements_sync",
      "plugin_vm_id=eg",
      "node\0id=sidecar~10.0.0.1",
      "vm_start 1 5",
      "configure 1 7",
    ]);
  } finally {
    await host.close();
  }
});

test("runs a stream through create, headers, body, response, done, log, delete with unique context ids", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("lifecycle"), configuration: "", workers: 1 });
    const vm = filter.workers[0]!;
    const before = messages(host, vm.id).length;
    const r1 = filter.requestSync({ headers: [[":method", "POST"], [":path", "/x"]], body: "hello" });
    const r2 = await filter.request({ headers: [[":method", "GET"], [":path", "/y"]], upstream: { status: 201, body: "ok" } });
    assert.equal(r1.kind, "continue");
    assert.equal(r2.kind === "continue" && r2.responseStatus, 201);
    assert.deepEqual(messages(host, vm.id).slice(before), [
      "create 2 1",
      "request_headers 2 0",
      "request_body 5 1",
      "response_headers 2 1",
      "done 2 0",
      "log 2 0",
      "delete 2 0",
      "create 3 1",
      "request_headers 3 1",
      "response_headers 3 0",
      "response_body 2 1",
      "done 3 0",
      "log 3 0",
      "delete 3 0",
    ]);
    assert.ok(r1.hostCalls >= 7, `each logged callback is a host call (got ${r1.hostCalls})`);
  } finally {
    await host.close();
  }
});

test("lower-cases request header keys and hands the upstream what the plugin saw", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("lifecycle"), configuration: "", workers: 1 });
    const r = filter.requestSync({ headers: [[":path", "/"], ["X-Customer-Id", "acme"]] });
    assert.deepEqual(r.kind === "continue" && r.upstreamHeaders, [[":path", "/"], ["x-customer-id", "acme"]]);
  } finally {
    await host.close();
  }
});

test("a VM that traps answers 503 wasm_fail_stream to that and later requests while other workers keep working", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("lifecycle"), configuration: "", workers: 2 });
    const trapped = filter.requestSync({ headers: [[":path", "/"], ["x-trap", "1"]], worker: 0 });
    assert.deepEqual([trapped.kind, trapped.kind === "localReply" && trapped.status, trapped.kind === "localReply" && trapped.details], ["localReply", 503, "wasm_fail_stream"]);
    const w0 = filter.workers[0]!;
    assert.equal(w0.failed, true);
    assert.match(w0.failure ?? "", /unreachable/);
    const logsBefore = messages(host, w0.id).length;
    const later = await filter.request({ headers: [[":path", "/"]], worker: 0 });
    assert.equal(later.kind === "localReply" && later.details, "wasm_fail_stream");
    assert.equal(messages(host, w0.id).length, logsBefore, "a failed VM gets no more callbacks");
    const other = filter.requestSync({ headers: [[":path", "/"]], worker: 1 });
    assert.equal(other.kind, "continue");
    assert.equal(filter.workers[1]!.failed, false);
    assert.ok(host.logs().some((l) => l.vm === w0.id && l.level === 5 && /proxy_on_request_headers failed/.test(l.message)));
  } finally {
    await host.close();
  }
});

test("killWorker fails a worker as a trap would", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("lifecycle"), configuration: "", workers: 2 });
    filter.killWorker(1);
    const results = [0, 1, 2, 3].map(() => filter.requestSync({ headers: [[":path", "/"]] }));
    assert.deepEqual(
      results.map((r) => (r.kind === "continue" ? 200 : r.status)),
      [200, 503, 200, 503],
      "round-robin still routes to the failed worker",
    );
    assert.equal(filter.workers[1]!.failure, "killed by test");
  } finally {
    await host.close();
  }
});

test("each worker has its own instance and memory", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("lifecycle"), configuration: "", workers: 3 });
    assert.equal(new Set(filter.workers.map((w) => w.id)).size, 3);
    assert.ok(filter.workers.every((w) => w.memoryBytes() === 2 * 65536));
    filter.requestSync({ headers: [[":path", "/"]], worker: 2 });
    assert.deepEqual(filter.workers.map((w) => w.hostCallCount > 0), [true, true, true]);
    assert.ok(filter.workers[2]!.hostCallCount > filter.workers[0]!.hostCallCount);
  } finally {
    await host.close();
  }
});
