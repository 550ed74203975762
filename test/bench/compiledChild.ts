// Bench children as the product runs: compiled JavaScript on plain Node. Under tsx every process also
// carries tsx's loader thread (~35–45 MiB of RSS in Node 20), which the container image and an npm
// install never have, so memory figures taken under tsx overstate what a deployment holds.
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
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
