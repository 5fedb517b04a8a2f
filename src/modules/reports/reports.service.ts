/**
 * Reports, from the daily usage aggregates only (never the ledger's transactions). This issue starts
 * the platform report (totals and top consumers); issue 11 extends it.
 */
import type { Database } from '../../db/client';
import { reportRange, TOP_CONSUMERS_MAX } from './report-rules';
import * as repo from './reports.repo';

export interface PlatformReportView {
  from: Date;
  to: Date;
  totals: repo.PlatformTotalsRow;
  topConsumers: repo.TopConsumerRow[];
}

export class ReportsService {
  constructor(private readonly database: Database) {}

  async platformReport(from: Date, to: Date): Promise<PlatformReportView> {
    const range = reportRange(from, to);
    const db = this.database.db;
    const [totals, topConsumers] = await Promise.all([
      repo.platformTotals(db, range.fromDay, range.toDay),
      repo.topConsumers(db, range.fromDay, range.toDay, TOP_CONSUMERS_MAX),
    ]);
    return { from: range.from, to: range.to, totals, topConsumers };
  }
}
