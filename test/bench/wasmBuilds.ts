// The two modules the benchmarks load: the real filter (built by `npm run build:filter` when a clean
// clone has none) and the no-op baseline (rebuilt when its source or the shared binding is newer).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const FILTER_WASM = join(REPO_ROOT, "build/entitlement_gate.wasm");
export const NOOP_WASM = join(REPO_ROOT, "build/bench-noop.wasm");
const NOOP_ENTRY = "test/bench/noop/index.ts";

function run(command: string, args: string[]): void {
  const result = spawnSync(command, args, { cwd: REPO_ROOT, stdio: ["ignore", "inherit", "inherit"] });
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed with ${result.status ?? result.signal}`);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const item of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, item.name);
    newest = Math.max(newest, item.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

export function ensureFilterBuilt(log: (line: string) => void): void {
  if (existsSync(FILTER_WASM)) return;
  log("build/entitlement_gate.wasm is missing: running npm run build:filter");
  run("npm", ["run", "--silent", "build:filter"]);
}

export function ensureNoopBuilt(log: (line: string) => void): void {
  const sources = Math.max(newestMtime(join(REPO_ROOT, "test/bench/noop")), newestMtime(join(REPO_ROOT, "filter/assembly/binding")));
  if (existsSync(NOOP_WASM) && statSync(NOOP_WASM).mtimeMs >= sources) return;
  log("building the no-op baseline -> build/bench-noop.wasm");
  // Same compiler options as the filter's release target (asconfig.json), so only the plugin differs.
  run(join(REPO_ROOT, "node_modules/.bin/asc"), [
    NOOP_ENTRY, "--outFile", "build/bench-noop.wasm", "--optimizeLevel", "3", "--shrinkLevel", "0",
    "--runtime", "incremental", "--exportStart", "_initialize", "--use", "abort=filter/assembly/binding/abort/onAbort",
  ]);
}
