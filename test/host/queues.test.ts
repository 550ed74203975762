import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, Status } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";
import { Op, probe } from "./fixtures/opsProbe.ts";

function messages(host: EnvoyHost, vm: string): string[] {
  return host.logs().filter((l) => l.vm === vm).map((l) => l.message);
}

test("resolving a queue nobody registered answers NOT_FOUND", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("ops"), configuration: "", workers: 1 });
    assert.deepEqual(probe(filter, Op.enqueue, { "x-vm": "eg", "x-name": "usage" }), { "x-status": String(Status.NOT_FOUND) });
  } finally {
    await host.close();
  }
});

test("items enqueued by a worker are delivered to the singleton that registered the queue, asynchronously", async () => {
  const host = new EnvoyHost();
  try {
    const wasm = await fixture("ops");
    const singleton = await host.addSingletonService({ vmId: "eg", rootId: "sync", wasm, configuration: "qusage" });
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm, configuration: "", workers: 2 });
    const r = probe(filter, Op.enqueue, { "x-vm": "eg", "x-name": "usage", "x-value": "acme:1" }, 1);
    assert.deepEqual(r, { "x-status": "0", "x-enqueue-status": "0" });
    probe(filter, Op.enqueue, { "x-vm": "eg", "x-name": "usage", "x-value": "globex:2" }, 0);
    assert.deepEqual(messages(host, singleton.vm.id).filter((m) => !m.startsWith("drained")), [], "delivery is not synchronous");
    assert.equal(host.queueSize("eg", "usage"), 2);
    await host.flush();
    // One proxy_on_queue_ready per enqueue; the first drains both items, the second finds the queue EMPTY.
    assert.deepEqual(messages(host, singleton.vm.id), ["acme:1", "globex:2", `drained ${Status.EMPTY}`, `drained ${Status.EMPTY}`]);
    assert.equal(host.queueSize("eg", "usage"), 0);
  } finally {
    await host.close();
  }
});

test("re-registering a queue moves delivery to the latest registrant and keeps the id", async () => {
  const host = new EnvoyHost();
  try {
    const wasm = await fixture("ops");
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm, configuration: "", workers: 2 });
    const first = probe(filter, Op.registerQueue, { "x-name": "misses" }, 0);
    const second = probe(filter, Op.registerQueue, { "x-name": "misses" }, 1);
    assert.equal(first["x-status"], "0");
    assert.equal(first["x-id"], second["x-id"]);
    probe(filter, Op.enqueue, { "x-vm": "eg", "x-name": "misses", "x-value": "initech" }, 0);
    await host.flush();
    assert.deepEqual(messages(host, filter.workers[0]!.id), []);
    assert.deepEqual(messages(host, filter.workers[1]!.id), ["initech", `drained ${Status.EMPTY}`]);
  } finally {
    await host.close();
  }
});

test("dequeue answers EMPTY on an empty queue and NOT_FOUND for an unknown id", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("ops"), configuration: "", workers: 1 });
    const id = probe(filter, Op.registerQueue, { "x-name": "q" })["x-id"]!;
    assert.equal(probe(filter, Op.dequeue, { "x-id": id })["x-status"], String(Status.EMPTY));
    assert.equal(probe(filter, Op.dequeue, { "x-id": 999 })["x-status"], String(Status.NOT_FOUND));
  } finally {
    await host.close();
  }
});

test("queues are keyed by vm_id: another vm_id cannot resolve them", async () => {
  const host = new EnvoyHost();
  try {
    const wasm = await fixture("ops");
    await host.addSingletonService({ vmId: "eg", rootId: "sync", wasm, configuration: "qusage" });
    const other = await host.addHttpFilter({ vmId: "other", rootId: "o", wasm, configuration: "", workers: 1 });
    assert.equal(probe(other, Op.enqueue, { "x-vm": "other", "x-name": "usage", "x-value": "v" })["x-status"], String(Status.NOT_FOUND));
    assert.equal(probe(other, Op.enqueue, { "x-vm": "eg", "x-name": "usage", "x-value": "v" })["x-status"], "0");
  } finally {
    await host.close();
  }
});

test("a queue registered from the host is resolved by workers and drained in enqueue order", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("ops"), configuration: "", workers: 1 });
    const consumer = host.registerSharedQueue("eg", "usage");
    probe(filter, Op.enqueue, { "x-vm": "eg", "x-name": "usage", "x-value": "acme:1" });
    probe(filter, Op.enqueue, { "x-vm": "eg", "x-name": "usage", "x-value": "globex:2" });
    probe(filter, Op.enqueue, { "x-vm": "eg", "x-name": "usage", "x-value": "initech:3" });
    assert.equal(host.queueSize("eg", "usage"), 3);
    assert.equal(new TextDecoder().decode(consumer.dequeue()!), "acme:1");
    assert.equal(consumer.drain(), 2);
    assert.equal(consumer.dequeue(), null);
    assert.equal(host.queueSize("eg", "usage"), 0);
    await host.flush();
  } finally {
    await host.close();
  }
});
