// `entitlement-gate serve` (and `npm start`): the control plane as a process, with a graceful drain.
// SIGTERM/SIGINT: readiness turns false at once, sync streams end, in-flight calls get
// SHUTDOWN_GRACE_MS to finish, then the process exits 0. A second signal exits at once (code 1).
import { SETTINGS, helpText, parseSettings } from "../config/settings.ts";
import { DEFAULT_SHUTDOWN_GRACE_MS, startControlPlane } from "../controlPlane.ts";
import { createLogger } from "../log.ts";
import { SERVE_EXTRA_OPTIONS } from "./optionTables.ts";
import { numberOption, optionHelp, resolveOptions, type ConfigFile } from "./options.ts";


/** Settings from the config file fill in for variables the environment does not set. */
export function environmentWithFile(env: Readonly<Record<string, string | undefined>>, file?: ConfigFile): Record<string, string | undefined> {
  const merged: Record<string, string | undefined> = {};
  if (file) {
    const section = file.sections.get("serve");
    for (const s of [...SETTINGS, ...SERVE_EXTRA_OPTIONS.map((o) => ({ env: o.env!, flag: o.flag, key: "" }))]) {
      const name = s.flag.replace(/^--/, "");
      const camel = name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      for (const source of [section, file.global]) {
        const value = [s.env, name, camel, s.key].map((k) => (k ? source?.get(k) : undefined)).find((v) => v !== undefined);
        if (value !== undefined && merged[s.env] === undefined) merged[s.env] = Array.isArray(value) ? value.join(",") : String(value);
      }
    }
  }
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== "") merged[k] = v;
  return merged;
}

export function serveHelp(): string {
  return [
    helpText().replace(/^Usage: .*$/m, "Usage: entitlement-gate serve [options]      (npm start -- [options])"),
    "",
    "Shutdown:",
    ...optionHelp(SERVE_EXTRA_OPTIONS),
    "",
    "Precedence: flag > environment variable > --config file > default.",
  ].join("\n");
}

/** Resolves when the process should keep running (servers up); sets process.exitCode on failures. */
export async function runServe(argv: readonly string[], env: Readonly<Record<string, string | undefined>>, file?: ConfigFile): Promise<void> {
  const merged = environmentWithFile(env, file);
  const graceFlags = new Set(SERVE_EXTRA_OPTIONS.map((o) => o.flag));
  const settingsArgv: string[] = [];
  const extraArgv: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const flag = arg.split("=")[0]!;
    if (graceFlags.has(flag)) {
      extraArgv.push(arg);
      if (!arg.includes("=") && argv[i + 1] !== undefined) extraArgv.push(argv[++i]!);
    } else settingsArgv.push(arg);
  }
  const extra = resolveOptions(SERVE_EXTRA_OPTIONS, extraArgv, merged);
  const graceMs = numberOption(extra, "--shutdown-grace-ms", 0, 600_000) ?? DEFAULT_SHUTDOWN_GRACE_MS;

  const parsed = parseSettings(merged, settingsArgv);
  if (parsed.kind === "help") {
    process.stdout.write(serveHelp() + "\n");
    return;
  }
  const errors = [...(parsed.kind === "invalid" ? parsed.errors : []), ...extra.errors];
  if (parsed.kind === "invalid" || errors.length > 0) {
    for (const error of errors) process.stderr.write(`entitlement-gate: ${error}\n`);
    process.stderr.write("entitlement-gate: see --help for every option\n");
    process.exitCode = 2;
    return;
  }
  const { settings } = parsed;
  const logger = createLogger(settings.logLevel, { env: merged });
  const plane = await startControlPlane(settings, { logger });
  const ready = plane.readiness();
  const customers = plane.store.all().filter((e) => e.resourceId === undefined).length;
  const summary = `sync gRPC on ${settings.bindAddress}:${plane.syncPort}, API gRPC on ${settings.bindAddress}:${plane.grpcPort}, HTTP on ${settings.bindAddress}:${plane.httpPort}, ${customers} customers (${plane.store.size} entries) from ${plane.source.description}`;
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal means the operator does not want to wait for the drain.
      logger.warn({ signal }, "second signal, exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal, graceMs }, `shutting down: not ready any more, draining for at most ${graceMs} ms`);
    const started = Date.now();
    // The drain is bounded by graceMs per server; this only guards against a hang elsewhere (the source).
    const backstop = setTimeout(() => {
      logger.error({ graceMs }, "shutdown did not finish in time, exiting");
      process.exit(1);
    }, graceMs + 5000);
    backstop.unref();
    plane.close(graceMs).then(
      () => {
        clearTimeout(backstop);
        logger.info({ drainMs: Date.now() - started }, "stopped");
        process.exitCode = 0;
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  // Handlers go in before the ready line: whoever waits for that line may signal at once.
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  // Not ready means the source has no good data yet (an invalid file); the process keeps running
  // and becomes ready as soon as the source loads.
  logger[ready.ready ? "info" : "warn"](
    {
      syncPort: plane.syncPort,
      grpcPort: plane.grpcPort,
      httpPort: plane.httpPort,
      bindAddress: settings.bindAddress,
      source: plane.source.description,
      customers,
      entries: plane.store.size,
      version: plane.store.version,
      epoch: plane.store.epoch,
      ready: ready.ready,
      ...(ready.reason ? { notReadyBecause: ready.reason } : {}),
    },
    ready.ready
      ? `entitlement-gate control plane ready: ${summary}`
      : `entitlement-gate control plane started but NOT ready (${ready.reason ?? "unknown"}): ${summary}`,
  );
}
