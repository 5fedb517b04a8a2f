/**
 * The rules of platform reports, pure (test/unit/forecast.rules.test.ts covers the range). Reports
 * read the daily aggregates, so their unit is the UTC day: a day counts when any part of it lies in
 * [from, to). The report says which whole days it covers (from the start of the first to the end of
 * the last).
 */
import { badInput } from '../../shared/errors';
import { exactMoneyText, percentOf, subtractDecimals } from '../../shared/decimal-math';
import { addDays, dayStart, daysBetween, utcDay } from '../../shared/utc-days';

/** A report covers at most this many days (a year, leap day included). */
export const REPORT_DAYS_MAX = 366;
/** Top consumers listed. */
export const TOP_CONSUMERS_MAX = 10;
/** Rows of each breakdown (byPlan, byAction, failures, marginByModel): the largest first, the rest left out. */
export const REPORT_LIST_MAX = 100;

export interface ReportRange {
  /** First and last UTC day (inclusive). */
  fromDay: string;
  toDay: string;
  /** The whole days covered: the first day's start, the day after the last one's start. */
  from: Date;
  to: Date;
  days: number;
}

export function reportRange(from: Date, to: Date): ReportRange {
  if (!(from.getTime() < to.getTime())) throw badInput('from must be before to', 'to');
  const fromDay = utcDay(from);
  const toDay = utcDay(new Date(to.getTime() - 1));
  const days = daysBetween(fromDay, toDay) + 1;
  if (days > REPORT_DAYS_MAX) throw badInput(`a report covers at most ${REPORT_DAYS_MAX} days (UTC); this range touches ${days}`, 'to');
  return { fromDay, toDay, from: dayStart(fromDay), to: dayStart(addDays(toDay, 1)), days };
}

export interface ModelMargin {
  model: string | null;
  currency: string;
  /** Exact decimal text with at least the currency's minor digits (never rounded). */
  revenue: string;
  vendorCost: string;
  margin: string;
  /** margin / revenue × 100, two decimals half up (away from zero); null when revenue is 0. */
  marginPercent: string | null;
}

/** Margin of one model × currency from exact sums: revenue − vendor cost, nothing rounded but the percentage. */
export function modelMargin(model: string | null, currency: string, revenue: string, vendorCost: string): ModelMargin {
  const margin = subtractDecimals(revenue, vendorCost);
  return {
    model, currency,
    revenue: exactMoneyText(revenue, currency), vendorCost: exactMoneyText(vendorCost, currency), margin: exactMoneyText(margin, currency),
    marginPercent: percentOf(margin, revenue),
  };
}
