/**
 * Alert emails through the outbox, against a real SMTP server in this process (test/helpers/smtp.ts):
 * each alert's email is received once, with a text and an HTML part stating the balance, the level and
 * the link to buy credits, addressed to Account.email; it is written in the alert's own database
 * transaction; an account without email gets NO_RECIPIENT and nothing is sent; without SMTP_URL the
 * emails stay PENDING and the admin query shows them; refusals are retried with backoff, and given up
 * after EMAIL_ATTEMPTS_MAX; a send cut off by a stopping server, or left by a sender that died, is
 * sent again, and the SMTP server accepts the message once.
 *
 * Era: the outbox worker sends every due email of the database (shared on PostgreSQL). This file's
 * clock is in 1962, before any other file's dates (the earliest elsewhere are in the 1970s), so its
 * worker finds no other file's email due and no other file's rows are changed; each test's recipients
 * have a domain of their own, and assertions ask the SMTP server about that domain only.
 */
import { desc, eq, inArray } from 'drizzle-orm';
import { EmailOutboxDocument, type EmailOutboxQuery, type OutboxEmailFieldsFragment } from '../../src/client';
import { createApp, type App } from '../../src/main';
import type { Config } from '../../src/config';
import { alerts, emailOutbox } from '../../src/db/schema';
import type { NewAlert } from '../../src/modules/alerts';
import { claimDue } from '../../src/modules/email/email.repo';
import { RETRY_DELAY_SECONDS_FIRST } from '../../src/modules/email/outbox-rules';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';

const ERA = Date.UTC(1962, 0, 10, 9, 0, 0);

let t: TestApp;
let smtp: TestSmtpServer;
const instances: App[] = [];

beforeAll(async () => {
  smtp = await startSmtpServer();
  t = await startTestApp({ smtpUrl: smtp.url });
  t.clock.set(new Date(ERA));
});

afterAll(async () => {
  for (const app of instances) await app.stop();
  await t?.close();
  await smtp?.close();
});

/** Another server instance on the same database and clock (not listening: it only runs the outbox). */
async function instance(overrides: Partial<Config> = {}): Promise<App> {
  const app = await createApp({ config: Object.freeze({ ...t.app.services.config, ...overrides }), clock: t.clock, database: t.database, runJobs: false });
  instances.push(app);
  return app;
}

const newDomain = () => `${uniqueKey('mail').toLowerCase()}.test`;

async function account(domain: string | null, name = 'Ada Lovelace'): Promise<{ id: string; email: string | null }> {
  const email = domain ? `${uniqueKey('user').toLowerCase()}@${domain}` : null;
  const id = await t.createAccount(name, email ? { email } : {});
  return { id, email };
}

const ALERT: Omit<NewAlert, 'accountId'> = { kind: 'LOW_BALANCE', thresholdMillis: 100_000, availableMillis: 12_500, message: 'Available credits fell to 12.5.' };

/** Raises an alert the way the services do (in a database transaction); returns its id. */
async function raise(accountId: string, alert: Partial<NewAlert> = {}): Promise<string> {
  const { db } = t.app.services.database;
  await db.transaction((tx) => t.app.services.alerts.raise(tx, { accountId, ...ALERT, ...alert }, t.clock.now()));
  const [row] = await db.select({ id: alerts.id }).from(alerts).where(eq(alerts.accountId, accountId)).orderBy(desc(alerts.pos)).limit(1);
  return row.id;
}

const rowsOf = (accountIds: string[]) => t.database.db.select().from(emailOutbox).where(inArray(emailOutbox.accountId, accountIds)).orderBy(emailOutbox.pos);

/** Runs `app`'s outbox until none of these accounts' emails is due (bounded). */
async function drain(app: App, accountIds: string[]): Promise<void> {
  for (let run = 0; run < 50; run += 1) {
    await app.services.email.runOutbox(t.app.services.config.jobBatchSize);
    const rows = await rowsOf(accountIds);
    if (!rows.some((r) => r.status === 'PENDING' && r.nextAttemptAt.getTime() <= t.clock.now().getTime())) return;
  }
  throw new Error('the outbox was not drained in 50 runs');
}

