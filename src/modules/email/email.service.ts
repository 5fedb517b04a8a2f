/**
 * Alert emails through an outbox.
 *
 * - An alert's email is written to `email_outbox` in the database transaction that records the alert
 *   (`enqueueForAlert`): it exists exactly when the alert does, once per alert (dedupe key
 *   `alert:<id>`). An account without an email address gets a NO_RECIPIENT row (kept, never sent).
 * - The worker (`runOutbox`, the `outbox` job on every instance) claims due emails in a short database
 *   transaction of its own (SKIP LOCKED, so instances drain together and never take the same email),
 *   which moves their nextAttemptAt to now + EMAIL_LEASE_SECONDS, then commits. It sends with no
 *   database transaction open, then marks each one SENT, or schedules its retry (outbox-rules.ts).
 * - A sender that dies mid-send leaves the email claimed; once the lease has passed any instance sends
 *   it again. Delivery is at least once: exactly once when the sender died before the SMTP server
 *   answered the message's DATA with 250; a death after that 250 and before SENT was written sends
 *   it once more, with the same Message-ID (derived from the dedupe key), which receivers can drop.
 * - Without SMTP_URL nothing is sent: emails stay PENDING, and admins see them (`emailOutbox`).
 */
import { createTransport } from 'nodemailer';
import type { Config } from '../../config';
import type { Database, Tx } from '../../db/client';
import type { EmailStatusName } from '../../db/schema';
import type { Clock } from '../../shared/clock';
import { newId } from '../../shared/ids';
import { logger } from '../../shared/logger';
import type { AlertRow } from '../alerts';
import { buyUrlOf, renderAlertEmail } from './alert-email';
import { afterFailure, errorText, messageIdFor } from './outbox-rules';
import * as repo from './email.repo';
import type { OutboxRow } from './email.repo';

/** What an alert's email is made from (an alert row, its position aside). */
export type AlertForEmail = Pick<AlertRow, 'id' | 'accountId' | 'kind' | 'thresholdMillis' | 'availableMillis' | 'message'>;

/** Emails one claim takes, sent in parallel (one SMTP connection each); a run claims again until its batch is done. */
export const SENDS_PARALLEL_MAX = 4;
/**
 * A send gives up after this long, whatever the SMTP server does (EMAIL_LEASE_SECONDS is at least
 * twice as long, so a claimed email is never taken by another instance while its send can still run).
 */
export const SEND_DEADLINE_MS = 60_000;
/** SMTP timeouts within the deadline: connecting, the greeting, and silence on the connection. */
const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000, dnsTimeout: 10_000, socketCloseTimeout: 1_000 };
/** On stop, sends in flight get this long to finish; then they are cut off and their emails released. */
export const STOP_WAIT_MS = 2_000;

type Transport = ReturnType<typeof createTransport>;

export class EmailService {
  private readonly transport: Transport | null;
  private baseUrl: () => string;
  private stopping = false;
  private readonly cutOff = new AbortController();
  private readonly runs = new Set<Promise<number>>();

  constructor(private readonly database: Database, private readonly clock: Clock, private readonly config: Readonly<Config>) {
    this.baseUrl = () => config.publicUrl ?? `http://localhost:${config.port}`;
    // Not pooled: one connection per email, closed after it (alerts are rare; nothing idles open).
    this.transport = config.smtpUrl ? createTransport({ url: config.smtpUrl, ...SMTP_TIMEOUTS }, { from: config.alertEmailFrom }) : null;
  }

  /** Where the emails' links point (the address the server listens on, once known). */
  attachBaseUrl(baseUrl: () => string): void {
    this.baseUrl = baseUrl;
  }

  /** In the database transaction that records the alert: its email, once. */
  async enqueueForAlert(tx: Tx, alert: AlertForEmail): Promise<void> {
    await this.enqueueForAlerts(tx, [alert]);
  }

  /** Several alerts' emails: two statements whatever their number (read the accounts, insert). */
  async enqueueForAlerts(tx: Tx, alerts: readonly AlertForEmail[]): Promise<void> {
    if (alerts.length === 0) return;
    const accounts = await repo.recipients(tx, [...new Set(alerts.map((a) => a.accountId))]);
    const now = this.clock.now();
    const buyUrl = buyUrlOf(this.baseUrl());
    await repo.insertEmails(tx, alerts.map((alert) => {
      const account = accounts.get(alert.accountId);
      const rendered = renderAlertEmail({ ...alert, accountName: account?.name ?? '', buyUrl });
      const to = account?.email?.trim() || null;
      return {
        id: newId(), dedupeKey: `alert:${alert.id}`, accountId: alert.accountId, toAddress: to,
        subject: rendered.subject, textBody: rendered.text, htmlBody: rendered.html,
        status: to ? 'PENDING' : 'NO_RECIPIENT', attempts: 0, nextAttemptAt: now, lastError: null, createdAt: now, sentAt: null,
      };
    }));
  }

