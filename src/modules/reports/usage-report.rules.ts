/**
 * The rules of an account's usage report, pure (table-driven tests: test/unit/usage-report.rules.test.ts).
 *
 * Range. [from, to) is snapped outward to whole local days of the time zone: from goes back to the
 * start of its local day, to goes on to the start of the local day after the one holding to − 1 ms.
 * A local day starts at the first instant whose local date is that date (in a zone whose clocks skip
 * midnight, e.g. America/Santiago, that is the instant of the jump: 01:00 local). DAY reports cover
 * at most USAGE_REPORT_DAY_DAYS_MAX local days, MONTH reports USAGE_REPORT_MONTH_DAYS_MAX.
 *
 * Periods. DAY: one per local day. MONTH: one per local calendar month, cut at each local first of
 * the month inside the range (the first and last may be partial months). Every boundary must be a
 * whole quarter-hour in UTC (true of every zone since the 1970s), because the finest aggregate is
 * usage_quarterly: otherwise the report is refused (BAD_USER_INPUT naming the zone and the date).
 *
 * Reading. A UTC day the range touches is read from usage_daily when it lies wholly inside one period
 * (no boundary strictly inside it, and within [from, to)); otherwise from usage_quarterly, each
 * quarter going to the period its start lies in (quarters before from or at/after to are dropped
 * from the flows; those before from still move the opening stocks).
 *
 * Stocks. The opening balance and debt are the wallet's at from (balance_daily of the last UTC day
 * before from's, plus the changes of from's UTC day before from); each period's closing stocks are
 * its opening ones plus its balance and debt changes. remaining (credits in buckets) = balance + debt.
 */
import { badInput } from '../../shared/errors';
import { addDays, daysBetween, dayStart, MS_PER_DAY, utcDay } from '../../shared/utc-days';
import { addFlows, zeroFlows, type FlowFigures } from '../ledger/flows';

export type ReportGranularityName = 'DAY' | 'MONTH';

/** A DAY report covers at most this many local days (a year, leap day included). */
export const USAGE_REPORT_DAY_DAYS_MAX = 366;
/** A MONTH report covers at most this many local days (three years and some). */
export const USAGE_REPORT_MONTH_DAYS_MAX = 1_100;
/** byAction and byModel list at most this many keys each (the most consumed). */
export const USAGE_SLICES_MAX = 100;
/** The longest time zone name accepted (IANA names are far shorter). */
export const TIME_ZONE_LENGTH_MAX = 64;
/** The resolution of usage_quarterly: every period boundary must be a multiple of it (UTC). */
export const QUARTER_MS = 15 * 60_000;
const QUARTERS_PER_DAY = 96;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
    });
    if (formatters.size > 1_000) formatters.clear(); // bounded: names are checked by Intl first
    formatters.set(timeZone, f);
  }
  return f;
}

/** The zone's name as Intl spells it (or as given, when Intl calls it by an older alias), or BAD_USER_INPUT (field timeZone) for an unknown one. */
export function checkedTimeZone(timeZone: string): string {
  if (typeof timeZone !== 'string' || timeZone.length === 0 || timeZone.length > TIME_ZONE_LENGTH_MAX) {
    throw badInput(`timeZone must be an IANA time zone name like "Europe/Berlin" (at most ${TIME_ZONE_LENGTH_MAX} characters)`, 'timeZone');
  }
  try {
    const resolved = formatterOf(timeZone).resolvedOptions().timeZone;
    return resolved.toLowerCase() === timeZone.toLowerCase() ? resolved : timeZone;
  } catch {
    throw badInput(`unknown time zone "${timeZone}": use an IANA name like "UTC" or "Europe/Berlin"`, 'timeZone');
  }
}

