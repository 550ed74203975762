import { test } from "node:test";
import assert from "node:assert/strict";
import { EnvoyHost, ManualClock, Status, type HttpFilter } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";

async function setup(clock?: ManualClock): Promise<{ host: EnvoyHost; filter: HttpFilter; logs: () => string[] }> {
  const host = new EnvoyHost(clock ? { clock } : {});
  const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("local_reply"), configuration: "", workers: 1 });
  return { host, filter, logs: () => host.logs().map((l) => l.message) };
}

test("a local reply takes effect after the call even when the plugin returned CONTINUE and runs through the filter's own response callbacks", async () => {
  const { host, filter, logs } = await setup();
  try {
    const r = filter.requestSync({ headers: [[":path", "/"], ["x-deny", "1"]], upstream: { status: 200, body: "x" } });
    assert.deepEqual(r, {
      kind: "localReply",
      status: 403,
      body: "denied",
      headers: [["x-reason", "nope"]],
      details: "entitlement_denied",
      grpcStatus: -1,
      hostCalls: r.hostCalls,
      // Envoy's sendLocalReplyViaFilterChain: text/plain body, the plugin's headers on top.
      responseHeaders: [[":status", "403"], ["x-reason", "nope"], ["content-length", "6"], ["content-type", "text/plain"]],
      responseBody: "denied",
    });
    // The request body and the upstream are skipped; response callbacks see the local reply.
    assert.deepEqual(logs(), ["reply 0", "response_headers", "response_body", "done", "log 403", "delete"]);
  } finally {
    await host.close();
  }
});

test("a local reply to a gRPC request becomes a trailers-only 200 with grpc-status", async () => {
  const { host, filter } = await setup();
  try {
    const r = filter.requestSync({ headers: [[":path", "/pkg.Svc/Call"], ["content-type", "application/grpc"], ["x-deny", "1"]] });
    assert.equal(r.kind, "localReply");
    if (r.kind !== "localReply") return;
    assert.deepEqual(r.responseHeaders, [
      [":status", "200"],
      ["x-reason", "nope"],
      ["content-type", "application/grpc"],
      ["grpc-status", "7"],
      ["grpc-message", "denied"],
    ]);
    assert.equal(r.responseBody, "");
  } finally {
    await host.close();
  }
});

test("grpc_status 0..16 is recorded on the reply, anything else becomes -1", async () => {
  const { host, filter } = await setup();
  try {
    const grpc = filter.requestSync({ headers: [[":path", "/"], ["x-grpc", "1"]] });
    assert.equal(grpc.kind === "localReply" && grpc.grpcStatus, 7);
    const bad = filter.requestSync({ headers: [[":path", "/"], ["x-bad-grpc", "1"]] });
    assert.equal(bad.kind === "localReply" && bad.grpcStatus, -1);
  } finally {
    await host.close();
  }
});

test("the first local reply on a stream wins", async () => {
  const { host, filter, logs } = await setup();
  try {
    const r = filter.requestSync({ headers: [[":path", "/"], ["x-twice", "1"]] });
    assert.equal(r.kind === "localReply" && `${r.status} ${r.details}`, "401 first");
    assert.ok(logs().includes(`second ${Status.OK}`), "Envoy answers OK to the second call too");
  } finally {
    await host.close();
  }
});

test("a local reply from proxy_on_response_headers replaces the upstream response and skips the body callback", async () => {
  const { host, filter, logs } = await setup();
  try {
    const r = filter.requestSync({ headers: [[":path", "/"], ["x-deny-response", "1"]], upstream: { status: 200, body: "secret" } });
    assert.equal(r.kind === "localReply" && r.status, 502);
    assert.equal(r.kind === "localReply" && r.responseBody, "", "sent directly: no body, no more filter callbacks");
    assert.deepEqual(logs(), ["response_headers", "done", "log 502", "delete"]);
  } finally {
    await host.close();
  }
});

test("PAUSE holds the stream until the root context continues it through proxy_set_effective_context", async () => {
  const clock = new ManualClock();
  const { host, filter, logs } = await setup(clock);
  try {
    let settled = false;
    const pending = filter.request({ headers: [[":path", "/"], ["x-pause", "continue"]] }).finally(() => {
      settled = true;
    });
    await clock.advance(5);
    assert.equal(settled, false, "still paused before the tick");
    await clock.advance(5);
    const r = await pending;
    assert.equal(r.kind, "continue");
    assert.deepEqual(logs(), ["effective 0", "continue 0", "response_headers", "done", "log 200", "delete"]);
  } finally {
    await host.close();
  }
});

test("a paused stream can be answered with a local reply from another callback", async () => {
  const clock = new ManualClock();
  const { host, filter } = await setup(clock);
  try {
    const pending = filter.request({ headers: [[":path", "/"], ["x-pause", "deny"]] });
    await clock.advance(10);
    const r = await pending;
    assert.equal(r.kind === "localReply" && `${r.status} ${r.details} ${r.body}`, "429 quota_exceeded slow down");
  } finally {
    await host.close();
  }
});

test("a stream nobody continues ends after timeoutMs with 504 host_timeout, running done/log/delete", async () => {
  const { host, filter, logs } = await setup(new ManualClock());
  try {
    const r = await filter.request({ headers: [[":path", "/"], ["x-pause", "none"]], timeoutMs: 30 });
    assert.equal(r.kind === "localReply" && `${r.status} ${r.details}`, "504 host_timeout");
    assert.deepEqual(logs(), ["done", "log 504", "delete"]);
  } finally {
    await host.close();
  }
});

test("requestSync refuses a stream the plugin pauses", async () => {
  const { host, filter, logs } = await setup(new ManualClock());
  try {
    assert.throws(() => filter.requestSync({ headers: [[":path", "/"], ["x-pause", "none"]] }), /paused the stream/);
    assert.deepEqual(logs(), ["done", "log 500", "delete"], "the abandoned stream is still cleaned up");
  } finally {
    await host.close();
  }
});

test("proxy_continue_stream from inside the callback that then pauses does not resume the stream (Envoy would hang)", async () => {
  const { host, filter } = await setup(new ManualClock());
  try {
    const r = await filter.request({ headers: [[":path", "/"], ["x-continue-early", "1"]], timeoutMs: 30 });
    assert.equal(r.kind === "localReply" && r.details, "host_timeout");
    assert.ok(host.logs().some((l) => l.level === 3 && /from inside its own callback is ignored/.test(l.message)));
  } finally {
    await host.close();
  }
});
