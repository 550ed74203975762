// Runs Debian's h2load (nghttp2-client) as the load generator: gRPC requests are POSTs whose body is a
// pre-encoded gRPC frame read from a file. Rate from h2load's summary, latency from its per-request log.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface LoadSpec {
  url: string;
  body: Uint8Array;
  clients: number;
  streamsPerClient: number;
  /** Timed run (with warm-up); or `requests` for a fixed number of requests. */
  durationSeconds?: number;
  warmUpSeconds?: number;
  requests?: number;
  /** Paced run: requests per second over all clients. */
  rate?: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  succeeded: number;
  failed: number;
  latenciesMs: number[];
}

export function h2loadAvailable(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("h2load", ["--version"], (error, stdout) => resolve(error ? undefined : stdout.trim()));
  });
}

export async function runH2load(spec: LoadSpec): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), "eg-h2load-"));
  try {
    const dataFile = join(dir, "request.bin");
    const logFile = join(dir, "requests.log");
    writeFileSync(dataFile, spec.body);
    const args = [
      "-t", "1", "-c", String(spec.clients), "-m", String(spec.streamsPerClient),
      ...(spec.requests !== undefined
        ? ["-n", String(spec.requests)]
        : ["-D", String(spec.durationSeconds ?? 5), `--warm-up-time=${spec.warmUpSeconds ?? 1}`]),
      "-d", dataFile, "-H", "content-type: application/grpc", "-H", "te: trailers",
      `--log-file=${logFile}`,
    ];
    if (spec.rate !== undefined) args.push(`--rps=${Math.max(1, Math.round(spec.rate / spec.clients))}`);
    args.push(spec.url);
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile("h2load", args, { maxBuffer: 16 * 2 ** 20 }, (error, out, err) => {
        if (error) reject(new Error(`h2load failed: ${error.message}\n${err}`));
        else resolve(out);
      });
    });
    const rate = /finished in [\d.]+\w*, ([\d.]+) req\/s/.exec(stdout);
    const requests = /requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed/.exec(stdout);
    if (!rate || !requests) throw new Error(`cannot read h2load's summary:\n${stdout}`);
    const latenciesMs: number[] = [];
    for (const line of readFileSync(logFile, "utf8").split("\n")) {
      const [, status, durationUs] = line.split("\t");
      if (status === "200" && durationUs !== undefined) latenciesMs.push(Number(durationUs) / 1000);
    }
    return { requestsPerSecond: Number(rate[1]), succeeded: Number(requests[1]), failed: Number(requests[2]), latenciesMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
