/**
 * Usage reads and forecasts, from the daily aggregates only (usage_daily, written by the ledger in the
 * database transaction of each charge, capture and refund); never from the ledger's transactions.
 */
import type { Database } from '../../db/client';
import type { Config } from '../../config';
import type { Clock } from '../../shared/clock';
import type { Millis } from '../../shared/credits';
import { badInput } from '../../shared/errors';
import { isUuid } from '../../shared/validate';
import { addDays, utcDay } from '../../shared/utc-days';
import type { AlertRow, AlertsService } from '../alerts';
import { forecast, usageDaysProblem, windowFirstDay, type DayUsage, type Forecast, type ForecastBucket } from './forecast-rules';
import { ForecastsJob, type ForecastRun } from './forecasts.job';
import * as repo from './usage.repo';

/** usageByDay answers at most this many rows (day × action × model); more asks for fewer days. */
export const USAGE_ROWS_MAX = 10_000;

/** An account's usage in the forecast window, as of `now`. */
export interface UsageWindow {
  now: Date;
  days: DayUsage[];
}

export interface UsageDayView {
  day: string;
  action: string;
  model: string | null;
  creditsMillis: Millis;
  refundedMillis: Millis;
  count: number;
}

export class UsageService {
  private readonly job: ForecastsJob;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly config: Readonly<Config>,
    alerts: AlertsService,
    onAlerts: (raised: AlertRow[]) => void,
  ) {
    this.job = new ForecastsJob(database, clock, {
      windowDays: config.forecastWindowDays, runOutSoonDays: config.runOutSoonDays, expiringDays: config.creditsExpiringDays, batchSize: config.jobBatchSize,
    }, alerts, onAlerts);
  }

  /** The forecast window's usage of several accounts in one statement (Wallet.forecast's loader). */
  async windows(accountIds: readonly string[]): Promise<UsageWindow[]> {
    const now = this.clock.now();
    const valid = [...new Set(accountIds.filter(isUuid))];
    const totals = await repo.dayTotals(this.database.db, valid, windowFirstDay(now, this.config.forecastWindowDays), utcDay(now));
    return accountIds.map((id) => ({ now, days: totals.get(id) ?? [] }));
  }

  forecastOf(wallet: { availableMillis: Millis; buckets: readonly ForecastBucket[] }, window: UsageWindow): Forecast {
    return forecast({
      days: window.days, availableMillis: wallet.availableMillis, buckets: wallet.buckets, now: window.now,
      windowDays: this.config.forecastWindowDays, expiringDays: this.config.creditsExpiringDays,
    });
  }

  /** The account's usage per day, action and model over the last `days` UTC days, today included. */
  async usageByDay(accountId: string, days: number): Promise<UsageDayView[]> {
    const problem = usageDaysProblem(days);
    if (problem) throw badInput(problem, 'days');
    if (!isUuid(accountId)) return [];
    const today = utcDay(this.clock.now());
    const found = await repo.usageByDay(this.database.db, accountId, addDays(today, -(days - 1)), today, USAGE_ROWS_MAX + 1);
    if (found.length > USAGE_ROWS_MAX) throw badInput(`more than ${USAGE_ROWS_MAX} usage rows (day × action × model) in ${days} days; ask for fewer days`, 'days');
    return found.map((r) => ({
      day: r.day, action: r.action, model: r.model === '' ? null : r.model, creditsMillis: r.consumedMillis, refundedMillis: r.refundedMillis, count: r.transactions,
    }));
  }

  /** One run of the forecasts job (README, Forecasts). */
  runForecasts(): Promise<ForecastRun> {
    return this.job.run();
  }
}
