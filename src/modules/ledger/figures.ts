/** The wallet's figures, computed by one function for reads and under the lock. */
import type { Millis } from '../../shared/credits';

export interface FigureBucket {
  remainingMillis: Millis;
  heldActiveMillis: Millis;
  expiresAt: Date | null;
  effectiveAt: Date;
}

export interface FigureWallet {
  debtMillis: Millis;
  overdraftLimitMillis: Millis;
}

export interface WalletFigures {
  balanceMillis: Millis;
  heldMillis: Millis;
  availableMillis: Millis;
}

export function isLive(bucket: { expiresAt: Date | null; effectiveAt: Date }, now: Date): boolean {
  return (bucket.expiresAt === null || bucket.expiresAt > now) && bucket.effectiveAt <= now;
}

/**
 * When the figures are taken:
 * - a time, for reads without the lock: a bucket that is not live then counts only the part active
 *   holds secured (that part is spent or returned by the hold);
 * - 'settled', under the wallet lock after settle(): every bucket's remaining counts. settle() has
 *   expired lapsed buckets down to what holds secure, and what a capture or release frees on a
 *   lapsed bucket is expired right after by its own EXPIRE transaction, so a transaction's
 *   balanceAfter always equals the running sum of entries.
 */
export type FiguresAsOf = Date | 'settled';

/** Balance = counted remaining − debt; available = balance − held + overdraft limit. */
export function walletFigures(buckets: Iterable<FigureBucket>, wallet: FigureWallet, asOf: FiguresAsOf): WalletFigures {
  let remaining = 0;
  let held = 0;
  for (const b of buckets) {
    remaining += asOf === 'settled' || isLive(b, asOf) ? b.remainingMillis : Math.min(b.remainingMillis, b.heldActiveMillis);
    held += b.heldActiveMillis;
  }
  const balance = remaining - wallet.debtMillis;
  return { balanceMillis: balance, heldMillis: held, availableMillis: balance - held + wallet.overdraftLimitMillis };
}

/** How much more debt the overdraft allows. */
export function overdraftRoomMillis(wallet: FigureWallet): Millis {
  return Math.max(0, wallet.overdraftLimitMillis - wallet.debtMillis);
}
