import { test } from "node:test";
import assert from "node:assert/strict";
import * as grpc from "@grpc/grpc-js";
import { EnvoyHost, type HttpFilter } from "./index.ts";
import { fixture } from "./fixtures/assemble.ts";
import { waitFor } from "./fixtures/waitFor.ts";

// The control plane serves the sync API with @grpc/grpc-js; the host's gRPC client must interoperate.
const identity = { serialize: (b: Buffer) => b, deserialize: (b: Buffer) => b };
const SyncService: grpc.ServiceDefinition = {
  Stream: { path: "/eg.sync.v1.Sync/Stream", requestStream: true, responseStream: true, requestSerialize: identity.serialize, requestDeserialize: identity.deserialize, responseSerialize: identity.serialize, responseDeserialize: identity.deserialize },
  Fetch: { path: "/eg.sync.v1.Sync/Fetch", requestStream: false, responseStream: false, requestSerialize: identity.serialize, requestDeserialize: identity.deserialize, responseSerialize: identity.serialize, responseDeserialize: identity.deserialize },
};

async function serve(impl: grpc.UntypedServiceImplementation): Promise<{ port: number; server: grpc.Server }> {
  const server = new grpc.Server();
  server.addService(SyncService, impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { port, server };
}

async function setup(port: number): Promise<{ host: EnvoyHost; filter: HttpFilter; logs: () => string[] }> {
  const host = new EnvoyHost({ clusters: { control_plane: { host: "127.0.0.1", port } } });
  const filter = await host.addHttpFilter({ vmId: "eg", rootId: "eg", wasm: await fixture("calls"), configuration: "", workers: 1 });
  return { host, filter, logs: () => host.logs().map((l) => l.message) };
}

function op(filter: HttpFilter, n: number, extra: Array<[string, string]> = []): void {
  filter.requestSync({ headers: [[":path", "/"], ["x-op", String(n)], ["x-cluster", "control_plane"], ...extra] });
}

test("a bidi stream to a @grpc/grpc-js server exchanges messages, metadata and an error status", async () => {
  let seenMetadata: grpc.Metadata | undefined;
  const { port, server } = await serve({
    Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      seenMetadata = call.metadata;
      const md = new grpc.Metadata();
      md.set("x-server", "cp");
      call.sendMetadata(md);
      call.on("data", (m: Buffer) => call.write(Buffer.from(`echo:${m.toString()}`)));
      call.on("end", () => {
        const trailers = new grpc.Metadata();
        trailers.set("x-trailer", "bye");
        call.emit("error", { code: grpc.status.FAILED_PRECONDITION, details: "epoch changed", metadata: trailers });
      });
    },
  });
  const { host, filter, logs } = await setup(port);
  try {
    op(filter, 3, [["x-body", "hello"]]);
    await waitFor(() => logs().includes("message=echo:hello"), () => logs().join(" | "));
    op(filter, 4, [["x-body", "last"], ["x-end", "1"]]);
    await waitFor(() => logs().some((l) => l.startsWith("close ")), () => logs().join(" | "));
    assert.deepEqual(logs(), [
      "grpc_stream 0",
      "stream_token 2",
      "send 0",
      "initial 2",
      "x-server=cp",
      "message=echo:hello",
      "send 0",
      "message=echo:last",
      "trailing 2",
      "x-trailer=bye",
      `close 2 ${grpc.status.FAILED_PRECONDITION}`,
      "grpc-message=epoch changed",
    ]);
    assert.deepEqual(seenMetadata?.get("x-md"), ["m1"]);
  } finally {
    await host.close();
    server.forceShutdown();
  }
});

test("a unary call to a @grpc/grpc-js server gets its response; an unimplemented method closes with 12", async () => {
  const { port, server } = await serve({
    Fetch: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.from(`entry:${call.request.toString()}`)),
  });
  const { host, filter, logs } = await setup(port);
  try {
    op(filter, 7, [["x-body", "acme"], ["x-timeout", "2000"]]);
    await waitFor(() => logs().includes("message=entry:acme"), () => logs().join(" | "));
    assert.equal(logs()[0], "grpc_call 0 1");
    op(filter, 3, [["x-body", "hello"]]);
    await waitFor(() => logs().some((l) => l.startsWith("close ")), () => logs().join(" | "));
    assert.ok(logs().includes(`close 2 ${grpc.status.UNIMPLEMENTED}`), logs().join(" | "));
  } finally {
    await host.close();
    server.forceShutdown();
  }
});
