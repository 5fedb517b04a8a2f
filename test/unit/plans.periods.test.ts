/**
 * Billing period arithmetic (src/modules/plans/periods.ts): periods counted from an anchor in UTC,
 * MONTH keeping the anchor's day clamped to the month end, YEAR = 12 months, DAY / WEEK exact.
 * Table-driven cases, then properties over random anchors, intervals, counts and indices.
 */
import fc from 'fast-check';
import type { BillingIntervalName } from '../../src/db/schema';
import { addMonths, period, periodBoundary } from '../../src/modules/plans/periods';

const DAY_MS = 24 * 3600 * 1000;
const utc = (iso: string) => new Date(iso);
const iso = (date: Date) => date.toISOString();
const daysInMonth = (year: number, monthIndex: number) => new Date(Date.UTC(year, monthIndex + 1, 0)).getUTCDate();

/** Boundaries 0..expected.length-1 of a schedule, as ISO strings. */
const boundaries = (anchor: string, interval: BillingIntervalName, count: number, n: number) =>
  Array.from({ length: n }, (_, index) => iso(periodBoundary(utc(anchor), interval, count, index)));

describe('addMonths', () => {
  test.each<[string, number, string]>([
    ['2027-01-15T00:00:00.000Z', 0, '2027-01-15T00:00:00.000Z'],
    ['2027-01-15T00:00:00.000Z', 1, '2027-02-15T00:00:00.000Z'],
    ['2027-01-31T00:00:00.000Z', 1, '2027-02-28T00:00:00.000Z'], // 2027 is a common year
    ['2028-01-31T00:00:00.000Z', 1, '2028-02-29T00:00:00.000Z'], // 2028 is a leap year
    ['2027-01-30T00:00:00.000Z', 1, '2027-02-28T00:00:00.000Z'],
    ['2027-01-29T00:00:00.000Z', 1, '2027-02-28T00:00:00.000Z'],
    ['2028-01-29T00:00:00.000Z', 1, '2028-02-29T00:00:00.000Z'],
    ['2027-03-31T00:00:00.000Z', 1, '2027-04-30T00:00:00.000Z'],
    ['2027-12-31T23:59:59.999Z', 1, '2028-01-31T23:59:59.999Z'], // across the year end, time kept
    ['2027-11-30T08:00:00.000Z', 3, '2028-02-29T08:00:00.000Z'],
    ['2027-01-31T00:00:00.000Z', 12, '2028-01-31T00:00:00.000Z'],
    ['2028-02-29T12:00:00.000Z', 12, '2029-02-28T12:00:00.000Z'],
    ['2028-02-29T12:00:00.000Z', 48, '2032-02-29T12:00:00.000Z'],
    ['2027-01-31T00:00:00.000Z', 25, '2029-02-28T00:00:00.000Z'],
    // backwards too (not used by subscriptions, but the function takes any integer)
    ['2027-01-15T00:00:00.000Z', -1, '2026-12-15T00:00:00.000Z'],
    ['2028-03-31T00:00:00.000Z', -1, '2028-02-29T00:00:00.000Z'],
    ['2027-03-31T00:00:00.000Z', -13, '2026-02-28T00:00:00.000Z'],
  ])('%s + %d months = %s', (anchor, months, expected) => {
    expect(iso(addMonths(utc(anchor), months))).toBe(expected);
  });

  test('does not change its argument', () => {
    const anchor = utc('2027-01-31T10:00:00.000Z');
    addMonths(anchor, 1);
    expect(iso(anchor)).toBe('2027-01-31T10:00:00.000Z');
  });
});

