import { test } from "node:test";
import assert from "node:assert/strict";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { EnvoyHost, frameGrpcMessage, GrpcDeframer, ManualClock, Status, type HttpFilter } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";
import { waitFor } from "./fixtures/waitFor.ts";

interface Upstream {
  port: number;
  requests: Array<{ headers: http2.IncomingHttpHeaders; messages: string[]; ended: boolean; stream: http2.ServerHttp2Stream }>;
  close(): Promise<void>;
}

/** A gRPC server on loopback; `onStream` decides how each call is answered. */
async function grpcUpstream(onStream: (stream: http2.ServerHttp2Stream, req: Upstream["requests"][number]) => void): Promise<Upstream> {
  const requests: Upstream["requests"] = [];
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    const req = { headers, messages: [] as string[], ended: false, stream };
    requests.push(req);
    const deframer = new GrpcDeframer();
    stream.on("data", (chunk: Buffer) => {
      for (const m of deframer.push(chunk)) req.messages.push(Buffer.from(m).toString());
    });
    stream.on("end", () => (req.ended = true));
    stream.on("error", () => undefined);
    onStream(stream, req);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function respond(stream: http2.ServerHttp2Stream): void {
  stream.respond({ ":status": 200, "content-type": "application/grpc", "x-server": "s1" }, { waitForTrailers: true });
}

async function setup(port: number, clock?: ManualClock): Promise<{ host: EnvoyHost; filter: HttpFilter; logs: () => string[] }> {
  const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port } }, ...(clock ? { clock } : {}) });
  const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("calls"), configuration: "", workers: 1 });
  return { host, filter, logs: () => host.logs().map((l) => l.message) };
}

function op(filter: HttpFilter, n: number, extra: Array<[string, string]> = []): void {
  const r = filter.requestSync({ headers: [[":path", "/"], ["x-op", String(n)], ["x-cluster", "control_plane"], ...extra] });
  assert.equal(r.kind, "continue");
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

test("a gRPC stream delivers initial metadata, each message, trailers and the close status to the root context", async () => {
  const upstream = await grpcUpstream((stream, req) => {
    respond(stream);
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "5", "grpc-message": "no%20such%20customer", "x-trailer": "tr" }));
    stream.on("data", () => {
      if (req.messages.length === 1) {
        // Two messages in one write, the second split across writes, to exercise de-framing.
        const m1 = frameGrpcMessage(Buffer.from("m1"));
        const m2 = frameGrpcMessage(Buffer.from("second"));
        stream.write(Buffer.concat([m1, m2.subarray(0, 3)]));
        setTimeout(() => stream.end(m2.subarray(3)), 5);
      }
    });
  });
  const { host, filter, logs } = await setup(upstream.port);
  try {
    op(filter, 3, [["x-body", "hello"]]);
    await waitFor(() => logs().some((l) => l.startsWith("close")), () => logs().join(" | "));
    assert.deepEqual(logs(), [
      "grpc_stream 0",
      "stream_token 2",
      "send 0",
      "initial 2",
      "x-server=s1",
      "message=m1",
      "message=second",
      "trailing 2",
      "x-trailer=tr",
      "close 2 5",
      "grpc-message=no such customer",
    ]);
    const req = upstream.requests[0]!;
    assert.equal(req.headers[":method"], "POST");
    assert.equal(req.headers[":path"], "/eg.sync.v1.Sync/Stream");
    assert.equal(req.headers["content-type"], "application/grpc");
    assert.equal(req.headers["te"], "trailers");
    assert.equal(req.headers["x-md"], "m1");
    assert.deepEqual(req.messages, ["hello"]);
  } finally {
    await host.close();
    await upstream.close();
  }
});

test("a gRPC stream to a port nobody listens on closes with 14 UNAVAILABLE", async () => {
  const { host, filter, logs } = await setup(await closedPort());
  try {
    op(filter, 3, [["x-body", "hello"]]);
    await waitFor(() => logs().some((l) => l.startsWith("close")), () => logs().join(" | "));
    assert.ok(logs().includes("close 2 14"), logs().join(" | "));
  } finally {
    await host.close();
  }
});

test("a gRPC stream to an unknown cluster is refused with PARSE_FAILURE", async () => {
  const { host, filter, logs } = await setup(1);
  try {
    const r = filter.requestSync({ headers: [[":path", "/"], ["x-op", "3"], ["x-cluster", "nope"]] });
    assert.equal(r.kind, "continue");
    assert.equal(logs().at(-1), `grpc_stream ${Status.PARSE_FAILURE}`);
  } finally {
    await host.close();
  }
});

test("after proxy_grpc_cancel no further callbacks arrive for that stream and the server sees the cancel", async () => {
  let serverSawClose!: () => void;
  const serverClosed = new Promise<void>((resolve) => (serverSawClose = resolve));
  const upstream = await grpcUpstream((stream) => {
    respond(stream);
    stream.write(frameGrpcMessage(Buffer.from("m1")));
    stream.on("close", () => serverSawClose());
  });
  const { host, filter, logs } = await setup(upstream.port);
  try {
    op(filter, 3, [["x-body", "hello"]]);
    await waitFor(() => logs().includes("message=m1"), () => logs().join(" | "));
    op(filter, 5);
    await serverClosed;
    assert.equal(upstream.requests[0]!.stream.rstCode, http2.constants.NGHTTP2_CANCEL);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(logs().slice(-2), ["message=m1", "cancel 0"]);
    op(filter, 5);
    assert.equal(logs().at(-1), `cancel ${Status.NOT_FOUND}`);
  } finally {
    await host.close();
    await upstream.close();
  }
});

