// One JSON logger for the whole control plane. Components take a child logger with their name.
import { pino, type Logger } from "pino";

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export type { Logger };

/** `silent` is for tests and embedding; operators choose one of LOG_LEVELS. */
export function createLogger(level: LogLevel | "silent"): Logger {
  return pino({ level, base: { service: "entitlement-gate-control" } });
}