  async list(status: EmailStatusName | null, beforePos: number | null, limit: number): Promise<OutboxRow[]> {
    return repo.listOutbox(this.database.db, status, beforePos, limit);
  }

  /**
   * The outbox job: sends up to `batchSize` due emails, SENDS_PARALLEL_MAX at a time. Returns how many
   * were sent. Does nothing without SMTP_URL, or once stopping.
   */
  async runOutbox(batchSize: number): Promise<number> {
    if (!this.transport || this.stopping) return 0;
    const run = this.drain(this.transport, batchSize);
    this.runs.add(run);
    try {
      return await run;
    } finally {
      this.runs.delete(run);
    }
  }

  /**
   * Stops the worker: no new claims; sends in flight get STOP_WAIT_MS to finish, then are cut off
   * (before the server's 250 nothing was delivered) and their emails released for the next run.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.runs.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        Promise.allSettled([...this.runs]).then(() => true),
        new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), STOP_WAIT_MS); }),
      ]);
      clearTimeout(timer);
      if (!finished) this.cutOff.abort(new Error('the server stopped mid-send'));
    }
    while (this.runs.size > 0) await Promise.allSettled([...this.runs]);
    this.transport?.close();
  }

  private async drain(transport: Transport, batchSize: number): Promise<number> {
    let sent = 0;
    let claimedTotal = 0;
    while (claimedTotal < batchSize && !this.stopping) {
      const limit = Math.min(SENDS_PARALLEL_MAX, batchSize - claimedTotal);
      const now = this.clock.now();
      const claimed = await repo.claimDue(this.database.db, now, new Date(now.getTime() + this.config.emailLeaseSeconds * 1000), limit, this.config.emailAttemptsMax);
      claimedTotal += claimed.length;
      for (const row of claimed) {
        if (row.status === 'FAILED') logger.error('alert email failed for good', { id: row.id, dedupeKey: row.dedupeKey, attempts: row.attempts, error: row.lastError });
      }
      const outcomes = await Promise.all(claimed.filter((row) => row.status === 'PENDING').map((row) => this.send(transport, row)));
      sent += outcomes.filter(Boolean).length;
      if (claimed.length < limit) break;
    }
    return sent;
  }

  /** One attempt at one claimed email; never throws (its outcome is written, or the lease expires). */
  private async send(transport: Transport, row: OutboxRow): Promise<boolean> {
    try {
      await transport.sendMail({
        to: row.toAddress ?? undefined, subject: row.subject, text: row.textBody, html: row.htmlBody,
        messageId: messageIdFor(row.dedupeKey, this.config.alertEmailFrom),
        headers: { 'Auto-Submitted': 'auto-generated' },
        signal: AbortSignal.any([this.cutOff.signal, AbortSignal.timeout(SEND_DEADLINE_MS)]),
      });
    } catch (error) {
      const at = this.clock.now();
      // Cut off by stop(): released at once (another instance need not wait for the lease).
      const outcome = this.cutOff.signal.aborted
        ? { status: 'PENDING' as const, nextAttemptAt: at }
        : afterFailure(row.attempts, this.config.emailAttemptsMax, at);
      const lastError = this.cutOff.signal.aborted ? 'cut off: the server stopped mid-send' : errorText(error);
      logger.warn('alert email not sent', { id: row.id, attempts: row.attempts, status: outcome.status, error: lastError });
      await repo.markFailed(this.database.db, row.id, row.attempts, { ...outcome, lastError }).catch((dbError: unknown) => {
        logger.error('could not record a failed alert email (it is retried after its lease)', { id: row.id, error: String(dbError) });
      });
      return false;
    }
    // Sent: from here until SENT is written, a crash means one more send (the at-least-once window).
    await repo.markSent(this.database.db, row.id, this.clock.now()).catch((dbError: unknown) => {
      logger.error('sent an alert email but could not mark it SENT (it is sent again after its lease)', { id: row.id, error: String(dbError) });
    });
    return true;
  }
}