test("proxy_grpc_close half-closes a stream: the server sees end of input and can still answer", async () => {
  const upstream = await grpcUpstream((stream) => {
    respond(stream);
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.on("end", () => stream.end(frameGrpcMessage(Buffer.from("bye"))));
  });
  const { host, filter, logs } = await setup(upstream.port);
  try {
    op(filter, 3, [["x-body", "hello"]]);
    op(filter, 4, [["x-body", "more"]]);
    op(filter, 6);
    await waitFor(() => logs().some((l) => l.startsWith("close ")), () => logs().join(" | "));
    assert.deepEqual(upstream.requests[0]!.messages, ["hello", "more"]);
    assert.equal(upstream.requests[0]!.ended, true);
    assert.ok(logs().includes("message=bye"));
    assert.ok(logs().includes("close 2 0"));
  } finally {
    await host.close();
    await upstream.close();
  }
});

test("a unary proxy_grpc_call delivers its response with proxy_on_grpc_receive only; sending on it is BAD_ARGUMENT", async () => {
  const upstream = await grpcUpstream((stream, req) => {
    respond(stream);
    stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.on("end", () => stream.end(frameGrpcMessage(Buffer.from(`echo:${req.messages.join(",")}`))));
  });
  const { host, filter, logs } = await setup(upstream.port);
  try {
    op(filter, 7, [["x-body", "acme"], ["x-timeout", "2000"]]);
    op(filter, 8);
    await waitFor(() => logs().some((l) => l.startsWith("message=")), () => logs().join(" | "));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(logs(), ["grpc_call 0 1", `send ${Status.BAD_ARGUMENT}`, "message=echo:acme"]);
    assert.equal(upstream.requests[0]!.headers[":path"], "/eg.sync.v1.Sync/Fetch");
    assert.equal(upstream.requests[0]!.headers["grpc-timeout"], "2000m");
  } finally {
    await host.close();
    await upstream.close();
  }
});

test("a unary proxy_grpc_call past its timeout closes with 4 DEADLINE_EXCEEDED", async () => {
  const upstream = await grpcUpstream((stream) => respond(stream));
  const { host, filter, logs } = await setup(upstream.port);
  try {
    op(filter, 7, [["x-body", "acme"], ["x-timeout", "50"]]);
    await waitFor(() => logs().some((l) => l.startsWith("close")), () => logs().join(" | "));
    assert.deepEqual(logs().slice(-2), ["close 1 4", "grpc-message=deadline exceeded"]);
  } finally {
    await host.close();
    await upstream.close();
  }
});

test("a trailers-only answer reports empty initial metadata, then its headers as trailers and their status", async () => {
  const upstream = await grpcUpstream((stream) => {
    stream.respond({ ":status": 200, "content-type": "application/grpc", "grpc-status": "16", "grpc-message": "bad token" }, { endStream: true });
  });
  const { host, filter, logs } = await setup(upstream.port);
  try {
    op(filter, 3, [["x-body", "hello"]]);
    await waitFor(() => logs().some((l) => l.startsWith("close")), () => logs().join(" | "));
    assert.deepEqual(logs().slice(3), ["initial 2", "x-server=NOT_FOUND", "trailing 2", "x-trailer=NOT_FOUND", "close 2 16", "grpc-message=bad token"]);
    // Envoy keeps a remotely closed stream's token until the plugin closes its side too.
    op(filter, 6);
    op(filter, 6);
    assert.deepEqual(logs().slice(-2), [`close_call ${Status.OK}`, `close_call ${Status.NOT_FOUND}`]);
  } finally {
    await host.close();
    await upstream.close();
  }
});

test("a non-200 HTTP answer without grpc-status closes the stream with 1 CANCELLED, as Envoy's async client does", async () => {
  const upstream = await grpcUpstream((stream) => {
    stream.respond({ ":status": 503, "content-type": "text/plain" });
    stream.end("overloaded");
  });
  const { host, filter, logs } = await setup(upstream.port);
  try {
    op(filter, 3, [["x-body", "hello"]]);
    await waitFor(() => logs().some((l) => l.startsWith("close")), () => logs().join(" | "));
    assert.ok(logs().includes("close 2 1"), logs().join(" | "));
  } finally {
    await host.close();
    await upstream.close();
  }
});

test("call deadlines follow the host clock: with a ManualClock the unary call times out on advance", async () => {
  const upstream = await grpcUpstream((stream) => respond(stream));
  const clock = new ManualClock();
  const { host, filter, logs } = await setup(upstream.port, clock);
  try {
    op(filter, 7, [["x-body", "acme"], ["x-timeout", "60000"]]);
    await waitFor(() => upstream.requests.length === 1, () => "request never reached the server");
    assert.ok(!logs().some((l) => l.startsWith("close")));
    await clock.advance(60_000);
    assert.deepEqual(logs().slice(-2), ["close 1 4", "grpc-message=deadline exceeded"]);
  } finally {
    await host.close();
    await upstream.close();
  }
});
