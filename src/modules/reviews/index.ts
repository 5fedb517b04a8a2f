/** What other modules may use of review holds. */
export { ReviewsService } from './reviews.service';
export { PlanLimits } from './plan-limits';
export { ReviewsResolver, WalletReviewResolver } from './reviews.resolver';
