/** SQL of the email outbox. Knows nothing about GraphQL. */
import { and, asc, desc, eq, inArray, lt, lte, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { accounts, emailOutbox, type EmailStatusName } from '../../db/schema';

export type OutboxRow = typeof emailOutbox.$inferSelect;
export type NewOutboxRow = Omit<OutboxRow, 'pos'>;

export interface Recipient {
  name: string;
  email: string | null;
}

/** Names and email addresses of accounts (one statement). */
export async function recipients(tx: Tx, accountIds: readonly string[]): Promise<Map<string, Recipient>> {
  if (accountIds.length === 0) return new Map();
  const rows = await tx.select({ id: accounts.id, name: accounts.name, email: accounts.email }).from(accounts).where(inArray(accounts.id, [...accountIds]));
  return new Map(rows.map((r) => [r.id, { name: r.name, email: r.email }]));
}

/** One email per dedupe key: a key already in the outbox is left as it is. */
export async function insertEmails(tx: Tx, rows: readonly NewOutboxRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.insert(emailOutbox).values([...rows]).onConflictDoNothing({ target: emailOutbox.dedupeKey });
}

/**
 * Claims up to `limit` due PENDING emails in one statement (its own short database transaction):
 * SKIP LOCKED, so instances claiming at once each get different ones; each claimed email's
 * nextAttemptAt moves to `leaseUntil` (no other instance takes it before then, and anyone may after,
 * should this one die mid-send) and its attempts count one more. An email whose `attemptsMax`
 * attempts all started without ever finishing (each sender died or was cut off) is FAILED instead.
 */
export async function claimDue(executor: Executor, now: Date, leaseUntil: Date, limit: number, attemptsMax: number): Promise<OutboxRow[]> {
  const due = executor.select({ id: emailOutbox.id }).from(emailOutbox)
    .where(and(eq(emailOutbox.status, 'PENDING'), lte(emailOutbox.nextAttemptAt, now)))
    .orderBy(asc(emailOutbox.nextAttemptAt), asc(emailOutbox.pos)).limit(limit).for('update', { skipLocked: true });
  const exhausted = sql`${emailOutbox.attempts} >= ${attemptsMax}`;
  return executor.update(emailOutbox).set({
    status: sql`case when ${exhausted} then 'FAILED' else ${emailOutbox.status} end`,
    lastError: sql`case when ${exhausted} then ${`gave up after ${attemptsMax} attempts; the last did not finish (its sender stopped mid-send)`} else ${emailOutbox.lastError} end`,
    attempts: sql`case when ${exhausted} then ${emailOutbox.attempts} else ${emailOutbox.attempts} + 1 end`,
    nextAttemptAt: leaseUntil,
  }).where(inArray(emailOutbox.id, due)).returning();
}

/** SENT, whoever's attempt it was (a success stands; a concurrent attempt's later failure then changes nothing). */
export async function markSent(executor: Executor, id: string, at: Date): Promise<boolean> {
  const changed = await executor.update(emailOutbox).set({ status: 'SENT', sentAt: at, nextAttemptAt: at })
    .where(and(eq(emailOutbox.id, id), eq(emailOutbox.status, 'PENDING'))).returning({ id: emailOutbox.id });
  return changed.length > 0;
}

/**
 * The outcome of a failed attempt: only while the email is still this attempt's (PENDING, attempts
 * unchanged since the claim), so a late failure never undoes a newer claim or a success.
 */
export async function markFailed(executor: Executor, id: string, claimedAttempts: number, set: { status: EmailStatusName; nextAttemptAt: Date; lastError: string }): Promise<boolean> {
  const changed = await executor.update(emailOutbox).set(set)
    .where(and(eq(emailOutbox.id, id), eq(emailOutbox.status, 'PENDING'), eq(emailOutbox.attempts, claimedAttempts))).returning({ id: emailOutbox.id });
  return changed.length > 0;
}

/** Newest first; keyset on pos. */
export async function listOutbox(executor: Executor, status: EmailStatusName | null, beforePos: number | null, limit: number): Promise<OutboxRow[]> {
  return executor.select().from(emailOutbox)
    .where(and(status ? eq(emailOutbox.status, status) : undefined, beforePos !== null ? lt(emailOutbox.pos, beforePos) : undefined))
    .orderBy(desc(emailOutbox.pos)).limit(limit);
}
