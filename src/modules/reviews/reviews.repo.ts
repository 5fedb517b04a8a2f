/** SQL of review holds. Knows nothing about GraphQL. */
import { and, desc, eq, gte, isNotNull, lt, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { planVersions, plans, reviews, usageDaily, wallets, type ReviewStatusName } from '../../db/schema';

export type ReviewRow = typeof reviews.$inferSelect;
export type NewReviewRow = Omit<ReviewRow, 'pos' | 'resolvedAt' | 'resolvedBy' | 'comment'>;

/** Consumed credits of an account over whole UTC days [from, to): the report aggregate, by primary key prefix. */
export async function consumedBetween(executor: Executor, accountId: string, from: string, to: string): Promise<number> {
  const [row] = await executor.select({ consumed: sql<string>`coalesce(sum(${usageDaily.consumedMillis}), 0)::text` })
    .from(usageDaily)
    .where(and(eq(usageDaily.accountId, accountId), gte(usageDaily.day, from), lt(usageDaily.day, to)));
  return Number(row?.consumed ?? 0);
}

export interface PlanLimitsRow {
  velocityMultiplier: number | null;
  velocityFloorMillis: number | null;
  fingerprintRepeats: number | null;
  fingerprintWindowMinutes: number | null;
  requestsPerMinute: number | null;
}

const limitColumns = {
  velocityMultiplier: planVersions.velocityMultiplier, velocityFloorMillis: planVersions.velocityFloorMillis,
  fingerprintRepeats: planVersions.fingerprintRepeats, fingerprintWindowMinutes: planVersions.fingerprintWindowMinutes,
  requestsPerMinute: planVersions.requestsPerMinute,
};

/** The thresholds of a plan's current version (unique indexes on plans.code and plan_versions(plan_id, version)). */
export async function planLimitsByCode(executor: Executor, code: string): Promise<PlanLimitsRow | null> {
  const [row] = await executor.select(limitColumns).from(plans)
    .innerJoin(planVersions, and(eq(planVersions.planId, plans.id), eq(planVersions.version, plans.version)))
    .where(eq(plans.code, code));
  return row ?? null;
}

/** An account's plan code and the plan's requests per minute (null: none), by the wallet's primary key; undefined: no wallet. */
export async function accountPlanLimit(executor: Executor, accountId: string): Promise<{ planCode: string | null; requestsPerMinute: number | null } | undefined> {
  const [row] = await executor.select({ planCode: wallets.planCode, requestsPerMinute: planVersions.requestsPerMinute })
    .from(wallets)
    .leftJoin(plans, eq(plans.code, wallets.planCode))
    .leftJoin(planVersions, and(eq(planVersions.planId, plans.id), eq(planVersions.version, plans.version)))
    .where(eq(wallets.accountId, accountId));
  return row;
}

/** Whether any plan's current version (the one accountPlanLimit reads) sets a requests-per-minute limit: the plan rate limiter's gate. */
export async function anyPlanRequestsPerMinute(executor: Executor): Promise<boolean> {
  const [row] = await executor.select({ id: planVersions.id }).from(plans)
    .innerJoin(planVersions, and(eq(planVersions.planId, plans.id), eq(planVersions.version, plans.version)))
    .where(isNotNull(planVersions.requestsPerMinute)).limit(1);
  return row !== undefined;
}

export async function insertReview(tx: Tx, row: NewReviewRow): Promise<void> {
  await tx.insert(reviews).values(row);
}

export async function findReview(executor: Executor, id: string): Promise<ReviewRow | undefined> {
  const [row] = await executor.select().from(reviews).where(eq(reviews.id, id));
  return row;
}

/** Newest first (keyset on pos). */
export async function listReviews(executor: Executor, status: ReviewStatusName | null, beforePos: number | null, limit: number): Promise<ReviewRow[]> {
  return executor.select().from(reviews)
    .where(and(status ? eq(reviews.status, status) : undefined, beforePos !== null ? lt(reviews.pos, beforePos) : undefined))
    .orderBy(desc(reviews.pos)).limit(limit);
}

/** Locks the wallet row (the ledger's lock: a charge on the wallet waits, and so does this for a charge). */
export async function lockWallet(tx: Tx, accountId: string): Promise<{ reviewId: string | null } | undefined> {
  const [row] = await tx.select({ reviewId: wallets.reviewId }).from(wallets).where(eq(wallets.accountId, accountId)).for('update');
  return row;
}

export async function closeReview(tx: Tx, id: string, set: { status: ReviewStatusName; resolvedAt: Date; resolvedBy: string; comment: string }): Promise<ReviewRow> {
  const [row] = await tx.update(reviews).set(set).where(eq(reviews.id, id)).returning();
  return row;
}

/** Takes the wallet off hold: the review cleared, the hour counter and the fingerprints reset; frozen on a rejection. */
export async function releaseWallet(tx: Tx, accountId: string, now: Date, hourStart: Date, freeze: boolean): Promise<void> {
  await tx.update(wallets).set({
    reviewId: null, velocityHourStart: hourStart, velocityHourMillis: 0, recentFingerprints: [], updatedAt: now, ...(freeze ? { frozen: true } : {}),
  }).where(eq(wallets.accountId, accountId));
}
