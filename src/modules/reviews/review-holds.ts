/**
 * The review-hold rules as the ledger's use rules (ledger/use-rules.ts), run after the teams budget rule
 * under the wallet lock. Charges and holds only: a hold counts at hold time (so a burst of reservations
 * is stopped), its capture is not counted again, refunds give nothing back to the counter.
 *
 * Cost on the charge path: the counters live on the wallet row the ledger already locked and writes
 * (its UPDATE carries them), thresholds come from an in-memory cache, and the baseline is read only
 * when this hour's consumption would pass the floor and it was not read this hour yet. A wallet
 * already on hold costs one read of its review (to say why), once per run.
 */
import type { Tx } from '../../db/client';
import { formatCredits } from '../../shared/credits';
import type { AppError } from '../../shared/errors';
import { newId } from '../../shared/ids';
import type { AdminAlertsService } from '../alerts';
import { walletFrozen } from '../ledger';
import type { CreditUse, UseRules, UseRulesRun } from '../ledger/use-rules';
import type { WalletSession } from '../ledger/wallet-session';
import type { ReviewRuleName } from '../../db/schema';
import type { PlanLimits } from './plan-limits';
import {
  addFingerprint, baselineDays, baselineFresh, baselinePerHour, countUse, epochSeconds, fingerprintOf, hourMillisNow, hourStartOf, overFloor,
  parseFingerprints, repeatsWith, velocityTrips, type Thresholds,
} from './review-rules';
import * as repo from './reviews.repo';

export class ReviewHolds implements UseRules {
  constructor(
    readonly limits: PlanLimits,
    private readonly adminAlerts: AdminAlertsService,
    readonly baselineHours: number,
  ) {}

  begin(tx: Tx, now: Date): UseRulesRun {
    return new ReviewRun(this, this.adminAlerts, tx, now);
  }
}

interface Opening {
  row: repo.NewReviewRow;
  error: AppError;
  /** The admin alert's words. */
  summary: string;
}

const counted = (use: CreditUse) => use.kind === 'CHARGE' || use.kind === 'HOLD';

class ReviewRun implements UseRulesRun {
  /** Reviews this run opens, by account (written in flush). */
  private readonly openings = new Map<string, Opening>();
  /** Refusals of wallets already on hold, by account (one review read per run). */
  private readonly onHold = new Map<string, AppError>();
  /** The thresholds check used, for record (same wallet, same run). */
  private readonly thresholds = new Map<string, Thresholds>();

  constructor(private readonly rules: ReviewHolds, private readonly adminAlerts: AdminAlertsService, private readonly tx: Tx, private readonly now: Date) {}

  async load(): Promise<void> {}

  async check(session: WalletSession, use: CreditUse): Promise<AppError | null> {
    const wallet = session.wallet;
    // A frozen wallet is refused by the payment rule (reason ADMIN); nothing to count or open.
    if (!counted(use) || wallet.frozen) return null;
    if (wallet.reviewId) return this.heldRefusal(wallet.accountId, wallet.reviewId);
    const t = await this.rules.limits.thresholdsOf(this.tx, wallet.planCode);
    this.thresholds.set(wallet.accountId, t);

    const hourMillis = hourMillisNow(wallet, this.now) + use.amountMillis;
    if (overFloor(hourMillis, t)) {
      if (!baselineFresh(wallet, this.now)) {
        const days = baselineDays(this.now, this.rules.baselineHours);
        wallet.velocityBaselineMillis = baselinePerHour(await repo.consumedBetween(this.tx, wallet.accountId, days.from, days.to), this.rules.baselineHours);
        wallet.velocityBaselineHour = hourStartOf(this.now);
      }
      const baseline = wallet.velocityBaselineMillis ?? 0;
      if (velocityTrips(hourMillis, baseline, t)) {
        return this.open(session, use, 'VELOCITY', {
          observedHourCredits: formatCredits(hourMillis), baselinePerHourCredits: formatCredits(baseline), multiplier: t.multiplier,
          floorCredits: formatCredits(t.floorMillis), baselineWindowHours: this.rules.baselineHours,
        }, `${formatCredits(hourMillis)} credits this hour, usually ${formatCredits(baseline)} per hour`, `This hour's use (${formatCredits(hourMillis)} credits) is over ${t.multiplier} × the account's usual ${formatCredits(baseline)} credits per hour and over the floor of ${formatCredits(t.floorMillis)}; an admin reviews the account before charges resume. Contact support.`);
      }
    }

    const hash = fingerprintOf(use);
    if (hash) {
      const repeats = repeatsWith(parseFingerprints(wallet.recentFingerprints), hash, epochSeconds(this.now), t.windowMinutes);
      if (repeats >= t.repeats) {
        return this.open(session, use, 'FINGERPRINT', { fingerprint: hash, repeats, repeatsLimit: t.repeats, windowMinutes: t.windowMinutes },
          `the same generation ${repeats} times within ${t.windowMinutes} minutes`,
          `The same generation was requested ${repeats} times within ${t.windowMinutes} minutes (the limit is ${t.repeats}); an admin reviews the account before charges resume. Contact support.`);
      }
    }
    return null;
  }

