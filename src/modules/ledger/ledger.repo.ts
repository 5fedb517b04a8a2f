/** SQL of the ledger: the only place that writes transactions, entries, buckets' remaining and holds. */
import { and, asc, desc, eq, gt, gte, inArray, lt, lte, sql, type SQL } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { anyUuid, at, rows } from '../../db/client';
import { executeJsonInsert, jsonInsert } from '../../db/json-rows';
import {
  accounts, balanceDaily, buckets, effectivePlanTier, failuresDaily, holdAllocations, holds, idempotencyKeys, ledgerEntries, ledgerTransactions,
  modelCostsDaily, usageDaily, usageQuarterly, wallets, memberUsageDaily, memberUsageQuarterly,
  type HoldStatus, type TransactionStatusName, type TransactionTypeName,
} from '../../db/schema';

export type WalletRow = typeof wallets.$inferSelect;
export type BucketRow = typeof buckets.$inferSelect;
export type TransactionRow = typeof ledgerTransactions.$inferSelect;
export type NewTransactionRow = typeof ledgerTransactions.$inferInsert;
export type EntryRow = typeof ledgerEntries.$inferSelect;
export type NewEntryRow = typeof ledgerEntries.$inferInsert;
export type HoldRow = typeof holds.$inferSelect;
export type HoldAllocationRow = typeof holdAllocations.$inferSelect;
export type UsageRow = typeof usageDaily.$inferSelect;
export type UsageQuarterlyRow = typeof usageQuarterly.$inferSelect;
export type BalanceDailyRow = typeof balanceDaily.$inferSelect;
export type ModelCostRow = typeof modelCostsDaily.$inferSelect;
export type FailureDailyRow = typeof failuresDaily.$inferSelect;
export type MemberUsageDailyRow = typeof memberUsageDaily.$inferSelect;
export type MemberUsageQuarterlyRow = typeof memberUsageQuarterly.$inferSelect;

/** Locks wallets in account id order (callers pass sorted ids; the ORDER BY makes the lock order explicit). */
export async function lockWallets(tx: Tx, accountIds: readonly string[]): Promise<WalletRow[]> {
  if (accountIds.length === 0) return [];
  return tx.select().from(wallets).where(anyUuid(wallets.accountId, accountIds)).orderBy(asc(wallets.accountId)).for('update');
}

/** What the ledger's wallet UPDATE writes: sequence, debt, and the use rules' counters kept on the row (reviews module). */
export type WalletWrite = Pick<WalletRow, 'accountId' | 'sequence' | 'debtMillis' | 'reviewId' | 'velocityHourStart' | 'velocityHourMillis'
  | 'velocityBaselineMillis' | 'velocityBaselineHour' | 'recentFingerprints'>;

/**
 * Sets sequence, debt and the review counters of several wallets in one statement: the counters ride
 * on the UPDATE every operation makes anyway, so the review rules cost the charge path no statement.
 */
export async function updateWallets(tx: Tx, rows: WalletWrite[], at: Date): Promise<void> {
  if (rows.length === 0) return;
  if (rows.length === 1) {
    const r = rows[0];
    await tx.update(wallets).set({
      sequence: r.sequence, debtMillis: r.debtMillis, reviewId: r.reviewId, velocityHourStart: r.velocityHourStart, velocityHourMillis: r.velocityHourMillis,
      velocityBaselineMillis: r.velocityBaselineMillis, velocityBaselineHour: r.velocityBaselineHour, recentFingerprints: r.recentFingerprints, updatedAt: at,
    }).where(eq(wallets.accountId, r.accountId));
    return;
  }
  // One JSON parameter for all rows (see db/json-rows.ts for why).
  const json = JSON.stringify(rows.map((r) => ({
    id: r.accountId, sequence: r.sequence, debt: r.debtMillis, review: r.reviewId, hour_start: r.velocityHourStart?.toISOString() ?? null,
    hour_millis: r.velocityHourMillis, baseline: r.velocityBaselineMillis, baseline_hour: r.velocityBaselineHour?.toISOString() ?? null, fps: r.recentFingerprints,
  })));
  await tx.execute(sql`update wallets set sequence = v.sequence, debt_millis = v.debt, review_id = v.review, velocity_hour_start = v.hour_start,
    velocity_hour_millis = v.hour_millis, velocity_baseline_millis = v.baseline, velocity_baseline_hour = v.baseline_hour, recent_fingerprints = v.fps,
    updated_at = ${at.toISOString()}::timestamptz
    from jsonb_to_recordset(${json}::jsonb) as v(id uuid, sequence int, debt bigint, review uuid, hour_start timestamptz, hour_millis bigint,
      baseline bigint, baseline_hour timestamptz, fps jsonb) where wallets.account_id = v.id`);
}

