/**
 * Alerts raised for an account, recorded in the database transaction of what raised them. This issue
 * raises the billing ones (a failed auto top-up or plan payment, a plan downgraded after its grace
 * period); low-credit levels, forecasts, email and live pushes build on the same table.
 */
import type { Database, Tx } from '../../db/client';
import type { Clock } from '../../shared/clock';
import type { AlertKindName } from '../../db/schema';
import type { Millis } from '../../shared/credits';
import { newId } from '../../shared/ids';
import { isUuid } from '../../shared/validate';
import * as repo from './alerts.repo';
import type { AlertRow } from './alerts.repo';

export interface NewAlert {
  accountId: string;
  kind: AlertKindName;
  thresholdMillis: Millis | null;
  availableMillis: Millis;
  message: string;
  /** At most one alert per key (e.g. `expiring:<bucketId>`); null or absent: no dedupe. */
  dedupeKey?: string | null;
}

export const MARK_READ_IDS_MAX = 100;

export class AlertsService {
  constructor(private readonly database: Database, private readonly clock: Clock) {}

  /** Records the alert in `tx`; returns it, or null when an alert with its dedupe key already exists. */
  async raise(tx: Tx, alert: NewAlert, at: Date): Promise<AlertRow | null> {
    return repo.insertAlert(tx, { id: newId(), transactionId: null, ...alert, dedupeKey: alert.dedupeKey ?? null, createdAt: at, readAt: null });
  }

  async list(accountId: string | null, unreadOnly: boolean, before: { read: boolean; pos: number } | null, limit: number): Promise<AlertRow[]> {
    if (accountId !== null && !isUuid(accountId)) return [];
    return repo.listAlerts(this.database.db, accountId, unreadOnly, before, limit);
  }

  async markRead(ids: readonly string[], accountId: string | null): Promise<number> {
    return repo.markRead(this.database.db, ids.filter(isUuid), accountId, this.clock.now());
  }
}
