/**
 * The pure rules of forecasts (src/modules/usage/forecast-rules.ts) and of report ranges
 * (src/modules/reports/report-rules.ts): the burn rate over the trailing window (partial today, a
 * new account, refunds, flooring), the run-out (out already, nothing burning, beyond the horizon),
 * expiring credits, RUN_OUT_SOON's fire and re-arm lines, and the UTC-day ranges of reports.
 * Table-driven cases, then properties.
 */
import fc from 'fast-check';
import {
  burnRate, creditsExpiringMessage, decideRunOutSoon, expiringBuckets, forecast, runOutAt, runOutSoonMessage, usageDaysProblem,
  RUN_OUT_HORIZON_DAYS, USAGE_DAYS_MAX, type DayUsage, type ForecastBucket,
} from '../../src/modules/usage/forecast-rules';
import { reportRange, REPORT_DAYS_MAX } from '../../src/modules/reports/report-rules';
import { addDays, MS_PER_DAY } from '../../src/shared/utc-days';
import { badInputOf } from '../helpers/refusal';

const credits = (n: number) => Math.round(n * 1000);
const HOUR = 3_600_000;
/** Noon of 10 January 2190: today is 2190-01-10, half of it gone. */
const NOW = new Date('2190-01-10T12:00:00Z');
const use = (day: string, consumed: number, refunded = 0, transactions = 1): DayUsage => ({
  day, consumedMillis: credits(consumed), refundedMillis: credits(refunded), transactions,
});
/** `n` credits on each of the days from `from` to `to`. */
const daily = (from: string, to: string, n: number): DayUsage[] => {
  const days: DayUsage[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) days.push(use(d, n));
  return days;
};

describe('burnRate (window 7 days + today so far)', () => {
  test.each<[string, DayUsage[], number, number]>([
    ['no usage', [], 0, 7.5],
    ['10 a day for the 7 full days, 5 so far today (half a day): 75 over 7.5 days', [...daily('2190-01-03', '2190-01-09', 10), use('2190-01-10', 5)], 10, 7.5],
    ['a new account: first used yesterday, 10 then and 5 today: 15 over 1.5 days', [use('2190-01-09', 10), use('2190-01-10', 5)], 10, 1.5],
    ['first used this morning: divided by one day at least, not extrapolated', [use('2190-01-10', 10)], 10, 1],
    ['the day 8 days ago is outside the window; 7 days ago is inside', [use('2190-01-02', 1000), use('2190-01-03', 15)], 2, 7.5],
    ['a day dated after today (another clock) is not counted', [use('2190-01-11', 1000), use('2190-01-09', 15)], 10, 1.5],
    ['refunds are subtracted', [use('2190-01-09', 20, 5)], 10, 1.5],
    ['more refunded than consumed (older charges): nothing burns', [use('2190-01-09', 1, 50)], 0, 1.5],
    ['a zero-credit charge starts the usage (counted, burns nothing)', [use('2190-01-09', 0), use('2190-01-10', 3)], 2, 1.5],
  ])('%s', (_name, days, perDay, elapsedDays) => {
    const rate = burnRate(days, NOW, 7);
    expect(rate.burnRatePerDayMillis).toBe(credits(perDay));
    expect(rate.elapsedMs).toBe(elapsedDays * MS_PER_DAY);
  });

  test('integers: the rate is floored millicredits', () => {
    // 10 millicredits over 1.5 days = 6.67 a day
    expect(burnRate([{ day: '2190-01-09', consumedMillis: 10, refundedMillis: 0, transactions: 1 }], NOW, 7).burnRatePerDayMillis).toBe(6);
  });

  test('another window: 1 day looks at yesterday and today only', () => {
    const days = [use('2190-01-05', 100), use('2190-01-09', 12), use('2190-01-10', 6)];
    expect(burnRate(days, NOW, 1)).toEqual({ netMillis: credits(18), elapsedMs: 1.5 * MS_PER_DAY, burnRatePerDayMillis: credits(12) });
  });
});

