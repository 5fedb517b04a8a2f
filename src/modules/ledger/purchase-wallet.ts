/**
 * What the purchases module may do to a wallet the ledger holds locked: grant purchased credits
 * (with their cost basis) and take them back when the payment is refunded or charged back. It is a
 * PlanWallet too, so a plan period's payment outcome (dunning) runs under the same lock.
 */
import { formatCredits, type Millis } from '../../shared/credits';
import { freeMillis } from './burn-down';
import { postGrant } from './grants';
import { PlanWallet } from './plan-wallet';
import * as repo from './ledger.repo';
import type { TransactionRow } from './ledger.repo';
import type { WalletFigures } from './figures';
import type { PostEntry } from './wallet-session';

export interface PurchaseGrant {
  amountMillis: Millis;
  /** Money paid per credit, exact decimal text ("0.01"), and its ISO 4217 currency: the bucket's cost basis. */
  costPerCredit: string;
  currency: string;
  expiresAt: Date | null;
  comment: string;
}

export class PurchaseWallet extends PlanWallet {
  /** The wallet's figures now, under the lock. */
  figures(): WalletFigures {
    return this.session.figures();
  }

  /** A PURCHASE bucket, posted as a PURCHASE transaction; the new credits repay debt first. */
  async grantPurchase(grant: PurchaseGrant): Promise<{ transaction: TransactionRow; bucketId: string }> {
    return postGrant(this.session, {
      source: 'PURCHASE', amountMillis: grant.amountMillis, expiresAt: grant.expiresAt, costPerCredit: grant.costPerCredit,
      currency: grant.currency, type: 'PURCHASE', actor: this.actor, comment: grant.comment,
    });
  }

  /**
   * Takes a purchase's credits back (its payment was refunded or charged back), as one REVERSAL of the
   * grant: the bucket's free credits go out; what was spent from it (charges, the debt it repaid, and
   * what holds still secure) becomes debt; what expired unused is not owed again.
   */
  async takeBackPurchase(grant: TransactionRow, comment: string): Promise<TransactionRow> {
    const [entry] = await repo.entriesByTransactionIds(this.tx, [grant.id]);
    const bucketId = entry.bucketId!;
    if (!this.session.buckets.has(bucketId)) {
      for (const b of await repo.bucketsByIds(this.tx, [bucketId])) this.session.addBucket({ ...b, heldActiveMillis: 0, heldStaleMillis: 0 });
    }
    const bucket = this.session.buckets.get(bucketId)!;
    // What this session's catch-up just expired is still buffered: written first, so that it counts as expired.
    await this.session.finish();
    const expired = await repo.expiredFromBucket(this.tx, bucketId);
    const take = Math.min(grant.amountMillis, freeMillis(bucket));
    const owed = Math.max(0, grant.amountMillis - take - expired);
    const entries: PostEntry[] = [];
    if (take > 0) entries.push({ bucketId, millis: -take });
    if (owed > 0) entries.push({ bucketId: null, millis: -owed });
    return this.session.post({
      type: 'REVERSAL', entries, actor: this.actor, relatedTransactionId: grant.id, requestedMillis: grant.amountMillis,
      comment: `${comment}: ${formatCredits(take)} unspent credits taken back`
        + (owed > 0 ? `, ${formatCredits(owed)} already spent became debt` : '')
        + (expired > 0 ? ` (${formatCredits(expired)} had expired unused)` : ''),
    });
  }
}
