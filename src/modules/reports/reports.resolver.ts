/** Thin resolvers of reports: authorize, call ReportsService. */
import { Arg, Ctx, Query, Resolver } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import type { Context } from '../../graphql/context';
import { assertAdmin } from '../../auth/viewer';
import { PlatformReport } from './report.type';
import type { PlatformReportView } from './reports.service';

@Resolver(() => PlatformReport)
export class ReportsResolver {
  @Query(() => PlatformReport, { description: 'Admin: platform usage over the UTC days touching [from, to), at most 366 days.' })
  async platformReport(
    @Ctx() ctx: Context,
    @Arg('from', () => GraphQLDateTime) from: Date,
    @Arg('to', () => GraphQLDateTime) to: Date,
  ): Promise<PlatformReportView> {
    assertAdmin(ctx.viewer);
    return ctx.services.reports.platformReport(from, to);
  }
}
