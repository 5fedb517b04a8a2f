/**
 * The `forecasts` job: predictive alerts (README, Forecasts). Safe with several instances.
 *
 * - CREDITS_EXPIRING: buckets with credits expiring within CREDITS_EXPIRING_DAYS and no alert yet,
 *   found through buckets_expiry_idx; one alert per bucket, made unique by its dedupe key
 *   `expiring:<bucketId>` (insert … on conflict do nothing), so two instances raise it once.
 * - RUN_OUT_SOON: a sweep over every wallet in account id order (keyset batches of jobBatchSize),
 *   continued from where the previous run stopped. Per batch, one statement reads the wallets with
 *   their state and whether they used credits in the window (a primary-key probe of usage_daily);
 *   only those that used credits or have the alert fired are forecast (two more statements for the
 *   batch). A wallet whose state must change is then locked FOR UPDATE (the ledger's own lock),
 *   forecast again under the lock, and its state and alert written in that one database
 *   transaction: two instances never fire twice.
 * Alerts are handed to `onAlerts` after commit (live pushes).
 */
import type { Database } from '../../db/client';
import type { Clock } from '../../shared/clock';
import type { Millis } from '../../shared/credits';
import { utcDay, MS_PER_DAY } from '../../shared/utc-days';
import { readWallets, walletFigures, type WalletRead } from '../ledger';
import type { AlertRow, AlertsService } from '../alerts';
import {
  creditsExpiringMessage, decideRunOutSoon, expiringBuckets, forecast, runOutSoonMessage, windowFirstDay,
  type DayUsage, type RunOutSoonDecision,
} from './forecast-rules';
import * as repo from './usage.repo';

/** Batches one run may take per part (sweep, expiring); the next run goes on from there. */
export const FORECAST_BATCHES_PER_RUN_MAX = 10;

export interface ForecastSettings {
  windowDays: number;
  runOutSoonDays: number;
  expiringDays: number;
  batchSize: number;
}

export interface ForecastRun {
  /** Wallets the sweep looked at in this run. */
  walletsSwept: number;
  /** Whether the sweep reached the last wallet (the next run starts from the first). */
  sweepEnded: boolean;
  runOutSoonRaised: number;
  runOutSoonRearmed: number;
  creditsExpiringRaised: number;
}