/** Runs the outbox until it sends nothing more (bounded). */
async function drainAll(): Promise<void> {
  for (let run = 0; run < 50; run += 1) {
    if (await t.app.services.email.runOutbox(t.app.services.config.jobBatchSize) === 0) return;
  }
  throw new Error('the outbox was not drained in 50 runs');
}

/** The admin query's rows of these accounts (newest first), read page by page (bounded). */
async function adminOutbox(accountIds: string[], status?: 'PENDING' | 'SENT' | 'FAILED' | 'NO_RECIPIENT'): Promise<OutboxEmailFieldsFragment[]> {
  const found: OutboxEmailFieldsFragment[] = [];
  let after: string | null = null;
  for (let page = 0; page < 50; page += 1) {
    const { emailOutbox: connection }: EmailOutboxQuery = await t.op(EmailOutboxDocument, { status, first: 100, after });
    found.push(...connection.edges.map((e) => e.node).filter((n) => n.accountId && accountIds.includes(n.accountId)));
    if (!connection.pageInfo.hasNextPage) return found;
    after = connection.pageInfo.endCursor ?? null;
  }
  throw new Error('outbox longer than 5,000 emails');
}

test('each alert\'s email is received once: text and HTML parts with the balance, the level and the buy link, to Account.email', async () => {
  const domain = newDomain();
  const low = await account(domain, 'Ada <Lovelace> & Co');
  const depleted = await account(domain);
  const payment = await account(domain);
  const lowAlert = await raise(low.id);
  const depletedAlert = await raise(depleted.id, { kind: 'DEPLETED', thresholdMillis: 0, availableMillis: 0, message: 'Your credits are used up.' });
  const paymentAlert = await raise(payment.id, { kind: 'PAYMENT_FAILED', thresholdMillis: null, availableMillis: 3_250_000, message: 'The card was declined.' });
  const ids = [low.id, depleted.id, payment.id];
  expect((await rowsOf(ids)).map((r) => r.status)).toEqual(['PENDING', 'PENDING', 'PENDING']);

  await drain(t.app, ids);
  await t.app.services.email.runOutbox(200); // nothing is sent twice
  t.clock.advanceSeconds(3600);
  await t.app.services.email.runOutbox(200);

  const received = smtp.accepted(domain);
  expect(received).toHaveLength(3);
  expect(smtp.received(domain)).toHaveLength(3);
  const buyUrl = `${t.url}/dashboard#buy`;
  const byAlert = new Map(received.map((email) => [email.messageId, email]));
  const lowEmail = byAlert.get(`<alert-${lowAlert}@localhost>`)!;
  expect(lowEmail).toMatchObject({ rcptTo: [low.email], to: [low.email], from: ['alerts@localhost'], subject: 'Low credits: 12.5 credits available', autoSubmitted: 'auto-generated' });
  expect(lowEmail.text).toContain('Hello Ada <Lovelace> & Co,');
  expect(lowEmail.text).toContain('Available balance: 12.5 credits');
  expect(lowEmail.text).toContain('Level: 100 credits');
  expect(lowEmail.text).toContain('Available credits fell to 12.5.');
  expect(lowEmail.text).toContain(`Buy credits: ${buyUrl}`);
  expect(lowEmail.html).toContain('Hello Ada &lt;Lovelace&gt; &amp; Co,');
  expect(lowEmail.html).toContain('<th align="left">Available balance</th><td>12.5 credits</td>');
  expect(lowEmail.html).toContain('<th align="left">Level</th><td>100 credits</td>');
  expect(lowEmail.html).toContain(`<a href="${buyUrl}">Buy credits</a>`);

  const depletedEmail = byAlert.get(`<alert-${depletedAlert}@localhost>`)!;
  expect(depletedEmail).toMatchObject({ to: [depleted.email], subject: 'Your credits are used up' });
  expect(depletedEmail.text).toContain('Available balance: 0 credits');
  expect(depletedEmail.text).toContain('Level: 0 credits');
  expect(depletedEmail.html).toContain(`<a href="${buyUrl}">Buy credits</a>`);

  const paymentEmail = byAlert.get(`<alert-${paymentAlert}@localhost>`)!;
  expect(paymentEmail).toMatchObject({ to: [payment.email], subject: 'The payment for your plan failed' });
  expect(paymentEmail.text).toContain('Available balance: 3250 credits');
  expect(paymentEmail.text).toContain('The card was declined.');
  expect(paymentEmail.text).not.toContain('Level');
  expect(paymentEmail.html).toContain(`<a href="${buyUrl}">Buy credits</a>`);

  const sent = await adminOutbox(ids, 'SENT');
  expect(sent).toHaveLength(3);
  for (const row of sent) expect(row).toMatchObject({ status: 'SENT', attempts: 1, lastError: null, sentAt: new Date(ERA).toISOString() });
  expect(sent.find((r) => r.accountId === low.id)).toMatchObject({ to: low.email, subject: 'Low credits: 12.5 credits available', textBody: expect.stringContaining(buyUrl) as unknown });
});

