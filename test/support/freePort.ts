// A loopback port nothing listens on right now: for a server a test starts later on a known port (a
// control plane that comes up after its clients, a redis-server given --port).
import net from "node:net";

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}
