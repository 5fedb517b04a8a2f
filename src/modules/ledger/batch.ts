/**
 * What chargeBatch and chargeGenerationBatch share around the ledger: the size limit, access per
 * account (an account the caller may not use refuses its own items only), and the results as clients see them.
 */
import type { Context } from '../../graphql/context';
import { access } from '../../auth/access';
import { batchItemError } from '../../graphql/errors';
import { badInput, type AppError } from '../../shared/errors';
import type { Authenticated } from '../../auth/viewer';
import type { BatchOutcome } from './ledger.service';
import type { ChargeBatchResult, LedgerTransaction } from './ledger.type';

export async function batchAccess(ctx: Context, charges: readonly { accountId: string }[]): Promise<{ viewer: Authenticated; refused: Map<string, AppError> }> {
  const itemsMax = ctx.services.config.chargeBatchItemsMax;
  if (charges.length === 0) throw badInput('give at least one charge', 'charges');
  if (charges.length > itemsMax) throw badInput(`at most ${itemsMax} charges per batch`, 'charges');
  return access.refusalsOf(ctx, charges.map((c) => c.accountId), 'move');
}

export function batchResult(outcomes: readonly BatchOutcome[]): ChargeBatchResult {
  return {
    results: outcomes.map((o) => ('transaction' in o
      ? { transaction: o.transaction as unknown as LedgerTransaction, error: null }
      : { transaction: null, error: batchItemError(o.error) })),
  };
}
