import { test } from "node:test";
import assert from "node:assert/strict";
import { addCalendarMonthsUtc, currentUsagePeriod } from "../../control/evaluation/usagePeriod.ts";
import type { ResetPeriod } from "../../control/model/entitlements.ts";

const ms = (iso: string): number => Date.parse(iso);
const iso = (epochMs: number): string => new Date(epochMs).toISOString();

function period(anchor: string, resetPeriod: ResetPeriod, now: string): [string, string] {
  const p = currentUsagePeriod(ms(anchor), resetPeriod, ms(now));
  return [iso(p.startMs), iso(p.endMs)];
}

test("a monthly period anchored on Jan 31 ends on Feb 28 in a common year", () => {
  assert.deepEqual(period("2025-01-31T10:00:00.000Z", "MONTH", "2025-02-15T00:00:00.000Z"), [
    "2025-01-31T10:00:00.000Z",
    "2025-02-28T10:00:00.000Z",
  ]);
});

test("a monthly period anchored on Jan 31 ends on Feb 29 in a leap year", () => {
  assert.deepEqual(period("2024-01-31T00:00:00.000Z", "MONTH", "2024-02-10T00:00:00.000Z"), [
    "2024-01-31T00:00:00.000Z",
    "2024-02-29T00:00:00.000Z",
  ]);
});

test("monthly periods return to day 31 after a short month because they count from the anchor", () => {
  assert.deepEqual(period("2025-01-31T00:00:00.000Z", "MONTH", "2025-03-05T00:00:00.000Z"), [
    "2025-02-28T00:00:00.000Z",
    "2025-03-31T00:00:00.000Z",
  ]);
});

test("a period starts exactly at its boundary instant", () => {
  assert.deepEqual(period("2025-01-15T12:00:00.000Z", "MONTH", "2025-03-15T12:00:00.000Z"), [
    "2025-03-15T12:00:00.000Z",
    "2025-04-15T12:00:00.000Z",
  ]);
  assert.deepEqual(period("2025-01-15T12:00:00.000Z", "MONTH", "2025-03-15T11:59:59.999Z"), [
    "2025-02-15T12:00:00.000Z",
    "2025-03-15T12:00:00.000Z",
  ]);
});

test("a time before the anchor gets the first period", () => {
  assert.deepEqual(period("2025-06-01T00:00:00.000Z", "MONTH", "2025-01-01T00:00:00.000Z"), [
    "2025-06-01T00:00:00.000Z",
    "2025-07-01T00:00:00.000Z",
  ]);
  assert.deepEqual(period("2025-06-01T00:00:00.000Z", "HOUR", "2025-01-01T00:00:00.000Z"), [
    "2025-06-01T00:00:00.000Z",
    "2025-06-01T01:00:00.000Z",
  ]);
});

test("a yearly period anchored on Feb 29 clamps to Feb 28 and comes back in the next leap year", () => {
  assert.deepEqual(period("2024-02-29T00:00:00.000Z", "YEAR", "2025-06-01T00:00:00.000Z"), [
    "2025-02-28T00:00:00.000Z",
    "2026-02-28T00:00:00.000Z",
  ]);
  assert.deepEqual(period("2024-02-29T00:00:00.000Z", "YEAR", "2028-03-01T00:00:00.000Z"), [
    "2028-02-29T00:00:00.000Z",
    "2029-02-28T00:00:00.000Z",
  ]);
});

test("weekly, daily and hourly periods have fixed lengths", () => {
  assert.deepEqual(period("2025-01-01T09:30:00.000Z", "WEEK", "2025-01-20T00:00:00.000Z"), [
    "2025-01-15T09:30:00.000Z",
    "2025-01-22T09:30:00.000Z",
  ]);
  assert.deepEqual(period("2025-01-01T09:30:00.000Z", "DAY", "2025-03-01T09:29:59.000Z"), [
    "2025-02-28T09:30:00.000Z",
    "2025-03-01T09:30:00.000Z",
  ]);
  assert.deepEqual(period("2025-01-01T09:30:00.000Z", "HOUR", "2025-01-01T12:45:00.000Z"), [
    "2025-01-01T12:30:00.000Z",
    "2025-01-01T13:30:00.000Z",
  ]);
});

test("month arithmetic keeps the time of day and crosses year ends", () => {
  assert.equal(iso(addCalendarMonthsUtc(ms("2024-11-30T23:59:59.500Z"), 3)), "2025-02-28T23:59:59.500Z");
  assert.equal(iso(addCalendarMonthsUtc(ms("2024-03-31T00:00:00.000Z"), -1)), "2024-02-29T00:00:00.000Z");
});

test("every monthly period contains now and starts on a month boundary of the anchor", () => {
  const anchor = ms("2023-01-31T07:00:00.000Z");
  for (let now = anchor; now < ms("2027-01-01T00:00:00.000Z"); now += 37 * 3_600_000 + 17_000) {
    const p = currentUsagePeriod(anchor, "MONTH", now);
    assert.ok(p.startMs <= now && now < p.endMs, `${iso(now)} in [${iso(p.startMs)}, ${iso(p.endMs)})`);
  }
});
