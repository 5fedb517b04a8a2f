/** Thin resolver of the email outbox: authorize, page, call EmailService. */
import { Arg, Ctx, Int, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { assertAdmin } from '../../auth/viewer';
import { connectionComplexity, decodeCursor, encodeCursor, PAGE_SIZE_DEFAULT, pageOf, pageSize } from '../../graphql/connection';
import { EmailOutboxConnection, EmailStatus, OutboxEmail } from './email.type';
import type { OutboxRow } from './email.repo';

@Resolver(() => OutboxEmail)
export class EmailResolver {
  @Query(() => EmailOutboxConnection, { description: 'Admin: the email outbox, newest first (optionally of one status).', complexity: connectionComplexity })
  async emailOutbox(
    @Ctx() ctx: Context,
    @Arg('status', () => EmailStatus, { nullable: true }) status: EmailStatus | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_SIZE_DEFAULT }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<EmailOutboxConnection> {
    assertAdmin(ctx.viewer);
    const limit = pageSize(first, ctx.services.config.pageSizeMax);
    const rows = await ctx.services.email.list(status ?? null, after ? decodeCursor(after) : null, limit + 1);
    return pageOf<OutboxRow, OutboxEmail>(rows, limit, (row) => encodeCursor(row.pos));
  }
}
