/**
 * The can-pay rule, the one decision behind quotes (affordable), charges and holds: which buckets
 * pay, how much becomes debt, and the refusal when the wallet cannot pay.
 */
import { formatCredits, type Millis } from '../../shared/credits';
import { AppError, ErrorCode } from '../../shared/errors';
import { allocate, type Allocation, type BurnBucket, type UseTarget } from './burn-down';
import { overdraftRoomMillis, type FigureWallet } from './figures';

export interface PayingWallet extends FigureWallet {
  frozen: boolean;
}

/** A charge may go into overdraft; a hold is secured by bucket credits only (overdraft is never reserved). */
export type PaymentKind = 'CHARGE' | 'HOLD';

export interface Payment {
  /** What each bucket gives, in burn-down order. */
  allocations: Allocation[];
  /** The part the overdraft pays (the debt it adds); always 0 for a hold. */
  debtMillis: Millis;
  /** All that could pay for this target: the applicable buckets' free credits, plus the overdraft room for a charge. */
  availableMillis: Millis;
  refusal: typeof ErrorCode.WALLET_FROZEN | typeof ErrorCode.INSUFFICIENT_CREDITS | null;
}

/** How `amountMillis` for `target` would be paid from `liveBuckets`, or why it cannot be. Pure. */
export function planPayment(wallet: PayingWallet, liveBuckets: Iterable<BurnBucket>, target: UseTarget, amountMillis: Millis, kind: PaymentKind): Payment {
  const plan = allocate(liveBuckets, target, amountMillis);
  const roomMillis = kind === 'CHARGE' ? overdraftRoomMillis(wallet) : 0;
  const refusal = wallet.frozen ? ErrorCode.WALLET_FROZEN : plan.shortMillis > roomMillis ? ErrorCode.INSUFFICIENT_CREDITS : null;
  return {
    allocations: plan.allocations,
    debtMillis: refusal ? 0 : plan.shortMillis,
    availableMillis: plan.applicableFreeMillis + roomMillis,
    refusal,
  };
}

/** The refusal a payment plan decided, as the client sees it; null when the wallet can pay. */
export function paymentRefusal(payment: Payment, requiredMillis: Millis): AppError | null {
  if (payment.refusal === ErrorCode.WALLET_FROZEN) return new AppError(ErrorCode.WALLET_FROZEN, 'the wallet is frozen: charges and holds are refused');
  if (payment.refusal === ErrorCode.INSUFFICIENT_CREDITS) return insufficientCredits(requiredMillis, payment.availableMillis);
  return null;
}

/** INSUFFICIENT_CREDITS with what was required, what is available (never shown below 0) and the shortfall. */
export function insufficientCredits(requiredMillis: Millis, availableMillis: Millis, message?: string): AppError {
  const available = Math.max(0, availableMillis);
  return new AppError(ErrorCode.INSUFFICIENT_CREDITS, message ?? `this needs ${formatCredits(requiredMillis)} credits but ${formatCredits(available)} are available`, {
    required: formatCredits(requiredMillis), available: formatCredits(available), shortfall: formatCredits(requiredMillis - available),
  });
}
