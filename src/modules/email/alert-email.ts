/**
 * The email of an alert, pure (table-driven tests: test/unit/email.render.test.ts): a subject, a
 * plain-text part and an HTML part, each stating the available balance, the level when the alert has
 * one, what the alert means, the alert's own message, and a link to buy credits. Every value put into
 * the HTML is escaped; the subject holds only fixed words and formatted credits.
 */
import type { AlertKindName } from '../../db/schema';
import { formatCredits, type Millis } from '../../shared/credits';

export interface AlertEmailFacts {
  kind: AlertKindName;
  availableMillis: Millis;
  thresholdMillis: Millis | null;
  message: string;
  accountName: string;
  /** Where the account buys credits: `<base URL>/dashboard#buy`. */
  buyUrl: string;
}

export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

interface KindWords {
  subject: (facts: AlertEmailFacts) => string;
  meaning: string;
}

const KIND_WORDS: Record<AlertKindName, KindWords> = {
  LOW_BALANCE: {
    subject: (f) => `Low credits: ${credits(f.availableMillis)} available`,
    meaning: 'Your available credits have fallen to or below a level set for your account.',
  },
  DEPLETED: {
    subject: () => 'Your credits are used up',
    meaning: 'Your available credits have reached zero: new charges are refused unless your account allows an overdraft.',
  },
  RUN_OUT_SOON: {
    subject: (f) => `Your credits will run out soon (${credits(f.availableMillis)} available)`,
    meaning: 'At your recent rate of use, your credits will run out within a few days.',
  },
  CREDITS_EXPIRING: {
    subject: () => 'Some of your credits expire soon',
    meaning: 'Some of your credits expire soon: credits not used by their expiry date are lost.',
  },
  AUTO_TOP_UP_FAILED: {
    subject: () => 'An automatic top-up of your credits failed',
    meaning: 'An automatic top-up could not be paid, so no credits were added.',
  },
  PAYMENT_FAILED: {
    subject: () => 'The payment for your plan failed',
    meaning: 'The payment for your plan failed. It is retried during a grace period; if it is still unpaid when the grace period ends, the plan is downgraded.',
  },
  PLAN_DOWNGRADED: {
    subject: () => 'Your plan was downgraded',
    meaning: 'The grace period of an unpaid plan payment has ended, so your plan was downgraded.',
  },
  MEMBER_BUDGET: {
    subject: () => 'A team member has used most of their budget',
    meaning: 'A member of your team has used a large share of their credit budget for this period; at 100% their generations are refused until the budget resets or is raised.',
  },
};

export function credits(millis: Millis): string {
  const text = formatCredits(millis);
  return `${text} ${text === '1' || text === '-1' ? 'credit' : 'credits'}`;
}

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

export function renderAlertEmail(facts: AlertEmailFacts): RenderedEmail {
  const words = KIND_WORDS[facts.kind];
  const figures: [string, string][] = [['Available balance', credits(facts.availableMillis)]];
  if (facts.thresholdMillis !== null) figures.push(['Level', credits(facts.thresholdMillis)]);
  const message = facts.message.trim();

  const text = [
    `Hello ${facts.accountName},`,
    '',
    words.meaning,
    ...(message ? [message] : []),
    '',
    ...figures.map(([label, value]) => `${label}: ${value}`),
    '',
    `Buy credits: ${facts.buyUrl}`,
    '',
    '-- ',
    'An automatic message from Credits about your account.',
    '',
  ].join('\n');

  const e = escapeHtml;
  const html = [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"><title>' + e(words.subject(facts)) + '</title></head>',
    '<body style="font-family: sans-serif; line-height: 1.5">',
    `<p>Hello ${e(facts.accountName)},</p>`,
    `<p>${e(words.meaning)}</p>`,
    ...(message ? [`<p>${e(message)}</p>`] : []),
    '<table>',
    ...figures.map(([label, value]) => `<tr><th align="left">${e(label)}</th><td>${e(value)}</td></tr>`),
    '</table>',
    `<p><a href="${e(facts.buyUrl)}">Buy credits</a></p>`,
    '<p style="color: #666">An automatic message from Credits about your account.</p>',
    '</body></html>',
    '',
  ].join('\n');

  return { subject: words.subject(facts), text, html };
}

/** The page an alert email links to for buying credits. */
export function buyUrlOf(baseUrl: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/dashboard#buy`;
}
