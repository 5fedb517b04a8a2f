import { eq } from 'drizzle-orm';
import type { Executor } from '../../db/client';
import { wallets } from '../../db/schema';

export type WalletRow = typeof wallets.$inferSelect;

/** Settings only (never sequence or debt, which the ledger owns); waits for the wallet's row lock. */
export async function updateWalletSettings(executor: Executor, accountId: string, set: Partial<Pick<WalletRow, 'overdraftLimitMillis' | 'overdraftLimitOwn' | 'frozen' | 'lowCreditThresholds' | 'lowCreditThresholdsOwn' | 'lowCreditThresholdPercents' | 'lowCreditThresholdPercentsOwn' | 'updatedAt'>>): Promise<boolean> {
  const result = await executor.update(wallets).set(set).where(eq(wallets.accountId, accountId)).returning({ id: wallets.accountId });
  return result.length > 0;
}
