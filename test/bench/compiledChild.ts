// Bench children as the product runs: compiled JavaScript on plain Node (dist/ for the control plane,
// build/bench-js/ for bench harness scripts). Under tsx every process also carries tsx's loader thread
// (~35–45 MiB of RSS in Node 20), which the container image and an npm install never have, so memory
// figures taken under tsx overstate what a deployment holds.
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { REPO_ROOT } from "./wasmBuilds.ts";

const OUT_DIR = join(REPO_ROOT, "build", "bench-js");

/**
 * Compiles `script` (a path under the repository) and everything it imports with the repository's
 * TypeScript settings into build/bench-js/, and returns the compiled file; undefined (logged) when the
 * compile fails, so the caller can fall back to tsx and say so.
 */
export async function compiledChild(script: string, log: (line: string) => void): Promise<string | undefined> {
  mkdirSync(OUT_DIR, { recursive: true });
  const config = join(OUT_DIR, "tsconfig.json");
  writeFileSync(
    config,
    JSON.stringify({
      extends: relative(OUT_DIR, join(REPO_ROOT, "tsconfig.build.json")),
      compilerOptions: { outDir: ".", rootDir: relative(OUT_DIR, REPO_ROOT), sourceMap: false },
      include: [],
      files: [relative(OUT_DIR, join(REPO_ROOT, script))],
    }),
  );
  const tsc = join(REPO_ROOT, "node_modules", ".bin", "tsc");
  return new Promise((resolve) => {
    execFile(tsc, ["-p", config], { cwd: REPO_ROOT }, (error, out) => {
      if (error) {
        log(`   compiling ${script} failed, running it through tsx instead: ${out.trim().split("\n")[0] ?? error.message}`);
        resolve(undefined);
      } else resolve(join(OUT_DIR, script.replace(/\.ts$/, ".js")));
    });
  });
}

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtimeMs(path));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ (`npm run build:control`) when it is missing or older than control/; false when the build fails. */
export async function ensureControlBuilt(log: (line: string) => void): Promise<boolean> {
  const entry = join(REPO_ROOT, "dist", "control", "cli", "main.js");
  if (existsSync(entry) && statSync(entry).mtimeMs >= newestMtimeMs(join(REPO_ROOT, "control"))) return true;
  log("   building the control plane (npm run build:control)");
  return new Promise((resolve) => {
    execFile("npm", ["run", "build:control"], { cwd: REPO_ROOT }, (error, _out, err) => {
      if (error) log(`   npm run build:control failed, running the TypeScript sources instead: ${err.trim().split("\n")[0] ?? error.message}`);
      resolve(!error);
    });
  });
}
