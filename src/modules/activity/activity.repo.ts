/**
 * Platform activity for the admin dashboard, read from the ledger's tables (read only: the ledger
 * module stays the one writer). Knows nothing about GraphQL.
 */
import { desc, eq } from 'drizzle-orm';
import type { Executor } from '../../db/client';
import { ledgerTransactions } from '../../db/schema';
import type { TransactionRow } from '../ledger';

/** The newest refused operations of every account (ledger_transactions_failed_pos_idx). */
export async function recentFailedTransactions(executor: Executor, limit: number): Promise<TransactionRow[]> {
  return executor.select().from(ledgerTransactions)
    .where(eq(ledgerTransactions.status, 'FAILED'))
    .orderBy(desc(ledgerTransactions.pos))
    .limit(limit);
}
