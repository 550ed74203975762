// Entry point of the `entitlement-gate` bin (bin/entitlement-gate.js loads this, or its dist/ build).
import { runCli } from "./cli.ts";

runCli(process.argv.slice(2), process.env).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`entitlement-gate: failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
