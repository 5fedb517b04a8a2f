/** The Summary view's rules (src/dashboard/summary.ts): months in the reader's zone, rows, CSV paths, file names. */
import { csvPath, downloadName, monthLabel, recentMonths, summaryRows, SUMMARY_COLUMNS, type SummaryTotals } from '../../src/dashboard/summary';

const totals = (n: string): SummaryTotals => Object.fromEntries(SUMMARY_COLUMNS.map((c) => [c.key, n])) as unknown as SummaryTotals;

test('recentMonths: from local midnight of the first day, six months back, to the start of the next month', () => {
  // Local fields: whatever zone the test runs in, the bounds are local midnights on the 1st.
  const { from, to } = recentMonths(new Date(2026, 2, 15, 13, 30));
  expect([from.getFullYear(), from.getMonth(), from.getDate(), from.getHours()]).toEqual([2025, 9, 1, 0]);
  expect([to.getFullYear(), to.getMonth(), to.getDate(), to.getHours()]).toEqual([2026, 3, 1, 0]);
  const january = recentMonths(new Date(2026, 0, 1, 0, 0), 1);
  expect([january.from.getMonth(), january.to.getMonth(), january.to.getFullYear()]).toEqual([0, 1, 2026]);
  const december = recentMonths(new Date(2026, 11, 31, 23, 59), 2);
  expect([december.from.getMonth(), december.to.getFullYear(), december.to.getMonth()]).toEqual([10, 2027, 0]);
});

test('month labels are in the report\'s zone', () => {
  // 23:00 UTC on 28 February is 1 March in Paris.
  const inUtc = (iso: string) => new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone: 'UTC' }).format(new Date(iso));
  expect(monthLabel('2311-02-28T23:00:00.000Z', 'Europe/Paris')).toBe(inUtc('2311-03-15T00:00:00Z'));
  expect(monthLabel('2311-02-28T23:00:00.000Z', 'UTC')).toBe(inUtc('2311-02-15T00:00:00Z'));
});

test('rows: newest month first, then the total', () => {
  const rows = summaryRows({
    periods: [{ start: '2311-01-01T00:00:00.000Z', totals: totals('1') }, { start: '2311-02-01T00:00:00.000Z', totals: totals('2') }],
    totals: totals('3'),
  }, 'UTC');
  expect(rows.map((r) => [r.total, r.totals.consumed])).toEqual([[false, '2'], [false, '1'], [true, '3']]);
  expect(rows[2].label).toBe('All these months');
});

test('csvPath encodes its parameters; downloadName takes the server\'s name and never a path', () => {
  expect(csvPath('transactions', { accountId: 'a', from: '2311-01-01T00:00:00.000Z' })).toBe('/reports/transactions.csv?accountId=a&from=2311-01-01T00%3A00%3A00.000Z');
  expect(downloadName('attachment; filename="transactions-a-2311-01-01-to-2311-06-30.csv"', 'x.csv')).toBe('transactions-a-2311-01-01-to-2311-06-30.csv');
  expect(downloadName('attachment; filename="../../etc/passwd"', 'x.csv')).toBe('.._.._etc_passwd');
  expect(downloadName(null, 'x.csv')).toBe('x.csv');
  expect(downloadName('attachment', 'x.csv')).toBe('x.csv');
});
