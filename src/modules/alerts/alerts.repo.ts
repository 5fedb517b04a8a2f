/** SQL of alerts. Knows nothing about GraphQL. */
import { and, asc, desc, eq, gt, gte, inArray, isNull, max, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { alerts, wallets } from '../../db/schema';

export type AlertRow = typeof alerts.$inferSelect;

/** Inserts an alert; null when its dedupe key is taken. */
export async function insertAlert(tx: Tx, row: Omit<AlertRow, 'pos'>): Promise<AlertRow | null> {
  const [inserted] = await tx.insert(alerts).values(row).onConflictDoNothing({ target: alerts.dedupeKey }).returning();
  return inserted ?? null;
}

/** The fired low-credit levels of a wallet (its row is locked by the operation that changed them). */
export async function setFiredLevels(tx: Tx, accountId: string, fired: number[]): Promise<void> {
  await tx.update(wallets).set({ lowCreditFired: fired }).where(eq(wallets.accountId, accountId));
}

/** Alerts of one account (or of every account), unread first, then newest first; keyset on (read, pos). */
export async function listAlerts(executor: Executor, accountId: string | null, unreadOnly: boolean, before: { read: boolean; pos: number } | null, limit: number): Promise<AlertRow[]> {
  const readFlag = sql<number>`(case when ${alerts.readAt} is null then 0 else 1 end)`;
  return executor.select().from(alerts)
    .where(and(
      accountId ? eq(alerts.accountId, accountId) : undefined,
      unreadOnly ? isNull(alerts.readAt) : undefined,
      before ? sql`(${readFlag} > ${before.read ? 1 : 0} or (${readFlag} = ${before.read ? 1 : 0} and ${alerts.pos} < ${before.pos}))` : undefined,
    ))
    .orderBy(readFlag, desc(alerts.pos)).limit(limit);
}

/** The account of each alert id that exists. */
export async function ownersOf(executor: Executor, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await executor.select({ id: alerts.id, accountId: alerts.accountId }).from(alerts).where(inArray(alerts.id, [...ids]));
  return new Map(rows.map((r) => [r.id, r.accountId]));
}

/** Marks unread alerts read; returns how many changed. */
export async function markRead(executor: Executor, ids: readonly string[], at: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const changed = await executor.update(alerts).set({ readAt: at })
    .where(and(inArray(alerts.id, [...ids]), isNull(alerts.readAt)))
    .returning({ id: alerts.id });
  return changed.length;
}

/** Alerts raised by these ledger transactions (live events carry them), oldest first; one query (alerts_transaction_idx). */
export async function alertsOfTransactions(executor: Executor, transactionIds: readonly string[]): Promise<AlertRow[]> {
  if (transactionIds.length === 0) return [];
  return executor.select().from(alerts).where(inArray(alerts.transactionId, [...transactionIds])).orderBy(asc(alerts.pos));
}

/** The newest alert position (of one account, or of all): live alert subscribers catch up after it. */
export async function lastAlertPos(executor: Executor, accountId: string | null): Promise<number> {
  const [row] = await executor.select({ pos: max(alerts.pos) }).from(alerts).where(accountId ? eq(alerts.accountId, accountId) : undefined);
  return Number(row?.pos ?? 0);
}

/**
 * Alerts after `afterPos` raised at or after `since`, of these accounts (null: all), the newest `limit`,
 * returned oldest first: what live subscribers catch up with after messages may have been lost.
 */
export async function recentAlerts(executor: Executor, accountIds: readonly string[] | null, afterPos: number, since: Date, limit: number): Promise<AlertRow[]> {
  if (accountIds !== null && accountIds.length === 0) return [];
  const rows = await executor.select().from(alerts)
    .where(and(
      gt(alerts.pos, afterPos), gte(alerts.createdAt, since),
      accountIds === null ? undefined : accountIds.length === 1 ? eq(alerts.accountId, accountIds[0]) : inArray(alerts.accountId, [...accountIds]),
    ))
    .orderBy(desc(alerts.pos)).limit(limit);
  return rows.reverse();
}
