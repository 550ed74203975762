import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { EnvoyHost, Status, type HttpFilter } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";

const CALL = [[":path", "/"], ["x-op", "1"], ["x-cluster", "control_plane"]] as Array<[string, string]>;

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function setup(port: number, http2Cluster = true): Promise<{ host: EnvoyHost; filter: HttpFilter; logs: () => string[] }> {
  const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port, http2: http2Cluster } } });
  const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("calls"), configuration: "", workers: 1 });
  return { host, filter, logs: () => host.logs().map((l) => l.message) };
}

test("proxy_http_call reaches an HTTP/2 cluster and the response arrives on the root context (map 6, buffer 4, map 7)", async () => {
  const seen: http2.IncomingHttpHeaders[] = [];
  const server = http2.createServer();
  server.on("stream", (stream, headers) => {
    seen.push(headers);
    stream.respond({ ":status": 200, "x-upstream": "yes" }, { waitForTrailers: true });
    stream.on("wantTrailers", () => stream.sendTrailers({ "x-trailer": "t" }));
    stream.end("snapshot");
  });
  const { host, filter, logs } = await setup(await listen(server));
  try {
    const r = await filter.request({ headers: [...CALL, ["x-timeout", "2000"]] });
    assert.equal(r.kind, "continue");
    const [call, response, ...rest] = logs();
    assert.equal(call, "http_call 0 1");
    const numHeaders = Number(/^http_response 1 (\d+)$/.exec(response ?? "")?.[1]);
    assert.ok(numHeaders >= 2, `num_headers counts the response headers (${response})`);
    assert.deepEqual(rest, [":status=200", "x-upstream=yes", "x-trailer=t", "body=snapshot"]);
    assert.equal(seen[0]?.[":method"], "GET");
    assert.equal(seen[0]?.[":path"], "/v1/entitlements?since=3");
    assert.equal(seen[0]?.[":authority"], "cp");
    assert.equal(seen[0]?.["x-trace"], "t1");
  } finally {
    await host.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("proxy_http_call speaks HTTP/1.1 to a cluster with http2: false and sends the body with content-length", async () => {
  const seen: Array<{ headers: http.IncomingHttpHeaders; body: string; method?: string }> = [];
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ headers: req.headers, body, method: req.method });
      res.writeHead(202, { "x-upstream": "h1" });
      res.end("ok");
    });
  });
  const { host, filter, logs } = await setup(await listen(server), false);
  try {
    const r = await filter.request({ headers: [...CALL, ["x-timeout", "2000"], ["x-body", "payload"]] });
    assert.equal(r.kind, "continue");
    assert.ok(logs().includes(":status=202"));
    assert.ok(logs().includes("x-upstream=h1"));
    assert.ok(logs().includes("body=ok"));
    assert.equal(seen[0]?.headers.host, "cp");
    assert.equal(seen[0]?.headers["content-length"], "7");
    assert.equal(seen[0]?.body, "payload");
  } finally {
    await host.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("a failed proxy_http_call is reported with num_headers 0", async () => {
  const { host, filter, logs } = await setup(await closedPort());
  try {
    const r = await filter.request({ headers: [...CALL, ["x-timeout", "2000"]] });
    assert.equal(r.kind === "localReply" && `${r.status} ${r.details}`, "503 cp_unavailable");
    assert.deepEqual(logs(), ["http_call 0 1", "http_response 1 0", `status ${Status.BROKEN_CONNECTION}`]);
  } finally {
    await host.close();
  }
});

test("a proxy_http_call that outlives its timeout is reported with num_headers 0 and the request is cancelled", async () => {
  let upstreamClosed!: () => void;
  const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
  const server = http2.createServer();
  server.on("stream", (stream) => stream.on("close", () => upstreamClosed()));
  const { host, filter, logs } = await setup(await listen(server));
  try {
    const r = await filter.request({ headers: [...CALL, ["x-timeout", "50"]] });
    assert.equal(r.kind === "localReply" && r.details, "cp_unavailable");
    assert.ok(logs().includes("http_response 1 0"));
    await closed;
  } finally {
    await host.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test("proxy_http_call answers BAD_ARGUMENT for an unknown cluster or headers without :path", async () => {
  const { host, filter, logs } = await setup(await closedPort());
  try {
    filter.requestSync({ headers: [[":path", "/"], ["x-op", "1"], ["x-cluster", "nope"]] });
    filter.requestSync({ headers: [[":path", "/"], ["x-op", "2"], ["x-cluster", "control_plane"]] });
    assert.deepEqual(logs(), [`http_call ${Status.BAD_ARGUMENT} 0`, `http_call ${Status.BAD_ARGUMENT}`]);
  } finally {
    await host.close();
  }
});
