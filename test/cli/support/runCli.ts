// Spawns the real `entitlement-gate` bin (bin/entitlement-gate.js), as an operator would run it.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../../..");
export const BIN = resolve(ROOT, "bin/entitlement-gate.js");

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Environment without the caller's settings, so a developer's shell cannot change a test's outcome. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of ["PATH", "HOME", "TMPDIR", "LANG", "NODE_OPTIONS"]) if (process.env[key] !== undefined) env[key] = process.env[key]!;
  return { ...env, ...extra };
}

export function startCli(args: readonly string[], env: Record<string, string> = cleanEnv(), cwd = ROOT): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [BIN, ...args], { env, cwd });
}

export function runCli(args: readonly string[], env: Record<string, string> = cleanEnv(), timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = startCli(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`entitlement-gate ${args.join(" ")} did not finish in ${timeoutMs} ms; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** JSON log lines of a running `serve`, with a way to wait for one. */
export class LogLines {
  readonly lines: Array<Record<string, unknown>> = [];
  raw = "";
  private buffer = "";

  constructor(child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (d: Buffer) => {
      this.raw += d.toString();
      this.buffer += d.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf("\n")) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line
        }
      }
    });
  }

  async waitFor(what: string, predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.lines.find(predicate);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output so far:\n${this.raw}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export function exited(child: ChildProcessWithoutNullStreams): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
}
