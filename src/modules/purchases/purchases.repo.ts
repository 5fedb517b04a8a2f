/** SQL of credit packs, the price table, purchases, payment events and auto top-ups. Knows nothing about GraphQL. */
import { and, asc, desc, eq, gte, inArray, isNull, lt, lte, ne, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { autoTopUps, creditPacks, creditPriceTables, paymentEvents, purchases, settings, wallets } from '../../db/schema';
import { PACKS_LISTED_MAX } from './purchase-rules';

export type PackRow = typeof creditPacks.$inferSelect;
export type PriceTableRow = typeof creditPriceTables.$inferSelect;
export type PurchaseRow = typeof purchases.$inferSelect;
export type NewPurchaseRow = Omit<typeof purchases.$inferInsert, 'pos'>;
export type PaymentEventRow = typeof paymentEvents.$inferSelect;
export type NewPaymentEventRow = Omit<PaymentEventRow, 'seq'>;
export type AutoTopUpRow = typeof autoTopUps.$inferSelect;

// ---- packs ----

export async function insertPack(tx: Tx, pack: PackRow): Promise<boolean> {
  const inserted = await tx.insert(creditPacks).values(pack).onConflictDoNothing({ target: creditPacks.code }).returning({ id: creditPacks.id });
  return inserted.length > 0;
}

export async function updatePack(tx: Tx, pack: PackRow): Promise<void> {
  await tx.update(creditPacks).set(pack).where(eq(creditPacks.id, pack.id));
}

export async function packByCode(executor: Executor, code: string, lock = false): Promise<PackRow | undefined> {
  const query = executor.select().from(creditPacks).where(eq(creditPacks.code, code));
  const [row] = lock ? await query.for('update') : await query;
  return row;
}

export async function packsByIds(executor: Executor, ids: readonly string[]): Promise<PackRow[]> {
  if (ids.length === 0) return [];
  return executor.select().from(creditPacks).where(inArray(creditPacks.id, [...ids]));
}

/** Packs on sale (or every pack), cheapest first. */
export async function listPacks(executor: Executor, includeArchived: boolean): Promise<PackRow[]> {
  return executor.select().from(creditPacks).where(includeArchived ? undefined : eq(creditPacks.active, true))
    .orderBy(asc(creditPacks.currency), asc(creditPacks.priceMinor), asc(creditPacks.code)).limit(PACKS_LISTED_MAX);
}

// ---- the price table ----

export async function currentPriceTable(executor: Executor): Promise<PriceTableRow | undefined> {
  const [row] = await executor.select().from(creditPriceTables).orderBy(desc(creditPriceTables.version)).limit(1);
  return row;
}

/** The next version (a concurrent writer gets a unique violation on version and retries by hand). */
export async function insertPriceTable(tx: Tx, row: Omit<PriceTableRow, 'version'>): Promise<PriceTableRow> {
  await tx.execute(sql`select pg_advisory_xact_lock(7301404)`); // versions are assigned one at a time
  const current = await currentPriceTable(tx);
  const version = (current?.version ?? 0) + 1;
  await tx.insert(creditPriceTables).values({ ...row, version });
  return { ...row, version };
}

// ---- purchases ----

/** Inserts a purchase unless its idempotency key was used; returns the purchase stored under the key. */
export async function insertPurchase(tx: Tx, row: NewPurchaseRow): Promise<{ purchase: PurchaseRow; fresh: boolean }> {
  const inserted = await tx.insert(purchases).values(row).onConflictDoNothing({ target: [purchases.idempotencyScope, purchases.idempotencyKey] }).returning();
  if (inserted.length > 0) return { purchase: inserted[0], fresh: true };
  return { purchase: (await purchaseByKey(tx, row.idempotencyScope, row.idempotencyKey))!, fresh: false };
}

export async function purchaseByKey(executor: Executor, scope: string, key: string): Promise<PurchaseRow | undefined> {
  const [row] = await executor.select().from(purchases).where(and(eq(purchases.idempotencyScope, scope), eq(purchases.idempotencyKey, key)));
  return row;
}

export async function purchaseById(executor: Executor, id: string, lock = false): Promise<PurchaseRow | undefined> {
  const query = executor.select().from(purchases).where(eq(purchases.id, id));
  const [row] = lock ? await query.for('update') : await query;
  return row;
}

export async function updatePurchase(tx: Tx, id: string, set: Partial<Omit<PurchaseRow, 'id' | 'pos'>>): Promise<void> {
  await tx.update(purchases).set(set).where(eq(purchases.id, id));
}

/** An account's purchases, newest first: up to `limit` before position `beforePos` (keyset). */
export async function purchasesOf(executor: Executor, accountId: string, beforePos: number | null, limit: number): Promise<PurchaseRow[]> {
  return executor.select().from(purchases)
    .where(and(eq(purchases.accountId, accountId), beforePos === null ? undefined : lt(purchases.pos, beforePos)))
    .orderBy(desc(purchases.pos)).limit(limit);
}

/** PENDING purchases of these kinds past their TTL, oldest first. */
export async function expiredPending(executor: Executor, now: Date, limit: number, kinds: PurchaseRow['kind'][]): Promise<PurchaseRow[]> {
  return executor.select().from(purchases).where(and(eq(purchases.status, 'PENDING'), lte(purchases.expiresAt, now), inArray(purchases.kind, kinds)))
    .orderBy(asc(purchases.expiresAt)).limit(limit);
}

/** Cancels PENDING pack and custom purchases past their TTL (up to `limit`); returns how many. */
export async function cancelExpiredCheckouts(executor: Executor, now: Date, reason: string, limit: number): Promise<number> {
  const due = executor.select({ id: purchases.id }).from(purchases)
    .where(and(eq(purchases.status, 'PENDING'), lte(purchases.expiresAt, now), inArray(purchases.kind, ['PACK', 'CUSTOM'])))
    .orderBy(asc(purchases.expiresAt)).limit(limit);
  const canceled = await executor.update(purchases).set({ status: 'CANCELED', failureReason: reason, updatedAt: now })
    .where(and(inArray(purchases.id, due), eq(purchases.status, 'PENDING'))).returning({ id: purchases.id });
  return canceled.length;
}

/** Returns once no transaction holds the wallet's lock (FOR SHARE waits for FOR UPDATE; outside a transaction, it is released at once). */
export async function waitForWalletLock(executor: Executor, accountId: string): Promise<void> {
  await executor.select({ accountId: wallets.accountId }).from(wallets).where(eq(wallets.accountId, accountId)).for('share');
}

/**
 * Claims off-session payments nobody asked the provider for yet: marks them requested and returns them.
 * SKIP LOCKED: several instances each get different ones, and each is asked for exactly once.
 */
export async function claimUnrequested(tx: Tx, now: Date, limit: number): Promise<PurchaseRow[]> {
  const due = await tx.select({ id: purchases.id }).from(purchases)
    .where(and(eq(purchases.status, 'PENDING'), isNull(purchases.requestedAt), inArray(purchases.kind, ['AUTO_TOP_UP', 'PLAN_PERIOD'])))
    .orderBy(asc(purchases.createdAt)).limit(limit).for('update', { skipLocked: true });
  if (due.length === 0) return [];
  return tx.update(purchases).set({ requestedAt: now, updatedAt: now }).where(inArray(purchases.id, due.map((d) => d.id))).returning();
}

export async function pendingAutoTopUp(executor: Executor, accountId: string): Promise<boolean> {
  const [row] = await executor.select({ id: purchases.id }).from(purchases)
    .where(and(eq(purchases.accountId, accountId), eq(purchases.kind, 'AUTO_TOP_UP'), eq(purchases.status, 'PENDING'))).limit(1);
  return row !== undefined;
}

/** Auto top-ups that count against the monthly cap: made (pending or paid) since `since`. */
export async function autoTopUpsSince(executor: Executor, accountId: string, since: Date): Promise<number> {
  const [row] = await executor.select({ n: sql<string>`count(*)::text` }).from(purchases)
    .where(and(eq(purchases.accountId, accountId), eq(purchases.kind, 'AUTO_TOP_UP'), gte(purchases.createdAt, since), ne(purchases.status, 'FAILED'), ne(purchases.status, 'CANCELED')));
  return Number(row?.n ?? 0);
}

// ---- payment events ----

/** Records an event id; false when it was recorded before (waits for a concurrent insert of the same id to commit). */
export async function claimEvent(tx: Tx, row: NewPaymentEventRow): Promise<boolean> {
  const inserted = await tx.insert(paymentEvents).values(row).onConflictDoNothing().returning({ eventId: paymentEvents.eventId });
  return inserted.length > 0;
}

export async function settleEvent(tx: Tx, provider: string, eventId: string, outcome: PaymentEventRow['outcome'], reason: string | null): Promise<void> {
  await tx.update(paymentEvents).set({ outcome, reason }).where(and(eq(paymentEvents.provider, provider), eq(paymentEvents.eventId, eventId)));
}

/** Events to review, newest first; only those naming `purchaseId` when given. */
export async function eventsForReview(executor: Executor, purchaseId: string | null, limit: number): Promise<PaymentEventRow[]> {
  return executor.select().from(paymentEvents)
    .where(and(eq(paymentEvents.outcome, 'REVIEW'), purchaseId === null ? undefined : eq(paymentEvents.purchaseId, purchaseId)))
    .orderBy(desc(paymentEvents.seq)).limit(limit);
}

/** The events of several purchases, oldest first (one statement; DataLoader). */
export async function eventsOfPurchases(executor: Executor, purchaseIds: readonly string[]): Promise<PaymentEventRow[]> {
  if (purchaseIds.length === 0) return [];
  return executor.select().from(paymentEvents).where(inArray(paymentEvents.purchaseId, [...purchaseIds])).orderBy(asc(paymentEvents.seq));
}

// ---- auto top-up ----

export async function autoTopUpOf(executor: Executor, accountId: string, lock = false): Promise<AutoTopUpRow | undefined> {
  const query = executor.select().from(autoTopUps).where(eq(autoTopUps.accountId, accountId));
  const [row] = lock ? await query.for('update') : await query;
  return row;
}

/** Every enabled rule's level, by account. */
export async function enabledAutoTopUps(executor: Executor): Promise<Map<string, number>> {
  const rows = await executor.select({ accountId: autoTopUps.accountId, belowMillis: autoTopUps.belowMillis }).from(autoTopUps).where(eq(autoTopUps.enabled, true));
  return new Map(rows.map((r) => [r.accountId, r.belowMillis]));
}

export async function upsertAutoTopUp(tx: Tx, row: AutoTopUpRow): Promise<void> {
  const { accountId: _id, ...set } = row;
  await tx.insert(autoTopUps).values(row).onConflictDoUpdate({ target: autoTopUps.accountId, set });
}

// ---- the test provider's saved cards ----

const cardKey = (accountId: string) => `test_card_declines:${accountId}`;

export async function testCardDeclines(executor: Executor, accountId: string): Promise<boolean> {
  const [row] = await executor.select().from(settings).where(eq(settings.key, cardKey(accountId)));
  return row?.value === 'true';
}

export async function setTestCardDeclines(executor: Executor, accountId: string, declines: boolean): Promise<void> {
  await executor.insert(settings).values({ key: cardKey(accountId), value: String(declines) })
    .onConflictDoUpdate({ target: settings.key, set: { value: String(declines) } });
}