describe('runOutAt', () => {
  const tenADay = burnRate([...daily('2190-01-03', '2190-01-09', 10), use('2190-01-10', 5)], NOW, 7);

  test.each<[string, number, ReturnType<typeof burnRate>, Date | null]>([
    ['30 available at 10 a day: in 3 days', credits(30), tenADay, new Date(NOW.getTime() + 3 * MS_PER_DAY)],
    ['0.001 available: 8.64 seconds', 1, tenADay, new Date(NOW.getTime() + 8_640)],
    ['nothing available: now (already out)', 0, tenADay, NOW],
    ['in overdraft debt: now', -credits(5), tenADay, NOW],
    ['nothing burns: null', credits(30), burnRate([], NOW, 7), null],
    ['nothing burns and nothing available: null', 0, burnRate([], NOW, 7), null],
  ])('%s', (_name, available, rate, expected) => {
    expect(runOutAt(available, rate, NOW)).toEqual(expected);
  });

  test('beyond the horizon (100 years): null; just inside: a date', () => {
    const rate = burnRate([use('2190-01-10', 1)], NOW, 7); // 1 credit a day
    expect(runOutAt(credits(RUN_OUT_HORIZON_DAYS), rate, NOW)).toEqual(new Date(NOW.getTime() + RUN_OUT_HORIZON_DAYS * MS_PER_DAY));
    expect(runOutAt(credits(RUN_OUT_HORIZON_DAYS) + 1, rate, NOW)).toBeNull();
    expect(runOutAt(1_000_000_000_000_000, { netMillis: 1, elapsedMs: MS_PER_DAY, burnRatePerDayMillis: 1 }, NOW)).toBeNull();
  });

  test('uses the exact rate, not the floored one shown', () => {
    // 10 millicredits over 1.5 days (shown as 6 a day): 10 available last 1.5 days
    const rate = burnRate([{ day: '2190-01-09', consumedMillis: 10, refundedMillis: 0, transactions: 1 }], NOW, 7);
    expect(runOutAt(10, rate, NOW)).toEqual(new Date(NOW.getTime() + 1.5 * MS_PER_DAY));
  });
});

describe('expiring credits', () => {
  const inDays = (d: number) => new Date(NOW.getTime() + d * MS_PER_DAY);
  const bucket = (id: string, fields: Partial<ForecastBucket>): ForecastBucket => ({
    id, remainingMillis: credits(10), heldActiveMillis: 0, expiresAt: null, effectiveAt: new Date('2190-01-01T00:00:00Z'), ...fields,
  });
  const BUCKETS = [
    bucket('b-never', {}),
    bucket('b-8-days', { expiresAt: inDays(8) }),
    bucket('b-2-days', { expiresAt: inDays(2), heldActiveMillis: credits(3) }), // 7 free
    bucket('b-lapsed', { expiresAt: inDays(-1) }),
    bucket('b-future', { expiresAt: inDays(1), effectiveAt: inDays(0.5) }), // not live yet
    bucket('b-7-days', { expiresAt: inDays(7), remainingMillis: credits(4) }), // exactly 7 days: within
    bucket('b-held', { expiresAt: inDays(1), heldActiveMillis: credits(10) }), // every credit held: being spent
  ];

  test('free credits of live buckets expiring within the days, soonest first; the next expiry', () => {
    expect(expiringBuckets(BUCKETS, NOW, 7)).toEqual([
      { bucketId: 'b-2-days', freeMillis: credits(7), expiresAt: inDays(2) },
      { bucketId: 'b-7-days', freeMillis: credits(4), expiresAt: inDays(7) },
    ]);
    const f = forecast({ days: [], availableMillis: credits(100), buckets: BUCKETS, now: NOW, windowDays: 7, expiringDays: 7 });
    expect(f).toEqual({ windowDays: 7, burnRatePerDayMillis: 0, runOutAt: null, expiringSoonDays: 7, expiringSoonMillis: credits(11), nextExpiryAt: inDays(2) });
  });

  test('a shorter horizon; nothing expiring; the next expiry beyond the horizon', () => {
    expect(forecast({ days: [], availableMillis: 0, buckets: BUCKETS, now: NOW, windowDays: 7, expiringDays: 1 }).expiringSoonMillis).toBe(0);
    const far = forecast({ days: [], availableMillis: 0, buckets: [bucket('n', {}), bucket('x', { expiresAt: inDays(30) })], now: NOW, windowDays: 7, expiringDays: 7 });
    expect(far).toMatchObject({ expiringSoonMillis: 0, nextExpiryAt: inDays(30) });
    expect(forecast({ days: [], availableMillis: 0, buckets: [], now: NOW, windowDays: 7, expiringDays: 7 })).toMatchObject({ expiringSoonMillis: 0, nextExpiryAt: null });
  });

  test('messages', () => {
    expect(creditsExpiringMessage(credits(7), inDays(2))).toBe('7 credits expire at 2190-01-12T12:00:00.000Z; use them before then.');
    expect(creditsExpiringMessage(credits(1), inDays(2))).toBe('1 credit expires at 2190-01-12T12:00:00.000Z; use them before then.');
    expect(runOutSoonMessage(credits(12.5), new Date(NOW.getTime() + 2.5 * MS_PER_DAY), NOW))
      .toBe('At the current burn rate (12.5 credits a day) your credits run out in about 2 days, around 2190-01-13T00:00:00.000Z.');
    expect(runOutSoonMessage(credits(1), new Date(NOW.getTime() + 30 * HOUR), NOW)).toContain('in about 1 day,');
    expect(runOutSoonMessage(credits(1), new Date(NOW.getTime() + 5 * HOUR), NOW)).toContain('within 5 hours,');
    expect(runOutSoonMessage(credits(1), new Date(NOW.getTime() + HOUR / 2), NOW)).toContain('within the hour,');
    expect(runOutSoonMessage(credits(1), new Date(NOW.getTime() + 1.6 * HOUR), NOW)).toContain('within 2 hours,');
  });
});

