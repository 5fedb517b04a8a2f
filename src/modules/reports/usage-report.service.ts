/**
 * An account's usage report over a range of local days, by day or by month (README, Reports): from
 * the aggregates only (usage_daily, usage_quarterly, balance_daily), never the ledger's transactions.
 * The rules are in usage-report.rules.ts; this reads the rows in one snapshot and assembles them.
 */
import type { Database } from '../../db/client';
import { notFound } from '../../shared/errors';
import { isUuid } from '../../shared/validate';
import {
  assembleUsageReport, boundaryQuarters, splitDayReads, usageReportRange, type ReportGranularityName, type UsageReportView,
} from './usage-report.rules';
import * as repo from './usage-report.repo';

export type {
  ReportGranularityName, UsagePeriodView, UsageReportView, UsageSliceView, UsageTotalsView,
  MemberUsageView,
} from './usage-report.rules';

export interface UsageReportRequest {
  accountId: string;
  from: Date;
  to: Date;
  /** Default MONTH. */
  granularity?: ReportGranularityName;
  /** IANA name; default UTC. */
  timeZone?: string;
}

export class UsageReportService {
  constructor(private readonly database: Database) {}

  /** BAD_USER_INPUT for a bad range or zone (fields to, timeZone); NOT_FOUND for an unknown account. Access is the caller's. */
  async usageReport(request: UsageReportRequest): Promise<UsageReportView> {
    const range = usageReportRange(request.from, request.to, request.granularity ?? 'MONTH', request.timeZone ?? 'UTC');
    if (!isUuid(request.accountId)) throw notFound('account');
    const accountId = request.accountId;
    // One snapshot: a charge committing between the reads cannot be half in the report.
    return this.database.db.transaction(async (tx) => {
      const kind = await repo.accountKind(tx, accountId);
      if (!kind) throw notFound('account');
      const opening = await repo.openingStocks(tx, accountId, range.firstUtcDay);
      const flows = await repo.periodFlows(tx, accountId, range.firstUtcDay, range.lastUtcDay, splitDayReads(range), boundaryQuarters(range));
      // Only a team wallet has members: other reports read nothing more.
      const members = kind === 'TEAM' ? await repo.memberFlows(tx, accountId, range.firstUtcDay, range.lastUtcDay, splitDayReads(range), boundaryQuarters(range)) : [];
      return assembleUsageReport(accountId, range, opening, flows, members);
    }, { isolationLevel: 'repeatable read', accessMode: 'read only' });
  }
}
