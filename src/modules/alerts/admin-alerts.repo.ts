/** SQL of admin alerts. Knows nothing about GraphQL. */
import { and, desc, inArray, isNull, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { adminAlerts } from '../../db/schema';

export type AdminAlertRow = typeof adminAlerts.$inferSelect;

/** Inserts an admin alert; null when its dedupe key is taken (raised once per subject). */
export async function insertAdminAlert(tx: Tx, row: Omit<AdminAlertRow, 'pos'>): Promise<AdminAlertRow | null> {
  const [inserted] = await tx.insert(adminAlerts).values(row).onConflictDoNothing({ target: adminAlerts.dedupeKey }).returning();
  return inserted ?? null;
}

/** Unread first, then newest first; keyset on (read, pos). */
export async function listAdminAlerts(executor: Executor, unreadOnly: boolean, before: { read: boolean; pos: number } | null, limit: number): Promise<AdminAlertRow[]> {
  const readFlag = sql<number>`(case when ${adminAlerts.readAt} is null then 0 else 1 end)`;
  return executor.select().from(adminAlerts)
    .where(and(
      unreadOnly ? isNull(adminAlerts.readAt) : undefined,
      before ? sql`(${readFlag} > ${before.read ? 1 : 0} or (${readFlag} = ${before.read ? 1 : 0} and ${adminAlerts.pos} < ${before.pos}))` : undefined,
    ))
    .orderBy(readFlag, desc(adminAlerts.pos)).limit(limit);
}

/** Marks unread admin alerts read; returns how many changed. */
export async function markAdminAlertsRead(executor: Executor, ids: readonly string[], at: Date): Promise<number> {
  if (ids.length === 0) return 0;
  const changed = await executor.update(adminAlerts).set({ readAt: at })
    .where(and(inArray(adminAlerts.id, [...ids]), isNull(adminAlerts.readAt)))
    .returning({ id: adminAlerts.id });
  return changed.length;
}
