/** SQL of reports: the daily usage aggregates over a range of UTC days. Knows nothing about GraphQL. */
import { sql } from 'drizzle-orm';
import type { Executor } from '../../db/client';
import { rows } from '../../db/client';
import { accounts, usageDaily } from '../../db/schema';

export interface PlatformTotalsRow {
  consumedMillis: number;
  refundedMillis: number;
  charges: number;
  activeAccounts: number;
}

export async function platformTotals(executor: Executor, fromDay: string, toDay: string): Promise<PlatformTotalsRow> {
  const [r] = await rows<{ consumed: string; refunded: string; charges: string; active: string }>(executor, sql`
    select coalesce(sum(consumed_millis), 0) as consumed, coalesce(sum(refunded_millis), 0) as refunded,
      coalesce(sum(transactions), 0) as charges, count(distinct account_id) as active
    from ${usageDaily} where day >= ${fromDay} and day <= ${toDay}`);
  return { consumedMillis: Number(r.consumed), refundedMillis: Number(r.refunded), charges: Number(r.charges), activeAccounts: Number(r.active) };
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
