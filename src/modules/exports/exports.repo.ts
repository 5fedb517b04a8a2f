/**
 * SQL of the CSV exports. The transaction log IS the ledger (the one report read of
 * ledger_transactions): keyset pages on the index (account_id, pos), and the entries of a page with
 * the source of their buckets in one more query. Knows nothing about HTTP.
 */
import { and, asc, eq, gt, gte, inArray, lt } from 'drizzle-orm';
import type { Executor } from '../../db/client';
import { accounts, buckets, ledgerEntries, ledgerTransactions } from '../../db/schema';
import type { ExportEntry, ExportTransaction } from './csv-rules';

export async function accountExists(executor: Executor, accountId: string): Promise<boolean> {
  const found = await executor.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, accountId)).limit(1);
  return found.length > 0;
}

/** The account's transactions created in [from, to) with pos after `afterPos`, by pos; at most `limit`. */
export async function transactionPage(executor: Executor, accountId: string, from: Date, to: Date, afterPos: number, limit: number): Promise<ExportTransaction[]> {
  return executor
    .select({
      pos: ledgerTransactions.pos, id: ledgerTransactions.id, sequence: ledgerTransactions.sequence, type: ledgerTransactions.type,
      status: ledgerTransactions.status, actor: ledgerTransactions.actor, action: ledgerTransactions.action, model: ledgerTransactions.model,
      amountMillis: ledgerTransactions.amountMillis, comment: ledgerTransactions.comment, failureCode: ledgerTransactions.failureCode,
      failureMessage: ledgerTransactions.failureMessage, createdAt: ledgerTransactions.createdAt,
    })
    .from(ledgerTransactions)
    .where(and(
      eq(ledgerTransactions.accountId, accountId), gt(ledgerTransactions.pos, afterPos),
      gte(ledgerTransactions.createdAt, from), lt(ledgerTransactions.createdAt, to),
    ))
    .orderBy(asc(ledgerTransactions.pos))
    .limit(limit);
}

/** The entries of these transactions with their bucket's source (null for the debt), by transaction id. */
export async function entrySources(executor: Executor, transactionIds: readonly string[]): Promise<Map<string, ExportEntry[]>> {
  const result = new Map<string, ExportEntry[]>();
  if (transactionIds.length === 0) return result;
  const found = await executor
    .select({ transactionId: ledgerEntries.transactionId, source: buckets.source })
    .from(ledgerEntries)
    .leftJoin(buckets, eq(buckets.id, ledgerEntries.bucketId))
    .where(inArray(ledgerEntries.transactionId, [...transactionIds]));
  for (const r of found) {
    const list = result.get(r.transactionId);
    if (list) list.push({ source: r.source });
    else result.set(r.transactionId, [{ source: r.source }]);
  }
  return result;
}
