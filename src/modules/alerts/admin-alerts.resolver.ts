/** Thin resolvers of admin alerts: ADMIN keys only (READONLY keys neither read nor mark them: they are the operator's). */
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { assertAdmin } from '../../auth/viewer';
import { badInput } from '../../shared/errors';
import { connectionComplexity, PAGE_SIZE_DEFAULT, pageOf, pageSize } from '../../graphql/connection';
import { AdminAlert, AdminAlertConnection } from './admin-alerts.type';
import { ADMIN_MARK_READ_IDS_MAX } from './admin-alerts.service';

/** Unread ones come first, so the position is (read, pos). */
function encodeCursor(read: boolean, pos: number): string {
  return Buffer.from(`aa1:${read ? 1 : 0}:${pos}`).toString('base64url');
}

function decodeCursor(cursor: string): { read: boolean; pos: number } {
  const m = /^aa1:([01]):(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw badInput('after is not a valid cursor', 'after');
  return { read: m[1] === '1', pos: Number(m[2]) };
}

@Resolver(() => AdminAlert)
export class AdminAlertsResolver {
  @Query(() => AdminAlertConnection, { description: 'Admin: the operator\'s alerts, unread first, then newest first.', complexity: connectionComplexity })
  async adminAlerts(
    @Ctx() ctx: Context,
    @Arg('unreadOnly', () => Boolean, { nullable: true, defaultValue: false }) unreadOnly: boolean,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_SIZE_DEFAULT }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<AdminAlertConnection> {
    assertAdmin(ctx.viewer);
    const limit = pageSize(first, ctx.services.config.pageSizeMax);
    const rows = await ctx.services.adminAlerts.list(unreadOnly ?? false, after ? decodeCursor(after) : null, limit + 1);
    return pageOf<(typeof rows)[number], AdminAlert>(rows, limit, (row) => encodeCursor(row.readAt !== null, row.pos));
  }

  @Mutation(() => Int, { description: `Admin: marks admin alerts read (at most ${ADMIN_MARK_READ_IDS_MAX} ids); returns how many changed.` })
  async markAdminAlertsRead(@Ctx() ctx: Context, @Arg('ids', () => [ID]) ids: string[]): Promise<number> {
    assertAdmin(ctx.viewer);
    return ctx.services.adminAlerts.markRead(ids);
  }
}