/** The plan's shape of a wallet (see PlanWallet.shape); the overdraft limit and thresholds as decided there. */
export async function updateWalletPlan(tx: Tx, wallet: WalletRow, at: Date): Promise<void> {
  await tx.update(wallets).set({
    planCode: wallet.planCode, planTier: wallet.planTier, planModels: wallet.planModels, planActions: wallet.planActions,
    planRenewsAt: wallet.planRenewsAt, overdraftLimitMillis: wallet.overdraftLimitMillis, lowCreditThresholds: wallet.lowCreditThresholds,
    lowCreditThresholdPercents: wallet.lowCreditThresholdPercents, planAllowanceMillis: wallet.planAllowanceMillis, updatedAt: at,
  }).where(eq(wallets.accountId, wallet.accountId));
}

export interface BucketWithHeld extends BucketRow {
  /** Secured by holds that are active and not past their TTL. */
  heldActiveMillis: number;
  /** Secured by holds still marked ACTIVE but past their TTL (to be released by the sweep). */
  heldStaleMillis: number;
}

/** What active holds secured per bucket of some accounts, split into live and past-TTL holds. */
function heldByBucket(executor: Executor, accountIds: readonly string[], now: Date) {
  return executor
    .select({
      bucketId: holdAllocations.bucketId,
      active: sql<string>`coalesce(sum(${holdAllocations.amountMillis}) filter (where ${holds.expiresAt} > ${at(now)}), 0)`.as('active'),
      stale: sql<string>`coalesce(sum(${holdAllocations.amountMillis}) filter (where ${holds.expiresAt} <= ${at(now)}), 0)`.as('stale'),
    })
    .from(holdAllocations)
    .innerJoin(holds, eq(holds.id, holdAllocations.holdId))
    .where(and(anyUuid(holds.accountId, accountIds), eq(holds.status, 'ACTIVE')))
    .groupBy(holdAllocations.bucketId)
    .as('held');
}

const withHeld = (bucket: BucketRow, active: string | null, stale: string | null): BucketWithHeld =>
  ({ ...bucket, heldActiveMillis: Number(active ?? 0), heldStaleMillis: Number(stale ?? 0) });

/** Buckets of some wallets that still have credits, with what active holds secured on each; one query. */
export async function loadBucketsOf(executor: Executor, accountIds: readonly string[], now: Date): Promise<BucketWithHeld[]> {
  const held = heldByBucket(executor, accountIds, now);
  const result = await executor
    .select({ bucket: buckets, active: held.active, stale: held.stale })
    .from(buckets)
    .leftJoin(held, eq(held.bucketId, buckets.id))
    .where(and(anyUuid(buckets.accountId, accountIds), gt(buckets.remainingMillis, 0)));
  return result.map((r) => withHeld(r.bucket, r.active, r.stale));
}

export interface WalletRead {
  wallet: WalletRow;
  planTier: string | null;
  buckets: BucketWithHeld[];
}

/** Wallets, their accounts' plan tiers and their buckets with what holds secured, in one statement (no lock: reads). */
export async function readWallets(executor: Executor, accountIds: readonly string[], now: Date): Promise<Map<string, WalletRead>> {
  const result = new Map<string, WalletRead>();
  if (accountIds.length === 0) return result;
  const held = heldByBucket(executor, accountIds, now);
  const rowsRead = await executor
    .select({ wallet: wallets, planTier: effectivePlanTier, bucket: buckets, active: held.active, stale: held.stale })
    .from(wallets)
    .innerJoin(accounts, eq(accounts.id, wallets.accountId))
    .leftJoin(buckets, and(eq(buckets.accountId, wallets.accountId), gt(buckets.remainingMillis, 0)))
    .leftJoin(held, eq(held.bucketId, buckets.id))
    .where(anyUuid(wallets.accountId, accountIds));
  for (const r of rowsRead) {
    let read = result.get(r.wallet.accountId);
    if (!read) result.set(r.wallet.accountId, (read = { wallet: r.wallet, planTier: r.planTier, buckets: [] }));
    if (r.bucket) read.buckets.push(withHeld(r.bucket, r.active, r.stale));
  }
  return result;
}

export async function insertBucket(tx: Tx, row: typeof buckets.$inferInsert): Promise<void> {
  await tx.insert(buckets).values(row);
}

