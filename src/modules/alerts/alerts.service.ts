/**
 * Alerts raised for an account, recorded in the database transaction of what raised them: low-credit
 * levels crossed by a ledger operation (checked by the ledger's hook, see `afterWrites`), billing
 * alerts (a failed auto top-up or plan payment, a plan downgraded after its grace period) and forecast
 * alerts. Each alert's email is written to the outbox in the same database transaction.
 */
import type { Database, Tx } from '../../db/client';
import type { Clock } from '../../shared/clock';
import type { AlertKindName } from '../../db/schema';
import { formatCredits, type Millis } from '../../shared/credits';
import { badInput, forbidden, notFound } from '../../shared/errors';
import { newId } from '../../shared/ids';
import { isUuid } from '../../shared/validate';
import type { LowCreditHooks, WalletMovement } from '../ledger';
import { checkLevels, effectiveLevels, type LevelAlert } from './levels';
import * as repo from './alerts.repo';
import type { AlertRow } from './alerts.repo';

export interface NewAlert {
  accountId: string;
  kind: AlertKindName;
  thresholdMillis: Millis | null;
  availableMillis: Millis;
  message: string;
  /** The ledger transaction that raised it (low-credit levels). */
  transactionId?: string | null;
  /** At most one alert per key (e.g. `expiring:<bucketId>`). */
  dedupeKey?: string | null;
  /** MEMBER_BUDGET: the team member it is about. */
  memberId?: string | null;
}

/** Writes an alert's email to the outbox in the alert's database transaction (the email module). */
export interface AlertEmails {
  enqueueForAlert(tx: Tx, alert: AlertRow): Promise<void>;
}

export const MARK_READ_IDS_MAX = 100;

export function levelAlertMessage(alert: LevelAlert, availableMillis: Millis): string {
  if (alert.kind === 'DEPLETED') return `Your credits ran out: ${formatCredits(availableMillis)} available.`;
  return `Your available credits fell to ${formatCredits(availableMillis)}, at or below your alert level of ${formatCredits(alert.levelMillis)}.`;
}

const sameLevels = (a: readonly Millis[], b: readonly Millis[]) => a.length === b.length && a.every((level, i) => level === b[i]);

export class AlertsService implements LowCreditHooks {
  private emails: AlertEmails | null = null;
  /** Alerts recorded in a database transaction the ledger runs: published with its rows after commit. */
  private readonly raisedIn = new WeakMap<Tx, AlertRow[]>();

  constructor(private readonly database: Database, private readonly clock: Clock) {}

  attachEmails(emails: AlertEmails): void {
    this.emails = emails;
  }

  /** Records an alert and its email; null when an alert with the same dedupe key exists (nothing written). */
  async raise(tx: Tx, alert: NewAlert, at: Date): Promise<AlertRow | null> {
    const row: AlertRow | null = await repo.insertAlert(tx, {
      id: newId(), ...alert, transactionId: alert.transactionId ?? null, memberId: alert.memberId ?? null, dedupeKey: alert.dedupeKey ?? null, createdAt: at, readAt: null,
    });
    if (!row) return null;
    await this.emails?.enqueueForAlert(tx, row);
    const raised = this.raisedIn.get(tx);
    if (raised) raised.push(row);
    else this.raisedIn.set(tx, [row]);
    return row;
  }

  /**
   * The ledger's hook, inside the operation's database transaction: each posted row is checked against
   * the wallet's levels in order (so a batch of charges alerts as the same charges one by one would),
   * and a crossing alerts when its level is still fired at the end of the transaction; the fired levels
   * are written back only when they changed. Reads nothing: the wallet row carries
   * the levels, the allowance and the fired state. Returns every alert raised in this transaction.
   */
  async afterWrites(tx: Tx, movements: WalletMovement[], now: Date): Promise<readonly AlertRow[]> {
    for (const { wallet, availableBeforeMillis, posted } of movements) {
      let before = availableBeforeMillis;
      let fired = wallet.lowCreditFired;
      let changed = false;
      let levels: Millis[] | null = null;
      const crossings: { alert: LevelAlert; availableMillis: Millis; transactionId: string }[] = [];
      for (const row of posted) {
        const after = row.availableAfterMillis ?? before;
        // Fast path: nothing fired and `available` did not fall (or stays above every level).
        if (fired.length === 0 && after >= before) {
          before = after;
          continue;
        }
        levels ??= effectiveLevels(wallet.lowCreditThresholds, wallet.lowCreditThresholdPercents, wallet.planAllowanceMillis);
        if (fired.length === 0 && after > (levels[0] ?? 0)) {
          before = after;
          continue;
        }
        const check = checkLevels(levels, fired, before, after);
        if (check.changed) {
          fired = check.fired;
          changed = true;
        }
        if (check.alert) crossings.push({ alert: check.alert, availableMillis: after, transactionId: row.id });
        before = after;
      }
      // Only levels still fired at commit alert: a renewal expires the old allowance and grants the new one
      // in one database transaction, and the empty wallet in between is never seen by anyone.
      for (const crossing of crossings) {
        if (!fired.includes(crossing.alert.levelMillis)) continue;
        await this.raise(tx, {
          accountId: wallet.accountId, kind: crossing.alert.kind, thresholdMillis: crossing.alert.levelMillis, availableMillis: crossing.availableMillis,
          message: levelAlertMessage(crossing.alert, crossing.availableMillis), transactionId: crossing.transactionId,
        }, now);
      }
      if (changed && !sameLevels(fired, wallet.lowCreditFired)) {
        await repo.setFiredLevels(tx, wallet.accountId, fired);
        wallet.lowCreditFired = fired;
      }
    }
    const raised = this.raisedIn.get(tx) ?? [];
    this.raisedIn.delete(tx);
    return raised;
  }

  async list(accountId: string | null, unreadOnly: boolean, before: { read: boolean; pos: number } | null, limit: number): Promise<AlertRow[]> {
    if (accountId !== null && !isUuid(accountId)) return [];
    return repo.listAlerts(this.database.db, accountId, unreadOnly, before, limit);
  }

  /**
   * Marks alerts read; returns how many changed (already read ones count 0). Every id must be an alert
   * (NOT_FOUND otherwise) and, for a user token (`accountId`), one of its own account (FORBIDDEN
   * otherwise): then nothing is written.
   */
  async markRead(ids: readonly string[], accountId: string | null): Promise<number> {
    if (ids.length > MARK_READ_IDS_MAX) throw badInput(`at most ${MARK_READ_IDS_MAX} ids`, 'ids');
    const unique = [...new Set(ids)];
    return this.database.db.transaction(async (tx) => {
      const owners = await repo.ownersOf(tx, unique.filter(isUuid));
      for (const id of unique) {
        const owner = owners.get(id);
        if (accountId !== null && owner !== accountId) throw forbidden(`alert ${id} is not one of your account's alerts`);
        if (owner === undefined) throw notFound('alert');
      }
      return repo.markRead(tx, unique, this.clock.now());
    });
  }
}
