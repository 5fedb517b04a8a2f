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
}

export const MARK_READ_IDS_MAX = 100;

/** Writes an alert's email to the outbox in the alert's database transaction (the email module). */
export interface AlertEmails {
  enqueueForAlert(tx: Tx, alert: Omit<AlertRow, 'pos'>): Promise<void>;
}

export class AlertsService {
  private emails: AlertEmails | null = null;

  constructor(private readonly database: Database, private readonly clock: Clock) {}

  attachEmails(emails: AlertEmails): void {
    this.emails = emails;
  }

  async raise(tx: Tx, alert: NewAlert, at: Date): Promise<void> {
    const row = { id: newId(), transactionId: null, dedupeKey: null, ...alert, createdAt: at, readAt: null };
    await repo.insertAlert(tx, row);
    await this.emails?.enqueueForAlert(tx, row);
  }

  async list(accountId: string | null, unreadOnly: boolean, before: { read: boolean; pos: number } | null, limit: number): Promise<AlertRow[]> {
    if (accountId !== null && !isUuid(accountId)) return [];
    return repo.listAlerts(this.database.db, accountId, unreadOnly, before, limit);
  }

  async markRead(ids: readonly string[], accountId: string | null): Promise<number> {
    return repo.markRead(this.database.db, ids.filter(isUuid), accountId, this.clock.now());
  }
}
