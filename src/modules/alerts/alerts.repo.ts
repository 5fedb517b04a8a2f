/** SQL of alerts. Knows nothing about GraphQL. */
import { and, desc, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { alerts } from '../../db/schema';

export type AlertRow = typeof alerts.$inferSelect;

/** Inserts an alert; null when its dedupe key was already taken (the alert exists: nothing written). */
export async function insertAlert(tx: Tx, row: Omit<AlertRow, 'pos'>): Promise<AlertRow | null> {
  const [inserted] = await tx.insert(alerts).values(row).onConflictDoNothing({ target: alerts.dedupeKey }).returning();
  return inserted ?? null;
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

/** Marks alerts read (those of `accountId` only, when given); returns how many changed. */
export async function markRead(executor: Executor, ids: readonly string[], accountId: string | null, at: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const changed = await executor.update(alerts).set({ readAt: at })
    .where(and(inArray(alerts.id, [...ids]), isNull(alerts.readAt), accountId ? eq(alerts.accountId, accountId) : undefined))
    .returning({ id: alerts.id });
  return changed.length;
}

