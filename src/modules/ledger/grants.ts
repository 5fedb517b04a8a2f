/** New credits into a wallet: a bucket, its grant transaction, and the debt it repays first. */
import { formatCredits, type Millis } from '../../shared/credits';
import { newId } from '../../shared/ids';
import type { BucketSourceName, TransactionTypeName } from '../../db/schema';
import { freeMillis } from './burn-down';
import * as repo from './ledger.repo';
import type { TransactionRow } from './ledger.repo';
import type { WalletSession } from './wallet-session';

export interface GrantFields {
  source: BucketSourceName;
  amountMillis: Millis;
  expiresAt: Date | null;
  priority?: number | null;
  applicableActions?: string[] | null;
  applicableModels?: string[] | null;
  costPerCredit?: string | null;
  currency?: string | null;
  type: Extract<TransactionTypeName, 'GRANT' | 'PURCHASE' | 'ROLLOVER' | 'ADJUSTMENT'>;
  actor: string;
  comment: string | null;
  idempotencyKey?: string | null;
}

export function defaultPriority(source: string): number {
  // Free credits burn before paid ones by default; an explicit priority overrides. Rolled-over credits
  // burn before the allowance: they can never roll over again, the allowance's unused part can.
  switch (source) {
    case 'PROMO': return 10;
    case 'ROLLOVER': return 15;
    case 'PLAN_ALLOWANCE': return 20;
    case 'REFUND': return 40;
    case 'ADJUSTMENT': return 50;
    default: return 60; // PURCHASE
  }
}

/** Posts a grant into a new bucket; new credits then repay the wallet's debt (every grant does). */
export async function postGrant(session: WalletSession, fields: GrantFields): Promise<{ transaction: TransactionRow; bucketId: string }> {
  const bucketId = newId();
  session.addBucket({
    id: bucketId, accountId: session.accountId, source: fields.source, amountMillis: fields.amountMillis,
    remainingMillis: 0, priority: fields.priority ?? defaultPriority(fields.source), effectiveAt: session.now,
    expiresAt: fields.expiresAt, applicableActions: fields.applicableActions?.length ? fields.applicableActions : null,
    applicableModels: fields.applicableModels?.length ? fields.applicableModels : null,
    costPerCredit: fields.costPerCredit ?? null, currency: fields.currency ?? null, createdAt: session.now,
    heldActiveMillis: 0, heldStaleMillis: 0,
  });
  const bucket = session.buckets.get(bucketId)!;
  const { heldActiveMillis: _active, heldStaleMillis: _stale, ...row } = bucket;
  await repo.insertBucket(session.tx, { ...row, remainingMillis: 0 }); // the entry posts the credits
  const transaction = await session.post({
    type: fields.type, entries: [{ bucketId, millis: fields.amountMillis }],
    actor: fields.actor, comment: fields.comment, idempotencyKey: fields.idempotencyKey ?? null,
  });
  await repayDebt(session, bucketId, fields.actor, transaction.id);
  return { transaction, bucketId };
}

/** New credits pay the wallet's debt first, as an explicit DEBT_REPAYMENT transaction. */
async function repayDebt(session: WalletSession, bucketId: string, actor: string, grantId: string): Promise<void> {
  const bucket = session.buckets.get(bucketId)!;
  const repay = Math.min(session.wallet.debtMillis, freeMillis(bucket));
  if (repay <= 0) return;
  await session.post({
    type: 'DEBT_REPAYMENT', entries: [{ bucketId, millis: -repay }, { bucketId: null, millis: repay }],
    actor, relatedTransactionId: grantId,
    comment: `${formatCredits(repay)} of the new credits repaid the wallet's debt`,
  });
}