/** Applies signed deltas to buckets' remaining in one statement. */
export async function addToBuckets(tx: Tx, deltas: Map<string, number>): Promise<void> {
  if (deltas.size === 0) return;
  if (deltas.size === 1) {
    const [[id, delta]] = [...deltas];
    await tx.update(buckets).set({ remainingMillis: sql`${buckets.remainingMillis} + ${delta}` }).where(eq(buckets.id, id));
    return;
  }
  const json = JSON.stringify([...deltas].map(([id, delta]) => ({ id, delta })));
  await tx.execute(sql`update buckets set remaining_millis = buckets.remaining_millis + v.delta
    from jsonb_to_recordset(${json}::jsonb) as v(id uuid, delta bigint) where buckets.id = v.id`);
}

export interface AggregateRows {
  daily: UsageRow[];
  quarterly: UsageQuarterlyRow[];
  balances: BalanceDailyRow[];
  costs: ModelCostRow[];
  failures: FailureDailyRow[];
  /** Team wallets' usage by member (absent: none). */
  memberDaily?: MemberUsageDailyRow[];
  memberQuarterly?: MemberUsageQuarterlyRow[];
}

const MEMBER_COLUMNS = ['consumed_millis', 'refunded_millis', 'transactions'];

const FLOW_COLUMNS = ['consumed_millis', 'consumed_free_millis', 'consumed_purchased_millis', 'transactions', 'refunded_millis', 'allocated_millis',
  'purchased_millis', 'granted_millis', 'expired_millis', 'reversed_millis', 'carried_forward_millis', 'balance_change_millis', 'debt_change_millis'];
const addTo = (table: string, columns: readonly string[]) => columns.map((c) => `${c} = ${table}.${c} + excluded.${c}`).join(', ');

/**
 * Adds the report aggregates of what was posted (rows keyed as their tables' primary keys; each key
 * once): one statement whatever the number of tables, so reports cost a charge no extra round trip.
 */
export async function addAggregates(tx: Tx, a: AggregateRows): Promise<void> {
  const parts: SQL[] = [];
  if (a.daily.length > 0) parts.push(jsonInsert(usageDaily, a.daily, `on conflict (account_id, day, plan_code, action, model) do update set ${addTo('usage_daily', FLOW_COLUMNS)}`));
  if (a.quarterly.length > 0) parts.push(jsonInsert(usageQuarterly, a.quarterly, `on conflict (account_id, day, quarter, action, model) do update set ${addTo('usage_quarterly', FLOW_COLUMNS)}`));
  if (a.balances.length > 0) {
    parts.push(jsonInsert(balanceDaily, a.balances, `on conflict (account_id, day) do update set sequence = excluded.sequence,
      balance_after_millis = excluded.balance_after_millis, debt_after_millis = excluded.debt_after_millis where excluded.sequence > balance_daily.sequence`));
  }
  if (a.costs.length > 0) {
    parts.push(jsonInsert(modelCostsDaily, a.costs, `on conflict (account_id, day, vendor, model, currency) do update set
      ${addTo('model_costs_daily', ['revenue', 'vendor_cost', 'vendor_units', 'vendor_charges'])}`));
  }
  if (a.failures.length > 0) parts.push(jsonInsert(failuresDaily, a.failures, `on conflict (account_id, day, failure_code) do update set ${addTo('failures_daily', ['attempts'])}`));
  if (a.memberDaily && a.memberDaily.length > 0) {
    parts.push(jsonInsert(memberUsageDaily, a.memberDaily, `on conflict (account_id, day, member_id) do update set ${addTo('member_usage_daily', MEMBER_COLUMNS)}`));
  }
  if (a.memberQuarterly && a.memberQuarterly.length > 0) {
    parts.push(jsonInsert(memberUsageQuarterly, a.memberQuarterly, `on conflict (account_id, day, quarter, member_id) do update set ${addTo('member_usage_quarterly', MEMBER_COLUMNS)}`));
  }
  if (parts.length === 0) return;
  const [last, ...before] = parts.reverse();
  const ctes = before.map((part, i) => sql`${sql.raw(i === 0 ? 'with ' : ', ')}w${sql.raw(String(i))} as (${part})`);
  await tx.execute(sql`${sql.join(ctes, sql.raw(''))} ${last}`);
}

export async function insertTransactions(tx: Tx, rows: NewTransactionRow[]): Promise<void> {
  await executeJsonInsert(tx, ledgerTransactions, rows);
}

export async function insertEntries(tx: Tx, rows: NewEntryRow[]): Promise<void> {
  await executeJsonInsert(tx, ledgerEntries, rows);
}

