/**
 * The usage summary as CSV (pure): one row per period of the usage report, then a TOTAL row. The
 * figures are the report's (src/modules/reports, usageReport), formatted like the Credits scalar.
 */
import { badInput } from '../../shared/errors';
import { formatCredits, type Millis } from '../../shared/credits';
import { isUuid } from '../../shared/validate';
import { parseInstant, queryText } from './csv-rules';

export const USAGE_GRANULARITIES = ['MONTH', 'DAY'] as const;
export type UsageGranularity = (typeof USAGE_GRANULARITIES)[number];

/** What the CSV needs of the usage report's totals (millicredits, and the count of charges). */
export interface UsageTotalsFigures {
  allocatedMillis: Millis;
  purchasedMillis: Millis;
  grantedMillis: Millis;
  consumedMillis: Millis;
  consumedFreeMillis: Millis;
  consumedPurchasedMillis: Millis;
  consumedOnCreditMillis: Millis;
  expiredMillis: Millis;
  refundedMillis: Millis;
  reversedMillis: Millis;
  carriedForwardMillis: Millis;
  debtMillis: Millis;
  remainingMillis: Millis;
  remainingAtStartMillis: Millis;
  debtAtStartMillis: Millis;
  charges: number;
}

export interface UsageReportFigures {
  from: Date;
  to: Date;
  periods: readonly { start: Date; end: Date; totals: UsageTotalsFigures }[];
  totals: UsageTotalsFigures;
}

export interface UsageReportInput {
  accountId: string;
  from: Date;
  to: Date;
  granularity: UsageGranularity;
  timeZone: string;
}

/** The usage report service (ReportsService's usageReport, built in src/modules/reports). */
export interface UsageReportSource {
  usageReport(input: UsageReportInput): Promise<UsageReportFigures>;
}

/** Column name → figure, in column order (credits unless `charges`). */
const FIGURES: readonly (readonly [string, keyof UsageTotalsFigures])[] = [
  ['allocated', 'allocatedMillis'], ['purchased', 'purchasedMillis'], ['granted', 'grantedMillis'], ['consumed', 'consumedMillis'],
  ['consumed_free', 'consumedFreeMillis'], ['consumed_purchased', 'consumedPurchasedMillis'], ['consumed_on_credit', 'consumedOnCreditMillis'],
  ['expired', 'expiredMillis'], ['refunded', 'refundedMillis'], ['reversed', 'reversedMillis'], ['carried_forward', 'carriedForwardMillis'],
  ['debt', 'debtMillis'], ['remaining', 'remainingMillis'], ['remaining_at_start', 'remainingAtStartMillis'], ['debt_at_start', 'debtAtStartMillis'],
  ['charges', 'charges'],
];

export const USAGE_COLUMNS: readonly string[] = ['period', 'period_start', 'period_end', ...FIGURES.map(([column]) => column)];

/** accountId, from, to, granularity (MONTH by default) and timeZone (UTC by default); the report checks the range's length. */
export function usageReportInput(query: Record<string, unknown>): UsageReportInput {
  const accountId = queryText(query, 'accountId', true) as string;
  if (!isUuid(accountId)) throw badInput('accountId must be an account id (a UUID)', 'accountId');
  const from = parseInstant(queryText(query, 'from', true) as string, 'from');
  const to = parseInstant(queryText(query, 'to', true) as string, 'to');
  if (!(from.getTime() < to.getTime())) throw badInput('from must be before to', 'to');
  const granularity = (queryText(query, 'granularity', false) ?? 'MONTH').toUpperCase();
  if (!(USAGE_GRANULARITIES as readonly string[]).includes(granularity)) throw badInput('granularity must be MONTH or DAY', 'granularity');
  const timeZone = queryText(query, 'timeZone', false) ?? 'UTC';
  if (!isTimeZone(timeZone)) throw badInput('timeZone must be an IANA time zone such as UTC or Europe/Paris', 'timeZone');
  return { accountId, from, to, granularity: granularity as UsageGranularity, timeZone };
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/** The period's label in the report's zone: 2025-03 (MONTH) or 2025-03-14 (DAY). */
export function periodLabel(start: Date, granularity: UsageGranularity, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(start);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return granularity === 'MONTH' ? `${part('year')}-${part('month')}` : `${part('year')}-${part('month')}-${part('day')}`;
}

function figureCells(totals: UsageTotalsFigures): string[] {
  return FIGURES.map(([, key]) => (key === 'charges' ? String(totals.charges) : formatCredits(totals[key])));
}

/** The CSV records after the header: a row per period, then TOTAL over the report's whole range. */
export function usageCsvRows(view: UsageReportFigures, granularity: UsageGranularity, timeZone: string): string[][] {
  return [
    ...view.periods.map((p) => [periodLabel(p.start, granularity, timeZone), p.start.toISOString(), p.end.toISOString(), ...figureCells(p.totals)]),
    ['TOTAL', view.from.toISOString(), view.to.toISOString(), ...figureCells(view.totals)],
  ];
}
