/** SQL of alerts. Knows nothing about GraphQL. */
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
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

/** Alerts raised by these ledger transactions (walletEvents carries them). */
export async function alertsOfTransactions(executor: Executor, transactionIds: readonly string[]): Promise<AlertRow[]> {
  if (transactionIds.length === 0) return [];
  return executor.select().from(alerts).where(inArray(alerts.transactionId, [...transactionIds]));
}

/** Marks unread alerts read; returns how many changed. */
export async function markRead(executor: Executor, ids: readonly string[], at: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const changed = await executor.update(alerts).set({ readAt: at })
    .where(and(inArray(alerts.id, [...ids]), isNull(alerts.readAt)))
    .returning({ id: alerts.id });
  return changed.length;
}
