import type { Db } from '../../db/client';
import type { Clock } from '../../shared/clock';
import { badInput, notFound } from '../../shared/errors';
import { isUuid } from '../../shared/validate';
import { readWallets, walletFigures, compareBurnOrder, isLive, type BucketWithHeld, type WalletRead } from '../ledger';
import { CoalescingQueue } from '../../shared/coalescing-queue';
import { effectiveLevels, levelsProblem, percentLevelsProblem } from '../alerts/levels';
import * as repo from './wallets.repo';

export interface WalletView {
  accountId: string;
  balanceMillis: number;
  availableMillis: number;
  heldMillis: number;
  debtMillis: number;
  overdraftLimitMillis: number;
  frozen: boolean;
  /** The open review holding the wallet (reviews module), or null. */
  reviewId: string | null;
  sequence: number;
  lowCreditThresholdsMillis: number[];
  lowCreditThresholdPercents: number[];
  /** Every level in effect (absolute and percent of the allowance), highest first. */
  lowCreditLevelsMillis: number[];
  buckets: BucketWithHeld[];
  /** The tier that prices the account's generations (its plan's when subscribed); not a GraphQL field of Wallet. */
  planTier: string | null;
  /** The subscribed plan's gating (null: everything); quotes check it. */
  planModels: string[] | null;
  planActions: string[] | null;
}

export class WalletsService {
  constructor(private readonly db: Db, private readonly clock: Clock) {}

  /** Brings a wallet up to date under its lock (the ledger's settleWallet); attached by main.ts. */
  private settle: ((accountId: string) => Promise<unknown>) | null = null;

  attachSettle(settle: (accountId: string) => Promise<unknown>): void {
    this.settle = settle;
  }

  /** Concurrent wallet reads (dashboards, quotes) share one statement; an idle server reads at once. */
  private readonly reads = new CoalescingQueue<string, { read: WalletRead; now: Date } | null>(async (_key, accountIds) => {
    const now = this.clock.now();
    const found = await readWallets(this.db, [...new Set(accountIds)], now);
    return accountIds.map((id) => {
      const read = found.get(id);
      return read ? { read, now } : null;
    });
  });

  /** The wallet as of now, read without locks (expired buckets and lapsed holds already excluded). */
  async get(accountId: string): Promise<WalletView | null> {
    if (!isUuid(accountId)) return null;
    let result = await this.reads.submit('wallets', accountId);
    if (!result) return null;
    // A plan period ended and nothing renewed it yet: renew it now (once per period), so a read never
    // shows a wallet between two periods.
    const renewsAt = result.read.wallet.planRenewsAt;
    if (this.settle && renewsAt && renewsAt <= result.now) {
      await this.settle(accountId);
      result = (await this.reads.submit('wallets', accountId))!;
    }
    const { read: { wallet, buckets, planTier }, now } = result;
    const figures = walletFigures(buckets, wallet, now);
    return {
      accountId, ...figures, debtMillis: wallet.debtMillis, overdraftLimitMillis: wallet.overdraftLimitMillis,
      frozen: wallet.frozen, reviewId: wallet.reviewId ?? null, sequence: wallet.sequence, lowCreditThresholdsMillis: wallet.lowCreditThresholds, planTier,
      lowCreditThresholdPercents: wallet.lowCreditThresholdPercents,
      lowCreditLevelsMillis: effectiveLevels(wallet.lowCreditThresholds, wallet.lowCreditThresholdPercents, wallet.planAllowanceMillis),
      planModels: wallet.planModels ?? null, planActions: wallet.planActions ?? null,
      buckets: buckets.filter((b) => isLive(b, now)).sort(compareBurnOrder),
    };
  }

  async update(accountId: string, changes: { overdraftLimitMillis?: number | null; frozen?: boolean | null; lowCreditThresholdsMillis?: number[] | null; lowCreditThresholdPercents?: number[] | null }): Promise<WalletView> {
    const set: Parameters<typeof repo.updateWalletSettings>[2] = { updatedAt: this.clock.now() };
    if (changes.overdraftLimitMillis !== undefined && changes.overdraftLimitMillis !== null) {
      if (changes.overdraftLimitMillis < 0) throw badInput('overdraftLimit must be ≥ 0', 'overdraftLimit');
      set.overdraftLimitMillis = changes.overdraftLimitMillis;
      set.overdraftLimitOwn = true; // the wallet's own limit wins over a plan's from now on
    }
    if (changes.frozen !== undefined && changes.frozen !== null) set.frozen = changes.frozen;
    if (changes.lowCreditThresholdsMillis) {
      const thresholds = changes.lowCreditThresholdsMillis;
      const problem = levelsProblem(thresholds);
      if (problem) throw badInput(`lowCreditThresholds: ${problem}`, 'lowCreditThresholds');
      set.lowCreditThresholds = [...new Set(thresholds)].sort((a, b) => b - a);
      set.lowCreditThresholdsOwn = true; // the wallet's own levels win over a plan's from now on
    }
    if (changes.lowCreditThresholdPercents) {
      const percents = changes.lowCreditThresholdPercents;
      const problem = percentLevelsProblem(percents);
      if (problem) throw badInput(`lowCreditThresholdPercents: ${problem}`, 'lowCreditThresholdPercents');
      set.lowCreditThresholdPercents = [...new Set(percents)].sort((a, b) => b - a);
      set.lowCreditThresholdPercentsOwn = true;
    }
    if (!isUuid(accountId) || !(await repo.updateWalletSettings(this.db, accountId, set))) throw notFound('account');
    return (await this.get(accountId))!;
  }
}
