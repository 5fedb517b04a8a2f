/** Thin resolver of the usage report: authorize, call UsageReportService. */
import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import type { Context } from '../../graphql/context';
import { access } from '../../auth/access';
import { ReportGranularity, UsageReport } from './usage-report.type';
import type { UsageReportView } from './usage-report.service';

@Resolver(() => UsageReport)
export class UsageReportResolver {
  @Query(() => UsageReport, {
    description: 'An account\'s credits over [from, to) snapped to whole local days of timeZone, per local day (DAY, at most 366 days) '
      + 'or month (MONTH, at most 1,100 days). A user token reads only its own account.',
  })
  async usageReport(
    @Ctx() ctx: Context,
    @Arg('accountId', () => ID) accountId: string,
    @Arg('from', () => GraphQLDateTime) from: Date,
    @Arg('to', () => GraphQLDateTime) to: Date,
    @Arg('granularity', () => ReportGranularity, { nullable: true, defaultValue: ReportGranularity.MONTH }) granularity: ReportGranularity,
    @Arg('timeZone', () => String, { nullable: true, defaultValue: 'UTC', description: 'IANA name, e.g. "Europe/Berlin".' }) timeZone: string,
  ): Promise<UsageReportView> {
    await access.account(ctx, accountId, 'read');
    return ctx.services.usageReport.usageReport({ accountId, from, to, granularity: granularity ?? ReportGranularity.MONTH, timeZone: timeZone ?? 'UTC' });
  }
}
