import type { ResetPeriod } from "../model/entitlements.ts";

export interface UsagePeriod {
  /** Epoch milliseconds, inclusive. */
  startMs: number;
  /** Epoch milliseconds, exclusive. */
  endMs: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const WEEK_MS = 7 * DAY_MS;

function fixedPeriodMs(resetPeriod: ResetPeriod): number | undefined {
  switch (resetPeriod) {
    case "HOUR":
      return HOUR_MS;
    case "DAY":
      return DAY_MS;
    case "WEEK":
      return WEEK_MS;
    default:
      return undefined;
  }
}

function daysInMonthUtc(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/**
 * The anchor moved by `months` calendar months in UTC, its day clamped to the target month's last
 * day. Always computed from the anchor (never step by step) so Jan 31 gives Feb 28 and then Mar 31,
 * as dayjs `anchor.add(n, "month")` does in Stigg's SDK.
 */
export function addCalendarMonthsUtc(anchorMs: number, months: number): number {
  const anchor = new Date(anchorMs);
  const totalMonths = anchor.getUTCFullYear() * 12 + anchor.getUTCMonth() + months;
  const year = Math.floor(totalMonths / 12);
  const monthIndex = totalMonths - year * 12;
  const day = Math.min(anchor.getUTCDate(), daysInMonthUtc(year, monthIndex));
  const timeOfDayMs = anchorMs - Date.UTC(anchor.getUTCFullYear(), anchor.getUTCMonth(), anchor.getUTCDate());
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not.
  const start = new Date(0);
  start.setUTCFullYear(year, monthIndex, day);
  return start.getTime() + timeOfDayMs;
}

function calendarStep(resetPeriod: ResetPeriod): number {
  return resetPeriod === "YEAR" ? 12 : 1;
}

/**
 * Stigg's usage window: start = anchor + n·period for the largest n >= 0 with start <= now, and
 * end = anchor + (n+1)·period. Before the anchor the first window [anchor, anchor + period) applies,
 * so a customer whose period has not begun yet is never given a window in the past.
 */
export function currentUsagePeriod(anchorMs: number, resetPeriod: ResetPeriod, nowMs: number): UsagePeriod {
  const fixed = fixedPeriodMs(resetPeriod);
  if (fixed !== undefined) {
    const n = nowMs <= anchorMs ? 0 : Math.floor((nowMs - anchorMs) / fixed);
    return { startMs: anchorMs + n * fixed, endMs: anchorMs + (n + 1) * fixed };
  }

  const step = calendarStep(resetPeriod);
  const at = (n: number): number => addCalendarMonthsUtc(anchorMs, n * step);
  if (nowMs <= anchorMs) return { startMs: anchorMs, endMs: at(1) };

  // Estimate from the calendar difference, then correct by at most a step either way: the clamped
  // day and the time of day can put the true boundary one period off the estimate.
  const anchor = new Date(anchorMs);
  const now = new Date(nowMs);
  const monthDiff =
    (now.getUTCFullYear() - anchor.getUTCFullYear()) * 12 + (now.getUTCMonth() - anchor.getUTCMonth());
  let n = Math.max(0, Math.floor(monthDiff / step));
  while (n > 0 && at(n) > nowMs) n -= 1;
  while (at(n + 1) <= nowMs) n += 1;
  return { startMs: at(n), endMs: at(n + 1) };
}
