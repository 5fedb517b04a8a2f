/** Thin resolvers of review holds: ADMIN keys only. */
import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { actorOf, assertAdmin } from '../../auth/viewer';
import { badInput } from '../../shared/errors';
import { Wallet } from '../wallets/wallet.type';
import { ResolveReviewInput, Review, ReviewStatus } from './review.type';
import type { ReviewRow } from './reviews.repo';

const REVIEWS_LIMIT_DEFAULT = 50;

const toReview = (row: ReviewRow): Review => ({ ...row, status: row.status as ReviewStatus, rule: row.rule as Review['rule'] });

@Resolver(() => Review)
export class ReviewsResolver {
  @Query(() => [Review], { description: 'Admin: review holds, newest first (status: only those; limit: at most the page size maximum).' })
  async reviews(
    @Ctx() ctx: Context,
    @Arg('status', () => ReviewStatus, { nullable: true }) status?: ReviewStatus | null,
    @Arg('limit', () => Int, { nullable: true, defaultValue: REVIEWS_LIMIT_DEFAULT }) limit?: number | null,
  ): Promise<Review[]> {
    assertAdmin(ctx.viewer);
    const max = ctx.services.config.pageSizeMax;
    const size = limit ?? REVIEWS_LIMIT_DEFAULT;
    if (!Number.isInteger(size) || size < 1 || size > max) throw badInput(`limit must be between 1 and ${max}`, 'limit');
    const rows = await ctx.services.reviews.list(status ?? null, size);
    return rows.map(toReview);
  }

  @Mutation(() => Review, { description: 'Admin: approves (charges resume) or rejects (the wallet stays frozen) an OPEN review, with a comment.' })
  async resolveReview(@Ctx() ctx: Context, @Arg('input', () => ResolveReviewInput) input: ResolveReviewInput): Promise<Review> {
    const viewer = assertAdmin(ctx.viewer);
    return toReview(await ctx.services.reviews.resolve(actorOf(viewer).id, input));
  }
}

@Resolver(() => Wallet)
export class WalletReviewResolver {
  @FieldResolver(() => Boolean, { description: 'On hold for review: charges and holds are refused WALLET_FROZEN (reason REVIEW) until an admin resolves it.' })
  onReview(@Root() wallet: { reviewId?: string | null }): boolean {
    return Boolean(wallet.reviewId);
  }
}
