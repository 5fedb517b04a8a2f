/**
 * The pure rules of the CSV exports (src/modules/exports/csv-rules.ts, usage-csv.ts): the credit kind
 * of a transaction's entries, formula neutralisation, a transaction as cells, the query parameters,
 * and the usage summary's rows (labels in the report's zone, a TOTAL row, flows that add up).
 */
import fc from 'fast-check';
import {
  creditKindOfEntries, exportFileName, exportRange, neutraliseFormula, transactionCells, EXPORT_RANGE_DAYS_MAX, TRANSACTION_COLUMNS,
  type ExportTransaction,
} from '../../src/modules/exports/csv-rules';
import { periodLabel, usageCsvRows, usageReportInput, USAGE_COLUMNS, type UsageTotalsFigures } from '../../src/modules/exports/usage-csv';
import { BUCKET_SOURCES, type BucketSourceName } from '../../src/db/schema';
import { MS_PER_DAY } from '../../src/shared/utc-days';
import { badInputOf } from '../helpers/refusal';

const ACCOUNT = '3f1c2a9e-5b7d-4c11-9a0e-2b6f8d4e7a10';

describe('credit kind of the entries', () => {
  const cases: [(BucketSourceName | null)[], string][] = [
    [[], ''],
    [['PURCHASE'], 'PURCHASED'],
    [['PURCHASE', 'PURCHASE'], 'PURCHASED'],
    [['PROMO'], 'FREE'],
    [['PLAN_ALLOWANCE', 'ROLLOVER', 'REFUND', 'ADJUSTMENT', 'PROMO'], 'FREE'],
    [[null], 'DEBT'],
    [['PROMO', 'PURCHASE'], 'MIXED'],
    [['PURCHASE', null], 'MIXED'],
    [['PLAN_ALLOWANCE', null], 'MIXED'],
  ];
  test.each(cases)('%j → %s', (sources, kind) => {
    expect(creditKindOfEntries(sources.map((source) => ({ source })))).toBe(kind);
  });

  test('one kind whatever the order, MIXED as soon as two differ', () => {
    fc.assert(fc.property(fc.array(fc.constantFrom<BucketSourceName | null>(...BUCKET_SOURCES, null), { maxLength: 6 }), (sources) => {
      const kinds = new Set(sources.map((s) => (s === null ? 'DEBT' : s === 'PURCHASE' ? 'PURCHASED' : 'FREE')));
      const got = creditKindOfEntries(sources.map((source) => ({ source })));
      expect(got).toBe(kinds.size === 0 ? '' : kinds.size > 1 ? 'MIXED' : [...kinds][0]);
      expect(creditKindOfEntries([...sources].reverse().map((source) => ({ source })))).toBe(got);
    }));
  });
});

describe('formula neutralisation', () => {
  test.each([
    ['=1+2', "'=1+2"], ['+cmd', "'+cmd"], ['-5 credits', "'-5 credits"], ['@SUM(A1)', "'@SUM(A1)"], ['\tx', "'\tx"], ['\rx', "'\rx"],
    ['plain', 'plain'], ['a=b', 'a=b'], ['', ''], ["'quoted", "'quoted"],
  ])('%j → %j', (text, cell) => {
    expect(neutraliseFormula(text)).toBe(cell);
  });
  test('null is an empty cell', () => {
    expect(neutraliseFormula(null)).toBe('');
  });
});

describe('a transaction as cells', () => {
  const base: ExportTransaction = {
    pos: 7, id: 'b1f0c3d2-0000-4000-8000-000000000001', sequence: 3, type: 'CHARGE', status: 'SUCCEEDED', actor: 'key:abc', action: 'chat',
    model: 'gpt-x', amountMillis: -12_500, comment: null, failureCode: null, failureMessage: null, createdAt: new Date('2311-03-02T11:00:00+01:00'),
  };
  test('in column order; credits signed like the Credits scalar; times in UTC', () => {
    const cells = transactionCells(base, [{ source: 'PROMO' }, { source: 'PURCHASE' }]);
    expect(cells).toHaveLength(TRANSACTION_COLUMNS.length);
    expect(Object.fromEntries(TRANSACTION_COLUMNS.map((c, i) => [c, cells[i]]))).toEqual({
      time: '2311-03-02T10:00:00.000Z', transaction_id: base.id, sequence: '3', type: 'CHARGE', status: 'SUCCEEDED', actor: 'key:abc',
      action: 'chat', model: 'gpt-x', credits: '-12.5', credit_kind: 'MIXED', comment: '', failure_code: '', failure_message: '',
    });
  });
  test('a refused attempt: no sequence, no kind, its failure', () => {
    const cells = transactionCells({ ...base, sequence: null, status: 'FAILED', amountMillis: 0, failureCode: 'INSUFFICIENT_CREDITS', failureMessage: '-1 short' }, []);
    expect([cells[2], cells[8], cells[9], cells[11], cells[12]]).toEqual(['', '0', '', 'INSUFFICIENT_CREDITS', "'-1 short"]);
  });
});

