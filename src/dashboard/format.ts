/**
 * What the dashboard shows, as pure functions (no DOM; unit-tested in test/unit/dashboard.format.test.ts).
 * Credits stay decimal strings from the server; sums go through integer millicredits
 * (src/shared/credits.ts), never floats.
 */
import { formatCredits, parseCredits } from '../shared/credits';

/** The user token or API key in a `#token=…` fragment, or null. */
export function tokenFromFragment(hash: string): string | null {
  for (const part of hash.replace(/^#/, '').split('&')) {
    if (!part.startsWith('token=')) continue;
    try {
      const token = decodeURIComponent(part.slice('token='.length)).trim();
      return token || null;
    } catch {
      return null; // a malformed escape: no token
    }
  }
  return null;
}

/** "12345.5" → "12,345.5": whole digits grouped by three, the decimals kept exactly as given. */
export function groupCredits(credits: string): string {
  const match = /^(-?)(\d+)(\.\d+)?$/.exec(credits.trim());
  if (!match) return credits;
  const [, sign, whole, fraction = ''] = match;
  return sign + whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + fraction;
}

export function creditsText(credits: string): string {
  return `${groupCredits(credits)} ${credits === '1' ? 'credit' : 'credits'}`;
}

/** "+20" for a positive change, "-2.5" for a negative one, "0" for none. */
export function signedCredits(credits: string): string {
  return /^[1-9]|^0\.\d*[1-9]/.test(credits) ? `+${groupCredits(credits)}` : groupCredits(credits);
}

export interface BucketLike {
  id: string;
  source: string;
  amount: string;
  remaining: string;
  held: string;
  expiresAt?: string | null;
}

export type CreditKind = 'free' | 'purchased';

/** Bought credits are PURCHASE buckets; everything else (plan allowance, promos, rollover, refunds, adjustments) came free. */
export function creditKind(source: string): CreditKind {
  return source === 'PURCHASE' ? 'purchased' : 'free';
}

export interface BucketSummary {
  free: string;
  purchased: string;
  /** Buckets with credits left, soonest expiry first, then those that never expire. */
  rows: (BucketLike & { kind: CreditKind })[];
}

export function summarizeBuckets(buckets: readonly BucketLike[]): BucketSummary {
  let free = 0;
  let purchased = 0;
  const rows: BucketSummary['rows'] = [];
  for (const bucket of buckets) {
    const remaining = parseCredits(bucket.remaining);
    if (remaining <= 0) continue;
    const kind = creditKind(bucket.source);
    if (kind === 'free') free += remaining;
    else purchased += remaining;
    rows.push({ ...bucket, kind });
  }
  const expiry = (b: BucketLike) => (b.expiresAt ? Date.parse(b.expiresAt) : Number.POSITIVE_INFINITY);
  rows.sort((a, b) => expiry(a) - expiry(b) || a.id.localeCompare(b.id));
  return { free: formatCredits(free), purchased: formatCredits(purchased), rows };
}

const SOURCE_LABELS: Record<string, string> = {
  PLAN_ALLOWANCE: 'Plan allowance', PURCHASE: 'Purchased', PROMO: 'Promotion', ROLLOVER: 'Rolled over', REFUND: 'Refund', ADJUSTMENT: 'Adjustment',
};

export function sourceLabel(source: string): string {
  return SOURCE_LABELS[source] ?? source;
}

/** "CHARGE" → "Charge", "DEBT_REPAYMENT" → "Debt repayment". */
export function words(constant: string): string {
  const text = constant.toLowerCase().replace(/_/g, ' ');
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** What a ledger transaction was for: its action and model when it has them. */
export function transactionDetail(tx: { action?: string | null; model?: string | null; comment?: string | null }): string {
  return [tx.action, tx.model].filter(Boolean).join(' · ') || tx.comment || '';
}

/** Whole days from `now` until `when` (rounded up; 0 when it is past). */
export function daysUntil(when: string, nowMs: number): number {
  return Math.max(0, Math.ceil((Date.parse(when) - nowMs) / 86_400_000));
}
