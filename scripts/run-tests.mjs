#!/usr/bin/env node
// Runs every *.test.ts under test/ (or under the folders given as arguments) with node's built-in test
// runner. Node 20's --test does not expand globs or pick up .ts files by itself, hence this file.
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { spawn } from "node:child_process";

const roots = process.argv.slice(2).filter((a) => !a.startsWith("-"));
const passThrough = process.argv.slice(2).filter((a) => a.startsWith("-"));
const files = [];
function walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else if (name.endsWith(".test.ts")) files.push(relative(process.cwd(), path));
  }
}
for (const root of roots.length > 0 ? roots : ["test"]) {
  if (statSync(root).isDirectory()) walk(root);
  else files.push(root);
}
files.sort();
if (files.length === 0) {
  console.error("no *.test.ts files found under " + (roots.join(", ") || "test"));
  process.exit(1);
}
const child = spawn(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", ...passThrough, ...files],
  { stdio: "inherit" },
);
child.on("exit", (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