describe('decideRunOutSoon (3 days; re-arms beyond 6)', () => {
  const after = (ms: number | null) => (ms === null ? null : new Date(NOW.getTime() + ms));
  test.each<[string, boolean, number, number | null, 'FIRE' | 'REARM' | null]>([
    ['armed, runs out in exactly 3 days: fires', false, credits(30), 3 * MS_PER_DAY, 'FIRE'],
    ['armed, in 1 hour: fires', false, credits(1), HOUR, 'FIRE'],
    ['armed, 1 ms beyond 3 days: nothing', false, credits(30), 3 * MS_PER_DAY + 1, null],
    ['armed, nothing burns: nothing', false, credits(30), null, null],
    ['armed, already out (DEPLETED said so): nothing', false, 0, 0, null],
    ['fired, still within 3 days: stays', true, credits(30), MS_PER_DAY, null],
    ['fired, 4 days (between the lines): stays', true, credits(40), 4 * MS_PER_DAY, null],
    ['fired, exactly 6 days: stays', true, credits(60), 6 * MS_PER_DAY, null],
    ['fired, 1 ms beyond 6 days: re-arms', true, credits(60), 6 * MS_PER_DAY + 1, 'REARM'],
    ['fired, nothing burns any more: re-arms', true, credits(60), null, 'REARM'],
    ['fired, out and still burning: stays', true, 0, 0, null],
  ])('%s', (_name, fired, available, inMs, expected) => {
    expect(decideRunOutSoon({ fired, availableMillis: available, runOutAt: after(inMs), now: NOW, soonDays: 3 })).toBe(expected);
  });
});

describe('usage days and report ranges', () => {
  test.each([[0], [-1], [USAGE_DAYS_MAX + 1], [1.5]])('usageByDay days %p is refused', (days) => {
    expect(usageDaysProblem(days)).toBe(`days must be a whole number from 1 to ${USAGE_DAYS_MAX}`);
  });
  test.each([[1], [30], [USAGE_DAYS_MAX]])('usageByDay days %p is fine', (days) => {
    expect(usageDaysProblem(days)).toBeNull();
  });

  test.each<[string, string, string, { fromDay: string; toDay: string; from: string; to: string; days: number }]>([
    ['a week of whole days', '2190-01-01T00:00:00Z', '2190-01-08T00:00:00Z', { fromDay: '2190-01-01', toDay: '2190-01-07', from: '2190-01-01T00:00:00.000Z', to: '2190-01-08T00:00:00.000Z', days: 7 }],
    ['one hour: its whole day', '2190-01-01T12:00:00Z', '2190-01-01T13:00:00Z', { fromDay: '2190-01-01', toDay: '2190-01-01', from: '2190-01-01T00:00:00.000Z', to: '2190-01-02T00:00:00.000Z', days: 1 }],
    ['one millisecond into the next day touches it', '2190-01-01T23:00:00Z', '2190-01-02T00:00:00.001Z', { fromDay: '2190-01-01', toDay: '2190-01-02', from: '2190-01-01T00:00:00.000Z', to: '2190-01-03T00:00:00.000Z', days: 2 }],
    ['a leap year: 366 days', '2192-01-01T00:00:00Z', '2193-01-01T00:00:00Z', { fromDay: '2192-01-01', toDay: '2192-12-31', from: '2192-01-01T00:00:00.000Z', to: '2193-01-01T00:00:00.000Z', days: 366 }],
  ])('%s', (_name, from, to, expected) => {
    const range = reportRange(new Date(from), new Date(to));
    expect({ ...range, from: range.from.toISOString(), to: range.to.toISOString() }).toEqual(expected);
  });

  test.each<[string, string, string, string]>([
    ['from = to', '2190-01-01T00:00:00Z', '2190-01-01T00:00:00Z', 'from must be before to'],
    ['from after to', '2190-01-02T00:00:00Z', '2190-01-01T00:00:00Z', 'from must be before to'],
    ['367 days', '2192-01-01T00:00:00Z', '2193-01-01T00:00:00.001Z', `a report covers at most ${REPORT_DAYS_MAX} days (UTC); this range touches 367`],
  ])('refused: %s', (_name, from, to, message) => {
    expect(badInputOf(() => reportRange(new Date(from), new Date(to)))).toEqual({ field: 'to', message });
  });
});

