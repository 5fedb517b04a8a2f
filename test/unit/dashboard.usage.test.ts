/** The usage chart's series (src/dashboard/usage.ts): every day of the window, one series per action and model, exact sums. */
import { lastDays, usageLabel, usageSeries } from '../../src/dashboard/usage';

const row = (day: string, action: string, model: string | null, credits: string, refunded = '0', count = 1) => ({ day, action, model, credits, refunded, count });

test('lastDays: n UTC days ending with the last one, across a month and a leap day', () => {
  expect(lastDays('2024-03-01', 3)).toEqual(['2024-02-28', '2024-02-29', '2024-03-01']);
  expect(lastDays('2026-01-01', 1)).toEqual(['2026-01-01']);
  expect(lastDays('2026-01-31', 30)).toHaveLength(30);
  expect(lastDays('2026-01-31', 30)[0]).toBe('2026-01-02');
});

test('a series per action and model, zeros on days without usage, rows outside the window left out', () => {
  const data = usageSeries([
    row('2026-01-30', 'image.generate', 'flux', '0.1'),
    row('2026-01-31', 'image.generate', 'flux', '0.2', '0.1', 2),
    row('2026-01-31', 'chat', null, '5'),
    row('2025-12-01', 'chat', null, '999'), // before the window
  ], '2026-01-31', 3);
  expect(data.days).toEqual(['2026-01-29', '2026-01-30', '2026-01-31']);
  expect(data.series).toEqual([
    { label: 'chat', perDayMillis: [0, 0, 5000], totalMillis: 5000, refundedMillis: 0, count: 1 },
    { label: 'image.generate · flux', perDayMillis: [0, 100, 200], totalMillis: 300, refundedMillis: 100, count: 3 },
  ]);
});

test('beyond seriesMax the least used are one "Other" series, so the legend stays readable', () => {
  const rows = ['a', 'b', 'c', 'd', 'e'].map((action, i) => row('2026-01-31', action, 'm', String(10 - i)));
  const data = usageSeries(rows, '2026-01-31', 1, 3);
  expect(data.series.map((s) => [s.label, s.totalMillis])).toEqual([['a · m', 10_000], ['b · m', 9_000], ['Other (3)', 8_000 + 7_000 + 6_000]]);
});

test('labels: action and model; a charge without an action still has a name', () => {
  expect(usageLabel('image.generate', 'flux')).toBe('image.generate · flux');
  expect(usageLabel('chat', null)).toBe('chat');
  expect(usageLabel('', null)).toBe('(no action)');
});
