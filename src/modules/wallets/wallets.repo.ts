import { eq, inArray } from 'drizzle-orm';
import type { Executor } from '../../db/client';
import { wallets } from '../../db/schema';

export type WalletRow = typeof wallets.$inferSelect;

/** Settings only (never sequence or debt, which the ledger owns); waits for the wallet's row lock. */
export async function updateWalletSettings(executor: Executor, accountId: string, set: Partial<Pick<WalletRow, 'overdraftLimitMillis' | 'overdraftLimitOwn' | 'frozen' | 'lowCreditThresholds' | 'lowCreditThresholdsOwn' | 'lowCreditThresholdPercents' | 'lowCreditThresholdPercentsOwn' | 'updatedAt'>>): Promise<boolean> {
  const result = await executor.update(wallets).set(set).where(eq(wallets.accountId, accountId)).returning({ id: wallets.accountId });
  return result.length > 0;
}

/** The current sequence of each wallet (live subscribers behind it catch up from the ledger); one query. */
export async function walletSequences(executor: Executor, accountIds: readonly string[]): Promise<Map<string, number>> {
  if (accountIds.length === 0) return new Map();
  const rows = await executor.select({ accountId: wallets.accountId, sequence: wallets.sequence }).from(wallets)
    .where(accountIds.length === 1 ? eq(wallets.accountId, accountIds[0]) : inArray(wallets.accountId, [...accountIds]));
  return new Map(rows.map((r) => [r.accountId, r.sequence]));
}
