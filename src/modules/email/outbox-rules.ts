/**
 * The rules of the email outbox, pure (table-driven tests: test/unit/email.outbox-rules.test.ts).
 *
 * A failed send is retried after 60 s, then 2 min, 4 min, … doubling up to 1 h between attempts;
 * after `attemptsMax` attempts (EMAIL_ATTEMPTS_MAX, default 8: about 2 h of retries) the email is
 * FAILED and stays in the outbox for an admin to see. Every failure is retried, a permanent (5xx)
 * refusal too: a relay misconfiguration fixed within that span loses no email.
 */
import type { EmailStatusName } from '../../db/schema';

export const RETRY_DELAY_SECONDS_FIRST = 60;
export const RETRY_DELAY_SECONDS_MAX = 3600;
/** What is kept of a send's error message. */
export const LAST_ERROR_LENGTH_MAX = 500;
/** The right-hand side of Message-IDs when the From address has no usable domain. */
export const MESSAGE_ID_DOMAIN_DEFAULT = 'credits.local';

/** The delay before the next attempt after `attempts` attempts (≥ 1) failed. */
export function retryDelaySeconds(attempts: number): number {
  const doublings = Math.min(Math.max(attempts - 1, 0), 30);
  return Math.min(RETRY_DELAY_SECONDS_FIRST * 2 ** doublings, RETRY_DELAY_SECONDS_MAX);
}

/** What a failed attempt (the `attempts`-th) leaves: retried later, or FAILED for good. */
export function afterFailure(attempts: number, attemptsMax: number, at: Date): { status: EmailStatusName; nextAttemptAt: Date } {
  if (attempts >= attemptsMax) return { status: 'FAILED', nextAttemptAt: at };
  return { status: 'PENDING', nextAttemptAt: new Date(at.getTime() + retryDelaySeconds(attempts) * 1000) };
}

/**
 * The Message-ID of an outbox email: derived from its dedupe key only, so every resend of the same
 * email (after a crash between the server's 250 and marking it SENT) carries the same id and a
 * receiver can drop the duplicate. `alert:<uuid>` from alerts@example.com → `<alert-<uuid>@example.com>`.
 */
export function messageIdFor(dedupeKey: string, from: string): string {
  const local = dedupeKey.replace(/[^A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]/g, '-').replace(/^\.+|\.+$/g, '').replace(/\.{2,}/g, '.') || 'email';
  const domain = /@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>?\s*$/.exec(from)?.[1] ?? MESSAGE_ID_DOMAIN_DEFAULT;
  return `<${local}@${domain}>`;
}

/** A send error as kept in `lastError`: one line, bounded. */
export function errorText(error: unknown): string {
  const text = (error instanceof Error ? error.message : String(error)).replace(/\s+/g, ' ').trim() || 'unknown error';
  return text.length > LAST_ERROR_LENGTH_MAX ? `${text.slice(0, LAST_ERROR_LENGTH_MAX - 1)}…` : text;
}