export async function findTransaction(executor: Executor, id: string): Promise<TransactionRow | undefined> {
  const [row] = await executor.select().from(ledgerTransactions).where(eq(ledgerTransactions.id, id));
  return row;
}

export async function transactionsByIds(executor: Executor, ids: readonly string[]): Promise<TransactionRow[]> {
  if (ids.length === 0) return [];
  return executor.select().from(ledgerTransactions).where(inArray(ledgerTransactions.id, [...ids]));
}

export async function entriesByTransactionIds(executor: Executor, ids: readonly string[]): Promise<EntryRow[]> {
  if (ids.length === 0) return [];
  return executor.select().from(ledgerEntries).where(inArray(ledgerEntries.transactionId, [...ids])).orderBy(asc(ledgerEntries.id));
}

/** Transactions that point at `id` (refunds, reversals). */
export async function relatedTransactions(executor: Executor, id: string): Promise<TransactionRow[]> {
  return executor.select().from(ledgerTransactions)
    .where(and(eq(ledgerTransactions.relatedTransactionId, id), eq(ledgerTransactions.status, 'SUCCEEDED')));
}

/** Credits that expired out of a bucket: the sum of its EXPIRE entries, as a positive amount. */
export async function expiredFromBucket(executor: Executor, bucketId: string): Promise<number> {
  const [row] = await executor.select({ expired: sql<string>`(-coalesce(sum(${ledgerEntries.amountMillis}), 0))::text` })
    .from(ledgerEntries).innerJoin(ledgerTransactions, eq(ledgerTransactions.id, ledgerEntries.transactionId))
    .where(and(eq(ledgerEntries.bucketId, bucketId), eq(ledgerTransactions.type, 'EXPIRE')));
  return Number(row?.expired ?? 0);
}

export async function bucketsByIds(executor: Executor, ids: readonly string[]): Promise<BucketRow[]> {
  if (ids.length === 0) return [];
  return executor.select().from(buckets).where(inArray(buckets.id, [...ids]));
}

export async function findHold(executor: Executor, id: string, forUpdate = false): Promise<HoldRow | undefined> {
  const query = executor.select().from(holds).where(eq(holds.id, id));
  const [row] = forUpdate ? await query.for('update') : await query;
  return row;
}

export async function holdAllocationsOf(executor: Executor, holdIds: readonly string[]): Promise<HoldAllocationRow[]> {
  if (holdIds.length === 0) return [];
  return executor.select().from(holdAllocations).where(inArray(holdAllocations.holdId, [...holdIds]));
}

export async function insertHold(tx: Tx, hold: typeof holds.$inferInsert, allocations: HoldAllocationRow[]): Promise<void> {
  await tx.insert(holds).values(hold);
  if (allocations.length > 0) await tx.insert(holdAllocations).values(allocations);
}

export async function closeHold(tx: Tx, id: string, status: HoldStatus, closedAt: Date): Promise<void> {
  await tx.update(holds).set({ status, closedAt }).where(eq(holds.id, id));
}

export async function staleHolds(tx: Tx, accountId: string, now: Date): Promise<HoldRow[]> {
  return tx.select().from(holds)
    .where(and(eq(holds.accountId, accountId), eq(holds.status, 'ACTIVE'), lte(holds.expiresAt, now)))
    .orderBy(asc(holds.expiresAt), asc(holds.id));
}

/** What holds still ACTIVE whose TTL ended in (after, upTo] secure on these buckets of an account (the sweep has not released them yet). */
export async function heldByHoldsLapsedBetween(executor: Executor, accountId: string, bucketIds: readonly string[], after: Date, upTo: Date): Promise<number> {
  const [row] = await executor
    .select({ held: sql<string>`coalesce(sum(${holdAllocations.amountMillis}), 0)` })
    .from(holdAllocations)
    .innerJoin(holds, eq(holds.id, holdAllocations.holdId))
    .where(and(
      eq(holds.accountId, accountId), eq(holds.status, 'ACTIVE'), inArray(holdAllocations.bucketId, [...bucketIds]),
      gt(holds.expiresAt, after), lte(holds.expiresAt, upTo),
    ));
  return Number(row?.held ?? 0);
}