describe('query parameters', () => {
  const ok = { accountId: ACCOUNT, from: '2311-01-01T00:00:00Z', to: '2311-02-01T00:00:00Z' };
  test('a range', () => {
    expect(exportRange(ok)).toEqual({ accountId: ACCOUNT, from: new Date('2311-01-01T00:00:00Z'), to: new Date('2311-02-01T00:00:00Z') });
    expect(exportFileName('transactions', exportRange(ok))).toBe(`transactions-${ACCOUNT}-2311-01-01-to-2311-01-31.csv`);
  });
  test.each<[Record<string, unknown>, string]>([
    [{ ...ok, accountId: undefined }, 'accountId'],
    [{ ...ok, accountId: 'x' }, 'accountId'],
    [{ ...ok, accountId: [ACCOUNT, ACCOUNT] }, 'accountId'],
    [{ ...ok, from: '' }, 'from'],
    [{ ...ok, from: 'yesterday' }, 'from'],
    [{ ...ok, to: '2311-01-01T00:00:00Z' }, 'to'],
    [{ ...ok, to: new Date(Date.parse(ok.from) + EXPORT_RANGE_DAYS_MAX * MS_PER_DAY + 1).toISOString() }, 'to'],
  ])('%j refused on %s', (query, field) => {
    expect(badInputOf(() => exportRange(query)).field).toBe(field);
  });
  test(`exactly ${EXPORT_RANGE_DAYS_MAX} days is allowed`, () => {
    expect(() => exportRange({ ...ok, to: new Date(Date.parse(ok.from) + EXPORT_RANGE_DAYS_MAX * MS_PER_DAY).toISOString() })).not.toThrow();
  });
  test('usage: granularity and zone default to MONTH and UTC, and are checked', () => {
    expect(usageReportInput(ok)).toMatchObject({ granularity: 'MONTH', timeZone: 'UTC' });
    expect(usageReportInput({ ...ok, granularity: 'day', timeZone: 'Europe/Paris' })).toMatchObject({ granularity: 'DAY', timeZone: 'Europe/Paris' });
    expect(badInputOf(() => usageReportInput({ ...ok, granularity: 'WEEK' })).field).toBe('granularity');
    expect(badInputOf(() => usageReportInput({ ...ok, timeZone: 'Mars/Olympus' })).field).toBe('timeZone');
  });
});

describe('usage summary rows', () => {
  const totals = (n: number): UsageTotalsFigures => ({
    allocatedMillis: 1000 * n, purchasedMillis: 2000 * n, grantedMillis: 0, consumedMillis: 1500 * n, consumedFreeMillis: 1000 * n,
    consumedPurchasedMillis: 500 * n, consumedOnCreditMillis: 0, expiredMillis: 0, refundedMillis: 250, reversedMillis: 0, carriedForwardMillis: 0,
    debtMillis: 0, remainingMillis: 1750 * n, remainingAtStartMillis: 0, debtAtStartMillis: 0, charges: n,
  });
  test('labels in the zone of the report', () => {
    expect(periodLabel(new Date('2311-02-28T23:00:00Z'), 'MONTH', 'Europe/Paris')).toBe('2311-03');
    expect(periodLabel(new Date('2311-02-28T23:00:00Z'), 'DAY', 'Europe/Paris')).toBe('2311-03-01');
    expect(periodLabel(new Date('2311-03-01T00:00:00Z'), 'MONTH', 'UTC')).toBe('2311-03');
  });
  test('a row per period, then TOTAL over the range; figures as Credits, charges as a count', () => {
    const rows = usageCsvRows({
      from: new Date('2311-01-01T00:00:00Z'), to: new Date('2311-03-01T00:00:00Z'), totals: totals(3),
      periods: [
        { start: new Date('2311-01-01T00:00:00Z'), end: new Date('2311-02-01T00:00:00Z'), totals: totals(1) },
        { start: new Date('2311-02-01T00:00:00Z'), end: new Date('2311-03-01T00:00:00Z'), totals: totals(2) },
      ],
    }, 'MONTH', 'UTC');
    expect(rows.every((r) => r.length === USAGE_COLUMNS.length)).toBe(true);
    expect(rows.map((r) => r.slice(0, 3))).toEqual([
      ['2311-01', '2311-01-01T00:00:00.000Z', '2311-02-01T00:00:00.000Z'],
      ['2311-02', '2311-02-01T00:00:00.000Z', '2311-03-01T00:00:00.000Z'],
      ['TOTAL', '2311-01-01T00:00:00.000Z', '2311-03-01T00:00:00.000Z'],
    ]);
    const column = (name: string) => rows.map((r) => r[USAGE_COLUMNS.indexOf(name)]);
    expect(column('consumed')).toEqual(['1.5', '3', '4.5']);
    expect(column('refunded')).toEqual(['0.25', '0.25', '0.25']);
    expect(column('charges')).toEqual(['1', '2', '3']);
  });
});
