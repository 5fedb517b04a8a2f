import { and, desc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { accounts, effectivePlanTier, quotes, rateCards, wallets } from '../../db/schema';
import { executeJsonInsert } from '../../db/json-rows';

export type RateCardRow = typeof rateCards.$inferSelect;
export type QuoteRow = typeof quotes.$inferSelect;

export async function insertRateCard(executor: Executor, row: RateCardRow): Promise<void> {
  await executor.insert(rateCards).values(row);
}

export async function findRateCard(executor: Executor, id: string): Promise<RateCardRow | undefined> {
  const [row] = await executor.select().from(rateCards).where(eq(rateCards.id, id));
  return row;
}

export async function findVersion(executor: Executor, version: number): Promise<RateCardRow | undefined> {
  const [row] = await executor.select().from(rateCards).where(eq(rateCards.version, version));
  return row;
}

export async function currentVersion(executor: Executor): Promise<RateCardRow | undefined> {
  const [row] = await executor.select().from(rateCards).where(eq(rateCards.status, 'PUBLISHED')).orderBy(desc(rateCards.version)).limit(1);
  return row;
}

export async function updateDraft(executor: Executor, id: string, set: Partial<Pick<RateCardRow, 'content' | 'name'>>): Promise<boolean> {
  const result = await executor.update(rateCards).set(set).where(and(eq(rateCards.id, id), eq(rateCards.status, 'DRAFT'))).returning({ id: rateCards.id });
  return result.length > 0;
}

/** Publishing numbers versions one after another; the advisory lock serializes concurrent publishers. */
export async function publishDraft(tx: Tx, id: string, at: Date): Promise<RateCardRow | undefined> {
  await tx.execute(sql`select pg_advisory_xact_lock(7301403)`);
  const [{ next }] = await tx.select({ next: sql<number>`coalesce(max(${rateCards.version}), 0) + 1` }).from(rateCards);
  const [row] = await tx.update(rateCards).set({ status: 'PUBLISHED', version: Number(next), publishedAt: at })
    .where(and(eq(rateCards.id, id), eq(rateCards.status, 'DRAFT'))).returning();
  return row;
}

export async function insertQuotes(executor: Executor, rows: QuoteRow[]): Promise<void> {
  await executeJsonInsert(executor, quotes, rows);
}

export async function findQuote(executor: Executor, id: string, forUpdate = false): Promise<QuoteRow | undefined> {
  const query = executor.select().from(quotes).where(eq(quotes.id, id));
  const [row] = forUpdate ? await query.for('update') : await query;
  return row;
}

/** Deletes up to `limit` quotes that expired before `before`; returns how many. */
export async function deleteExpiredQuotes(executor: Executor, before: Date, limit: number): Promise<number> {
  const oldest = executor.select({ id: quotes.id }).from(quotes).where(lt(quotes.expiresAt, before)).limit(limit);
  const deleted = await executor.delete(quotes).where(inArray(quotes.id, oldest)).returning({ id: quotes.id });
  return deleted.length;
}

/** Marks a quote used by a transaction; false if it was used meanwhile. */
export async function markQuoteUsed(tx: Tx, id: string, transactionId: string, at: Date): Promise<boolean> {
  const result = await tx.update(quotes).set({ usedAt: at, usedBy: transactionId })
    .where(and(eq(quotes.id, id), isNull(quotes.usedAt))).returning({ id: quotes.id });
  return result.length > 0;
}

/** An account's plan tier, read through `executor` (inside a ledger transaction: its own tx). */
/** The tier that prices an account's generations (its plan's when subscribed, else the account's own). */
export async function findPlanTier(executor: Executor, accountId: string): Promise<{ planTier: string | null } | undefined> {
  const [row] = await executor.select({ planTier: effectivePlanTier }).from(accounts).innerJoin(wallets, eq(wallets.accountId, accounts.id)).where(eq(accounts.id, accountId));
  return row;
}
