/**
 * SQL of the usage report: one account's flows from usage_daily (whole UTC days) and usage_quarterly
 * (the days a period boundary cuts), each row placed in its period by width_bucket over the periods'
 * quarter-hour indexes, and its opening balance from balance_daily. Never reads the ledger's
 * transactions. Knows nothing about GraphQL.
 */
import { sql } from 'drizzle-orm';
import type { Executor } from '../../db/client';
import { rows } from '../../db/client';
import { accounts, balanceDaily, memberUsageDaily, memberUsageQuarterly, usageDaily, usageQuarterly } from '../../db/schema';
import type { MemberFlowRow, OpeningStocks, PeriodFlowRow, SplitDayRead } from './usage-report.rules';

/** Postgres array literal of plain values (digits or dates: nothing to quote). */
const arrayText = (values: readonly (string | number)[]) => `{${values.join(',')}}`;

const FLOW_SUMS_TEXT = `
  coalesce(sum(consumed_millis), 0)::text as consumed, coalesce(sum(consumed_free_millis), 0)::text as consumed_free,
  coalesce(sum(consumed_purchased_millis), 0)::text as consumed_purchased, coalesce(sum(transactions), 0)::text as transactions,
  coalesce(sum(refunded_millis), 0)::text as refunded, coalesce(sum(allocated_millis), 0)::text as allocated,
  coalesce(sum(purchased_millis), 0)::text as purchased, coalesce(sum(granted_millis), 0)::text as granted,
  coalesce(sum(expired_millis), 0)::text as expired, coalesce(sum(reversed_millis), 0)::text as reversed,
  coalesce(sum(carried_forward_millis), 0)::text as carried_forward, coalesce(sum(balance_change_millis), 0)::text as balance_change,
  coalesce(sum(debt_change_millis), 0)::text as debt_change`;
const FLOW_SUMS = sql.raw(FLOW_SUMS_TEXT);

