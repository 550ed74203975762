// The two modules the benchmarks load: the real filter (built by `npm run build:filter` when a clean
// clone has none) and the no-op baseline (rebuilt when its source or the shared binding is newer).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { compileAssemblyScript } from "../filter/support/compileSpec.ts";

export const REPO_ROOT = resolve(import.meta.dirname, "../..");
export const FILTER_WASM = join(REPO_ROOT, "build/entitlement_gate.wasm");
export const NOOP_WASM = join(REPO_ROOT, "build/bench-noop.wasm");
// `.as` so that tsc (which checks test/**/*.ts) leaves the AssemblyScript source alone.
const NOOP_ENTRY = "test/bench/noop/noopPlugin.as";

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
  const sources = newestMtime(join(REPO_ROOT, "filter/assembly"));
  if (existsSync(FILTER_WASM) && statSync(FILTER_WASM).mtimeMs >= sources) return;
  log(`build/entitlement_gate.wasm is ${existsSync(FILTER_WASM) ? "older than filter/assembly" : "missing"}: running npm run build:filter`);
  run("npm", ["run", "--silent", "build:filter"]);
}

export async function ensureNoopBuilt(log: (line: string) => void): Promise<void> {
  const sources = Math.max(newestMtime(join(REPO_ROOT, "test/bench/noop")), newestMtime(join(REPO_ROOT, "filter/assembly/binding")));
  if (existsSync(NOOP_WASM) && statSync(NOOP_WASM).mtimeMs >= sources) return;
  log("building the no-op baseline -> build/bench-noop.wasm");
  const binary = await compilePlugin(NOOP_ENTRY, "bench-noop.wasm");
  await mkdir(join(REPO_ROOT, "build"), { recursive: true });
  await writeFile(NOOP_WASM, binary);
}

/**
 * Compiles a proxy-wasm plugin whose entry is an AssemblyScript `.as` file under the repo (`entry`, relative
 * to the repo root) with the filter's release options (asconfig.json), so it differs from the filter only
 * in the plugin. Returns the binary; `outFile` is only the name asc is told to write.
 */
export function compilePlugin(entry: string, outFile: string): Promise<Uint8Array> {
  return compileAssemblyScript(entry, ["--outFile", outFile, "--optimizeLevel", "3", "--shrinkLevel", "0",
    "--runtime", "incremental", "--exportStart", "_initialize", "--use", "abort=filter/assembly/binding/abort/onAbort"]);
}