test('the email is written in the alert\'s database transaction: an alert rolled back leaves no email; one alert, one email', async () => {
  const domain = newDomain();
  const { id } = await account(domain);
  const { db } = t.app.services.database;
  await expect(db.transaction(async (tx) => {
    await t.app.services.alerts.raise(tx, { accountId: id, ...ALERT }, t.clock.now());
    throw new Error('the operation failed after raising the alert');
  })).rejects.toThrow('the operation failed');
  expect(await rowsOf([id])).toEqual([]);

  const raisedAt = t.clock.now();
  const alertId = await raise(id);
  // Enqueued again for the same alert (a retried caller): still one email.
  await db.transaction((tx) => t.app.services.email.enqueueForAlert(tx, { id: alertId, accountId: id, ...ALERT }));
  const rows = await rowsOf([id]);
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({ dedupeKey: `alert:${alertId}`, status: 'PENDING', attempts: 0, nextAttemptAt: raisedAt, createdAt: raisedAt });
  await drain(t.app, [id]);
  expect(smtp.accepted(domain)).toHaveLength(1);
});

test('an account without email: NO_RECIPIENT, nothing is sent', async () => {
  const { id } = await account(null);
  await raise(id);
  await drain(t.app, [id]);
  const rows = await rowsOf([id]);
  expect(rows).toEqual([expect.objectContaining({ status: 'NO_RECIPIENT', toAddress: null, attempts: 0, sentAt: null })]);
  expect(rows[0].textBody).toContain('Available balance: 12.5 credits'); // kept for an admin to read
  expect(await adminOutbox([id], 'NO_RECIPIENT')).toEqual([expect.objectContaining({ to: null, status: 'NO_RECIPIENT' })]);
  expect(await adminOutbox([id], 'PENDING')).toEqual([]);
});

