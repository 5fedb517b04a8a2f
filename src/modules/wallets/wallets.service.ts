import type { Db } from '../../db/client';
import type { Clock } from '../../shared/clock';
import { badInput, notFound } from '../../shared/errors';
import { isUuid } from '../../shared/validate';
import { readWallet, walletFigures, compareBurnOrder, isLive, type BucketWithHeld } from '../ledger';
import * as repo from './wallets.repo';

export interface WalletView {
  accountId: string;
  balanceMillis: number;
  availableMillis: number;
  heldMillis: number;
  debtMillis: number;
  overdraftLimitMillis: number;
  frozen: boolean;
  sequence: number;
  lowCreditThresholdsMillis: number[];
  buckets: BucketWithHeld[];
  /** The account's plan tier (pricing multipliers); not a GraphQL field of Wallet. */
  planTier: string | null;
}

const THRESHOLDS_MAX = 10;

export class WalletsService {
  constructor(private readonly db: Db, private readonly clock: Clock) {}

  /** The wallet as of now, read without locks (expired buckets and lapsed holds already excluded). */
  async get(accountId: string): Promise<WalletView | null> {
    if (!isUuid(accountId)) return null;
    const now = this.clock.now();
    const read = await readWallet(this.db, accountId, now);
    if (!read) return null;
    const { wallet, buckets, planTier } = read;
    const figures = walletFigures(buckets, wallet.debtMillis, wallet.overdraftLimitMillis, now);
    return {
      accountId, ...figures, debtMillis: wallet.debtMillis, overdraftLimitMillis: wallet.overdraftLimitMillis,
      frozen: wallet.frozen, sequence: wallet.sequence, lowCreditThresholdsMillis: wallet.lowCreditThresholds, planTier,
      buckets: buckets.filter((b) => isLive(b, now)).sort((a, b) => compareBurnOrder({ ...a, freeMillis: 0 }, { ...b, freeMillis: 0 })),
    };
  }

  async update(accountId: string, changes: { overdraftLimitMillis?: number | null; frozen?: boolean | null; lowCreditThresholdsMillis?: number[] | null }): Promise<WalletView> {
    const set: Parameters<typeof repo.updateWalletSettings>[2] = { updatedAt: this.clock.now() };
    if (changes.overdraftLimitMillis !== undefined && changes.overdraftLimitMillis !== null) {
      if (changes.overdraftLimitMillis < 0) throw badInput('overdraftLimit must be ≥ 0', 'overdraftLimit');
      set.overdraftLimitMillis = changes.overdraftLimitMillis;
    }
    if (changes.frozen !== undefined && changes.frozen !== null) set.frozen = changes.frozen;
    if (changes.lowCreditThresholdsMillis) {
      const thresholds = changes.lowCreditThresholdsMillis;
      if (thresholds.length > THRESHOLDS_MAX) throw badInput(`at most ${THRESHOLDS_MAX} thresholds`, 'lowCreditThresholds');
      if (thresholds.some((t) => t <= 0)) throw badInput('thresholds must be positive', 'lowCreditThresholds');
      set.lowCreditThresholds = [...new Set(thresholds)].sort((a, b) => b - a);
    }
    if (!isUuid(accountId) || !(await repo.updateWalletSettings(this.db, accountId, set))) throw notFound('account');
    return (await this.get(accountId))!;
  }
}
