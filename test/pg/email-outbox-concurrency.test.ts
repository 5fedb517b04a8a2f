/**
 * The email outbox drained by two server instances at once on PostgreSQL (each its own connection
 * pool, the same database and clock), two runs each at the same time: every email reaches the SMTP
 * server (test/helpers/smtp.ts) exactly once, and is SENT once. Runs only when DATABASE_URL names a
 * PostgreSQL database; PGlite (one connection, no real concurrency) reports the suite as skipped.
 *
 * Era: the worker sends every due email of the shared database; this file's clock is in 1963, before
 * any other file's dates but test/api/email-outbox.test.ts's (1962, which leaves nothing PENDING), so it
 * finds no other file's email due. Its recipients have a domain of their own; assertions ask the SMTP
 * server about that domain only.
 */
import { inArray } from 'drizzle-orm';
import { createApp, type App } from '../../src/main';
import { openDatabase, type Database } from '../../src/db/client';
import { emailOutbox } from '../../src/db/schema';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';

const ERA = Date.UTC(1963, 4, 1, 12, 0, 0);
const ACCOUNTS = 30;
const ALERTS_PER_ACCOUNT = 2;

const suite = isPostgres() ? describe : describe.skip;

suite('PostgreSQL email outbox drained by two instances (runs only with DATABASE_URL)', () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  let secondDatabase: Database | null = null;
  let second: App | null = null;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await startTestApp({ smtpUrl: smtp.url });
    t.clock.set(new Date(ERA));
    secondDatabase = await openDatabase({ databaseUrl: process.env.DATABASE_URL!, dataDir: null, poolSize: 10 });
    second = await createApp({ config: t.app.services.config, clock: t.clock, database: secondDatabase, runJobs: false });
  });

  afterAll(async () => {
    await second?.stop();
    await secondDatabase?.close();
    await t?.close();
    await smtp?.close();
  });

  test('two instances, two runs each at once: every email is sent exactly once', async () => {
    const domain = `${uniqueKey('pgmail').toLowerCase()}.test`;
    const accounts = await Promise.all(Array.from({ length: ACCOUNTS }, async (_, i) => {
      const email = `user${i}@${domain}`;
      return { id: await t.createAccount(`outbox ${i}`, { email }), email };
    }));
    for (const { id } of accounts) {
      for (let n = 0; n < ALERTS_PER_ACCOUNT; n += 1) {
        await t.database.db.transaction((tx) => t.app.services.alerts.raise(tx, {
          accountId: id, kind: 'LOW_BALANCE', thresholdMillis: 50_000 * (n + 1), availableMillis: 10_000 * (n + 1), message: `alert ${n}`,
        }, t.clock.now()));
      }
    }
    const ids = accounts.map((a) => a.id);
    const expected = ACCOUNTS * ALERTS_PER_ACCOUNT;
    const ours = () => t.database.db.select().from(emailOutbox).where(inArray(emailOutbox.accountId, ids));
    expect((await ours()).filter((r) => r.status === 'PENDING')).toHaveLength(expected);

    const sentBy = new Map<App, number>([[t.app, 0], [second!, 0]]);
    for (let round = 0; round < 20; round += 1) {
      const apps = [t.app, second!, t.app, second!];
      const counts = await Promise.all(apps.map((app) => app.services.email.runOutbox(t.app.services.config.jobBatchSize)));
      apps.forEach((app, i) => sentBy.set(app, sentBy.get(app)! + counts[i]));
      if ((await ours()).every((r) => r.status !== 'PENDING')) break;
    }

    const rows = await ours();
    expect(rows.filter((r) => r.status === 'SENT')).toHaveLength(expected);
    expect(rows.every((r) => r.attempts === 1)).toBe(true);
    const received = smtp.received(domain);
    expect(received).toHaveLength(expected);
    expect(smtp.accepted(domain)).toHaveLength(expected);
    expect(new Set(received.map((e) => e.messageId))).toEqual(new Set(rows.map((r) => `<${r.dedupeKey.replace(':', '-')}@localhost>`)));
    // Each account got its two emails, at its own address.
    for (const { email } of accounts) expect(received.filter((e) => e.to[0] === email)).toHaveLength(ALERTS_PER_ACCOUNT);
    // Both instances took part (SKIP LOCKED let them claim different emails at the same time).
    expect(sentBy.get(t.app)).toBeGreaterThan(0);
    expect(sentBy.get(second!)).toBeGreaterThan(0);
  });
});
