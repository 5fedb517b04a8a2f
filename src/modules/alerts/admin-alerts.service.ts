/**
 * Admin alerts: raised inside the database transaction of what they announce (a flagged vendor
 * reconciliation), once per dedupe key; read and marked read by ADMIN keys only.
 */
import type { Database, Tx } from '../../db/client';
import type { AdminAlertKindName } from '../../db/schema';
import type { Clock } from '../../shared/clock';
import { badInput } from '../../shared/errors';
import { newId } from '../../shared/ids';
import { isUuid } from '../../shared/validate';
import * as repo from './admin-alerts.repo';

/** Ids one markAdminAlertsRead takes. */
export const ADMIN_MARK_READ_IDS_MAX = 100;

export interface NewAdminAlert {
  kind: AdminAlertKindName;
  message: string;
  subjectId: string | null;
  dedupeKey: string;
}

export class AdminAlertsService {
  constructor(private readonly database: Database, private readonly clock: Clock) {}

  /** In the caller's transaction; null when an alert with this dedupe key exists already. */
  raise(tx: Tx, alert: NewAdminAlert): Promise<repo.AdminAlertRow | null> {
    return repo.insertAdminAlert(tx, { id: newId(), ...alert, createdAt: this.clock.now(), readAt: null });
  }

  list(unreadOnly: boolean, before: { read: boolean; pos: number } | null, limit: number): Promise<repo.AdminAlertRow[]> {
    return repo.listAdminAlerts(this.database.db, unreadOnly, before, limit);
  }

  /** Ids that name no alert (or not a uuid) are ignored: the count says what changed. */
  async markRead(ids: readonly string[]): Promise<number> {
    if (ids.length > ADMIN_MARK_READ_IDS_MAX) throw badInput(`at most ${ADMIN_MARK_READ_IDS_MAX} ids`, 'ids');
    return repo.markAdminAlertsRead(this.database.db, [...new Set(ids)].filter(isUuid), this.clock.now());
  }
}
