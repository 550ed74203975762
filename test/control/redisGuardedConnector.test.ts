import { test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import standaloneModule from "ioredis/built/connectors/StandaloneConnector.js";
import { GuardedConnector } from "../../control/cache/redis/guardedConnector.ts";

async function withServer(run: (port: number) => Promise<void>): Promise<void> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  try {
    await run(typeof address === "object" && address ? address.port : 0);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

test("a connection socket that errors twice after ioredis's once('error') does not throw", async () => {
  await withServer(async (port) => {
    const stream = await new GuardedConnector({ host: "127.0.0.1", port }).connect(() => undefined);
    // What ioredis attaches: one-shot listeners, used up by the first error.
    stream.once("error", () => undefined);
    stream.emit("error", new Error("certificate verify failed"));
    assert.doesNotThrow(() => stream.emit("error", new Error("tlsv1 alert decode error")));
    stream.destroy();
  });
});

test("ioredis's own standalone connector leaves the second error unhandled (why the guard exists)", async () => {
  await withServer(async (port) => {
    const stream = await new standaloneModule.default({ host: "127.0.0.1", port }).connect(() => undefined);
    stream.once("error", () => undefined);
    stream.emit("error", new Error("first"));
    assert.throws(() => stream.emit("error", new Error("second")), /second/);
    stream.destroy();
  });
});
