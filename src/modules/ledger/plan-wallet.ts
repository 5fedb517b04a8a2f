/**
 * What the plans module may do to a wallet the ledger holds locked: grant an allowance, roll unused
 * allowance over, expire it, and set the plan's shape of the wallet (tier, gating, overdraft limit,
 * thresholds, renewal time). The plans module decides amounts and says why; the ledger module still
 * writes every ledger record. All of it happens in the caller's database transaction, under the
 * wallet's row lock, which also serializes the account's subscription changes.
 */
import type { Executor, Tx } from '../../db/client';
import type { Millis } from '../../shared/credits';
import { newId } from '../../shared/ids';
import { assert } from '../../shared/assert';
import { compareBurnOrder, freeMillis } from './burn-down';
import { defaultPriority, postGrant } from './grants';
import * as repo from './ledger.repo';
import type { TransactionRow } from './ledger.repo';
import type { PostEntry, WalletSession } from './wallet-session';

/** What a subscribed plan makes of a wallet; null: no plan (pay as you go). */
export interface PlanShape {
  planCode: string;
  tier: string | null;
  models: string[] | null;
  actions: string[] | null;
  overdraftLimitMillis: Millis;
  lowCreditThresholdsMillis: Millis[];
  lowCreditThresholdPercents: number[];
  /** Percent levels are of this. */
  allowanceMillis: Millis;
  /** The current period's end. */
  renewsAt: Date;
}

/** Attached by the plans module (the ledger does not import it). */
export interface PlanHooks {
  /** Renews what is due; called under the wallet lock when its planRenewsAt has passed, before expiry is settled. */
  renewDue(wallet: PlanWallet): Promise<void>;
  /** Active plans that include a gated model or action (for the refusal's remedy). */
  plansIncluding(executor: Executor, gated: { field: 'model' | 'action'; value: string }): Promise<{ code: string; name: string }[]>;
}

export class PlanWallet {
  constructor(protected readonly session: WalletSession, readonly actor: string) {}

  get tx(): Tx {
    return this.session.tx;
  }

  get accountId(): string {
    return this.session.accountId;
  }

  get now(): Date {
    return this.session.now;
  }

  /**
   * Free credits (not secured by holds) these buckets had at `asOf` (not after now): a hold active then
   * secured its credits even if its TTL has passed since (the sweep has not released it yet), so the
   * answer does not depend on how late a renewal runs.
   */
  async freeMillisAt(bucketIds: readonly string[], asOf: Date): Promise<Millis> {
    const buckets = bucketIds.map((id) => this.session.buckets.get(id)).filter((b) => b !== undefined);
    let free = 0;
    for (const bucket of buckets) free += freeMillis(bucket);
    const lapsed = buckets.filter((b) => b.heldStaleMillis > 0).map((b) => b.id);
    if (lapsed.length > 0) free -= await repo.heldByHoldsLapsedBetween(this.tx, this.accountId, lapsed, asOf, this.now);
    return free;
  }

  /** A PLAN_ALLOWANCE bucket expiring at `expiresAt`, posted as a GRANT (which repays debt first). */
  async grantAllowance(amountMillis: Millis, expiresAt: Date, comment: string, idempotencyKey: string | null = null): Promise<{ transaction: TransactionRow | null; bucketId: string | null }> {
    if (amountMillis <= 0) return { transaction: null, bucketId: null };
    return postGrant(this.session, {
      source: 'PLAN_ALLOWANCE', amountMillis, expiresAt, type: 'GRANT', actor: this.actor, comment, idempotencyKey,
    });
  }

  /**
   * Moves `amountMillis` of the free credits of `fromBucketIds` (the plans module decides how much) into
   * a new ROLLOVER bucket expiring at `expiresAt`, as one ROLLOVER transaction whose entries net to zero.
   */
  async rollOver(fromBucketIds: readonly string[], amountMillis: Millis, expiresAt: Date, comment: string): Promise<{ transaction: TransactionRow; bucketId: string } | null> {
    const from = fromBucketIds.map((id) => this.session.buckets.get(id)).filter((b) => b !== undefined).sort(compareBurnOrder);
    assert(amountMillis <= from.reduce((sum, b) => sum + freeMillis(b), 0), 'a rollover moves at most the free credits');
    const amount = amountMillis;
    if (amount <= 0) return null;
    const bucket = {
      id: newId(), accountId: this.accountId, source: 'ROLLOVER' as const, amountMillis: amount, remainingMillis: 0,
      priority: defaultPriority('ROLLOVER'), effectiveAt: this.now, expiresAt, applicableActions: null, applicableModels: null,
      costPerCredit: null, currency: null, createdAt: this.now,
    };
    await repo.insertBucket(this.tx, bucket);
    this.session.addBucket({ ...bucket, heldActiveMillis: 0, heldStaleMillis: 0 });
    const entries: PostEntry[] = [];
    let left = amount;
    for (const b of from) {
      const take = Math.min(left, freeMillis(b));
      if (take > 0) entries.push({ bucketId: b.id, millis: -take });
      left -= take;
    }
    entries.push({ bucketId: bucket.id, millis: amount });
    const transaction = await this.session.post({ type: 'ROLLOVER', entries, actor: this.actor, comment });
    return { transaction, bucketId: bucket.id };
  }

  /** Expires the free credits left in these buckets now (what holds secure stays for them). */
  async expire(bucketIds: readonly string[], comment: (expiredMillis: Millis) => string): Promise<TransactionRow | null> {
    const entries: PostEntry[] = [];
    let total = 0;
    for (const id of bucketIds) {
      const bucket = this.session.buckets.get(id);
      const free = bucket ? freeMillis(bucket) : 0;
      if (free > 0) entries.push({ bucketId: id, millis: -free });
      total += free;
    }
    if (entries.length === 0) return null;
    return this.session.post({ type: 'EXPIRE', entries, actor: this.actor, comment: comment(total) });
  }

  /**
   * Sets what the plan makes of the wallet (null: no plan). The overdraft limit and thresholds follow
   * the plan unless the wallet has its own. Written at once, so what runs next in this transaction
   * (pricing reads the tier) sees it.
   */
  async shape(plan: PlanShape | null): Promise<void> {
    const wallet = this.session.wallet;
    wallet.planCode = plan?.planCode ?? null;
    wallet.planTier = plan?.tier ?? null;
    wallet.planModels = plan?.models ?? null;
    wallet.planActions = plan?.actions ?? null;
    wallet.planRenewsAt = plan?.renewsAt ?? null;
    if (!wallet.overdraftLimitOwn) wallet.overdraftLimitMillis = plan?.overdraftLimitMillis ?? 0;
    wallet.planAllowanceMillis = plan?.allowanceMillis ?? null;
    if (!wallet.lowCreditThresholdsOwn) wallet.lowCreditThresholds = plan?.lowCreditThresholdsMillis ?? [];
    if (!wallet.lowCreditThresholdPercentsOwn) wallet.lowCreditThresholdPercents = plan?.lowCreditThresholdPercents ?? [];
    await repo.updateWalletPlan(this.tx, wallet, this.now);
  }
}