export class ForecastsJob {
  /** The last account id the sweep looked at (null: start from the first). Per instance. */
  private sweepAfter: string | null = null;

  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly settings: ForecastSettings,
    private readonly alerts: AlertsService,
    private readonly onAlerts: (raised: AlertRow[]) => void,
  ) {}

  async run(): Promise<ForecastRun> {
    const creditsExpiringRaised = await this.raiseExpiring();
    return { ...(await this.sweep()), creditsExpiringRaised };
  }

  private windowOf(now: Date): { fromDay: string; toDay: string } {
    return { fromDay: windowFirstDay(now, this.settings.windowDays), toDay: utcDay(now) };
  }

  private decide(read: WalletRead | undefined, days: readonly DayUsage[], fired: boolean, now: Date): { decision: RunOutSoonDecision; availableMillis: Millis; burnRatePerDayMillis: Millis; runOutAt: Date | null } | null {
    // A plan period ended and is not renewed yet: its allowance looks gone; the renewals job settles it first.
    if (!read || (read.wallet.planRenewsAt && read.wallet.planRenewsAt <= now)) return null;
    const { availableMillis } = walletFigures(read.buckets, read.wallet, now);
    const f = forecast({ days, availableMillis, buckets: read.buckets, now, windowDays: this.settings.windowDays, expiringDays: this.settings.expiringDays });
    const decision = decideRunOutSoon({ fired, availableMillis, runOutAt: f.runOutAt, now, soonDays: this.settings.runOutSoonDays });
    return { decision, availableMillis, burnRatePerDayMillis: f.burnRatePerDayMillis, runOutAt: f.runOutAt };
  }

  private async sweep(): Promise<Omit<ForecastRun, 'creditsExpiringRaised'>> {
    const db = this.database.db;
    const { batchSize } = this.settings;
    const result = { walletsSwept: 0, sweepEnded: false, runOutSoonRaised: 0, runOutSoonRearmed: 0 };
    for (let batch = 0; batch < FORECAST_BATCHES_PER_RUN_MAX; batch += 1) {
      const now = this.clock.now();
      const { fromDay, toDay } = this.windowOf(now);
      const swept = await repo.sweepWallets(db, this.sweepAfter, batchSize, fromDay, toDay);
      result.walletsSwept += swept.length;
      const candidates = swept.filter((w) => w.used || w.runOutSoonFired);
      if (candidates.length > 0) {
        const ids = candidates.map((w) => w.accountId);
        const [usage, reads] = await Promise.all([repo.dayTotals(db, ids, fromDay, toDay), readWallets(db, ids, now)]);
        for (const w of candidates) {
          const seen = this.decide(reads.get(w.accountId), usage.get(w.accountId) ?? [], w.runOutSoonFired, now);
          if (!seen?.decision) continue;
          const applied = await this.applyRunOutSoon(w.accountId);
          if (applied === 'FIRE') result.runOutSoonRaised += 1;
          if (applied === 'REARM') result.runOutSoonRearmed += 1;
        }
      }
      if (swept.length < batchSize) {
        this.sweepAfter = null;
        result.sweepEnded = true;
        break;
      }
      this.sweepAfter = swept[swept.length - 1].accountId;
    }
    return result;
  }

  /** Decides again under the wallet's lock and writes the state (and the alert) in the same database transaction. */
  private async applyRunOutSoon(accountId: string): Promise<RunOutSoonDecision> {
    const outcome = await this.database.db.transaction(async (tx) => {
      const now = this.clock.now();
      const state = await repo.lockRunOutState(tx, accountId);
      if (!state) return null;
      const { fromDay, toDay } = this.windowOf(now);
      const read = (await readWallets(tx, [accountId], now)).get(accountId);
      const days = (await repo.dayTotals(tx, [accountId], fromDay, toDay)).get(accountId) ?? [];
      const seen = this.decide(read, days, state.runOutSoonFired, now);
      if (!seen?.decision) return null;
      await repo.setRunOutSoonFired(tx, accountId, seen.decision === 'FIRE');
      if (seen.decision === 'REARM') return { decision: seen.decision, alert: null };
      const alert = await this.alerts.raise(tx, {
        accountId, kind: 'RUN_OUT_SOON', thresholdMillis: null, availableMillis: seen.availableMillis,
        message: runOutSoonMessage(seen.burnRatePerDayMillis, seen.runOutAt!, now),
      }, now);
      return { decision: seen.decision, alert };
    });
    if (outcome?.alert) this.onAlerts([outcome.alert]);
    return outcome?.decision ?? null;
  }

  private async raiseExpiring(): Promise<number> {
    const db = this.database.db;
    let raised = 0;
    let after: { expiresAt: Date; bucketId: string } | null = null;
    for (let batch = 0; batch < FORECAST_BATCHES_PER_RUN_MAX; batch += 1) {
      const now = this.clock.now();
      const until = new Date(now.getTime() + this.settings.expiringDays * MS_PER_DAY);
      const candidates = await repo.expiringCandidates(db, now, until, after, this.settings.batchSize);
      const byAccount = new Map<string, Set<string>>();
      for (const c of candidates) {
        if (!byAccount.has(c.accountId)) byAccount.set(c.accountId, new Set());
        byAccount.get(c.accountId)!.add(c.bucketId);
      }
      for (const [accountId, bucketIds] of byAccount) raised += await this.raiseExpiringOf(accountId, bucketIds);
      if (candidates.length < this.settings.batchSize) break;
      const last = candidates[candidates.length - 1];
      after = { expiresAt: last.expiresAt, bucketId: last.bucketId };
    }
    return raised;
  }

  /** One CREDITS_EXPIRING per bucket that still has free credits expiring soon (held credits are being spent). */
  private async raiseExpiringOf(accountId: string, bucketIds: ReadonlySet<string>): Promise<number> {
    const raised = await this.database.db.transaction(async (tx) => {
      const now = this.clock.now();
      const read = (await readWallets(tx, [accountId], now)).get(accountId);
      if (!read) return [];
      const { availableMillis } = walletFigures(read.buckets, read.wallet, now);
      const alerts: AlertRow[] = [];
      for (const due of expiringBuckets(read.buckets, now, this.settings.expiringDays)) {
        if (!bucketIds.has(due.bucketId)) continue;
        const alert = await this.alerts.raise(tx, {
          accountId, kind: 'CREDITS_EXPIRING', thresholdMillis: null, availableMillis,
          message: creditsExpiringMessage(due.freeMillis, due.expiresAt), dedupeKey: `${repo.EXPIRING_DEDUPE_PREFIX}${due.bucketId}`,
        }, now);
        if (alert) alerts.push(alert);
      }
      return alerts;
    });
    if (raised.length > 0) this.onAlerts(raised);
    return raised.length;
  }
}
