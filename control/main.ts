// `npm start`: the control plane as a process, i.e. `entitlement-gate serve` (control/cli/serve.ts:
// settings, ready line, graceful drain on SIGTERM). Exit codes: 0 clean shutdown, 1 failure, 2 bad settings.
import { runCli } from "./cli/cli.ts";

runCli(["serve", ...process.argv.slice(2)], process.env).then(
  (code) => {
    if (code !== undefined) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`entitlement-gate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
