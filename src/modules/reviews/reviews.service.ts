/**
 * Review holds: the rules that open them (review-holds.ts, attached to the ledger) and the admin's
 * queue and decision. A decision is made under the wallet row lock, so it never races a charge.
 */
import type { Config } from '../../config';
import type { Database } from '../../db/client';
import type { ReviewStatusName } from '../../db/schema';
import type { Clock } from '../../shared/clock';
import { badInput, notFound } from '../../shared/errors';
import { isUuid } from '../../shared/validate';
import type { AdminAlertsService } from '../alerts';
import { PlanLimits } from './plan-limits';
import { ReviewHolds } from './review-holds';
import { hourStartOf } from './review-rules';
import * as repo from './reviews.repo';

export const REVIEW_COMMENT_LENGTH_MAX = 1000;

export class ReviewsService {
  readonly planLimits: PlanLimits;
  /** Attach to the ledger (after the teams budget rule). */
  readonly rules: ReviewHolds;

  constructor(private readonly database: Database, private readonly clock: Clock, config: Readonly<Config>, adminAlerts: AdminAlertsService) {
    this.planLimits = new PlanLimits(database.db, clock, config);
    this.rules = new ReviewHolds(this.planLimits, adminAlerts, config.velocityBaselineHours);
  }

  /** Newest first. */
  list(status: ReviewStatusName | null, limit: number): Promise<repo.ReviewRow[]> {
    return repo.listReviews(this.database.db, status, null, limit);
  }

  find(id: string): Promise<repo.ReviewRow | undefined> {
    return isUuid(id) ? repo.findReview(this.database.db, id) : Promise.resolve(undefined);
  }

  /**
   * Approve: the wallet leaves the hold and its hour counter and fingerprints start over (the traffic
   * that tripped the rule does not trip it again at once). Reject: the wallet is frozen until an admin
   * unfreezes it (updateWallet). Checked before anything is written.
   */
  async resolve(actorId: string, input: { id: string; approve: boolean; comment?: string | null }): Promise<repo.ReviewRow> {
    const comment = (input.comment ?? '').trim();
    if (!comment || comment.length > REVIEW_COMMENT_LENGTH_MAX) throw badInput(`comment is required, 1 to ${REVIEW_COMMENT_LENGTH_MAX} characters`, 'comment');
    if (!isUuid(input.id)) throw notFound('review');
    return this.database.db.transaction(async (tx) => {
      const found = await repo.findReview(tx, input.id);
      if (!found) throw notFound('review');
      // The wallet lock first (as a charge takes it), then the review as it is under that lock.
      const wallet = await repo.lockWallet(tx, found.accountId);
      const review = await repo.findReview(tx, input.id);
      if (!wallet || !review) throw notFound('review');
      if (review.status !== 'OPEN') throw badInput(`the review is already ${review.status}`, 'id');
      const now = this.clock.now();
      const resolved = await repo.closeReview(tx, review.id, { status: input.approve ? 'APPROVED' : 'REJECTED', resolvedAt: now, resolvedBy: actorId, comment });
      // At most one OPEN review per wallet (unique index): the wallet's review_id is this one.
      await repo.releaseWallet(tx, review.accountId, now, hourStartOf(now), !input.approve);
      return resolved;
    });
  }
}
