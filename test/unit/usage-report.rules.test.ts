/**
 * The pure rules of the usage report (src/modules/reports/usage-report.rules.ts): local day starts in
 * zones with half- and quarter-hour offsets and DST switches (also at midnight), snapping, DAY and
 * MONTH boundaries, which UTC days are read at quarter-hour resolution, the limits and the refusals,
 * and the assembly of periods, stocks and slices. Table-driven; expected instants worked out by hand
 * from the zones' offsets (comments).
 */
import fc from 'fast-check';
import {
  assembleUsageReport, boundaryQuarters, checkedTimeZone, localDate, localDayStart, periodOfQuarter, splitDayReads, usageReportRange,
  USAGE_REPORT_DAY_DAYS_MAX, USAGE_REPORT_MONTH_DAYS_MAX, USAGE_SLICES_MAX, type PeriodFlowRow,
} from '../../src/modules/reports/usage-report.rules';
import { zeroFlows } from '../../src/modules/ledger/flows';
import { badInputOf } from '../helpers/refusal';

const iso = (ms: number) => new Date(ms).toISOString();
const d = (text: string) => new Date(text);

describe('localDayStart: the first instant of a local date', () => {
  test.each<[string, string, string, string]>([
    ['UTC', '2024-03-10', '2024-03-10T00:00:00.000Z', 'offset 0'],
    ['Europe/Berlin', '2024-03-31', '2024-03-30T23:00:00.000Z', 'switch day (02:00→03:00): midnight still at +01'],
    ['Europe/Berlin', '2024-04-01', '2024-03-31T22:00:00.000Z', 'after the switch: +02'],
    ['Europe/Berlin', '2024-10-27', '2024-10-26T22:00:00.000Z', 'back-switch day (03:00→02:00): midnight still at +02'],
    ['Europe/Berlin', '2024-10-28', '2024-10-27T23:00:00.000Z', 'after: +01'],
    ['America/New_York', '2024-03-10', '2024-03-10T05:00:00.000Z', 'switch day: midnight at −05'],
    ['America/New_York', '2024-03-11', '2024-03-11T04:00:00.000Z', '−04'],
    ['America/New_York', '2024-11-03', '2024-11-03T04:00:00.000Z', 'back-switch day: midnight at −04'],
    ['America/New_York', '2024-11-04', '2024-11-04T05:00:00.000Z', '−05'],
    ['Asia/Kolkata', '2024-06-01', '2024-05-31T18:30:00.000Z', '+05:30'],
    ['Asia/Kathmandu', '2024-06-01', '2024-05-31T18:15:00.000Z', '+05:45'],
    ['Pacific/Chatham', '2024-04-07', '2024-04-06T10:15:00.000Z', 'DST ends 03:45→02:45 that day: midnight at +13:45'],
    ['Pacific/Chatham', '2024-04-08', '2024-04-07T11:15:00.000Z', '+12:45'],
    ['Pacific/Chatham', '2024-09-29', '2024-09-28T11:15:00.000Z', 'DST starts 02:45→03:45 that day: midnight at +12:45'],
    ['Pacific/Chatham', '2024-09-30', '2024-09-29T10:15:00.000Z', '+13:45'],
    ['America/Santiago', '2022-09-10', '2022-09-10T04:00:00.000Z', '−04'],
    ['America/Santiago', '2022-09-11', '2022-09-11T04:00:00.000Z', 'clocks jump 00:00→01:00 (−04→−03): the day starts at the jump, 01:00 local'],
    ['America/Santiago', '2022-09-12', '2022-09-12T03:00:00.000Z', '−03'],
    ['America/Santiago', '2024-04-07', '2024-04-07T04:00:00.000Z', 'clocks go back 24:00→23:00 (−03→−04) at 03:00Z: the date begins at 00:00 −04'],
    ['America/Havana', '2024-03-10', '2024-03-10T05:00:00.000Z', 'clocks jump 00:00→01:00 (−05→−04): the day starts at the jump'],
  ])('%s %s → %s (%s)', (zone, day, expected) => {
    const start = localDayStart(day, zone);
    expect(iso(start)).toBe(expected);
    // It is the first instant of that date: a millisecond earlier is the day before.
    expect(localDate(start, zone)).toBe(day);
    expect(localDate(start - 1, zone) < day).toBe(true);
  });
});

