/** SQL of plans, their versions, subscriptions and periods. Knows nothing about GraphQL. */
import { and, asc, desc, eq, inArray, lte, ne, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { plans, planVersions, subscriptionPeriods, subscriptions } from '../../db/schema';

export type PlanRow = typeof plans.$inferSelect;
export type PlanVersionRow = typeof planVersions.$inferSelect;
export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type PeriodRow = typeof subscriptionPeriods.$inferSelect;

/** A plan with the terms of one of its versions (its current one unless said otherwise). */
export interface PlanWithTerms {
  plan: PlanRow;
  terms: PlanVersionRow;
}

export const PLANS_LISTED_MAX = 500;

/** Inserts a plan and its first version; false when the code is taken. */
export async function insertPlan(tx: Tx, plan: PlanRow, version: PlanVersionRow): Promise<boolean> {
  const inserted = await tx.insert(plans).values(plan).onConflictDoNothing({ target: plans.code }).returning({ id: plans.id });
  if (inserted.length === 0) return false;
  await tx.insert(planVersions).values(version);
  return true;
}

export async function insertPlanVersion(tx: Tx, version: PlanVersionRow): Promise<void> {
  await tx.insert(planVersions).values(version);
}

export async function updatePlanRow(tx: Tx, id: string, set: Partial<Pick<PlanRow, 'active' | 'version' | 'updatedAt'>>): Promise<void> {
  await tx.update(plans).set(set).where(eq(plans.id, id));
}

/** A plan by code with its current terms; `lock` takes the plan row's lock (updates). */
export async function planByCode(executor: Executor, code: string, lock = false): Promise<PlanWithTerms | undefined> {
  const query = executor.select({ plan: plans, terms: planVersions }).from(plans)
    .innerJoin(planVersions, and(eq(planVersions.planId, plans.id), eq(planVersions.version, plans.version)))
    .where(eq(plans.code, code));
  const [row] = lock ? await query.for('update', { of: plans }) : await query;
  return row;
}

export async function plansByIds(executor: Executor, ids: readonly string[]): Promise<PlanWithTerms[]> {
  if (ids.length === 0) return [];
  return executor.select({ plan: plans, terms: planVersions }).from(plans)
    .innerJoin(planVersions, and(eq(planVersions.planId, plans.id), eq(planVersions.version, plans.version)))
    .where(inArray(plans.id, [...ids]));
}

/** The catalogue, cheapest first (then by code), at most PLANS_LISTED_MAX. */
export async function listPlans(executor: Executor, includeArchived: boolean): Promise<PlanWithTerms[]> {
  return executor.select({ plan: plans, terms: planVersions }).from(plans)
    .innerJoin(planVersions, and(eq(planVersions.planId, plans.id), eq(planVersions.version, plans.version)))
    .where(includeArchived ? undefined : eq(plans.active, true))
    .orderBy(asc(planVersions.priceMinor), asc(plans.code))
    .limit(PLANS_LISTED_MAX);
}

export async function versionsByIds(executor: Executor, ids: readonly string[]): Promise<PlanVersionRow[]> {
  if (ids.length === 0) return [];
  return executor.select().from(planVersions).where(inArray(planVersions.id, [...ids]));
}

/** Active plans whose current terms include a model or action (null lists include everything). */
export async function activePlansIncluding(executor: Executor, field: 'model' | 'action', value: string): Promise<{ code: string; name: string }[]> {
  const list = field === 'model' ? planVersions.models : planVersions.actions;
  return executor.select({ code: plans.code, name: planVersions.name }).from(plans)
    .innerJoin(planVersions, and(eq(planVersions.planId, plans.id), eq(planVersions.version, plans.version)))
    .where(and(eq(plans.active, true), sql`(${list} is null or ${list} @> jsonb_build_array(${value}::text))`))
    .orderBy(asc(planVersions.priceMinor), asc(plans.code))
    .limit(20);
}

// ---- subscriptions ----

/** The account's subscription that is not canceled (at most one, by a unique index). */
export async function liveSubscription(executor: Executor, accountId: string): Promise<SubscriptionRow | undefined> {
  const [row] = await executor.select().from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), ne(subscriptions.status, 'CANCELED')));
  return row;
}

