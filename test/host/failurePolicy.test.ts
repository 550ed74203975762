import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";

const TRAP: Array<[string, string]> = [[":path", "/"], ["x-trap", "1"]];
const PLAIN: Array<[string, string]> = [[":path", "/"]];

test("FAIL_OPEN lets requests through a failed VM unfiltered, including the one that trapped", async () => {
  const host = new EnvoyHost();
  try {
    const filter = await host.addHttpFilter({
      vmId: "eg",
      rootId: "eg",
      wasm: await fixture("lifecycle"),
      configuration: "",
      workers: 1,
      failurePolicy: "FAIL_OPEN",
    });
    const trapped = filter.requestSync({ headers: TRAP });
    assert.equal(trapped.kind, "continue");
    assert.equal(filter.workers[0]!.failed, true);
    const later = filter.requestSync({ headers: PLAIN, upstream: { status: 204 } });
    assert.equal(later.kind === "continue" && later.responseStatus, 204);
    assert.equal(later.hostCalls, 0, "the failed VM is not called");
  } finally {
    await host.close();
  }
});

test("FAIL_RELOAD answers 503 during the backoff, then serves the next request from a new VM", async () => {
  const clock = new ManualClock();
  const host = new EnvoyHost({ clock });
  try {
    const filter = await host.addHttpFilter({
      vmId: "eg",
      rootId: "eg",
      wasm: await fixture("lifecycle"),
      configuration: "",
      workers: 1,
      failurePolicy: "FAIL_RELOAD",
      reloadBackoffMs: 1000,
    });
    const first = filter.workers[0]!;
    assert.equal(filter.requestSync({ headers: TRAP }).kind, "localReply");
    // The first request after the failure reloads at once; make that VM fail too to see the backoff.
    const reloaded = filter.requestSync({ headers: TRAP });
    assert.notEqual(filter.workers[0], first);
    assert.equal(reloaded.kind === "localReply" && reloaded.details, "wasm_fail_stream");
    const during = filter.requestSync({ headers: PLAIN });
    assert.equal(during.kind === "localReply" && during.details, "wasm_fail_stream", "still backing off");
    await clock.advance(1000);
    const after = filter.requestSync({ headers: PLAIN });
    assert.equal(after.kind, "continue");
    assert.equal(filter.workers[0]!.failed, false);
    assert.equal(filter.configureResults[0], true);
    assert.ok(host.logs().some((l) => /FAIL_RELOAD created a new VM/.test(l.message)));
  } finally {
    await host.close();
  }
});
