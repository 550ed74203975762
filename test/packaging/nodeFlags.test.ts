// The control plane's Node flags are written in three shipped places that cannot import each other; the
// benches start their servers with the same list (test/bench/serverNodeFlags.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../cli/support/runCli.ts";
import { SERVER_NODE_FLAGS } from "../bench/serverNodeFlags.ts";

const read = (file: string): string => readFileSync(join(ROOT, file), "utf8");

test("the bin's shebang, npm start and the image's ENTRYPOINT run node with the shipped flags", () => {
  const shebang = read("bin/entitlement-gate.js").split("\n")[0]!;
  assert.equal(shebang, `#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(" ")}`);
  const start = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts.start!;
  assert.ok(start.startsWith(`node ${SERVER_NODE_FLAGS.join(" ")} `), `npm start: ${start}`);
  const entrypoint = read("Dockerfile").split("\n").find((line) => line.startsWith("ENTRYPOINT "))!;
  assert.deepEqual(JSON.parse(entrypoint.slice("ENTRYPOINT ".length)), ["node", ...SERVER_NODE_FLAGS, "bin/entitlement-gate.js"]);
});

test("this Node accepts the shipped flags", () => {
  const run = spawnSync(process.execPath, [...SERVER_NODE_FLAGS, "-e", "process.stdout.write('ok')"], { encoding: "utf8" });
  assert.equal(run.stderr, "");
  assert.equal(run.stdout, "ok");
});

test("the bin runs through its shebang (env -S) as an installed command would", () => {
  const run = spawnSync(join(ROOT, "bin/entitlement-gate.js"), ["--help"], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /entitlement-gate/);
});
