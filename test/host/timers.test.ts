import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";

test("proxy_set_tick_period_milliseconds drives proxy_on_tick through the clock; period 0 disables", async () => {
  const clock = new ManualClock(1_700_000_000_000);
  const host = new EnvoyHost({ clock });
  try {
    const svc = await host.addSingletonService({ vmId: "eg", rootId: "sync", wasm: await fixture("ops"), configuration: "t100" });
    assert.equal(host.metric("ticks"), 0);
    await clock.advance(99);
    assert.equal(host.metric("ticks"), 0, "the first tick comes one period after it was set");
    await clock.advance(1);
    assert.equal(host.metric("ticks"), 1);
    await clock.advance(250);
    assert.equal(host.metric("ticks"), 3);
    assert.equal(host.metric("tick_time_s"), 1_700_000_000, "proxy_get_current_time_nanoseconds follows the clock");
    svc.reconfigure("t0");
    await clock.advance(1000);
    assert.equal(host.metric("ticks"), 3);
    assert.equal(clock.pendingTimers(), 0);
  } finally {
    await host.close();
  }
});

test("a singleton that traps in proxy_on_tick fails and stops ticking", async () => {
  const clock = new ManualClock();
  const host = new EnvoyHost({ clock });
  try {
    const svc = await host.addSingletonService({ vmId: "eg", rootId: "sync", wasm: await fixture("ops"), configuration: "T10" });
    await clock.advance(100);
    assert.equal(svc.vm.failed, true);
    assert.equal(host.metric("ticks"), 3);
    assert.equal(clock.pendingTimers(), 0);
  } finally {
    await host.close();
  }
});

test("every worker VM of a filter ticks on its own", async () => {
  const clock = new ManualClock();
  const host = new EnvoyHost({ clock });
  try {
    await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("ops"), configuration: "t50", workers: 3 });
    await clock.advance(100);
    assert.equal(host.metric("ticks"), 6);
  } finally {
    await host.close();
  }
});

test("close() cancels tick timers", async () => {
  const clock = new ManualClock();
  const host = new EnvoyHost({ clock });
  await host.addSingletonService({ vmId: "eg", rootId: "sync", wasm: await fixture("ops"), configuration: "t10" });
  await host.close();
  await host.close();
  await clock.advance(100);
  assert.equal(host.metric("ticks"), 0);
  assert.equal(clock.pendingTimers(), 0);
});