/** The live subscription of each account, or else its latest one. */
export async function latestSubscriptions(executor: Executor, accountIds: readonly string[]): Promise<SubscriptionRow[]> {
  if (accountIds.length === 0) return [];
  return executor.selectDistinctOn([subscriptions.accountId]).from(subscriptions)
    .where(inArray(subscriptions.accountId, [...accountIds]))
    .orderBy(subscriptions.accountId, sql`(${subscriptions.status} <> 'CANCELED') desc`, desc(subscriptions.createdAt), desc(subscriptions.id));
}

export async function insertSubscription(tx: Tx, row: SubscriptionRow): Promise<void> {
  await tx.insert(subscriptions).values(row);
}

export async function updateSubscription(tx: Tx, row: SubscriptionRow): Promise<void> {
  const { id, ...set } = row;
  await tx.update(subscriptions).set(set).where(eq(subscriptions.id, id));
}

/** Accounts whose live subscription's period ended by `now`, earliest first. */
export async function accountsDueForRenewal(executor: Executor, now: Date, limit: number): Promise<string[]> {
  const result = await executor.select({ accountId: subscriptions.accountId }).from(subscriptions)
    .where(and(eq(subscriptions.status, 'ACTIVE'), lte(subscriptions.currentPeriodEnd, now)))
    .orderBy(asc(subscriptions.currentPeriodEnd), asc(subscriptions.id))
    .limit(limit);
  // PAST_DUE subscriptions come due at the end of their grace period (their period does not renew unpaid).
  const graceOver = result.length < limit ? await executor.select({ accountId: subscriptions.accountId }).from(subscriptions)
    .where(and(eq(subscriptions.status, 'PAST_DUE'), lte(subscriptions.graceEndsAt, now)))
    .orderBy(asc(subscriptions.graceEndsAt), asc(subscriptions.id))
    .limit(limit - result.length) : [];
  return [...result, ...graceOver].map((r) => r.accountId);
}

/** PAST_DUE subscriptions whose next payment attempt is due. */
export async function accountsDueForPaymentRetry(executor: Executor, now: Date, limit: number): Promise<string[]> {
  const result = await executor.select({ accountId: subscriptions.accountId }).from(subscriptions)
    .where(and(eq(subscriptions.status, 'PAST_DUE'), lte(subscriptions.nextPaymentRetryAt, now)))
    .orderBy(asc(subscriptions.nextPaymentRetryAt)).limit(limit);
  return result.map((r) => r.accountId);
}

// ---- periods ----

/**
 * Records a period's grant. A second START/RENEWAL row for the same (subscription, period start) is
 * refused by a unique index: the insert throws and the whole renewal rolls back.
 */
export async function insertPeriod(tx: Tx, row: PeriodRow): Promise<void> {
  await tx.insert(subscriptionPeriods).values(row);
}

/** The grants of a subscription's period that ends at `periodEnd` (its allowance buckets and rollover). */
export async function periodsEndingAt(executor: Executor, subscriptionId: string, periodEnd: Date): Promise<PeriodRow[]> {
  return executor.select().from(subscriptionPeriods)
    .where(and(eq(subscriptionPeriods.subscriptionId, subscriptionId), eq(subscriptionPeriods.periodEnd, periodEnd)));
}

/** A subscription's grants, newest first. */
export async function periodsOf(executor: Executor, subscriptionId: string, limit: number): Promise<PeriodRow[]> {
  return executor.select().from(subscriptionPeriods)
    .where(eq(subscriptionPeriods.subscriptionId, subscriptionId))
    .orderBy(desc(subscriptionPeriods.periodStart), desc(subscriptionPeriods.createdAt)).limit(limit);
}

export async function subscriptionsByIds(executor: Executor, ids: readonly string[]): Promise<SubscriptionRow[]> {
  if (ids.length === 0) return [];
  return executor.select().from(subscriptions).where(inArray(subscriptions.id, [...ids]));
}
