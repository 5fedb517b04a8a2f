/**
 * The usage chart's data, as pure functions (unit-tested in test/unit/dashboard.usage.test.ts):
 * `usageByDay` rows (one per UTC day, action and model) become one series per action and model over
 * every day of the window, zeros included. Sums are integer millicredits.
 */
import { parseCredits } from '../shared/credits';

export interface UsageDayLike {
  day: string;
  action: string;
  model?: string | null;
  credits: string;
  refunded: string;
  count: number;
}

export interface UsageSeries {
  label: string;
  /** Credits consumed on each day of `days`, in millicredits. */
  perDayMillis: number[];
  totalMillis: number;
  refundedMillis: number;
  count: number;
}

export interface UsageChartData {
  /** YYYY-MM-DD, oldest first, `n` days ending with the last day. */
  days: string[];
  /** Most used first; beyond `seriesMax`, the least used are one "Other" series. */
  series: UsageSeries[];
}

const DAY_MS = 86_400_000;

/** The `n` UTC days ending with `lastDay` (YYYY-MM-DD), oldest first. */
export function lastDays(lastDay: string, n: number): string[] {
  const end = Date.parse(`${lastDay}T00:00:00Z`);
  return Array.from({ length: n }, (_, i) => new Date(end - (n - 1 - i) * DAY_MS).toISOString().slice(0, 10));
}

/** "image.generate · flux"; a charge without an action shows as "(no action)". */
export function usageLabel(action: string, model: string | null | undefined): string {
  return [action || '(no action)', model].filter(Boolean).join(' · ');
}

export function usageSeries(rows: readonly UsageDayLike[], lastDay: string, n = 30, seriesMax = 6): UsageChartData {
  const days = lastDays(lastDay, n);
  const dayIndex = new Map(days.map((day, i) => [day, i]));
  const byLabel = new Map<string, UsageSeries>();
  for (const row of rows) {
    const i = dayIndex.get(row.day);
    if (i === undefined) continue; // outside the window
    const label = usageLabel(row.action, row.model);
    let series = byLabel.get(label);
    if (!series) byLabel.set(label, (series = { label, perDayMillis: days.map(() => 0), totalMillis: 0, refundedMillis: 0, count: 0 }));
    const credits = parseCredits(row.credits);
    series.perDayMillis[i] += credits;
    series.totalMillis += credits;
    series.refundedMillis += parseCredits(row.refunded);
    series.count += row.count;
  }
  const series = [...byLabel.values()].sort((a, b) => b.totalMillis - a.totalMillis || a.label.localeCompare(b.label));
  if (series.length <= seriesMax) return { days, series };
  const kept = series.slice(0, seriesMax - 1);
  const rest = series.slice(seriesMax - 1);
  const other: UsageSeries = {
    label: `Other (${rest.length})`,
    perDayMillis: days.map((_, i) => rest.reduce((sum, s) => sum + s.perDayMillis[i], 0)),
    totalMillis: rest.reduce((sum, s) => sum + s.totalMillis, 0),
    refundedMillis: rest.reduce((sum, s) => sum + s.refundedMillis, 0),
    count: rest.reduce((sum, s) => sum + s.count, 0),
  };
  return { days, series: [...kept, other] };
}