describe('periodBoundary', () => {
  test.each<[string, string, BillingIntervalName, number, string[]]>([
    ['MONTH from the 31st clamps to each month end and comes back to the 31st', '2027-01-31T00:00:00.000Z', 'MONTH', 1,
      ['2027-01-31T00:00:00.000Z', '2027-02-28T00:00:00.000Z', '2027-03-31T00:00:00.000Z', '2027-04-30T00:00:00.000Z', '2027-05-31T00:00:00.000Z', '2027-06-30T00:00:00.000Z']],
    ['MONTH from the 31st in a leap year', '2028-01-31T00:00:00.000Z', 'MONTH', 1,
      ['2028-01-31T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-31T00:00:00.000Z']],
    ['MONTH from the 30th', '2027-01-30T06:30:00.000Z', 'MONTH', 1,
      ['2027-01-30T06:30:00.000Z', '2027-02-28T06:30:00.000Z', '2027-03-30T06:30:00.000Z', '2027-04-30T06:30:00.000Z']],
    ['MONTH from the 29th, common year', '2027-01-29T00:00:00.000Z', 'MONTH', 1,
      ['2027-01-29T00:00:00.000Z', '2027-02-28T00:00:00.000Z', '2027-03-29T00:00:00.000Z']],
    ['MONTH from the 29th, leap year', '2028-01-29T00:00:00.000Z', 'MONTH', 1,
      ['2028-01-29T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-29T00:00:00.000Z']],
    ['MONTH from the 31st of December crosses the year', '2027-12-31T23:00:00.000Z', 'MONTH', 1,
      ['2027-12-31T23:00:00.000Z', '2028-01-31T23:00:00.000Z', '2028-02-29T23:00:00.000Z', '2028-03-31T23:00:00.000Z']],
    ['every 3 months from the 31st', '2027-01-31T00:00:00.000Z', 'MONTH', 3,
      ['2027-01-31T00:00:00.000Z', '2027-04-30T00:00:00.000Z', '2027-07-31T00:00:00.000Z', '2027-10-31T00:00:00.000Z', '2028-01-31T00:00:00.000Z']],
    ['every 2 months from 31 Dec reaches 29 Feb of a leap year', '2027-12-31T00:00:00.000Z', 'MONTH', 2,
      ['2027-12-31T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-04-30T00:00:00.000Z', '2028-06-30T00:00:00.000Z', '2028-08-31T00:00:00.000Z']],
    ['YEAR from 29 Feb of a leap year: 28 Feb in common years, 29 Feb again in 2032', '2028-02-29T12:34:56.789Z', 'YEAR', 1,
      ['2028-02-29T12:34:56.789Z', '2029-02-28T12:34:56.789Z', '2030-02-28T12:34:56.789Z', '2031-02-28T12:34:56.789Z', '2032-02-29T12:34:56.789Z']],
    ['every 2 years from 29 Feb', '2028-02-29T00:00:00.000Z', 'YEAR', 2,
      ['2028-02-29T00:00:00.000Z', '2030-02-28T00:00:00.000Z', '2032-02-29T00:00:00.000Z']],
    ['YEAR from an ordinary day', '2027-07-04T09:00:00.000Z', 'YEAR', 1,
      ['2027-07-04T09:00:00.000Z', '2028-07-04T09:00:00.000Z', '2029-07-04T09:00:00.000Z']],
    ['DAY is exactly 24 h, across month and year ends', '2027-12-30T18:00:00.000Z', 'DAY', 1,
      ['2027-12-30T18:00:00.000Z', '2027-12-31T18:00:00.000Z', '2028-01-01T18:00:00.000Z', '2028-01-02T18:00:00.000Z']],
    ['DAY across 28 Feb of a leap year', '2028-02-28T00:00:00.000Z', 'DAY', 1,
      ['2028-02-28T00:00:00.000Z', '2028-02-29T00:00:00.000Z', '2028-03-01T00:00:00.000Z']],
    ['every 10 days', '2027-01-25T00:00:00.000Z', 'DAY', 10,
      ['2027-01-25T00:00:00.000Z', '2027-02-04T00:00:00.000Z', '2027-02-14T00:00:00.000Z', '2027-02-24T00:00:00.000Z', '2027-03-06T00:00:00.000Z']],
    ['WEEK is exactly 7 × 24 h', '2027-02-22T07:15:00.000Z', 'WEEK', 1,
      ['2027-02-22T07:15:00.000Z', '2027-03-01T07:15:00.000Z', '2027-03-08T07:15:00.000Z']],
    ['every 2 weeks across a leap day', '2028-02-20T00:00:00.000Z', 'WEEK', 2,
      ['2028-02-20T00:00:00.000Z', '2028-03-05T00:00:00.000Z', '2028-03-19T00:00:00.000Z']],
  ])('%s', (_name, anchor, interval, count, expected) => {
    expect(boundaries(anchor, interval, count, expected.length)).toEqual(expected);
  });

  test.each<[BillingIntervalName, number]>([['DAY', 1], ['WEEK', 1], ['MONTH', 1], ['YEAR', 1], ['MONTH', 3], ['DAY', 120]])(
    'boundary 0 of %s × %d is the anchor itself', (interval, count) => {
      const anchor = utc('2027-05-31T13:14:15.161Z');
      expect(periodBoundary(anchor, interval, count, 0).getTime()).toBe(anchor.getTime());
    });

  test('counts from the anchor, not from the previous boundary (31 Jan → 28 Feb → 31 Mar, not 28 Mar)', () => {
    const anchor = utc('2027-01-31T00:00:00.000Z');
    const second = periodBoundary(anchor, 'MONTH', 1, 1);
    expect(iso(periodBoundary(anchor, 'MONTH', 1, 2))).toBe('2027-03-31T00:00:00.000Z');
    expect(iso(periodBoundary(second, 'MONTH', 1, 1))).toBe('2027-03-28T00:00:00.000Z');
  });

  test('YEAR × n is MONTH × 12n', () => {
    const anchor = utc('2028-02-29T05:00:00.000Z');
    for (let index = 0; index < 10; index += 1) {
      expect(periodBoundary(anchor, 'YEAR', 3, index).getTime()).toBe(periodBoundary(anchor, 'MONTH', 36, index).getTime());
    }
  });
});