describe('properties', () => {
  const dayArb = fc.integer({ min: -10, max: 2 }).map((n) => addDays('2190-01-10', n));
  const usageArb = fc.array(fc.record({
    day: dayArb, consumedMillis: fc.integer({ min: 0, max: 1e12 }), refundedMillis: fc.integer({ min: 0, max: 1e12 }), transactions: fc.nat(100),
  }), { maxLength: 20 });
  const nowArb = fc.integer({ min: 0, max: MS_PER_DAY - 1 }).map((ms) => new Date(Date.parse('2190-01-10T00:00:00Z') + ms));

  test('the rate is net ÷ elapsed, floored, never more than the net, and elapsed is at least a day', () => {
    fc.assert(fc.property(usageArb, nowArb, fc.integer({ min: 1, max: 90 }), (days, now, windowDays) => {
      const rate = burnRate(days, now, windowDays);
      expect(rate.elapsedMs).toBeGreaterThanOrEqual(MS_PER_DAY);
      expect(rate.elapsedMs).toBeLessThanOrEqual((windowDays + 1) * MS_PER_DAY);
      expect(rate.burnRatePerDayMillis).toBeLessThanOrEqual(rate.netMillis);
      const exact = BigInt(rate.netMillis) * BigInt(MS_PER_DAY);
      expect(BigInt(rate.burnRatePerDayMillis) * BigInt(rate.elapsedMs) <= exact).toBe(true);
      expect(BigInt(rate.burnRatePerDayMillis + 1) * BigInt(rate.elapsedMs) > exact).toBe(true);
    }));
  });

  test('steady use of r a day over the whole window is a rate of r, at the start of today', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 90 }), (perDay, windowDays) => {
      const now = new Date('2190-01-10T00:00:00Z');
      const days = daily(addDays('2190-01-10', -windowDays), '2190-01-09', 0).map((d) => ({ ...d, consumedMillis: perDay }));
      expect(burnRate(days, now, windowDays).burnRatePerDayMillis).toBe(perDay);
    }));
  });

  test('more available never runs out sooner; a run-out is never before now', () => {
    fc.assert(fc.property(usageArb, nowArb, fc.integer({ min: -1e9, max: 1e12 }), fc.integer({ min: 0, max: 1e12 }), (days, now, available, more) => {
      const rate = burnRate(days, now, 7);
      const a = runOutAt(available, rate, now);
      const b = runOutAt(available + more, rate, now);
      if (a === null) expect(b).toBeNull();
      else {
        expect(a.getTime()).toBeGreaterThanOrEqual(now.getTime());
        if (b !== null) expect(b.getTime()).toBeGreaterThanOrEqual(a.getTime());
      }
    }));
  });

  test('hysteresis: a forecast that fires an armed wallet never re-arms a fired one', () => {
    fc.assert(fc.property(fc.option(fc.integer({ min: -MS_PER_DAY, max: 20 * MS_PER_DAY })), fc.integer({ min: -1e6, max: 1e9 }), fc.integer({ min: 1, max: 90 }), (inMs, available, soonDays) => {
      const runOut = inMs === null ? null : new Date(NOW.getTime() + inMs);
      const armed = decideRunOutSoon({ fired: false, availableMillis: available, runOutAt: runOut, now: NOW, soonDays });
      const fired = decideRunOutSoon({ fired: true, availableMillis: available, runOutAt: runOut, now: NOW, soonDays });
      expect(armed === null || armed === 'FIRE').toBe(true);
      expect(fired === null || fired === 'REARM').toBe(true);
      if (armed === 'FIRE') expect(fired).toBeNull();
    }));
  });
});