  refused(session: WalletSession, _use: CreditUse, error: AppError, failedTransactionId: string): void {
    const opening = this.openings.get(session.accountId);
    // The attempt that opened the review (later refusals of the same run share its error).
    if (opening && opening.error === error && opening.row.transactionId === null) opening.row.transactionId = failedTransactionId;
  }

  record(session: WalletSession, use: CreditUse): void {
    if (!counted(use)) return;
    const wallet = session.wallet;
    const t = this.thresholds.get(wallet.accountId);
    if (!t) return; // not checked by this rule (a frozen wallet is never posted to anyway)
    Object.assign(wallet, countUse(wallet, this.now, use.amountMillis));
    const hash = fingerprintOf(use);
    if (hash) wallet.recentFingerprints = addFingerprint(parseFingerprints(wallet.recentFingerprints), hash, epochSeconds(this.now), t.windowMinutes);
  }

  async flush(): Promise<readonly unknown[]> {
    if (this.openings.size === 0) return [];
    const openings = [...this.openings.values()];
    this.openings.clear();
    // Rare (a wallet going on hold): a statement or two each is fine.
    for (const { row, summary } of openings) {
      await repo.insertReview(this.tx, row);
      await this.adminAlerts.raise(this.tx, {
        kind: 'REVIEW_HOLD', subjectId: row.id, dedupeKey: `review:${row.id}`,
        message: `Wallet ${row.accountId} is on hold for review (${row.rule}): ${summary}.`,
      });
    }
    return [];
  }

  /**
   * Opens a review (written in flush): the wallet is on hold from this use on, in this run too. A use
   * the wallet could not pay anyway (no credits, a gated model) consumes nothing: it is left to the
   * ledger's own refusal and opens nothing (null).
   */
  private open(session: WalletSession, use: CreditUse, rule: ReviewRuleName, numbers: Record<string, unknown>, summary: string, remedy: string): AppError | null {
    if (session.planPayment({ action: use.action, model: use.model }, use.amountMillis, use.kind === 'HOLD' ? 'HOLD' : 'CHARGE').refusal) return null;
    const id = newId();
    session.wallet.reviewId = id; // written by the ledger's wallet UPDATE
    const details = { rule, ...numbers };
    const error = walletFrozen(id, { ...details, remedy });
    this.openings.set(session.accountId, {
      row: { id, accountId: session.accountId, status: 'OPEN', rule, details: { ...details, remedy }, transactionId: null, createdAt: this.now },
      error, summary,
    });
    this.onHold.set(session.accountId, error);
    return error;
  }

  private async heldRefusal(accountId: string, reviewId: string): Promise<AppError> {
    let refusal = this.onHold.get(accountId);
    if (!refusal) {
      const review = await repo.findReview(this.tx, reviewId);
      refusal = walletFrozen(reviewId, review ? { rule: review.rule, ...review.details } : {});
      this.onHold.set(accountId, refusal);
    }
    return refusal;
  }
}