/** The same sums, each row times `v.sign` (−1: the rows a day's total takes out of its anchor period). */
const SIGNED_FLOW_SUMS = sql.raw(FLOW_SUMS_TEXT.replace(/coalesce\(sum\((\w+)\)/g, 'coalesce(sum(v.sign * $1)'));

interface FlowSumRow {
  period: number | string;
  action: string;
  model: string;
  consumed: string;
  consumed_free: string;
  consumed_purchased: string;
  transactions: string;
  refunded: string;
  allocated: string;
  purchased: string;
  granted: string;
  expired: string;
  reversed: string;
  carried_forward: string;
  balance_change: string;
  debt_change: string;
}

function periodRow(r: FlowSumRow): PeriodFlowRow {
  return {
    period: Number(r.period), action: r.action, model: r.model,
    consumedMillis: Number(r.consumed), consumedFreeMillis: Number(r.consumed_free), consumedPurchasedMillis: Number(r.consumed_purchased),
    transactions: Number(r.transactions), refundedMillis: Number(r.refunded), allocatedMillis: Number(r.allocated),
    purchasedMillis: Number(r.purchased), grantedMillis: Number(r.granted), expiredMillis: Number(r.expired), reversedMillis: Number(r.reversed),
    carriedForwardMillis: Number(r.carried_forward), balanceChangeMillis: Number(r.balance_change), debtChangeMillis: Number(r.debt_change),
  };
}

/**
 * The arrays both period reads (flows by action × model, usage by member) pass to SQL: the boundaries'
 * quarter-hour indexes, the days read whole from the quarter-hour table, the cut days with their
 * anchors, and each split day's quarter-hour range [lo, hi).
 */
function splitDayArguments(splitReads: readonly SplitDayRead[], boundaryQuarters: readonly number[]) {
  const cut = splitReads.filter((r) => r.anchorQuarter !== null);
  return {
    thresholds: sql`${arrayText(boundaryQuarters)}::bigint[]`,
    whole: sql`${arrayText(splitReads.filter((r) => r.anchorQuarter === null).map((r) => r.day))}::text[]`,
    cutDays: sql`${arrayText(cut.map((r) => r.day))}::text[]`,
    cutAnchors: sql`${arrayText(cut.map((r) => r.anchorQuarter!))}::int[]`,
    days: sql`${arrayText(splitReads.map((r) => r.day))}::text[]`,
    los: sql`${arrayText(splitReads.map((r) => r.lo))}::int[]`,
    his: sql`${arrayText(splitReads.map((r) => r.hi))}::int[]`,
    anchors: sql`${arrayText(splitReads.map((r) => r.anchorQuarter ?? -1))}::int[]`,
    dayIndex: sql.raw('(day::date - date \'1970-01-01\') * 96'),
  };
}

/**
 * Flows per period × action × model: usage_daily for the days from `firstDay` to `lastDay` not read
 * whole from usage_quarterly (by primary key: account, day range), usage_quarterly for the split days'
 * quarter-hours in [lo, hi), and those same rows once more, negated, in the anchor's period (see
 * SplitDayRead: a day's total goes to one period and its smaller side moves out of it). A row's period
 * is width_bucket(its quarter-hour index since 1970, the boundaries' indexes): 0 before from, n + 1 at
 * or after to.
 */
export async function periodFlows(
  executor: Executor, accountId: string, firstDay: string, lastDay: string, splitReads: readonly SplitDayRead[], boundaryQuarters: readonly number[],
): Promise<PeriodFlowRow[]> {
  const { thresholds, whole, cutDays, cutAnchors, days, los, his, anchors, dayIndex } = splitDayArguments(splitReads, boundaryQuarters);
  const [daily, quarterly] = await Promise.all([
    rows<FlowSumRow>(executor, sql`
      select width_bucket((${dayIndex} + coalesce(s.anchor, 0))::bigint, ${thresholds}) as period, action, model, ${FLOW_SUMS}
      from ${usageDaily}
      left join unnest(${cutDays}, ${cutAnchors}) as s(cut_day, anchor)
        on s.cut_day = usage_daily.day
      where account_id = ${accountId} and day >= ${firstDay} and day <= ${lastDay} and not (day = any(${whole}))
      group by 1, action, model`),
    // Per split day, an index range scan of its quarter-hours [lo, hi) (the key is account, day, quarter, …);
    // each row counts in its own period and, negated, in the anchor's (sign −1), from one read.
    splitReads.length === 0 ? Promise.resolve([]) : rows<FlowSumRow>(executor, sql`
      select width_bucket((${dayIndex} + v.q)::bigint, ${thresholds}) as period, action, model, ${SIGNED_FLOW_SUMS}
      from unnest(${days}, ${los}, ${his}, ${anchors}) as s(split_day, lo, hi, anchor)
      cross join lateral (
        select * from ${usageQuarterly} u
        where u.account_id = ${accountId} and u.day = s.split_day and u.quarter >= s.lo and u.quarter < s.hi
      ) q
      cross join lateral (values (1, q.quarter), (-1, s.anchor)) as v(sign, q)
      where v.sign = 1 or s.anchor >= 0
      group by 1, action, model`),
  ]);
  return [...daily, ...quarterly].map(periodRow);
}

/**
 * A team wallet's usage per period × member, read like periodFlows: member_usage_daily for whole days
 * (a cut day's total in its anchor's period), member_usage_quarterly for the split days' quarter-hours
 * (each in its own period and, negated, in the anchor's).
 */
export async function memberFlows(
  executor: Executor, accountId: string, firstDay: string, lastDay: string, splitReads: readonly SplitDayRead[], boundaryQuarters: readonly number[],
): Promise<MemberFlowRow[]> {
  const { thresholds, whole, cutDays, cutAnchors, days, los, his, anchors, dayIndex } = splitDayArguments(splitReads, boundaryQuarters);
  type Row = { period: number | string; member_id: string; consumed: string; refunded: string; transactions: string };
  const [daily, quarterly] = await Promise.all([
    rows<Row>(executor, sql`
      select width_bucket((${dayIndex} + coalesce(s.anchor, 0))::bigint, ${thresholds}) as period, member_id::text as member_id,
        sum(consumed_millis)::text as consumed, sum(refunded_millis)::text as refunded, sum(transactions)::text as transactions
      from ${memberUsageDaily}
      left join unnest(${cutDays}, ${cutAnchors}) as s(cut_day, anchor)
        on s.cut_day = member_usage_daily.day
      where account_id = ${accountId} and day >= ${firstDay} and day <= ${lastDay} and not (day = any(${whole}))
      group by 1, member_id`),
    splitReads.length === 0 ? Promise.resolve([]) : rows<Row>(executor, sql`
      select width_bucket((${dayIndex} + v.q)::bigint, ${thresholds}) as period, member_id::text as member_id,
        sum(v.sign * consumed_millis)::text as consumed, sum(v.sign * refunded_millis)::text as refunded, sum(v.sign * transactions)::text as transactions
      from unnest(${days}, ${los}, ${his}, ${anchors}) as s(split_day, lo, hi, anchor)
      cross join lateral (
        select * from ${memberUsageQuarterly} u
        where u.account_id = ${accountId} and u.day = s.split_day and u.quarter >= s.lo and u.quarter < s.hi
      ) q
      cross join lateral (values (1, q.quarter), (-1, s.anchor)) as v(sign, q)
      where v.sign = 1 or s.anchor >= 0
      group by 1, member_id`),
  ]);
  return [...daily, ...quarterly].map((r) => ({
    period: Number(r.period), memberId: r.member_id, consumedMillis: Number(r.consumed), refundedMillis: Number(r.refunded), transactions: Number(r.transactions),
  }));
}

/** The wallet's balance and debt at the end of the last UTC day before `day` with any transaction (0/0: none). */
export async function openingStocks(executor: Executor, accountId: string, day: string): Promise<OpeningStocks> {
  const [r] = await rows<{ balance: string; debt: string }>(executor, sql`
    select balance_after_millis::text as balance, debt_after_millis::text as debt from ${balanceDaily}
    where account_id = ${accountId} and day < ${day} order by day desc limit 1`);
  return r ? { balanceMillis: Number(r.balance), debtMillis: Number(r.debt) } : { balanceMillis: 0, debtMillis: 0 };
}

/** The account's kind (USER, TEAM), or null when there is none. */
export async function accountKind(executor: Executor, accountId: string): Promise<string | null> {
  const found = await rows<{ kind: string }>(executor, sql`select kind from ${accounts} where id = ${accountId}`);
  return found[0]?.kind ?? null;
}
