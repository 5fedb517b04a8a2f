import { and, eq, inArray, isNotNull } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { apiKeys, settings } from '../db/schema';

export type ApiKeyRow = typeof apiKeys.$inferSelect;

export async function insertApiKey(executor: Executor, row: ApiKeyRow): Promise<void> {
  await executor.insert(apiKeys).values(row);
}

export async function findApiKeyByHash(executor: Executor, secretHash: string): Promise<ApiKeyRow | undefined> {
  const [row] = await executor.select().from(apiKeys).where(eq(apiKeys.secretHash, secretHash));
  return row;
}

export async function revokeApiKey(executor: Executor, id: string, at: Date): Promise<boolean> {
  const result = await executor.update(apiKeys).set({ revokedAt: at }).where(eq(apiKeys.id, id)).returning({ id: apiKeys.id });
  return result.length > 0;
}

/** Which of these keys are revoked (one query). */
export async function revokedKeyIds(executor: Executor, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const rows = await executor.select({ id: apiKeys.id }).from(apiKeys).where(and(inArray(apiKeys.id, [...ids]), isNotNull(apiKeys.revokedAt)));
  return rows.map((r) => r.id);
}

/** Reads a setting, creating it with `value` when absent (first writer wins across instances). */
export async function getOrCreateSetting(executor: Executor, key: string, value: string): Promise<string> {
  await executor.insert(settings).values({ key, value }).onConflictDoNothing();
  const [row] = await executor.select().from(settings).where(eq(settings.key, key));
  return row.value;
}
