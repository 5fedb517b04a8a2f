/**
 * Billing period arithmetic, pure and in UTC. A subscription's periods are counted from an anchor:
 * period n runs from `periodBoundary(anchor, interval, count, n)` to boundary n + 1. Counting from the
 * anchor (never from the previous period's end) is what brings a period started on the 31st back to
 * the 31st after a shorter month.
 *
 * - DAY / WEEK: exactly 24 h / 7 × 24 h per unit (UTC has no daylight-saving shifts).
 * - MONTH: the anchor's day of month and time of day, clamped to the last day of shorter months
 *   (31 Jan → 28/29 Feb → 31 Mar → 30 Apr → 31 May).
 * - YEAR: 12 months, so 29 Feb renews on 28 Feb in common years and on 29 Feb in leap years.
 */
import type { BillingIntervalName } from '../../db/schema';

const DAY_MS = 24 * 3600 * 1000;

function daysInMonth(year: number, monthIndex: number): number {
  return new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();
}

/** `anchor` plus `months` calendar months, the day clamped to the target month's last day. */
export function addMonths(anchor: Date, months: number): Date {
  const total = anchor.getUTCMonth() + months;
  const year = anchor.getUTCFullYear() + Math.floor(total / 12);
  const month = ((total % 12) + 12) % 12;
  const day = Math.min(anchor.getUTCDate(), daysInMonth(year, month));
  return new Date(Date.UTC(year, month, day, anchor.getUTCHours(), anchor.getUTCMinutes(), anchor.getUTCSeconds(), anchor.getUTCMilliseconds()));
}

/** The start of period `index` (0 = the anchor itself) of a schedule of `intervalCount` × `interval`. */
export function periodBoundary(anchor: Date, interval: BillingIntervalName, intervalCount: number, index: number): Date {
  const units = intervalCount * index;
  switch (interval) {
    case 'DAY': return new Date(anchor.getTime() + units * DAY_MS);
    case 'WEEK': return new Date(anchor.getTime() + units * 7 * DAY_MS);
    case 'MONTH': return addMonths(anchor, units);
    case 'YEAR': return addMonths(anchor, units * 12);
  }
}

export interface Period {
  index: number;
  start: Date;
  end: Date;
}

export function period(anchor: Date, interval: BillingIntervalName, intervalCount: number, index: number): Period {
  return { index, start: periodBoundary(anchor, interval, intervalCount, index), end: periodBoundary(anchor, interval, intervalCount, index + 1) };
}