/** Accounts with work for the expiry job: a lapsed bucket with credits, or a hold past its TTL. */
export async function accountsNeedingExpiry(executor: Executor, now: Date, limit: number): Promise<string[]> {
  const result = await rows<{ account_id: string }>(executor, sql`
    (select account_id from buckets where expires_at <= ${at(now)} and remaining_millis > 0
       and remaining_millis > coalesce((select sum(a.amount_millis) from hold_allocations a join holds h on h.id = a.hold_id
         where a.bucket_id = buckets.id and h.status = 'ACTIVE' and h.expires_at > ${at(now)}), 0)
       limit ${limit})
    union
    (select account_id from holds where status = 'ACTIVE' and expires_at <= ${at(now)} limit ${limit})`);
  return result.map((r) => r.account_id);
}

// ---- idempotency ----

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

/** Claims a key; returns false when a row already exists (waits for a concurrent claimer to finish first). */
export async function claimIdempotencyKey(tx: Tx, row: typeof idempotencyKeys.$inferInsert): Promise<boolean> {
  const inserted = await tx.insert(idempotencyKeys).values(row).onConflictDoNothing().returning({ key: idempotencyKeys.key });
  return inserted.length > 0;
}

/** Claims several keys in one statement, in (scope, key) order so concurrent batches never deadlock; returns the claimed ones. */
export async function claimIdempotencyKeys(tx: Tx, claims: (typeof idempotencyKeys.$inferInsert)[]): Promise<Set<string>> {
  const sorted = [...claims].sort((a, b) => (a.scope + '\0' + a.key < b.scope + '\0' + b.key ? -1 : 1));
  const inserted = await rows<{ scope: string; key: string }>(tx, jsonInsert(idempotencyKeys, sorted, 'on conflict do nothing returning scope, key'));
  return new Set(inserted.map((r) => r.scope + '\0' + r.key));
}

export async function storeIdempotencyResponses(tx: Tx, rows: { scope: string; key: string; response: unknown }[]): Promise<void> {
  if (rows.length === 0) return;
  if (rows.length === 1) return storeIdempotencyResponse(tx, rows[0].scope, rows[0].key, rows[0].response);
  await tx.execute(sql`update idempotency_keys set response = v.response
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(scope text, key text, response jsonb)
    where idempotency_keys.scope = v.scope and idempotency_keys.key = v.key`);
}

export async function releaseIdempotencyKeys(tx: Tx, keys: { scope: string; key: string }[]): Promise<void> {
  for (const k of keys) await tx.delete(idempotencyKeys).where(and(eq(idempotencyKeys.scope, k.scope), eq(idempotencyKeys.key, k.key)));
}

export async function findIdempotencyKey(executor: Executor, scope: string, key: string): Promise<IdempotencyRow | undefined> {
  const [row] = await executor.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
  return row;
}

export async function storeIdempotencyResponse(tx: Tx, scope: string, key: string, response: unknown): Promise<void> {
  await tx.update(idempotencyKeys).set({ response }).where(and(eq(idempotencyKeys.scope, scope), eq(idempotencyKeys.key, key)));
}

export async function deleteExpiredIdempotencyKeys(executor: Executor, now: Date): Promise<void> {
  await executor.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, now));
}

// ---- history ----

export interface HistoryFilter {
  types?: TransactionTypeName[] | null;
  statuses?: TransactionStatusName[] | null;
  action?: string | null;
  from?: Date | null;
  to?: Date | null;
}

/** Newest first, keyset on the global `pos` (no OFFSET). */
export async function history(executor: Executor, accountId: string, filter: HistoryFilter, beforePos: number | null, limit: number): Promise<TransactionRow[]> {
  const conditions: SQL[] = [eq(ledgerTransactions.accountId, accountId)];
  if (beforePos !== null) conditions.push(lt(ledgerTransactions.pos, beforePos));
  if (filter.types?.length) conditions.push(inArray(ledgerTransactions.type, filter.types));
  if (filter.statuses?.length) conditions.push(inArray(ledgerTransactions.status, filter.statuses));
  if (filter.action) conditions.push(eq(ledgerTransactions.action, filter.action));
  if (filter.from) conditions.push(gte(ledgerTransactions.createdAt, filter.from));
  if (filter.to) conditions.push(lt(ledgerTransactions.createdAt, filter.to));
  return executor.select().from(ledgerTransactions).where(and(...conditions)).orderBy(desc(ledgerTransactions.pos)).limit(limit);
}

/** Posted transactions of a wallet after a sequence, in order (event replay). */
export async function transactionsAfterSequence(executor: Executor, accountId: string, afterSequence: number, limit: number): Promise<TransactionRow[]> {
  return executor.select().from(ledgerTransactions)
    .where(and(eq(ledgerTransactions.accountId, accountId), gt(ledgerTransactions.sequence, afterSequence)))
    .orderBy(asc(ledgerTransactions.sequence)).limit(limit);
}

