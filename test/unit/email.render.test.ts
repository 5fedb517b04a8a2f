/**
 * Alert emails (src/modules/email/alert-email.ts) and the outbox rules (outbox-rules.ts), pure:
 * every kind's subject, text and HTML state the balance, the level when there is one, what the alert
 * means, its message and the buy link; every value in the HTML is escaped; retry backoff, giving
 * up, Message-IDs and kept errors.
 */
import { loadConfig } from '../../src/config';
import { ALERT_KINDS, type AlertKindName } from '../../src/db/schema';
import { buyUrlOf, credits, escapeHtml, renderAlertEmail, type AlertEmailFacts } from '../../src/modules/email/alert-email';
import {
  LAST_ERROR_LENGTH_MAX, RETRY_DELAY_SECONDS_FIRST, RETRY_DELAY_SECONDS_MAX, afterFailure, errorText, messageIdFor, retryDelaySeconds,
} from '../../src/modules/email/outbox-rules';

const BUY = 'https://credits.example.com/dashboard#buy';

const facts = (fields: Partial<AlertEmailFacts> = {}): AlertEmailFacts => ({
  kind: 'LOW_BALANCE', availableMillis: 12_500, thresholdMillis: 100_000, message: 'Available credits fell to 12.5 (level 100).',
  accountName: 'Ada', buyUrl: BUY, ...fields,
});

/** The visible text of the HTML part: tags dropped, entities decoded (as a mail client shows it). */
const decoded = (html: string) => html.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&amp;/g, '&');
const visible = (html: string) => decoded(html.replace(/<[^>]*>/g, ' '));

describe('renderAlertEmail: every kind', () => {
  // [kind, level, subject contains, meaning contains]
  const cases: [AlertKindName, number | null, string, string][] = [
    ['LOW_BALANCE', 100_000, 'Low credits: 12.5 credits available', 'fallen to or below a level'],
    ['DEPLETED', 0, 'used up', 'reached zero'],
    ['RUN_OUT_SOON', null, 'run out soon (12.5 credits available)', 'run out within a few days'],
    ['CREDITS_EXPIRING', null, 'expire soon', 'not used by their expiry date are lost'],
    ['AUTO_TOP_UP_FAILED', null, 'automatic top-up', 'could not be paid'],
    ['PAYMENT_FAILED', null, 'payment for your plan failed', 'grace period'],
    ['PLAN_DOWNGRADED', null, 'downgraded', 'plan was downgraded'],
    ['MEMBER_BUDGET', 100_000, 'team member has used most of their budget', 'budget resets or is raised'],
  ];

  test('the table covers every alert kind', () => {
    expect(cases.map((c) => c[0]).sort()).toEqual([...ALERT_KINDS].sort());
  });

  test.each(cases)('%s (level %p)', (kind, level, subject, meaning) => {
    const message = `The ${kind} message.`;
    const email = renderAlertEmail(facts({ kind, thresholdMillis: level, message }));
    expect(email.subject).toContain(subject);
    for (const part of [email.text, visible(email.html)]) {
      expect(part).toContain('Hello Ada,');
      expect(part).toContain(meaning);
      expect(part).toContain(message);
      expect(part).toMatch(/Available balance\s*:?\s*12\.5 credits/);
      if (level === null) expect(part).not.toContain('Level');
      else expect(part).toMatch(new RegExp(`Level\\s*:?\\s*${level === 0 ? '0 credits' : '100 credits'}`));
    }
    expect(email.text).toContain(`Buy credits: ${BUY}`);
    expect(email.html).toContain(`<a href="${BUY}">Buy credits</a>`);
  });
});

