// Child processes for the benchmarks: started with node (+ tsx for TypeScript), their stdout read line by
// line, their memory read from /proc, and stopped with SIGTERM (then SIGKILL) by their own pid.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { REPO_ROOT } from "./wasmBuilds.ts";

export interface Child {
  process: ChildProcess;
  /** Resolves with the first stdout line for which `match` returns a value. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T>;
  stop(): Promise<void>;
}

export function startTsChild(script: string, args: string[], options: { nodeFlags?: string[]; env?: Record<string, string> } = {}): Child {
  return startNodeChild(script, [...(options.nodeFlags ?? []), "--import", "tsx", script, ...args], options.env);
}

/** `node <nodeArgs>` without tsx (compiled JavaScript, or a launcher that chooses); `script` names it in errors. */
export function startNodeChild(script: string, nodeArgs: string[], env: Record<string, string> = {}): Child {
  const child = spawn(process.execPath, nodeArgs, {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines: string[] = [];
  const waiters = new Set<(line: string) => void>();
  createInterface({ input: child.stdout! }).on("line", (line) => {
    lines.push(line);
    for (const w of [...waiters]) w(line);
  });
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once("exit", () => ((exited = true), resolve())));
  return {
    process: child,
    waitForLine: <T>(match: (line: string) => T | undefined, timeoutMs: number) =>
      new Promise<T>((resolve, reject) => {
        for (const line of lines) {
          const found = match(line);
          if (found !== undefined) return resolve(found);
        }
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${script}: no expected output within ${timeoutMs} ms (last lines: ${lines.slice(-3).join(" | ")})`));
        }, timeoutMs);
        const check = (line: string): void => {
          const found = match(line);
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        void exit.then(() => {
          if (!waiters.has(check)) return;
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`${script} exited before the expected output (last lines: ${lines.slice(-3).join(" | ")})`));
        });
      }),
    stop: async () => {
      if (exited) return;
      child.kill("SIGTERM");
      const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exit;
      clearTimeout(killer);
    },
  };
}

/** Resident and peak resident memory of a process, in bytes (Linux /proc). */
export function processMemory(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) * 1024;
  return { rss: kb("VmRSS"), peak: kb("VmHWM") };
}

export function parseJsonLine<T>(line: string, has: string): T | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value = JSON.parse(line) as Record<string, unknown>;
    return has in value ? (value as T) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU time (user + system) a process has used so far, in seconds (Linux /proc; clock ticks of 100 Hz). */
export function processCpuSeconds(pid: number): number {
  // Fields after the command name, which is in parentheses and may contain spaces.
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
