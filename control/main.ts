// `npm start`: the control plane as a process. Exit codes: 0 clean shutdown, 1 failure, 2 bad settings.
import { parseSettings } from "./config/settings.ts";
import { startControlPlane } from "./controlPlane.ts";
import { createLogger } from "./log.ts";

async function main(): Promise<void> {
  const parsed = parseSettings(process.env, process.argv.slice(2));
  if (parsed.kind === "help") {
    process.stdout.write(parsed.text + "\n");
    return;
  }
  if (parsed.kind === "invalid") {
    for (const error of parsed.errors) process.stderr.write(`entitlement-gate: ${error}\n`);
    process.stderr.write("entitlement-gate: see --help for every option\n");
    process.exitCode = 2;
    return;
  }
  const { settings } = parsed;
  const logger = createLogger(settings.logLevel);
  const plane = await startControlPlane(settings, { logger });
  const ready = plane.readiness();
  const customers = plane.store.all().filter((e) => e.resourceId === undefined).length;
  const summary = `sync gRPC on ${settings.bindAddress}:${plane.syncPort}, HTTP on ${settings.bindAddress}:${plane.httpPort}, ${customers} customers (${plane.store.size} entries) from ${plane.source.description}`;
  // Not ready means the source has no good data yet (an invalid file); the process keeps running
  // and becomes ready as soon as the source loads.
  logger[ready.ready ? "info" : "warn"](
    {
      syncPort: plane.syncPort,
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

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal means the operator does not want to wait for streams to drain.
      logger.warn({ signal }, "second signal, exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down");
    plane.close().then(
      () => {
        logger.info("stopped");
        process.exitCode = 0;
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`entitlement-gate: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
