/** SQL of reports: the daily aggregates over a range of UTC days. Knows nothing about GraphQL. */
import { sql } from 'drizzle-orm';
import type { Executor } from '../../db/client';
import { rows } from '../../db/client';
import { accounts, failuresDaily, modelCostsDaily, usageDaily } from '../../db/schema';

export interface PlatformTotalsRow {
  consumedMillis: number;
  refundedMillis: number;
  charges: number;
  activeAccounts: number;
  allocatedMillis: number;
  purchasedMillis: number;
  grantedMillis: number;
  expiredMillis: number;
}

/**
 * Sums over every account. An account is active when it charged (usage_daily also holds the rows of
 * grants, purchases and expiries, whose `transactions` is 0).
 */
export async function platformTotals(executor: Executor, fromDay: string, toDay: string): Promise<PlatformTotalsRow> {
  const [r] = await rows<Record<'consumed' | 'refunded' | 'charges' | 'active' | 'allocated' | 'purchased' | 'granted' | 'expired', string>>(executor, sql`
    select coalesce(sum(consumed_millis), 0) as consumed, coalesce(sum(refunded_millis), 0) as refunded,
      coalesce(sum(transactions), 0) as charges, count(distinct account_id) filter (where transactions > 0) as active,
      coalesce(sum(allocated_millis), 0) as allocated, coalesce(sum(purchased_millis), 0) as purchased,
      coalesce(sum(granted_millis), 0) as granted, coalesce(sum(expired_millis), 0) as expired
    from ${usageDaily} where day >= ${fromDay} and day <= ${toDay}`);
  return {
    consumedMillis: Number(r.consumed), refundedMillis: Number(r.refunded), charges: Number(r.charges), activeAccounts: Number(r.active),
    allocatedMillis: Number(r.allocated), purchasedMillis: Number(r.purchased), grantedMillis: Number(r.granted), expiredMillis: Number(r.expired),
  };
}

export interface TopConsumerRow {
  accountId: string;
  name: string;
  consumedMillis: number;
}

/** The accounts that consumed most (ties by account id), names joined after ranking. */
export async function topConsumers(executor: Executor, fromDay: string, toDay: string, limit: number): Promise<TopConsumerRow[]> {
  const found = await rows<{ account_id: string; name: string; consumed: string }>(executor, sql`
    with top as (
      select account_id, sum(consumed_millis) as consumed from ${usageDaily}
      where day >= ${fromDay} and day <= ${toDay}
      group by account_id having sum(consumed_millis) > 0
      order by consumed desc, account_id limit ${limit})
    select top.account_id, a.name, top.consumed from top join ${accounts} a on a.id = top.account_id
    order by top.consumed desc, top.account_id`);
  return found.map((r) => ({ accountId: r.account_id, name: r.name, consumedMillis: Number(r.consumed) }));
}

export interface UsageGroupRow {
  /** The plan code or the action; null for none (stored as ''). */
  key: string | null;
  consumedMillis: number;
  refundedMillis: number;
  charges: number;
  /** Accounts that charged in the group. */
  accounts: number;
}

/**
 * Usage grouped by plan or by action: only groups with charges or refunds (grants and expiries have
 * no action and would only add empty rows), most consumed first, ties by key.
 */
export async function usageBy(executor: Executor, column: 'plan_code' | 'action', fromDay: string, toDay: string, limit: number): Promise<UsageGroupRow[]> {
  const key = sql.raw(column);
  const found = await rows<{ key: string; consumed: string; refunded: string; charges: string; accounts: string }>(executor, sql`
    select ${key} as key, sum(consumed_millis) as consumed, sum(refunded_millis) as refunded, sum(transactions) as charges,
      count(distinct account_id) filter (where transactions > 0) as accounts
    from ${usageDaily} where day >= ${fromDay} and day <= ${toDay}
    group by ${key} having sum(transactions) > 0 or sum(refunded_millis) > 0
    order by consumed desc, key limit ${limit}`);
  return found.map((r) => ({
    key: r.key === '' ? null : r.key, consumedMillis: Number(r.consumed), refundedMillis: Number(r.refunded),
    charges: Number(r.charges), accounts: Number(r.accounts),
  }));
}

export interface FailureCountRow {
  code: string;
  attempts: number;
}

/** Refused attempts by failure code, most first. */
export async function failures(executor: Executor, fromDay: string, toDay: string, limit: number): Promise<FailureCountRow[]> {
  const found = await rows<{ code: string; attempts: string }>(executor, sql`
    select failure_code as code, sum(attempts) as attempts from ${failuresDaily}
    where day >= ${fromDay} and day <= ${toDay}
    group by failure_code order by attempts desc, code limit ${limit}`);
  return found.map((r) => ({ code: r.code, attempts: Number(r.attempts) }));
}

export interface ModelMoneyRow {
  /** null for charges without a model (stored as ''). */
  model: string | null;
  currency: string;
  /** Exact decimal text (numeric sums). */
  revenue: string;
  vendorCost: string;
}

/** Credit revenue and vendor cost per model × currency (every vendor and account), most revenue first. */
export async function moneyByModel(executor: Executor, fromDay: string, toDay: string, limit: number): Promise<ModelMoneyRow[]> {
  const found = await rows<{ model: string; currency: string; revenue: string; vendor_cost: string }>(executor, sql`
    select model, currency, sum(revenue)::text as revenue, sum(vendor_cost)::text as vendor_cost from ${modelCostsDaily}
    where day >= ${fromDay} and day <= ${toDay}
    group by model, currency order by sum(revenue) desc, model, currency limit ${limit}`);
  return found.map((r) => ({ model: r.model === '' ? null : r.model, currency: r.currency, revenue: r.revenue, vendorCost: r.vendor_cost }));
}