test('without SMTP_URL emails stay PENDING and the admin query lists them (newest first, paged); with it they are sent', async () => {
  const noSmtp = await instance({ smtpUrl: null });
  const domain = newDomain();
  const first = await account(domain);
  const second = await account(domain);
  await raise(first.id);
  await raise(second.id, { kind: 'RUN_OUT_SOON', thresholdMillis: null, availableMillis: 40_000, message: 'About 2 days left at your recent rate.' });
  expect(await noSmtp.services.email.runOutbox(200)).toBe(0);
  t.clock.advanceSeconds(86_400);
  expect(await noSmtp.services.email.runOutbox(200)).toBe(0);

  const pending = await adminOutbox([first.id, second.id], 'PENDING');
  expect(pending.map((r) => r.to)).toEqual([second.email, first.email]);
  expect(pending[0]).toMatchObject({
    status: 'PENDING', attempts: 0, lastError: null, sentAt: null, subject: 'Your credits will run out soon (40 credits available)',
    textBody: expect.stringContaining('About 2 days left at your recent rate.') as unknown,
  });
  expect(await adminOutbox([first.id, second.id], 'SENT')).toEqual([]);
  // Paging: one at a time, newest first, the same two.
  const page1 = (await t.op(EmailOutboxDocument, { status: 'PENDING', first: 1 })).emailOutbox;
  expect(page1.edges).toHaveLength(1);
  expect(page1.pageInfo.hasNextPage).toBe(true);
  expect(page1.edges[0].node.to).toBe(second.email);
  const page2 = (await t.op(EmailOutboxDocument, { status: 'PENDING', first: 1, after: page1.pageInfo.endCursor })).emailOutbox;
  expect(page2.edges[0].node.to).toBe(first.email);
  expect(smtp.received(domain)).toEqual([]);

  // An admin-only query; a bad cursor is bad input.
  const readonly = await t.key('READONLY');
  expect((await t.opFails(EmailOutboxDocument, { first: 1 }, readonly)).code).toBe('FORBIDDEN');
  expect((await t.opFails(EmailOutboxDocument, { first: 1, after: 'nonsense' })).code).toBe('BAD_USER_INPUT');
  expect((await t.opFails(EmailOutboxDocument, { first: 101 })).code).toBe('BAD_USER_INPUT');

  await drain(t.app, [first.id, second.id]);
  expect(smtp.accepted(domain).map((e) => e.to[0]).sort()).toEqual([first.email, second.email].sort());
});

test('an SMTP server refusing: retried with backoff (60 s, then 120 s), then SENT once it accepts', async () => {
  const domain = newDomain();
  const { id, email } = await account(domain);
  await raise(id);
  smtp.refuse(domain, 2);
  const start = t.clock.now().getTime();

  expect(await t.app.services.email.runOutbox(200)).toBe(0);
  let [row] = await rowsOf([id]);
  expect(row).toMatchObject({ status: 'PENDING', attempts: 1, nextAttemptAt: new Date(start + RETRY_DELAY_SECONDS_FIRST * 1000) });
  expect(row.lastError).toContain('451');

  t.clock.advanceSeconds(RETRY_DELAY_SECONDS_FIRST - 1);
  await t.app.services.email.runOutbox(200); // not due yet
  expect((await rowsOf([id]))[0].attempts).toBe(1);
  t.clock.advanceSeconds(1);
  await t.app.services.email.runOutbox(200);
  [row] = await rowsOf([id]);
  expect(row).toMatchObject({ status: 'PENDING', attempts: 2, nextAttemptAt: new Date(start + 60_000 + 120_000) });

  t.clock.advanceSeconds(119);
  await t.app.services.email.runOutbox(200);
  expect((await rowsOf([id]))[0].attempts).toBe(2);
  t.clock.advanceSeconds(1);
  await t.app.services.email.runOutbox(200);
  [row] = await rowsOf([id]);
  expect(row).toMatchObject({ status: 'SENT', attempts: 3, sentAt: new Date(start + 180_000) });
  expect(smtp.accepted(domain).map((e) => e.to)).toEqual([[email]]);
});

test('still refused after EMAIL_ATTEMPTS_MAX attempts: FAILED, and never sent again', async () => {
  const limited = await instance({ emailAttemptsMax: 2 });
  const domain = newDomain();
  const { id } = await account(domain);
  await raise(id);
  smtp.refuse(domain, 10);
  await limited.services.email.runOutbox(200);
  t.clock.advanceSeconds(60);
  await limited.services.email.runOutbox(200);
  const [row] = await rowsOf([id]);
  expect(row).toMatchObject({ status: 'FAILED', attempts: 2 });
  expect(row.lastError).toContain('451');
  smtp.refuse(domain, 0);
  t.clock.advanceSeconds(86_400);
  await limited.services.email.runOutbox(200);
  await t.app.services.email.runOutbox(200);
  expect((await rowsOf([id]))[0].status).toBe('FAILED');
  expect(smtp.received(domain)).toEqual([]);
  expect(await adminOutbox([id], 'FAILED')).toEqual([expect.objectContaining({ status: 'FAILED', attempts: 2, lastError: expect.stringContaining('451') as unknown })]);
});

