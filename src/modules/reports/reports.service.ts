/**
 * Reports, from the daily aggregates only (never the ledger's transactions): the platform report
 * (totals, top consumers, usage by plan and action, failures, margin by model).
 */
import type { Database } from '../../db/client';
import { modelMargin, REPORT_LIST_MAX, reportRange, TOP_CONSUMERS_MAX, type ModelMargin } from './report-rules';
import * as repo from './reports.repo';
import type { Money } from '../plans/plan.type';

export interface ModelMarginView {
  model: string | null;
  currency: string;
  revenue: Money;
  vendorCost: Money;
  margin: Money;
  marginPercent: string | null;
}

export interface PlatformReportView {
  from: Date;
  to: Date;
  totals: repo.PlatformTotalsRow;
  topConsumers: repo.TopConsumerRow[];
  byPlan: (Omit<repo.UsageGroupRow, 'key'> & { plan: string | null })[];
  byAction: (Omit<repo.UsageGroupRow, 'key' | 'accounts'> & { action: string | null })[];
  failures: repo.FailureCountRow[];
  marginByModel: ModelMarginView[];
}

function marginView(m: ModelMargin): ModelMarginView {
  const money = (amount: string) => ({ amount, currency: m.currency });
  return { model: m.model, currency: m.currency, revenue: money(m.revenue), vendorCost: money(m.vendorCost), margin: money(m.margin), marginPercent: m.marginPercent };
}

export class ReportsService {
  constructor(private readonly database: Database) {}

  async platformReport(from: Date, to: Date): Promise<PlatformReportView> {
    const range = reportRange(from, to);
    const db = this.database.db;
    const { fromDay, toDay } = range;
    const [totals, topConsumers, byPlan, byAction, failures, money] = await Promise.all([
      repo.platformTotals(db, fromDay, toDay),
      repo.topConsumers(db, fromDay, toDay, TOP_CONSUMERS_MAX),
      repo.usageBy(db, 'plan_code', fromDay, toDay, REPORT_LIST_MAX),
      repo.usageBy(db, 'action', fromDay, toDay, REPORT_LIST_MAX),
      repo.failures(db, fromDay, toDay, REPORT_LIST_MAX),
      repo.moneyByModel(db, fromDay, toDay, REPORT_LIST_MAX),
    ]);
    return {
      from: range.from, to: range.to, totals, topConsumers,
      byPlan: byPlan.map(({ key, ...figures }) => ({ plan: key, ...figures })),
      byAction: byAction.map(({ key, consumedMillis, refundedMillis, charges }) => ({ action: key, consumedMillis, refundedMillis, charges })),
      failures,
      marginByModel: money.map((m) => marginView(modelMargin(m.model, m.currency, m.revenue, m.vendorCost))),
    };
  }
}