describe('period', () => {
  test.each<[string, BillingIntervalName, number, number, string, string]>([
    ['2027-01-31T10:00:00.000Z', 'MONTH', 1, 0, '2027-01-31T10:00:00.000Z', '2027-02-28T10:00:00.000Z'],
    ['2027-01-31T10:00:00.000Z', 'MONTH', 1, 1, '2027-02-28T10:00:00.000Z', '2027-03-31T10:00:00.000Z'],
    ['2027-01-31T10:00:00.000Z', 'MONTH', 1, 3, '2027-04-30T10:00:00.000Z', '2027-05-31T10:00:00.000Z'],
    ['2027-01-31T10:00:00.000Z', 'MONTH', 3, 1, '2027-04-30T10:00:00.000Z', '2027-07-31T10:00:00.000Z'],
    ['2028-02-29T00:00:00.000Z', 'YEAR', 1, 0, '2028-02-29T00:00:00.000Z', '2029-02-28T00:00:00.000Z'],
    ['2028-02-29T00:00:00.000Z', 'YEAR', 1, 3, '2031-02-28T00:00:00.000Z', '2032-02-29T00:00:00.000Z'],
    ['2027-03-01T00:00:00.000Z', 'DAY', 1, 0, '2027-03-01T00:00:00.000Z', '2027-03-02T00:00:00.000Z'],
    ['2027-03-01T00:00:00.000Z', 'WEEK', 4, 2, '2027-04-26T00:00:00.000Z', '2027-05-24T00:00:00.000Z'],
  ])('%s %s × %d, period %d: %s → %s', (anchor, interval, count, index, start, end) => {
    expect(period(utc(anchor), interval, count, index)).toEqual({ index, start: utc(start), end: utc(end) });
  });

  test.each<[BillingIntervalName, number]>([['DAY', 1], ['WEEK', 1], ['MONTH', 1], ['MONTH', 3], ['YEAR', 1], ['WEEK', 3]])(
    'consecutive %s × %d periods touch: the end of n is the start of n + 1', (interval, count) => {
      const anchor = utc('2027-01-31T23:30:00.000Z');
      for (let index = 0; index < 60; index += 1) {
        const current = period(anchor, interval, count, index);
        const next = period(anchor, interval, count, index + 1);
        expect(current.end.getTime()).toBe(next.start.getTime());
        expect(current.start.getTime()).toBeLessThan(current.end.getTime());
      }
    });

  test('MONTH periods from the 31st have the lengths of their months', () => {
    const anchor = utc('2027-01-31T00:00:00.000Z');
    const lengthsInDays = Array.from({ length: 6 }, (_, index) => {
      const { start, end } = period(anchor, 'MONTH', 1, index);
      return (end.getTime() - start.getTime()) / DAY_MS;
    });
    // 31 Jan → 28 Feb → 31 Mar → 30 Apr → 31 May → 30 Jun → 31 Jul
    expect(lengthsInDays).toEqual([28, 31, 30, 31, 30, 31]);
  });
});

describe('properties', () => {
  const anchors = fc.date({ min: utc('1970-01-01T00:00:00.000Z'), max: utc('2100-12-31T23:59:59.999Z'), noInvalidDate: true });
  const intervals = fc.constantFrom<BillingIntervalName>('DAY', 'WEEK', 'MONTH', 'YEAR');
  const counts = fc.integer({ min: 1, max: 120 });
  const indices = fc.integer({ min: 0, max: 240 });

  test('boundaries strictly increase and consecutive periods touch', () => {
    fc.assert(fc.property(anchors, intervals, counts, indices, (anchor, interval, count, index) => {
      const current = period(anchor, interval, count, index);
      const next = period(anchor, interval, count, index + 1);
      expect(current.start.getTime()).toBeLessThan(current.end.getTime());
      expect(current.end.getTime()).toBe(next.start.getTime());
      expect(current.start.getTime()).toBe(periodBoundary(anchor, interval, count, index).getTime());
    }), { numRuns: 500 });
  });

  test('MONTH and YEAR boundaries: the target month, the day min(anchor day, days in month), the time of day kept', () => {
    fc.assert(fc.property(anchors, fc.constantFrom<BillingIntervalName>('MONTH', 'YEAR'), counts, indices, (anchor, interval, count, index) => {
      const boundary = periodBoundary(anchor, interval, count, index);
      const months = count * index * (interval === 'YEAR' ? 12 : 1);
      const total = anchor.getUTCFullYear() * 12 + anchor.getUTCMonth() + months;
      expect(boundary.getUTCFullYear() * 12 + boundary.getUTCMonth()).toBe(total);
      expect(boundary.getUTCDate()).toBe(Math.min(anchor.getUTCDate(), daysInMonth(boundary.getUTCFullYear(), boundary.getUTCMonth())));
      const timeOfDay = (d: Date) => d.getTime() - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      expect(timeOfDay(boundary)).toBe(timeOfDay(anchor));
    }), { numRuns: 500 });
  });

  test('DAY and WEEK boundaries are exact multiples of 24 h from the anchor', () => {
    fc.assert(fc.property(anchors, fc.constantFrom<BillingIntervalName>('DAY', 'WEEK'), counts, indices, (anchor, interval, count, index) => {
      const unit = interval === 'WEEK' ? 7 * DAY_MS : DAY_MS;
      expect(periodBoundary(anchor, interval, count, index).getTime() - anchor.getTime()).toBe(count * index * unit);
    }), { numRuns: 300 });
  });
});
