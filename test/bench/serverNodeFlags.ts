// The Node flags the control plane ships with (bin/entitlement-gate.js's shebang, `npm start`, the
// container image's ENTRYPOINT). The benches give them to every server they start, ours and the bare
// node:http2 server alike, so each ratio compares like with like (test/packaging/nodeFlags.test.ts keeps
// the shipped places and this list the same).
//
// --max-semi-space-size=32: V8's young generation may grow to 2 × 32 MiB instead of 2 × 16. A busy gRPC
// server allocates ~12–14 KiB per call, most of it node:http2's own per-stream objects; with the default
// it scavenges every ~1,000 calls, and each scavenge promotes what is in flight, which fills the old
// generation and brings costly mark-compacts. Twice the room halves the scavenges: in interleaved runs
// 5–20% less CPU per check call (BENCHMARKS.md), for up to ~32 MiB more RSS.
export const SERVER_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=32"];
