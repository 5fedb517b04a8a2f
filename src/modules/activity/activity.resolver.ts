/** Thin resolvers of platform activity: authorize, bound, call ActivityService. */
import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { assertAdmin } from '../../auth/viewer';
import { connectionComplexity, PAGE_SIZE_DEFAULT, pageSize } from '../../graphql/connection';
import { LedgerTransaction, type TransactionRow } from '../ledger';

@Resolver()
export class ActivityResolver {
  @Query(() => [LedgerTransaction], { description: 'Admin: the newest refused operations of every account (status FAILED), newest first.', complexity: connectionComplexity })
  async recentFailedTransactions(
    @Ctx() ctx: Context,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_SIZE_DEFAULT }) first: number,
  ): Promise<TransactionRow[]> {
    assertAdmin(ctx.viewer);
    const rows = await ctx.services.activity.recentFailures(pageSize(first, ctx.services.config.pageSizeMax));
    for (const row of rows) ctx.loaders.transaction.prime(row.id, row);
    return rows;
  }
}
