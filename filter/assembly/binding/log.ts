// Logging through proxy_log, filtered in the module against the host's level so that a disabled level
// costs no host call. The level is cached: refreshLogLevel() runs on configure and on tick, never per
// request.
import { proxy_get_log_level, proxy_log } from "./imports";
import { LogLevel, Status } from "./constants";
import { OUT_WORD } from "./memory";

let currentLevel: i32 = LogLevel.INFO;

export function refreshLogLevel(): void {
  store<u32>(OUT_WORD, <u32>LogLevel.INFO);
  if (proxy_get_log_level(OUT_WORD) == Status.OK) {
    const level = load<i32>(OUT_WORD);
    if (level >= LogLevel.TRACE && level <= LogLevel.CRITICAL + 1) currentLevel = level;
  }
}

export function logLevel(): i32 {
  return currentLevel;
}

export function isLogEnabled(level: i32): bool {
  return level >= currentLevel;
}

export function log(level: i32, message: string): void {
  if (level < currentLevel) return;
  const bytes = String.UTF8.encode(message);
  // A failing log call has nowhere to report to; ignore its status.
  proxy_log(level, changetype<usize>(bytes), <usize>bytes.byteLength);
}

export function logDebug(message: string): void { log(LogLevel.DEBUG, message); }
export function logInfo(message: string): void { log(LogLevel.INFO, message); }
export function logWarn(message: string): void { log(LogLevel.WARN, message); }
export function logError(message: string): void { log(LogLevel.ERROR, message); }
