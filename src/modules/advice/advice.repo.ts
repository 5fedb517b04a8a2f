/**
 * SQL of plan advice: one account's daily consumption from the usage_daily aggregate (its primary key
 * starts with account_id, day), never the ledger's transactions. Knows nothing about GraphQL.
 */
import { and, asc, eq, gt, gte, lte, sql } from 'drizzle-orm';
import type { Executor } from '../../db/client';
import { usageDaily } from '../../db/schema';
import type { Millis } from '../../shared/credits';

/** Distinct models and actions read at most (a plan's gating list holds at most 100). */
export const USED_KEYS_MAX = 500;

/** Net consumption (consumed − refunded, never below 0) per UTC day from `fromDay` to `toDay` inclusive. */
export async function consumptionByDay(executor: Executor, accountId: string, fromDay: string, toDay: string): Promise<Map<string, Millis>> {
  const found = await executor
    .select({ day: usageDaily.day, net: sql<string>`coalesce(sum(${usageDaily.consumedMillis}), 0) - coalesce(sum(${usageDaily.refundedMillis}), 0)` })
    .from(usageDaily)
    .where(and(eq(usageDaily.accountId, accountId), gte(usageDaily.day, fromDay), lte(usageDaily.day, toDay)))
    .groupBy(usageDaily.day)
    .orderBy(asc(usageDaily.day));
  return new Map(found.map((r) => [r.day, Math.max(0, Number(r.net))]));
}

/** The models and actions that consumed credits in the range ('' = none given), at most USED_KEYS_MAX. */
export async function usedKeys(executor: Executor, accountId: string, fromDay: string, toDay: string): Promise<{ models: string[]; actions: string[] }> {
  const found = await executor
    .selectDistinct({ model: usageDaily.model, action: usageDaily.action })
    .from(usageDaily)
    .where(and(eq(usageDaily.accountId, accountId), gte(usageDaily.day, fromDay), lte(usageDaily.day, toDay), gt(usageDaily.consumedMillis, 0)))
    .limit(USED_KEYS_MAX);
  return {
    models: [...new Set(found.map((r) => r.model).filter(Boolean))].sort(),
    actions: [...new Set(found.map((r) => r.action).filter(Boolean))].sort(),
  };
}
