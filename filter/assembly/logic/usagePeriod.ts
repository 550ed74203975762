// Usage-period rollover, as Stigg's SDK computes it: the current period starts at anchor + n·period for
// the largest n with start <= now. MONTH and YEAR add calendar months to the anchor itself (not step by
// step), clamping the day to the month's last day like dayjs `anchor.add(n, "month")`; all in UTC.
import { ResetPeriod } from "./entryDecoder";

const MS_PER_HOUR: i64 = 3_600_000;
const MS_PER_DAY: i64 = 86_400_000;

@inline function floorDiv(a: i64, b: i64): i64 {
  const q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
export function daysFromCivil(year: i64, month: i32, day: i32): i64 {
  const y = month <= 2 ? year - 1 : year;
  const era = floorDiv(y, 400);
  const yoe = y - era * 400;
  const mp = <i64>((month + 9) % 12);
  const doy = (153 * mp + 2) / 5 + <i64>day - 1;
  const doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

export class CivilDate {
  constructor(public year: i64, public month: i32, public day: i32) {}
}

export function civilFromDays(days: i64): CivilDate {
  const z = days + 719468;
  const era = floorDiv(z, 146097);
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const day = <i32>(doy - (153 * mp + 2) / 5 + 1);
  const month = <i32>(mp < 10 ? mp + 3 : mp - 9);
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return new CivilDate(year, month, day);
}

function isLeapYear(year: i64): bool {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

export function daysInMonth(year: i64, month: i32): i32 {
  if (month == 2) return isLeapYear(year) ? 29 : 28;
  if (month == 4 || month == 6 || month == 9 || month == 11) return 30;
  return 31;
}

/** `timeMs` plus `months` calendar months, day clamped to the target month's length. */
export function addMonthsMs(timeMs: i64, months: i64): i64 {
  const days = floorDiv(timeMs, MS_PER_DAY);
  const timeOfDay = timeMs - days * MS_PER_DAY;
  const date = civilFromDays(days);
  const total = date.year * 12 + <i64>(date.month - 1) + months;
  const year = floorDiv(total, 12);
  const month = <i32>(total - year * 12) + 1;
  const day = min(date.day, daysInMonth(year, month));
  return daysFromCivil(year, month, day) * MS_PER_DAY + timeOfDay;
}

export class UsagePeriod {
  constructor(public startMs: i64, public endMs: i64) {}
}

/** The period containing `nowMs`, or null for an unknown period kind. */
export function currentPeriod(resetPeriod: u8, anchorMs: i64, nowMs: i64): UsagePeriod | null {
  let fixedMs: i64 = 0;
  if (resetPeriod == ResetPeriod.HOUR) fixedMs = MS_PER_HOUR;
  else if (resetPeriod == ResetPeriod.DAY) fixedMs = MS_PER_DAY;
  else if (resetPeriod == ResetPeriod.WEEK) fixedMs = 7 * MS_PER_DAY;
  if (fixedMs > 0) {
    // Before the anchor the first period applies (Stigg's window never lies in the past of its anchor).
    const n = nowMs <= anchorMs ? 0 : floorDiv(nowMs - anchorMs, fixedMs);
    const start = anchorMs + n * fixedMs;
    return new UsagePeriod(start, start + fixedMs);
  }
  let step: i64;
  if (resetPeriod == ResetPeriod.MONTH) step = 1;
  else if (resetPeriod == ResetPeriod.YEAR) step = 12;
  else return null;
  if (nowMs <= anchorMs) return new UsagePeriod(anchorMs, addMonthsMs(anchorMs, step));
  const anchor = civilFromDays(floorDiv(anchorMs, MS_PER_DAY));
  const now = civilFromDays(floorDiv(nowMs, MS_PER_DAY));
  const monthsApart = (now.year - anchor.year) * 12 + <i64>(now.month - anchor.month);
  let n = floorDiv(monthsApart, step);
  // The estimate is off by at most one step either way (day of month, time of day).
  for (let i = 0; i < 3 && addMonthsMs(anchorMs, n * step) > nowMs; i++) n--;
  for (let i = 0; i < 3 && addMonthsMs(anchorMs, (n + 1) * step) <= nowMs; i++) n++;
  return new UsagePeriod(addMonthsMs(anchorMs, n * step), addMonthsMs(anchorMs, (n + 1) * step));
}
