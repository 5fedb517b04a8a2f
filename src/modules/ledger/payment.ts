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
  /** A review hold (the reviews module): refused like a frozen wallet until an admin resolves it. */
  reviewId?: string | null;
  /** The subscribed plan's gating: null allows every model / action; a list refuses the rest. */
  planModels?: string[] | null;
  planActions?: string[] | null;
}

/** What a plan's gating refuses for this target, or null. Checked only for an action or model that is named. */
export function gatedBy(wallet: Pick<PayingWallet, 'planModels' | 'planActions'>, target: UseTarget): { field: 'model' | 'action'; value: string } | null {
  if (target.model && wallet.planModels && !wallet.planModels.includes(target.model)) return { field: 'model', value: target.model };
  if (target.action && wallet.planActions && !wallet.planActions.includes(target.action)) return { field: 'action', value: target.action };
  return null;
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
  refusal: typeof ErrorCode.WALLET_FROZEN | typeof ErrorCode.MODEL_NOT_IN_PLAN | typeof ErrorCode.INSUFFICIENT_CREDITS | null;
  /** With MODEL_NOT_IN_PLAN: what the plan gates. */
  gated: { field: 'model' | 'action'; value: string } | null;
  /** With WALLET_FROZEN: the review that holds the wallet (null: frozen by an admin). */
  reviewId?: string | null;
}

/** How `amountMillis` for `target` would be paid from `liveBuckets`, or why it cannot be. Pure. */
export function planPayment(wallet: PayingWallet, liveBuckets: Iterable<BurnBucket>, target: UseTarget, amountMillis: Millis, kind: PaymentKind): Payment {
  const plan = allocate(liveBuckets, target, amountMillis);
  const roomMillis = kind === 'CHARGE' ? overdraftRoomMillis(wallet) : 0;
  const gated = gatedBy(wallet, target);
  const refusal = wallet.frozen || wallet.reviewId ? ErrorCode.WALLET_FROZEN
    : gated ? ErrorCode.MODEL_NOT_IN_PLAN
      : plan.shortMillis > roomMillis ? ErrorCode.INSUFFICIENT_CREDITS : null;
  return {
    allocations: gated ? [] : plan.allocations,
    debtMillis: refusal ? 0 : plan.shortMillis,
    availableMillis: plan.applicableFreeMillis + roomMillis,
    refusal,
    gated,
    reviewId: wallet.reviewId ?? null,
  };
}

/** The refusal a payment plan decided, as the client sees it; null when the wallet can pay. */
export function paymentRefusal(payment: Payment, requiredMillis: Millis): AppError | null {
  if (payment.refusal === ErrorCode.WALLET_FROZEN) return walletFrozen(payment.reviewId ?? null);
  if (payment.refusal === ErrorCode.MODEL_NOT_IN_PLAN) return notInPlan(payment.gated!, null);
  if (payment.refusal === ErrorCode.INSUFFICIENT_CREDITS) return insufficientCredits(requiredMillis, payment.availableMillis);
  return null;
}

/**
 * MODEL_NOT_IN_PLAN for a gated model or action; `plansIncluding` (codes and names of active plans that
 * include it, when known) makes the remedy name them.
 */
export function notInPlan(gated: { field: 'model' | 'action'; value: string }, plansIncluding: { code: string; name: string }[] | null): AppError {
  const remedy = plansIncluding === null ? undefined
    : plansIncluding.length === 0 ? `No active plan includes this ${gated.field}.`
      : `Change to a plan that includes it: ${plansIncluding.map((p) => `${p.name} (${p.code})`).join(', ')}.`;
  return new AppError(ErrorCode.MODEL_NOT_IN_PLAN, `the ${gated.field} "${gated.value}" is not included in the wallet's plan`, {
    [gated.field]: gated.value, ...(plansIncluding ? { plansIncluding: plansIncluding.map((p) => p.code) } : {}), ...(remedy ? { remedy } : {}),
  });
}

/** INSUFFICIENT_CREDITS with what was required, what is available (never shown below 0) and the shortfall. */
export function insufficientCredits(requiredMillis: Millis, availableMillis: Millis, message?: string): AppError {
  const available = Math.max(0, availableMillis);
  return new AppError(ErrorCode.INSUFFICIENT_CREDITS, message ?? `this needs ${formatCredits(requiredMillis)} credits but ${formatCredits(available)} are available`, {
    required: formatCredits(requiredMillis), available: formatCredits(available), shortfall: formatCredits(requiredMillis - available),
  });
}

/**
 * WALLET_FROZEN with why: reason REVIEW (a review hold; the reviews module adds the rule and the numbers
 * when it refuses) or ADMIN (frozen by an admin with updateWallet).
 */
export function walletFrozen(reviewId: string | null, details: Record<string, unknown> = {}): AppError {
  if (reviewId) {
    return new AppError(ErrorCode.WALLET_FROZEN, 'the wallet is on hold for review: charges and holds are refused until an admin approves it', {
      reason: 'REVIEW', reviewId, remedy: 'The wallet is on hold for review of unusual use; charges resume when an admin approves the review. Contact support.', ...details,
    });
  }
  return new AppError(ErrorCode.WALLET_FROZEN, 'the wallet is frozen: charges and holds are refused', {
    reason: 'ADMIN', remedy: 'An admin froze the wallet; contact support to have it unfrozen.',
  });
}
