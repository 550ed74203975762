// Real child processes for the chaos run and the soak: the control plane exactly as operators start it
// (`node --import tsx control/main.ts`, settings from the environment) and an optional redis-server.
// Both are stopped by their own pid only.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdtempSync, readdirSync, rmSync, type WriteStream } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");

export { freePort } from "../support/freePort.ts";

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Children still running when this process exits (an exception, Ctrl-C, the watchdog) are killed by
// their pid, so no control plane or redis-server outlives a run.
const liveChildren = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of liveChildren) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

function track(child: ChildProcess): ChildProcess {
  liveChildren.add(child);
  child.once("exit", () => liveChildren.delete(child));
  return child;
}

function exitOf(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

export interface ControlPlanePorts {
  sync: number;
  grpc: number;
  http: number;
}

/** The control plane as a child process; restarts reuse the same ports and settings. */
export class ControlPlaneChild {
  private child: ChildProcess | undefined;
  private readonly log: WriteStream;
  readonly lastLines: string[] = [];
  starts = 0;

  constructor(
    readonly ports: ControlPlanePorts,
    private env: Record<string, string>,
    logPath: string,
  ) {
    this.log = createWriteStream(logPath, { flags: "a" });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  setEnv(extra: Record<string, string | undefined>): void {
    const env = { ...this.env };
    for (const [key, value] of Object.entries(extra)) {
      if (value === undefined) delete env[key];
      else env[key] = value;
    }
    this.env = env;
  }

  /** Starts it and resolves with the time to its ready line. */
  async start(timeoutMs = 30_000): Promise<number> {
    const started = performance.now();
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      BIND_ADDRESS: "127.0.0.1",
      SYNC_PORT: String(this.ports.sync),
      GRPC_PORT: String(this.ports.grpc),
      HTTP_PORT: String(this.ports.http),
      LOG_LEVEL: "info",
      ...this.env,
    };
    const child = track(spawn(process.execPath, ["--import", "tsx", "control/main.ts"], { cwd: REPO_ROOT, env, stdio: ["ignore", "pipe", "pipe"] }));
    this.child = child;
    this.starts++;
    this.log.write(`--- start #${this.starts} pid ${child.pid} at ${new Date().toISOString()}\n`);
    child.stderr!.on("data", (d: Buffer) => this.log.write(d));
    const ready = new Promise<void>((resolveReady, reject) => {
      const timer = setTimeout(() => reject(new Error(`control plane not ready within ${timeoutMs} ms: ${this.lastLines.slice(-3).join(" | ")}`)), timeoutMs);
      createInterface({ input: child.stdout! }).on("line", (line) => {
        this.log.write(`${line}\n`);
        this.lastLines.push(line);
        if (this.lastLines.length > 20) this.lastLines.shift();
        if (line.includes("control plane ready") || line.includes("started but NOT ready")) {
          clearTimeout(timer);
          resolveReady();
        }
      });
      child.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`control plane exited before its ready line (code ${code}, signal ${signal}): ${this.lastLines.slice(-3).join(" | ")}`));
      });
    });
    try {
      await ready;
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
    return performance.now() - started;
  }

  /** kill -9: no drain, no goodbye to the filters. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    child.kill("SIGKILL");
    await exitOf(child);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exitOf(child);
    clearTimeout(killer);
  }

  async close(): Promise<void> {
    await this.stop();
    await new Promise<void>((r) => this.log.end(() => r()));
  }

  /** The Prometheus text of /metrics as name{labels} → value (labels kept verbatim). */
  async metrics(timeoutMs = 2_000): Promise<Map<string, number>> {
    const res = await fetch(`http://127.0.0.1:${this.ports.http}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    return parsePrometheus(await res.text());
  }
}

export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

/** Sum of every series of a metric (all label sets). */
export function metricSum(metrics: Map<string, number>, name: string): number {
  let sum = 0;
  let found = false;
  for (const [key, value] of metrics) {
    if (key === name || key.startsWith(`${name}{`)) {
      sum += value;
      found = true;
    }
  }
  return found ? sum : Number.NaN;
}

/** A throw-away redis-server on loopback: no persistence, its own temp dir; stop/start keep the port. */
export class RedisChild {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(join(tmpdir(), "eg-chaos-redis-"));

  constructor(readonly port: number) {}

  static installed(): boolean {
    return spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
  }

  async start(): Promise<void> {
    const child = track(spawn("redis-server", ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", this.dir], { stdio: ["ignore", "pipe", "pipe"] }));
    this.child = child;
    child.stdout!.resume();
    child.stderr!.resume();
    const deadline = performance.now() + 10_000;
    while (!(await this.ping())) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      if (performance.now() > deadline) throw new Error("redis-server did not answer PING within 10 s");
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGKILL");
    await exitOf(child);
  }

  async close(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private ping(): Promise<boolean> {
    return new Promise((resolvePing) => {
      const socket = net.connect(this.port, "127.0.0.1");
      const done = (ok: boolean): void => {
        socket.destroy();
        resolvePing(ok);
      };
      socket.setTimeout(500, () => done(false));
      socket.once("error", () => done(false));
      socket.once("connect", () => socket.write("PING\r\n"));
      socket.once("data", (d) => done(d.toString().startsWith("+PONG")));
    });
  }
}

/** Open file descriptors of a process (Linux /proc), NaN elsewhere. */
export function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}
