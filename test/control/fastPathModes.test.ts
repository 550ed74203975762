// The Sidecar, ext_authz, health and reflection suites run with the fast path on in their own files;
// here they run again with GRPC_FAST_PATH=false, so grpc-js alone keeps giving the same answers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const SUITES = ["sidecarApi", "extAuthz", "healthGrpc", "sidecarReflection"];

function runSuite(name: string): Promise<{ code: number | null; output: string }> {
  const file = fileURLToPath(new URL(`./${name}.test.ts`, import.meta.url));
  return new Promise((resolve, reject) => {
    // Without NODE_TEST_CONTEXT the child reports as a top-level run (plain TAP with its totals).
    const { NODE_TEST_CONTEXT: _parent, ...env } = process.env;
    const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", file], {
      env: { ...env, GRPC_FAST_PATH: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

for (const suite of SUITES) {
  test(`the ${suite} suite passes with GRPC_FAST_PATH=false (grpc-js only)`, { timeout: 60_000 }, async () => {
    const { code, output } = await runSuite(suite);
    const failed = /^# fail (\d+)/m.exec(output);
    assert.equal(code, 0, output.slice(-4000));
    assert.equal(failed?.[1], "0", "the suite reported failures");
    assert.match(output, /^# pass [1-9]/m);
  });
}
