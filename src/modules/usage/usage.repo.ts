/**
 * SQL of usage and forecasts: reads of the daily aggregates (usage_daily, by its primary key
 * account_id, day, …), the forecast job's candidates and the RUN_OUT_SOON state on the wallet row.
 * Never reads the ledger's transactions. Knows nothing about GraphQL.
 */
import { and, asc, eq, gt, gte, inArray, lte, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { at, rows } from '../../db/client';
import { alerts, buckets, usageDaily, wallets } from '../../db/schema';
import type { DayUsage } from './forecast-rules';

const sumOf = (column: typeof usageDaily.consumedMillis | typeof usageDaily.refundedMillis | typeof usageDaily.transactions) =>
  sql<string>`coalesce(sum(${column}), 0)`;

/** Per account, its usage per day from `fromDay` to `toDay` (inclusive), summed over actions, models and kinds; one statement. */
export async function dayTotals(executor: Executor, accountIds: readonly string[], fromDay: string, toDay: string): Promise<Map<string, DayUsage[]>> {
  const result = new Map<string, DayUsage[]>(accountIds.map((id) => [id, []]));
  if (accountIds.length === 0) return result;
  const found = await executor
    .select({ accountId: usageDaily.accountId, day: usageDaily.day, consumed: sumOf(usageDaily.consumedMillis), refunded: sumOf(usageDaily.refundedMillis), transactions: sumOf(usageDaily.transactions) })
    .from(usageDaily)
    .where(and(
      accountIds.length === 1 ? eq(usageDaily.accountId, accountIds[0]) : inArray(usageDaily.accountId, [...accountIds]),
      gte(usageDaily.day, fromDay), lte(usageDaily.day, toDay),
    ))
    .groupBy(usageDaily.accountId, usageDaily.day)
    .orderBy(asc(usageDaily.accountId), asc(usageDaily.day));
  for (const r of found) {
    result.get(r.accountId)?.push({ day: r.day, consumedMillis: Number(r.consumed), refundedMillis: Number(r.refunded), transactions: Number(r.transactions) });
  }
  return result;
}

export interface UsageByDayRow {
  day: string;
  action: string;
  model: string;
  consumedMillis: number;
  refundedMillis: number;
  transactions: number;
}

/** One account's usage per day × action × model (credit kinds summed), ordered by day, action, model; at most `limit` rows. */
export async function usageByDay(executor: Executor, accountId: string, fromDay: string, toDay: string, limit: number): Promise<UsageByDayRow[]> {
  const found = await executor
    .select({ day: usageDaily.day, action: usageDaily.action, model: usageDaily.model, consumed: sumOf(usageDaily.consumedMillis), refunded: sumOf(usageDaily.refundedMillis), transactions: sumOf(usageDaily.transactions) })
    .from(usageDaily)
    .where(and(eq(usageDaily.accountId, accountId), gte(usageDaily.day, fromDay), lte(usageDaily.day, toDay)))
    .groupBy(usageDaily.day, usageDaily.action, usageDaily.model)
    // usage_daily also holds grants, expiries and the like (no usage): only rows with usage are listed.
    .having(sql`sum(${usageDaily.consumedMillis}) <> 0 or sum(${usageDaily.refundedMillis}) <> 0 or sum(${usageDaily.transactions}) <> 0`)
    .orderBy(asc(usageDaily.day), asc(usageDaily.action), asc(usageDaily.model))
    .limit(limit);
  return found.map((r) => ({
    day: r.day, action: r.action, model: r.model, consumedMillis: Number(r.consumed), refundedMillis: Number(r.refunded), transactions: Number(r.transactions),
  }));
}

export interface SweptWallet {
  accountId: string;
  runOutSoonFired: boolean;
  /** Any usage from `fromDay` to `toDay` (a primary-key probe per wallet). */
  used: boolean;
}

/** The next wallets after `after` in account id order (keyset), each with its RUN_OUT_SOON state and whether it used credits lately. */
export async function sweepWallets(executor: Executor, after: string | null, limit: number, fromDay: string, toDay: string): Promise<SweptWallet[]> {
  const found = await executor
    .select({
      accountId: wallets.accountId,
      runOutSoonFired: wallets.runOutSoonFired,
      used: sql<boolean>`exists (select 1 from ${usageDaily} where ${usageDaily.accountId} = ${wallets.accountId} and ${usageDaily.day} >= ${fromDay} and ${usageDaily.day} <= ${toDay} and ${usageDaily.transactions} > 0)`,
    })
    .from(wallets)
    .where(after === null ? undefined : gt(wallets.accountId, after))
    .orderBy(asc(wallets.accountId))
    .limit(limit);
  return found.map((r) => ({ accountId: r.accountId, runOutSoonFired: r.runOutSoonFired, used: r.used === true }));
}

/** Locks the wallet row (the ledger's lock: no charge moves it meanwhile) and reads the forecast state. */
export async function lockRunOutState(tx: Tx, accountId: string): Promise<{ runOutSoonFired: boolean; planRenewsAt: Date | null } | null> {
  const [row] = await tx.select({ runOutSoonFired: wallets.runOutSoonFired, planRenewsAt: wallets.planRenewsAt })
    .from(wallets).where(eq(wallets.accountId, accountId)).for('update');
  return row ?? null;
}

export async function setRunOutSoonFired(tx: Tx, accountId: string, fired: boolean): Promise<void> {
  await tx.update(wallets).set({ runOutSoonFired: fired }).where(eq(wallets.accountId, accountId));
}

export const EXPIRING_DEDUPE_PREFIX = 'expiring:';

export interface ExpiringCandidate {
  bucketId: string;
  accountId: string;
  expiresAt: Date;
}

/**
 * Buckets with credits that expire after `now` and by `until` and have no CREDITS_EXPIRING alert yet,
 * in (expiresAt, id) order after `after` (keyset). The range is read through buckets_expiry_idx (the
 * predicate repeats the index's); the alert check is a probe of the alerts' unique dedupe key.
 */
export async function expiringCandidates(executor: Executor, now: Date, until: Date, after: { expiresAt: Date; bucketId: string } | null, limit: number): Promise<ExpiringCandidate[]> {
  const found = await rows<{ id: string; account_id: string; expires_at: string | Date }>(executor, sql`
    select b.id, b.account_id, b.expires_at from ${buckets} b
    where b.remaining_millis > 0 and b.expires_at is not null and b.expires_at > ${at(now)} and b.expires_at <= ${at(until)}
      ${after ? sql`and (b.expires_at, b.id) > (${at(after.expiresAt)}, ${after.bucketId}::uuid)` : sql``}
      and not exists (select 1 from ${alerts} a where a.dedupe_key = ${EXPIRING_DEDUPE_PREFIX} || b.id::text)
    order by b.expires_at, b.id
    limit ${limit}`);
  return found.map((r) => ({ bucketId: r.id, accountId: r.account_id, expiresAt: new Date(r.expires_at) }));
}
