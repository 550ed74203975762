// Child process: the ceiling for the check benchmark. A node:http2 server that answers every request
// with one constant gRPC message and OK trailers, doing no decoding and no lookup. Prints its port.
import http2 from "node:http2";
import { constantAnswer } from "./grpcWire.ts";

const answer = constantAnswer();
const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
server.on("stream", (stream) => {
  // Read the request to its end, as a real server must, then answer.
  stream.on("data", () => {});
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(answer);
  });
  stream.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 })}\n`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
