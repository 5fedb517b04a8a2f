/** Thin resolvers of alerts: authorize, page, call AlertsService. */
import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { assertAdmin, requireViewer } from '../../auth/viewer';
import { access } from '../../auth/access';
import { badInput } from '../../shared/errors';
import { connectionComplexity, PAGE_SIZE_DEFAULT, pageOf, pageSize } from '../../graphql/connection';
import { LowCreditAlert, LowCreditAlertConnection } from './alert.type';
import { MARK_READ_IDS_MAX } from './alerts.service';

/** Cursor of an alert: unread ones come first, so the position is (read, pos). */
function encodeAlertCursor(read: boolean, pos: number): string {
  return Buffer.from(`a1:${read ? 1 : 0}:${pos}`).toString('base64url');
}

function decodeAlertCursor(cursor: string): { read: boolean; pos: number } {
  const m = /^a1:([01]):(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw badInput('after is not a valid cursor', 'after');
  return { read: m[1] === '1', pos: Number(m[2]) };
}

@Resolver(() => LowCreditAlert)
export class AlertsResolver {
  @Query(() => LowCreditAlertConnection, { description: 'Unread first, then newest first. Without accountId: every account\'s (admin).', complexity: connectionComplexity })
  async alerts(
    @Ctx() ctx: Context,
    @Arg('accountId', () => ID, { nullable: true }) accountId: string | null,
    @Arg('unreadOnly', () => Boolean, { nullable: true, defaultValue: false }) unreadOnly: boolean,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_SIZE_DEFAULT }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<LowCreditAlertConnection> {
    if (accountId) await access.account(ctx, accountId, 'read');
    else assertAdmin(ctx.viewer);
    const limit = pageSize(first, ctx.services.config.pageSizeMax);
    const rows = await ctx.services.alerts.list(accountId ?? null, unreadOnly ?? false, after ? decodeAlertCursor(after) : null, limit + 1);
    return pageOf<(typeof rows)[number], LowCreditAlert>(rows, limit, (row) => encodeAlertCursor(row.readAt !== null, row.pos));
  }

  @Mutation(() => Int, { description: 'Marks alerts read; returns how many changed. A user token marks only its own account\'s.' })
  async markAlertsRead(@Ctx() ctx: Context, @Arg('ids', () => [ID]) ids: string[]): Promise<number> {
    const viewer = requireViewer(ctx.viewer);
    if (ids.length > MARK_READ_IDS_MAX) throw badInput(`at most ${MARK_READ_IDS_MAX} ids`, 'ids');
    if (viewer.kind === 'key' && viewer.role === 'READONLY') assertAdmin(viewer);
    await access.ownedMany(ctx, 'alert', ids, 'read'); // partner keys: alerts of their own accounts only (NOT_FOUND otherwise)
    return ctx.services.alerts.markRead(ids, viewer.kind === 'user' ? viewer.accountId : null);
  }
}