describe('renderAlertEmail: figures', () => {
  test.each<[number, number | null, string, string | null]>([
    [0, 0, '0 credits', '0 credits'],
    [1_000, 5_000, '1 credit', '5 credits'],
    [125, 1_000, '0.125 credits', '1 credit'],
    [-3_000, null, '-3 credits', null],
    [1_234_567_890, 2_000_000_000, '1234567.89 credits', '2000000 credits'],
  ])('available %d, level %p', (available, level, availableText, levelText) => {
    const email = renderAlertEmail(facts({ availableMillis: available, thresholdMillis: level }));
    expect(email.text).toContain(`Available balance: ${availableText}\n`);
    if (levelText) expect(email.text).toContain(`Level: ${levelText}\n`);
    expect(email.html).toContain(`<td>${availableText}</td>`);
    if (levelText) expect(email.html).toContain(`<th align="left">Level</th><td>${levelText}</td>`);
  });

  test('an empty message adds no paragraph', () => {
    const email = renderAlertEmail(facts({ message: '   ' }));
    expect(email.html).not.toContain('<p></p>');
    expect(email.text).not.toMatch(/\n\s*\n\s*\n/);
  });
});

describe('renderAlertEmail: HTML escaping', () => {
  const hostile = `<script>alert("x")</script> & 'quoted' <b>bold</b>`;

  test.each<[string, Partial<AlertEmailFacts>]>([
    ['account name', { accountName: hostile }],
    ['message', { message: hostile }],
    ['buy link', { buyUrl: `https://x.example/dashboard?a=1&b="><script>#buy` }],
  ])('%s', (_field, fields) => {
    const email = renderAlertEmail(facts(fields));
    expect(email.html).not.toMatch(/<script|<b>|"x"|&(?!amp;|lt;|gt;|quot;|#39;)/);
    // The text part carries the value as it is, and the HTML, once its entities are read, too.
    const value = Object.values(fields)[0] as string;
    expect(email.text).toContain(value);
    expect(decoded(email.html)).toContain(value);
    // Only the template's own tags remain.
    expect(new Set(email.html.match(/<\/?([a-z]+)/g)?.map((t) => t.replace(/[</]/g, '')))).toEqual(
      new Set(['html', 'head', 'meta', 'title', 'body', 'p', 'table', 'tr', 'th', 'td', 'a']),
    );
  });

  test.each([
    ['<', '&lt;'], ['>', '&gt;'], ['&', '&amp;'], ['"', '&quot;'], ["'", '&#39;'], ['plain', 'plain'], ['a&lt;', 'a&amp;lt;'],
  ])('escapeHtml(%p) = %p', (input, output) => {
    expect(escapeHtml(input)).toBe(output);
  });

  test('the subject holds no account-provided text', () => {
    expect(renderAlertEmail(facts({ accountName: hostile, message: hostile })).subject).toBe('Low credits: 12.5 credits available');
  });
});

describe('buyUrlOf and credits', () => {
  test.each([
    ['http://localhost:4000', 'http://localhost:4000/dashboard#buy'],
    ['https://credits.example.com/', 'https://credits.example.com/dashboard#buy'],
    ['https://example.com/credits', 'https://example.com/credits/dashboard#buy'],
  ])('%s', (base, url) => {
    expect(buyUrlOf(base)).toBe(url);
  });

  test.each([[1_000, '1 credit'], [-1_000, '-1 credit'], [2_000, '2 credits'], [1_500, '1.5 credits'], [1, '0.001 credits']])('%d millis: %s', (millis, text) => {
    expect(credits(millis)).toBe(text);
  });
});

describe('outbox rules', () => {
  test.each([
    [1, 60], [2, 120], [3, 240], [4, 480], [5, 960], [6, 1920], [7, 3600], [8, 3600], [50, 3600], [0, 60],
  ])('after %d failed attempts: retry in %d s', (attempts, seconds) => {
    expect(retryDelaySeconds(attempts)).toBe(seconds);
  });

  test('the delays start at the first delay and never pass the cap', () => {
    expect(retryDelaySeconds(1)).toBe(RETRY_DELAY_SECONDS_FIRST);
    for (let n = 1; n < 100; n += 1) expect(retryDelaySeconds(n)).toBeLessThanOrEqual(RETRY_DELAY_SECONDS_MAX);
  });

  const at = new Date('2030-01-01T00:00:00Z');
  test.each<[number, number, string, number]>([
    [1, 8, 'PENDING', 60], [7, 8, 'PENDING', 3600], [8, 8, 'FAILED', 0], [9, 8, 'FAILED', 0], [1, 1, 'FAILED', 0],
  ])('attempt %d of %d failed: %s, next in %d s', (attempts, max, status, delaySeconds) => {
    expect(afterFailure(attempts, max, at)).toEqual({ status, nextAttemptAt: new Date(at.getTime() + delaySeconds * 1000) });
  });

  test.each([
    ['alert:5f0c1e2a-7d3b-4c1e-9a2b-0123456789ab', 'Credits <alerts@example.com>', '<alert-5f0c1e2a-7d3b-4c1e-9a2b-0123456789ab@example.com>'],
    ['alert:abc', 'alerts@mail.example.org', '<alert-abc@mail.example.org>'],
    ['alert:abc', 'Credits <alerts@localhost>', '<alert-abc@localhost>'],
    ['alert:abc', 'no domain here', '<alert-abc@credits.local>'],
    ['a b<c>@d', 'x@y.z', '<a-b-c--d@y.z>'],
    ['...', 'x@y.z', '<email@y.z>'],
  ])('Message-ID of %p from %p', (key, from, id) => {
    expect(messageIdFor(key, from)).toBe(id);
    expect(messageIdFor(key, from)).toBe(messageIdFor(key, from));
  });

  test.each<[unknown, string]>([
    [new Error('451 4.3.0 try\r\nagain  later'), '451 4.3.0 try again later'],
    ['plain', 'plain'],
    [new Error(''), 'unknown error'],
  ])('errorText(%p)', (error, text) => {
    expect(errorText(error)).toBe(text);
  });

  test('errorText keeps at most LAST_ERROR_LENGTH_MAX characters', () => {
    const kept = errorText(new Error('x'.repeat(5_000)));
    expect(kept).toHaveLength(LAST_ERROR_LENGTH_MAX);
    expect(kept.endsWith('…')).toBe(true);
  });
});

describe('email configuration', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const name of ['SMTP_URL', 'ALERT_EMAIL_FROM', 'EMAIL_ATTEMPTS_MAX', 'EMAIL_LEASE_SECONDS']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  const load = (env: Record<string, string>) => {
    Object.assign(process.env, env);
    return loadConfig();
  };

  test.each([
    ['smtp://127.0.0.1:2525', 'smtp://127.0.0.1:2525'],
    ['smtps://user:secret@mail.example.com', 'smtps://user:secret@mail.example.com'],
    ['', null],
  ])('SMTP_URL %p', (raw, expected) => {
    expect(load({ SMTP_URL: raw }).smtpUrl).toBe(expected);
  });

  test.each(['http://mail.example.com', 'mail.example.com:25', 'smtp://', 'not a url'])('SMTP_URL %p is refused', (raw) => {
    expect(() => load({ SMTP_URL: raw })).toThrow(/SMTP_URL/);
  });

  test('defaults: From, attempts, lease', () => {
    expect(load({ ALERT_EMAIL_FROM: '', EMAIL_ATTEMPTS_MAX: '', EMAIL_LEASE_SECONDS: '' })).toMatchObject({
      alertEmailFrom: 'Credits <alerts@localhost>', emailAttemptsMax: 8, emailLeaseSeconds: 300,
    });
  });

  test.each<[Record<string, string>, RegExp]>([
    [{ ALERT_EMAIL_FROM: 'nobody' }, /ALERT_EMAIL_FROM/],
    [{ ALERT_EMAIL_FROM: 'a@b.c\r\nBcc: x@y.z' }, /ALERT_EMAIL_FROM/],
    [{ EMAIL_ATTEMPTS_MAX: '0' }, /EMAIL_ATTEMPTS_MAX/],
    [{ EMAIL_LEASE_SECONDS: '60' }, /EMAIL_LEASE_SECONDS/],
  ])('%p is refused', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });
});
