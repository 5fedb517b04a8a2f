/** The wallet's figures (PRODUCT.md §1), computed the same way for reads and under the lock. */
import type { Millis } from '../../shared/credits';

export interface FigureBucket {
  remainingMillis: number;
  heldActiveMillis: number;
  expiresAt: Date | null;
  effectiveAt: Date;
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
 * Balance = remaining of live buckets − debt; an expired bucket still counts the part an active
 * hold secured (that part is spent or returned by the hold). Available = balance − held + overdraft.
 */
export function walletFigures(buckets: Iterable<FigureBucket>, debtMillis: Millis, overdraftLimitMillis: Millis, now: Date): WalletFigures {
  let remaining = 0;
  let held = 0;
  for (const b of buckets) {
    remaining += isLive(b, now) ? b.remainingMillis : Math.min(b.remainingMillis, b.heldActiveMillis);
    held += b.heldActiveMillis;
  }
  const balance = remaining - debtMillis;
  return { balanceMillis: balance, heldMillis: held, availableMillis: balance - held + overdraftLimitMillis };
}