test('the server stops mid-send (the SMTP server holds its answer to DATA): cut off before 250, then sent by another instance, accepted once', async () => {
  const domain = newDomain();
  const { id, email } = await account(domain);
  const alertId = await raise(id);
  const sender = await instance();
  const hold = smtp.hold(domain);
  const running = sender.services.email.runOutbox(200);
  const held = await hold.held; // the whole message reached the SMTP server, which has not answered
  expect(held.messageId).toBe(`<alert-${alertId}@localhost>`);

  await sender.stop(); // waits STOP_WAIT_MS for the send, then cuts it off and releases the email
  expect(await running).toBe(0);
  expect(await sender.services.email.runOutbox(200)).toBe(0); // a stopped instance sends nothing
  await waitFor(() => smtp.cutOff(domain).length === 1);
  const [released] = await rowsOf([id]);
  expect(released).toMatchObject({ status: 'PENDING', attempts: 1, lastError: 'cut off: the server stopped mid-send', nextAttemptAt: t.clock.now() });

  hold.release();
  await drain(t.app, [id]);
  expect(smtp.received(domain).map((e) => e.messageId)).toEqual([held.messageId, held.messageId]);
  expect(smtp.accepted(domain)).toEqual([expect.objectContaining({ messageId: held.messageId, to: [email] })]);
  expect((await rowsOf([id]))[0]).toMatchObject({ status: 'SENT', attempts: 2 });
});

test('a sender that died after claiming: the email waits for the lease, then another instance sends it once', async () => {
  await drainAll(); // nothing else due: the claim below takes this test's email
  const domain = newDomain();
  const { id } = await account(domain);
  await raise(id);
  const leaseSeconds = t.app.services.config.emailLeaseSeconds;
  const now = t.clock.now();
  // What a sender killed mid-send leaves: its claim, committed, and nothing else.
  const claimed = await claimDue(t.database.db, now, new Date(now.getTime() + leaseSeconds * 1000), 1, t.app.services.config.emailAttemptsMax);
  expect(claimed.map((r) => r.accountId)).toEqual([id]);

  await t.app.services.email.runOutbox(200);
  t.clock.advanceSeconds(leaseSeconds - 1);
  await t.app.services.email.runOutbox(200);
  expect(smtp.received(domain)).toEqual([]);
  expect((await rowsOf([id]))[0]).toMatchObject({ status: 'PENDING', attempts: 1 });

  t.clock.advanceSeconds(1);
  await t.app.services.email.runOutbox(200);
  expect(smtp.accepted(domain)).toHaveLength(1);
  expect((await rowsOf([id]))[0]).toMatchObject({ status: 'SENT', attempts: 2 });
});

test('claims whose sends all died: FAILED after EMAIL_ATTEMPTS_MAX claims, not sent', async () => {
  await drainAll();
  const domain = newDomain();
  const { id } = await account(domain);
  await raise(id);
  const { emailLeaseSeconds, emailAttemptsMax } = t.app.services.config;
  for (let claim = 1; claim <= emailAttemptsMax; claim += 1) {
    const now = t.clock.now();
    expect((await claimDue(t.database.db, now, new Date(now.getTime() + emailLeaseSeconds * 1000), 1, emailAttemptsMax)).map((r) => r.attempts)).toEqual([claim]);
    t.clock.advanceSeconds(emailLeaseSeconds);
  }
  await t.app.services.email.runOutbox(200);
  const [row] = await rowsOf([id]);
  expect(row).toMatchObject({ status: 'FAILED', attempts: emailAttemptsMax });
  expect(row.lastError).toContain(`gave up after ${emailAttemptsMax} attempts`);
  expect(smtp.received(domain)).toEqual([]);
});

async function waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