describe('usageReportRange: snapping and periods', () => {
  test.each<[string, string, string, 'DAY' | 'MONTH', string, string, string[], number, string[]]>([
    // zone, from, to, granularity → snapped from, to, the inner boundaries, local days, the UTC days read by quarter
    ['UTC', '2024-01-15T10:00:00Z', '2024-03-10T05:00:00Z', 'MONTH',
      '2024-01-15T00:00:00.000Z', '2024-03-11T00:00:00.000Z', ['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
      56, []], // Jan 15–31 (17) + Feb (29) + Mar 1–10 (10); every UTC day whole
    ['UTC', '2024-02-28T00:00:00Z', '2024-03-01T00:00:00Z', 'DAY',
      '2024-02-28T00:00:00.000Z', '2024-03-01T00:00:00.000Z', ['2024-02-29T00:00:00.000Z'], 2, []], // a to at midnight is not extended
    ['Europe/Berlin', '2024-02-29T23:00:00Z', '2024-10-31T23:00:00Z', 'MONTH',
      '2024-02-29T23:00:00.000Z', '2024-10-31T23:00:00.000Z',
      // March 1 at +01, April to October 1 at +02, and the end (November 1) at +01 again
      ['2024-03-31T22:00:00.000Z', '2024-04-30T22:00:00.000Z', '2024-05-31T22:00:00.000Z', '2024-06-30T22:00:00.000Z',
        '2024-07-31T22:00:00.000Z', '2024-08-31T22:00:00.000Z', '2024-09-30T22:00:00.000Z'],
      245, ['2024-02-29', '2024-03-31', '2024-04-30', '2024-05-31', '2024-06-30', '2024-07-31', '2024-08-31', '2024-09-30', '2024-10-31']],
    ['Europe/Berlin', '2024-03-30T12:00:00Z', '2024-04-01T12:00:00Z', 'DAY',
      '2024-03-29T23:00:00.000Z', '2024-04-01T22:00:00.000Z', ['2024-03-30T23:00:00.000Z', '2024-03-31T22:00:00.000Z'],
      3, ['2024-03-29', '2024-03-30', '2024-03-31', '2024-04-01']], // March 31 lasts 23 hours
    ['Europe/Berlin', '2024-10-26T00:00:00Z', '2024-10-27T12:00:00Z', 'DAY',
      '2024-10-25T22:00:00.000Z', '2024-10-27T23:00:00.000Z', ['2024-10-26T22:00:00.000Z'],
      2, ['2024-10-25', '2024-10-26', '2024-10-27']], // October 27 lasts 25 hours
    ['America/New_York', '2024-11-02T12:00:00Z', '2024-11-04T01:00:00Z', 'DAY',
      '2024-11-02T04:00:00.000Z', '2024-11-04T05:00:00.000Z', ['2024-11-03T04:00:00.000Z'],
      2, ['2024-11-02', '2024-11-03', '2024-11-04']], // 2024-11-04T01:00Z is still Nov 3 in New York (20:00 −05)
    ['Asia/Kolkata', '2024-05-31T18:29:59Z', '2024-05-31T18:31:00Z', 'DAY',
      // 23:59:59 on May 31 local snaps back to May 31's start; 00:01 on June 1 on to June 2's
      '2024-05-30T18:30:00.000Z', '2024-06-01T18:30:00.000Z', ['2024-05-31T18:30:00.000Z'],
      2, ['2024-05-30', '2024-05-31', '2024-06-01']],
    ['Asia/Kathmandu', '2024-01-01T00:00:00Z', '2024-02-15T00:00:00Z', 'MONTH',
      // 2024-02-15T00:00Z is 05:45 on Feb 15 local: the range ends at Feb 16's start; Jan 1 – Feb 15 local is 31 + 15 days
      '2023-12-31T18:15:00.000Z', '2024-02-15T18:15:00.000Z', ['2024-01-31T18:15:00.000Z'],
      46, ['2023-12-31', '2024-01-31', '2024-02-15']],
    ['Pacific/Chatham', '2024-04-06T10:15:00Z', '2024-04-08T11:15:00Z', 'DAY',
      '2024-04-06T10:15:00.000Z', '2024-04-08T11:15:00.000Z', ['2024-04-07T11:15:00.000Z'],
      2, ['2024-04-06', '2024-04-07', '2024-04-08']], // April 7 lasts 25 hours
    ['America/Santiago', '2022-09-10T12:00:00Z', '2022-09-12T12:00:00Z', 'DAY',
      '2022-09-10T04:00:00.000Z', '2022-09-13T03:00:00.000Z', ['2022-09-11T04:00:00.000Z', '2022-09-12T03:00:00.000Z'],
      3, ['2022-09-10', '2022-09-11', '2022-09-12', '2022-09-13']],
    ['America/Santiago', '2022-08-15T12:00:00Z', '2022-10-01T12:00:00Z', 'MONTH',
      '2022-08-15T04:00:00.000Z', '2022-10-02T03:00:00.000Z', ['2022-09-01T04:00:00.000Z', '2022-10-01T03:00:00.000Z'],
      48, ['2022-08-15', '2022-09-01', '2022-10-01', '2022-10-02']],
  ])('%s %s – %s %s', (zone, from, to, granularity, snappedFrom, snappedTo, inner, localDays, splitDays) => {
    const range = usageReportRange(d(from), d(to), granularity, zone);
    expect(iso(range.from.getTime())).toBe(snappedFrom);
    expect(iso(range.to.getTime())).toBe(snappedTo);
    expect(range.boundaries.map(iso)).toEqual([snappedFrom, ...inner, snappedTo]);
    expect(range.localDays).toBe(localDays);
    expect(range.splitDays).toEqual(splitDays);
    expect(range.timeZone).toBe(zone);
    expect(range.granularity).toBe(granularity);
  });

  test('a DAY report in a zone off UTC reads every UTC day by quarter; in UTC none', () => {
    expect(usageReportRange(d('2024-01-01T00:00:00Z'), d('2024-01-31T00:00:00Z'), 'DAY', 'Asia/Kolkata').splitDays).toHaveLength(32); // Jan 1 – 31 local: Dec 31 18:30Z – Jan 31 18:30Z
    const utc = usageReportRange(d('2024-01-01T00:00:00Z'), d('2024-01-31T00:00:00Z'), 'DAY', 'UTC');
    expect(utc.splitDays).toEqual([]);
    expect(utc.boundaries).toHaveLength(31);
  });

  test('the zone name is spelled as Intl spells it, or kept as given (ICU calls Asia/Kolkata Asia/Calcutta)', () => {
    expect(checkedTimeZone('utc')).toBe('UTC');
    expect(checkedTimeZone('europe/berlin')).toBe('Europe/Berlin');
    expect(checkedTimeZone('Asia/Kolkata')).toBe('Asia/Kolkata');
  });
});

describe('usageReportRange: limits and refusals', () => {
  test.each<[string, string, string, 'DAY' | 'MONTH', string, string]>([
    ['from = to', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z', 'DAY', 'UTC', 'to'],
    ['from after to', '2024-01-02T00:00:00Z', '2024-01-01T00:00:00Z', 'MONTH', 'UTC', 'to'],
    ['DAY: 367 days', '2024-01-01T00:00:00Z', '2025-01-02T00:00:00Z', 'DAY', 'UTC', 'to'],
    ['DAY: 366 UTC days are 367 local days in New York', '2024-01-01T00:00:00Z', '2025-01-01T00:00:00Z', 'DAY', 'America/New_York', 'to'],
    ['MONTH: 1,101 days', '2024-01-01T00:00:00Z', '2027-01-06T00:00:00Z', 'MONTH', 'UTC', 'to'],
    ['an unknown zone', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', 'MONTH', 'Mars/Olympus_Mons', 'timeZone'],
    ['an empty zone', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', 'MONTH', '', 'timeZone'],
    ['a too long zone', '2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z', 'MONTH', 'A'.repeat(65), 'timeZone'],
    // Monrovia kept −00:44:30 until 1972: its midnights are no quarter-hour in UTC
    ['a zone whose days start off the quarter-hour', '1960-01-01T12:00:00Z', '1960-01-03T12:00:00Z', 'DAY', 'Africa/Monrovia', 'timeZone'],
  ])('%s → BAD_USER_INPUT on %s', (_what, from, to, granularity, zone, field) => {
    expect(badInputOf(() => usageReportRange(d(from), d(to), granularity, zone)).field).toBe(field);
  });

  test('the limits themselves are accepted', () => {
    expect(usageReportRange(d('2024-01-01T00:00:00Z'), d('2025-01-01T00:00:00Z'), 'DAY', 'UTC').localDays).toBe(USAGE_REPORT_DAY_DAYS_MAX);
    expect(usageReportRange(d('2024-01-01T00:00:00Z'), d('2027-01-05T00:00:00Z'), 'MONTH', 'UTC').localDays).toBe(USAGE_REPORT_MONTH_DAYS_MAX);
  });

  test('the off-quarter refusal names the zone and the date', () => {
    expect(badInputOf(() => usageReportRange(d('1960-01-01T12:00:00Z'), d('1960-01-03T12:00:00Z'), 'DAY', 'Africa/Monrovia')).message)
      .toBe('time zone Africa/Monrovia: the local day 1960-01-01 starts at 1960-01-01T00:44:30.000Z, not a whole quarter-hour in UTC; reports cut only at quarter-hours');
  });
});

describe('periodOfQuarter (width_bucket)', () => {
  test.each<[number, number]>([[9, 0], [10, 1], [19, 1], [20, 2], [29, 2], [30, 3], [31, 3]])('quarter %d → period %d of [10, 20, 30)', (q, p) => {
    expect(periodOfQuarter(q, [10, 20, 30])).toBe(p);
  });

  test('every boundary is a quarter index', () => {
    const range = usageReportRange(d('2024-03-01T00:00:00Z'), d('2024-06-01T00:00:00Z'), 'MONTH', 'Pacific/Chatham');
    for (const q of boundaryQuarters(range)) expect(Number.isInteger(q)).toBe(true);
  });
});

const row = (period: number, action: string, model: string, flows: Partial<PeriodFlowRow>): PeriodFlowRow => ({ ...zeroFlows(), period, action, model, ...flows });

describe('assembleUsageReport', () => {
  const range = usageReportRange(d('2024-01-01T00:00:00Z'), d('2024-03-01T00:00:00Z'), 'MONTH', 'UTC'); // two periods

  test('periods carry the stocks; totals sum the flows; rows before from open, after to are dropped', () => {
    const report = assembleUsageReport('acc', range, { balanceMillis: 1_000, debtMillis: 0 }, [
      row(0, '', '', { grantedMillis: 500, balanceChangeMillis: 500 }), // earlier on from's UTC day: opening stock only
      row(1, 'gen', 'm1', { consumedMillis: 900, consumedFreeMillis: 600, consumedPurchasedMillis: 100, transactions: 3, balanceChangeMillis: -900, debtChangeMillis: 200 }),
      row(2, '', '', { purchasedMillis: 2_000, balanceChangeMillis: 2_000 }),
      row(2, 'chat', 'm1', { consumedMillis: 300, consumedPurchasedMillis: 300, transactions: 1, refundedMillis: 50, balanceChangeMillis: -250 }),
      row(3, 'gen', 'm2', { consumedMillis: 7_000, transactions: 1, balanceChangeMillis: -7_000 }), // at or after to
    ]);
    // Opening: balance 1,000 + 500 = 1,500, debt 0 → remaining 1,500.
    // Period 1: balance 1,500 − 900 = 600, debt 200 → remaining 800; on credit 900 − 600 − 100 = 200.
    // Period 2: balance 600 + 2,000 − 250 = 2,350, debt 200 → remaining 2,550.
    expect(report.periods.map((p) => [p.start.toISOString(), p.end.toISOString()])).toEqual([
      ['2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z'], ['2024-02-01T00:00:00.000Z', '2024-03-01T00:00:00.000Z'],
    ]);
    expect(report.periods[0].totals).toMatchObject({
      remainingAtStartMillis: 1_500, debtAtStartMillis: 0, consumedMillis: 900, consumedOnCreditMillis: 200, charges: 3, remainingMillis: 800, debtMillis: 200,
    });
    expect(report.periods[1].totals).toMatchObject({
      remainingAtStartMillis: 800, debtAtStartMillis: 200, purchasedMillis: 2_000, consumedMillis: 300, refundedMillis: 50, remainingMillis: 2_550, debtMillis: 200,
    });
    expect(report.totals).toEqual({
      allocatedMillis: 0, purchasedMillis: 2_000, grantedMillis: 0, consumedMillis: 1_200, consumedFreeMillis: 600, consumedPurchasedMillis: 400,
      consumedOnCreditMillis: 200, expiredMillis: 0, refundedMillis: 50, reversedMillis: 0, carriedForwardMillis: 0, charges: 4,
      remainingAtStartMillis: 1_500, debtAtStartMillis: 0, remainingMillis: 2_550, debtMillis: 200,
    });
    expect(report.byAction).toEqual([
      { key: 'gen', consumedMillis: 900, refundedMillis: 0, count: 3 }, { key: 'chat', consumedMillis: 300, refundedMillis: 50, count: 1 },
    ]);
    expect(report.byModel).toEqual([{ key: 'm1', consumedMillis: 1_200, refundedMillis: 50, count: 4 }]);
  });

  test('slices: ties by key, "" for none, rows without usage left out, at most 100', () => {
    const rows = [row(1, '', '', { grantedMillis: 5, balanceChangeMillis: 5 }), row(1, 'b', '', { consumedMillis: 10, transactions: 1 }), row(2, 'a', '', { consumedMillis: 10, transactions: 1 })];
    for (let i = 0; i < 150; i += 1) rows.push(row(1, `x${String(i).padStart(3, '0')}`, '', { consumedMillis: 1, transactions: 1 }));
    const report = assembleUsageReport('acc', range, { balanceMillis: 0, debtMillis: 0 }, rows);
    expect(report.byAction).toHaveLength(USAGE_SLICES_MAX);
    expect(report.byAction.slice(0, 3).map((s) => s.key)).toEqual(['a', 'b', 'x000']);
    expect(report.byModel).toEqual([{ key: '', consumedMillis: 170, refundedMillis: 0, count: 152 }]);
  });

  test('property: periods add up to the totals, and each period opens where the previous closed', () => {
    fc.assert(fc.property(
      fc.array(fc.record({
        period: fc.integer({ min: 0, max: 3 }), consumed: fc.integer({ min: 0, max: 1e6 }), granted: fc.integer({ min: 0, max: 1e6 }),
        debt: fc.integer({ min: -1e5, max: 1e5 }), action: fc.constantFrom('', 'a', 'b'),
      }), { maxLength: 30 }),
      fc.integer({ min: -1e6, max: 1e6 }), fc.integer({ min: 0, max: 1e6 }),
      (raw, balance, debt) => {
        const rows = raw.map((r) => row(r.period, r.action, '', {
          consumedMillis: r.consumed, consumedFreeMillis: r.consumed, grantedMillis: r.granted, transactions: 1,
          balanceChangeMillis: r.granted - r.consumed, debtChangeMillis: r.debt,
        }));
        const report = assembleUsageReport('acc', range, { balanceMillis: balance, debtMillis: debt }, rows);
        const sum = (f: (t: typeof report.totals) => number) => report.periods.reduce((s, p) => s + f(p.totals), 0);
        expect(sum((t) => t.consumedMillis)).toBe(report.totals.consumedMillis);
        expect(sum((t) => t.grantedMillis)).toBe(report.totals.grantedMillis);
        expect(sum((t) => t.charges)).toBe(report.totals.charges);
        expect(report.periods[0].totals.remainingAtStartMillis).toBe(report.totals.remainingAtStartMillis);
        expect(report.periods[1].totals.remainingAtStartMillis).toBe(report.periods[0].totals.remainingMillis);
        expect(report.periods[1].totals.debtAtStartMillis).toBe(report.periods[0].totals.debtMillis);
        expect(report.periods[1].totals.remainingMillis).toBe(report.totals.remainingMillis);
        expect(report.byAction.reduce((s, a) => s + a.consumedMillis, 0)).toBe(report.totals.consumedMillis);
      },
    ));
  });
});

describe('property: boundaries are local midnights in order, days split exactly where a boundary falls inside', () => {
  const zones = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Pacific/Chatham', 'America/Santiago', 'America/Havana', 'Australia/Lord_Howe'];
  test('random ranges in 2020–2030', () => {
    fc.assert(fc.property(
      fc.constantFrom(...zones), fc.constantFrom<'DAY' | 'MONTH'>('DAY', 'MONTH'),
      fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }), fc.integer({ min: 1, max: 200 * 86_400_000 }),
      (zone, granularity, fromMs, lengthMs) => {
        const range = usageReportRange(new Date(fromMs), new Date(fromMs + lengthMs), granularity, zone);
        expect(range.from.getTime()).toBeLessThanOrEqual(fromMs);
        expect(range.to.getTime()).toBeGreaterThanOrEqual(fromMs + lengthMs);
        const b = range.boundaries;
        for (let i = 0; i < b.length; i += 1) {
          expect(b[i] % 900_000).toBe(0);
          if (i > 0) expect(b[i]).toBeGreaterThan(b[i - 1]);
          expect(localDate(b[i], zone) > localDate(b[i] - 1, zone)).toBe(true); // a local date starts there
          if (granularity === 'MONTH' && i > 0 && i < b.length - 1) expect(localDate(b[i], zone).endsWith('-01')).toBe(true);
        }
        const split = new Set(range.splitDays);
        for (let t = Date.parse(`${range.firstUtcDay}T00:00:00Z`); t < range.to.getTime(); t += 86_400_000) {
          const day = new Date(t).toISOString().slice(0, 10);
          const cut = b.some((x) => x > t && x < t + 86_400_000) || t < range.from.getTime() || t + 86_400_000 > range.to.getTime();
          expect(split.has(day)).toBe(cut);
        }
      },
    ), { numRuns: 100 });
  });
});

describe('splitDayReads: a cut day is its daily total in the larger side\'s period, plus the smaller side moved out', () => {
  test.each<[string, string, string, 'DAY' | 'MONTH', { day: string; lo: number; hi: number; anchorQuarter: number | null }[]]>([
    // +05:30: local midnight is 18:30 UTC (quarter 74): the later side (74–95) is smaller; the day's total goes to quarter 0's period.
    ['Asia/Kolkata', '2024-03-10T00:00:00+05:30', '2024-03-11T00:00:00+05:30', 'DAY', [
      { day: '2024-03-09', lo: 74, hi: 96, anchorQuarter: 0 }, { day: '2024-03-10', lo: 74, hi: 96, anchorQuarter: 0 }]],
    // +12:45 (June is winter there): local midnight is 11:15 UTC (quarter 45): the earlier side (0–44) is smaller; the total goes to quarter 95's period.
    ['Pacific/Chatham', '2024-06-10T00:00:00+12:45', '2024-06-11T00:00:00+12:45', 'DAY', [
      { day: '2024-06-09', lo: 0, hi: 45, anchorQuarter: 95 }, { day: '2024-06-10', lo: 0, hi: 45, anchorQuarter: 95 }]],
    // A range within one UTC day: cut twice, read whole.
    ['UTC', '2024-03-10T00:00:00Z', '2024-03-11T00:00:00Z', 'DAY', []],
    ['America/New_York', '2024-01-15T00:00:00-05:00', '2024-01-16T00:00:00-05:00', 'MONTH', [
      { day: '2024-01-15', lo: 0, hi: 20, anchorQuarter: 95 }, { day: '2024-01-16', lo: 0, hi: 20, anchorQuarter: 95 }]],
  ])('%s %s – %s %s', (zone, from, to, granularity, expected) => {
    expect(splitDayReads(usageReportRange(d(from), d(to), granularity, zone))).toEqual(expected);
  });
});
