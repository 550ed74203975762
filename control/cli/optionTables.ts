// Option tables of the commands whose implementations are heavy to import (serve loads the whole control
// plane, check loads gRPC), so `--help` texts and --config validation can read them cheaply.
import type { OptionSpec } from "./options.ts";

export const CHECK_OPTIONS: readonly OptionSpec[] = [
  { flag: "--customer", env: "EG_CUSTOMER", help: "Stigg customer id (required)." },
  { flag: "--feature", env: "EG_FEATURE", help: "Stigg feature id (required)." },
  { flag: "--requested-usage", env: "EG_REQUESTED_USAGE", help: "Usage the caller would consume (metered features)." },
  { flag: "--resource", env: "EG_RESOURCE", help: "Stigg resource id, for per-resource entitlements." },
  {
    flag: "--address",
    env: "EG_ADDRESS",
    help: "host:port of the control plane's GRPC_PORT (plaintext HTTP/2).",
    defaultText: "127.0.0.1:<GRPC_PORT from the environment or --config, else 80>",
  },
  { flag: "--timeout-ms", env: "EG_TIMEOUT_MS", help: "Deadline of the call.", defaultText: "3000" },
  { flag: "--json", help: "Print one JSON object instead of the table.", boolean: true },
];

export const SERVE_EXTRA_OPTIONS: readonly OptionSpec[] = [
  {
    flag: "--shutdown-grace-ms",
    env: "SHUTDOWN_GRACE_MS",
    help: "On SIGTERM/SIGINT, how long in-flight calls may take before they are cancelled (a second signal exits at once).",
    defaultText: "5000",
  },
];
