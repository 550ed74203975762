// Removing a plugin as Envoy does (cpp-host's WasmBase::startShutdown, done, finishShutdown): the root
// context gets proxy_on_done, then proxy_on_delete, or, when proxy_on_done answers false, proxy_on_delete
// only after the plugin calls proxy_done.
import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock, Status } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";

function messages(host: EnvoyHost, vm: string): string[] {
  return host.logs().filter((l) => l.vm === vm).map((l) => l.message);
}

const settled = async (promise: Promise<void>): Promise<boolean> => {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  await new Promise<void>((resolve) => setImmediate(resolve));
  return done;
};

test("tearing a plugin down calls proxy_on_done then proxy_on_delete on its root and stops its ticks", async () => {
  const clock = new ManualClock();
  const host = new EnvoyHost({ clock });
  try {
    const svc = await host.addSingletonService({ vmId: "eg", rootId: "sync", wasm: await fixture("teardown"), configuration: "" });
    await clock.advance(10);
    assert.equal(svc.vm.rootState, "active");
    await svc.teardown();
    assert.equal(svc.vm.rootState, "deleted");
    await clock.advance(100);
    assert.deepEqual(messages(host, svc.vm.id), [
      `tick 1 ${Status.NOT_FOUND}`, // proxy_done before any teardown
      `done 1 ${Status.NOT_FOUND}`, // nor while proxy_on_done runs: the root is not pending yet
      "delete 1 0",
    ]);
    assert.equal(clock.pendingTimers(), 0);
    await svc.teardown();
    assert.equal(messages(host, svc.vm.id).length, 3, "a second teardown calls nothing");
  } finally {
    await host.close();
  }
});

test("a root whose proxy_on_done answers false keeps ticking until it calls proxy_done, then is deleted after that call", async () => {
  const clock = new ManualClock();
  const host = new EnvoyHost({ clock });
  try {
    const svc = await host.addSingletonService({ vmId: "eg", rootId: "sync", wasm: await fixture("teardown"), configuration: "defer" });
    const deleted = svc.teardown();
    assert.equal(svc.vm.rootState, "awaitingDone");
    assert.equal(await settled(deleted), false);
    assert.deepEqual(messages(host, svc.vm.id), [`done 1 ${Status.NOT_FOUND}`]);
    await clock.advance(10);
    await deleted;
    assert.equal(svc.vm.rootState, "deleted");
    // proxy_done answered OK on the tick; proxy_on_delete ran once that tick had returned.
    assert.deepEqual(messages(host, svc.vm.id), [`done 1 ${Status.NOT_FOUND}`, `tick 1 ${Status.OK}`, "delete 1 0"]);
    await clock.advance(100);
    assert.equal(messages(host, svc.vm.id).length, 3, "no tick after the root is deleted");
    assert.equal(clock.pendingTimers(), 0);
  } finally {
    await host.close();
  }
});

test("tearing an HTTP filter down removes every worker's root and refuses later requests", async () => {
  const clock = new ManualClock();
  const host = new EnvoyHost({ clock });
  try {
    const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("teardown"), configuration: "", workers: 2 });
    filter.killWorker(1);
    await filter.teardown();
    assert.deepEqual(filter.workers.map((w) => w.rootState), ["deleted", "deleted"]);
    assert.deepEqual(messages(host, filter.workers[0]!.id), [`done 1 ${Status.NOT_FOUND}`, "delete 1 0"]);
    assert.deepEqual(messages(host, filter.workers[1]!.id), ["VM failed: killed by test"], "a failed VM gets no teardown callbacks");
    assert.throws(() => filter.requestSync({ headers: [[":path", "/"]] }), /torn down/);
    await assert.rejects(filter.request({ headers: [[":path", "/"]] }), /torn down/);
  } finally {
    await host.close();
  }
});

test("closing the host drops a root still waiting for proxy_done without proxy_on_delete", async () => {
  const clock = new ManualClock();
  const host = new EnvoyHost({ clock });
  const svc = await host.addSingletonService({ vmId: "eg", rootId: "sync", wasm: await fixture("teardown"), configuration: "defer" });
  const deleted = svc.teardown();
  await host.close();
  await deleted;
  assert.equal(svc.vm.rootState, "deleted");
  assert.deepEqual(messages(host, svc.vm.id), [`done 1 ${Status.NOT_FOUND}`]);
});
