// Clock and timer.
import { proxy_get_current_time_nanoseconds, proxy_set_tick_period_milliseconds } from "./imports";
import { Status } from "./constants";
import { OUT_WORD } from "./memory";

/** Wall-clock time in unix nanoseconds (0 if the host refuses). */
export function nowNanos(): u64 {
  store<u64>(OUT_WORD, 0);
  if (proxy_get_current_time_nanoseconds(OUT_WORD) != Status.OK) return 0;
  return load<u64>(OUT_WORD);
}

export function nowMillis(): i64 {
  return <i64>(nowNanos() / 1_000_000);
}

export function setTickPeriodMs(periodMs: u32): bool {
  return proxy_set_tick_period_milliseconds(periodMs) == Status.OK;
}