/** The local wall-clock time of an instant, as the UTC instant with the same reading (ms; seconds precision). */
export function localWallMs(atMs: number, timeZone: string): number {
  const parts = formatterOf(timeZone).formatToParts(new Date(atMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  const wall = new Date(0);
  wall.setUTCFullYear(get('year'), get('month') - 1, get('day')); // not Date.UTC: it maps years 0–99 to 1900–1999
  wall.setUTCHours(get('hour'), get('minute'), get('second'), ((atMs % 1000) + 1000) % 1000);
  return wall.getTime();
}

/** The local date ('YYYY-MM-DD') of an instant. */
export function localDate(atMs: number, timeZone: string): string {
  return utcDay(new Date(localWallMs(atMs, timeZone)));
}

/** The zone's offset from UTC at an instant (ms). */
export function offsetMs(atMs: number, timeZone: string): number {
  return localWallMs(atMs, timeZone) - atMs;
}

/** The first instant whose local date is `day` (or later, when midnight is skipped). */
export function localDayStart(day: string, timeZone: string): number {
  const wall = dayStart(day).getTime();
  // The offsets in force a day either side: local midnight is at wall − one of them, unless skipped.
  const guesses = [...new Set([offsetMs(wall - MS_PER_DAY, timeZone), offsetMs(wall + MS_PER_DAY, timeZone), offsetMs(wall, timeZone)])]
    .map((offset) => wall - offset).sort((a, b) => a - b);
  // The earliest that reads exactly midnight (a zone turning its clocks back across midnight reads it twice).
  for (const t of guesses) if (localWallMs(t, timeZone) === wall) return t;
  // Midnight does not exist that day (clocks jump over it): the day starts at the jump.
  return firstSince(guesses[0], guesses[guesses.length - 1], wall, timeZone);
}

/** The first instant in (lo, hi] whose local wall time is ≥ wall (hi is one; lo is assumed not to be), by bisection. */
function firstSince(lo: number, hi: number, wall: number, timeZone: string): number {
  if (localWallMs(lo, timeZone) >= wall) return hi; // not bracketed (no transition nearby): hi is the answer
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (localWallMs(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

export interface UsageReportRange {
  timeZone: string;
  granularity: ReportGranularityName;
  /** The snapped range [from, to). */
  from: Date;
  to: Date;
  /** Local days covered. */
  localDays: number;
  /** Period boundaries (ms): from, every cut, to; periods[i] = [boundaries[i], boundaries[i + 1]). */
  boundaries: number[];
  /** The UTC days the range touches (inclusive). */
  firstUtcDay: string;
  lastUtcDay: string;
  /** UTC days read from usage_quarterly (a boundary inside, or partly outside the range); the others read from usage_daily. */
  splitDays: string[];
}

/** Snaps the range, cuts the periods and decides which UTC days need the quarter-hour aggregate. */
export function usageReportRange(from: Date, to: Date, granularity: ReportGranularityName, timeZoneAsked: string): UsageReportRange {
  const timeZone = checkedTimeZone(timeZoneAsked);
  if (!(from.getTime() < to.getTime())) throw badInput('from must be before to', 'to');
  const firstDate = localDate(from.getTime(), timeZone);
  let endDate = addDays(localDate(to.getTime() - 1, timeZone), 1);
  const maxDays = granularity === 'DAY' ? USAGE_REPORT_DAY_DAYS_MAX : USAGE_REPORT_MONTH_DAYS_MAX;
  const tooLong = (days: number) => badInput(
    `a ${granularity} report covers at most ${maxDays} local days; this range touches ${days} in ${timeZone}`, 'to');
  let localDays = daysBetween(firstDate, endDate);
  if (localDays > maxDays) throw tooLong(localDays);
  const start = localDayStart(firstDate, timeZone);
  let end = localDayStart(endDate, timeZone);
  // A zone that turned its clocks back across midnight shows a date twice: the range still covers `to`.
  while (end < to.getTime()) { endDate = addDays(endDate, 1); end = localDayStart(endDate, timeZone); localDays += 1; }
  if (localDays > maxDays) throw tooLong(localDays);

  const boundaries = [start];
  for (let date = addDays(firstDate, 1); date < endDate; date = addDays(date, 1)) {
    if (granularity === 'DAY' || date.endsWith('-01')) boundaries.push(localDayStart(date, timeZone));
  }
  boundaries.push(end);
  for (let i = 0; i < boundaries.length; i += 1) {
    const b = boundaries[i];
    if (b % QUARTER_MS !== 0) {
      throw badInput(`time zone ${timeZone}: the local day ${localDate(b, timeZone)} starts at ${new Date(b).toISOString()}, not a whole quarter-hour in UTC; reports cut only at quarter-hours`, 'timeZone');
    }
  }

  const firstUtcDay = utcDay(new Date(start));
  const lastUtcDay = utcDay(new Date(end - 1));
  const splitDays: string[] = [];
  let next = 0; // the first boundary not before the day being looked at
  for (let day = firstUtcDay; day <= lastUtcDay; day = addDays(day, 1)) {
    const dayFrom = dayStart(day).getTime();
    const dayTo = dayFrom + MS_PER_DAY;
    while (next < boundaries.length && boundaries[next] <= dayFrom) next += 1;
    const cutInside = next < boundaries.length && boundaries[next] < dayTo;
    if (cutInside || dayFrom < start || dayTo > end) splitDays.push(day);
  }
  return { timeZone, granularity, from: new Date(start), to: new Date(end), localDays, boundaries, firstUtcDay, lastUtcDay, splitDays };
}

/**
 * How a split UTC day is read. A day cut by one boundary (at quarter q) is read as its usage_daily
 * total, placed in the period of its larger side (`anchorQuarter`: 0 or 95), plus the usage_quarterly
 * rows of the smaller side [lo, hi), each added to its own period and taken from the anchor's: the
 * same sums from at most 48 quarter-hours of rows instead of 96 (a DAY report in a +05:30 zone cuts
 * every UTC day). A day cut more than once (a range within one day) is read whole from usage_quarterly
 * (`anchorQuarter` null, [0, 96)).
 */
export interface SplitDayRead {
  day: string;
  lo: number;
  hi: number;
  anchorQuarter: number | null;
}

export function splitDayReads(range: UsageReportRange): SplitDayRead[] {
  return range.splitDays.map((day) => {
    const dayFrom = dayStart(day).getTime();
    const cuts = range.boundaries.filter((b) => b > dayFrom && b < dayFrom + MS_PER_DAY);
    if (cuts.length !== 1) return { day, lo: 0, hi: QUARTERS_PER_DAY, anchorQuarter: null };
    const q = (cuts[0] - dayFrom) / QUARTER_MS;
    return q > QUARTERS_PER_DAY / 2 ? { day, lo: q, hi: QUARTERS_PER_DAY, anchorQuarter: 0 } : { day, lo: 0, hi: q, anchorQuarter: QUARTERS_PER_DAY - 1 };
  });
}

/** The quarter-hour index (since 1970-01-01T00:00Z) of each boundary: usage_quarterly rows are placed by it. */
export function boundaryQuarters(range: UsageReportRange): number[] {
  return range.boundaries.map((b) => b / QUARTER_MS);
}

/**
 * The period of a quarter-hour index: 1..n for periods[0..n−1] (like SQL width_bucket over
 * boundaryQuarters); 0 before from, n + 1 at or after to.
 */
export function periodOfQuarter(quarterIndex: number, quarters: readonly number[]): number {
  let lo = 0;
  let hi = quarters.length; // answer in [0, quarters.length]
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (quarters[mid] <= quarterIndex) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Flows of one period (1..n; 0 before from, n + 1 after to) × action × model, as read. */
export interface PeriodFlowRow extends FlowFigures {
  period: number;
  action: string;
  model: string;
}

export interface UsageTotalsView {
  allocatedMillis: number;
  purchasedMillis: number;
  grantedMillis: number;
  consumedMillis: number;
  consumedFreeMillis: number;
  consumedPurchasedMillis: number;
  /** Consumed on credit (the overdraft): consumed − free − purchased. */
  consumedOnCreditMillis: number;
  expiredMillis: number;
  refundedMillis: number;
  reversedMillis: number;
  carriedForwardMillis: number;
  /** Charges and captures. */
  charges: number;
  remainingAtStartMillis: number;
  debtAtStartMillis: number;
  /** At the end. */
  remainingMillis: number;
  debtMillis: number;
}

export interface UsageSliceView {
  key: string;
  consumedMillis: number;
  refundedMillis: number;
  count: number;
}

export interface UsagePeriodView {
  start: Date;
  end: Date;
  totals: UsageTotalsView;
}

export interface UsageReportView {
  accountId: string;
  from: Date;
  to: Date;
  timeZone: string;
  granularity: ReportGranularityName;
  totals: UsageTotalsView;
  periods: UsagePeriodView[];
  byAction: UsageSliceView[];
  byModel: UsageSliceView[];
  /** A team wallet's usage by member (empty for other wallets). */
  byMember: MemberUsageView[];
}

/** A team wallet's usage by one member in one period (1..n; 0 before from, n + 1 after to), as read. */
export interface MemberFlowRow {
  period: number;
  memberId: string;
  consumedMillis: number;
  refundedMillis: number;
  transactions: number;
}

export interface MemberUsageView {
  accountId: string;
  consumedMillis: number;
  refundedMillis: number;
  transactions: number;
}

/** Usage by member over the periods 1..n, most consumed first (ties by id); at most USAGE_SLICES_MAX. */
export function membersOf(rows: readonly MemberFlowRow[], periods: number): MemberUsageView[] {
  const byMember = new Map<string, MemberUsageView>();
  for (const r of rows) {
    if (r.period < 1 || r.period > periods) continue;
    let m = byMember.get(r.memberId);
    if (!m) byMember.set(r.memberId, (m = { accountId: r.memberId, consumedMillis: 0, refundedMillis: 0, transactions: 0 }));
    m.consumedMillis += r.consumedMillis;
    m.refundedMillis += r.refundedMillis;
    m.transactions += r.transactions;
  }
  return [...byMember.values()]
    .filter((m) => m.consumedMillis !== 0 || m.refundedMillis !== 0 || m.transactions !== 0)
    .sort((a, b) => b.consumedMillis - a.consumedMillis || (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0))
    .slice(0, USAGE_SLICES_MAX);
}

/** The wallet's balance and debt after its last transaction of a UTC day before the range (0/0: none). */
export interface OpeningStocks {
  balanceMillis: number;
  debtMillis: number;
}

function totalsOf(flows: FlowFigures, start: OpeningStocks): UsageTotalsView {
  const balanceEnd = start.balanceMillis + flows.balanceChangeMillis;
  const debtEnd = start.debtMillis + flows.debtChangeMillis;
  return {
    allocatedMillis: flows.allocatedMillis,
    purchasedMillis: flows.purchasedMillis,
    grantedMillis: flows.grantedMillis,
    consumedMillis: flows.consumedMillis,
    consumedFreeMillis: flows.consumedFreeMillis,
    consumedPurchasedMillis: flows.consumedPurchasedMillis,
    consumedOnCreditMillis: flows.consumedMillis - flows.consumedFreeMillis - flows.consumedPurchasedMillis,
    expiredMillis: flows.expiredMillis,
    refundedMillis: flows.refundedMillis,
    reversedMillis: flows.reversedMillis,
    carriedForwardMillis: flows.carriedForwardMillis,
    charges: flows.transactions,
    remainingAtStartMillis: start.balanceMillis + start.debtMillis,
    debtAtStartMillis: start.debtMillis,
    remainingMillis: balanceEnd + debtEnd,
    debtMillis: debtEnd,
  };
}

function slicesOf(rows: readonly PeriodFlowRow[], keyOf: (r: PeriodFlowRow) => string): UsageSliceView[] {
  const byKey = new Map<string, UsageSliceView>();
  for (const r of rows) {
    if (r.consumedMillis === 0 && r.refundedMillis === 0 && r.transactions === 0) continue; // grants, expiries: no usage
    const key = keyOf(r);
    let slice = byKey.get(key);
    if (!slice) byKey.set(key, (slice = { key, consumedMillis: 0, refundedMillis: 0, count: 0 }));
    slice.consumedMillis += r.consumedMillis;
    slice.refundedMillis += r.refundedMillis;
    slice.count += r.transactions;
  }
  return [...byKey.values()]
    .sort((a, b) => b.consumedMillis - a.consumedMillis || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .slice(0, USAGE_SLICES_MAX);
}

/** The report from the rows read: flows per period summed in integers, stocks carried period to period. */
export function assembleUsageReport(accountId: string, range: UsageReportRange, opening: OpeningStocks, rows: readonly PeriodFlowRow[], memberRows: readonly MemberFlowRow[] = []): UsageReportView {
  const n = range.boundaries.length - 1;
  const perPeriod = Array.from({ length: n + 2 }, () => zeroFlows());
  for (const r of rows) {
    if (r.period < 0 || r.period > n + 1) continue;
    addFlows(perPeriod[r.period], r);
  }
  // Period 0 holds what moved on from's UTC day before from: it belongs to the opening stocks.
  let stocks: OpeningStocks = {
    balanceMillis: opening.balanceMillis + perPeriod[0].balanceChangeMillis,
    debtMillis: opening.debtMillis + perPeriod[0].debtChangeMillis,
  };
  const rangeStart = stocks;
  const rangeFlows = zeroFlows();
  const periods: UsagePeriodView[] = [];
  for (let p = 1; p <= n; p += 1) {
    const totals = totalsOf(perPeriod[p], stocks);
    periods.push({ start: new Date(range.boundaries[p - 1]), end: new Date(range.boundaries[p]), totals });
    stocks = { balanceMillis: stocks.balanceMillis + perPeriod[p].balanceChangeMillis, debtMillis: stocks.debtMillis + perPeriod[p].debtChangeMillis };
    addFlows(rangeFlows, perPeriod[p]);
  }
  const inRange = rows.filter((r) => r.period >= 1 && r.period <= n);
  return {
    accountId, from: range.from, to: range.to, timeZone: range.timeZone, granularity: range.granularity,
    totals: totalsOf(rangeFlows, rangeStart),
    periods,
    byAction: slicesOf(inRange, (r) => r.action),
    byModel: slicesOf(inRange, (r) => r.model),
    byMember: membersOf(memberRows, n),
  };
}
