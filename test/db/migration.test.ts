/**
 * The CHECK constraints of migration 0003 apply to a database that already holds a ledger written
 * under the earlier migrations, as the server does on start: open with migrations 0000–0002, write
 * every kind of row through the API, close, open again (which applies the rest), audit.
 * Today's code writes columns that migrations 0004 (plans) and 0006 (alerts) add: their SQL (0006's
 * for the tables written here) is run by hand for the writing and undone before the upgrade, which
 * then applies 0003 onwards for real (0004's data step marks wallets that had their own overdraft limit).
 * PGlite in a temporary folder; on PostgreSQL (DATABASE_URL) a scratch database created for the test.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import { openDatabase, rows } from '../../src/db/client';
import { auditLedger } from '../../src/modules/ledger/audit.service';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

const MIGRATIONS = path.join(__dirname, '../../drizzle');
const BEFORE_CHECKS = 3; // 0000_init … 0002_quote_expiry_index
const PLANS_MIGRATION = '0004_plans_and_periods';
const UNDO_PLANS_MIGRATION = `drop table subscription_periods, subscriptions, plan_versions, plans;
  alter table wallets drop column overdraft_limit_own, drop column low_credit_thresholds_own, drop column plan_code,
    drop column plan_tier, drop column plan_models, drop column plan_actions, drop column plan_renews_at;`;

const ALERTS_MIGRATION = '0006_alerts_forecasts_outbox';
/** 0006's statements on the tables this test writes (0005's tables are not there yet). */
const ALERTS_STATEMENTS = /^(ALTER TABLE "(accounts|wallets|plan_versions)" ADD COLUMN|CREATE TABLE "usage_daily")/;
const UNDO_ALERTS_MIGRATION = `drop table usage_daily;
  alter table accounts drop column email;
  alter table wallets drop column low_credit_threshold_percents, drop column low_credit_threshold_percents_own, drop column low_credit_fired,
    drop column run_out_soon_fired, drop column plan_allowance_millis;`;

const REPORTS_MIGRATION = '0007_reports_aggregates';
/** 0007's statements on the tables the ledger writes (usage_daily takes its new shape); its backfill runs at the upgrade. */
const REPORTS_STATEMENTS = /^(DROP TABLE "usage_daily"|CREATE TABLE "(usage_daily|usage_quarterly|balance_daily|model_costs_daily|failures_daily)")/;
const UNDO_REPORTS_MIGRATION = 'drop table usage_quarterly, balance_daily, model_costs_daily, failures_daily;';

const TEAMS_MIGRATION = '0009_teams_partners_reviews';
/** 0009's new columns on the tables this test writes. */
const TEAMS_STATEMENTS = /^ALTER TABLE "(api_keys|accounts|wallets|holds|ledger_transactions|plan_versions)" ADD COLUMN/;
const UNDO_TEAMS_MIGRATION = `alter table api_keys drop column partner;
  alter table accounts drop column partner;
  alter table holds drop column member_id;
  alter table ledger_transactions drop column member_id;
  alter table plan_versions drop column velocity_multiplier, drop column velocity_floor_millis, drop column fingerprint_repeats,
    drop column fingerprint_window_minutes, drop column requests_per_minute;
  alter table wallets drop column review_id, drop column velocity_hour_start, drop column velocity_hour_millis,
    drop column velocity_baseline_millis, drop column velocity_baseline_hour, drop column recent_fingerprints;`;

/** Runs SQL statements (separated by drizzle's breakpoints or by semicolons at line ends) outside the migrator. */
async function runStatements(database: Awaited<ReturnType<typeof openDatabase>>, text: string, only: RegExp | null = null): Promise<void> {
  const statements = text.split(/--> statement-breakpoint|;\s*\n/).map((part) => part.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean);
  for (const statement of statements) if (!only || only.test(statement)) await database.db.execute(sql.raw(statement));
}

let tmp: string;
let scratchUrl: string | null = null;
let dropScratch: (() => Promise<void>) | null = null;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-migration-'));
  if (isPostgres()) {
    const name = `credits_migration_${process.pid}_${Date.now()}`;
    const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`create database ${name}`);
    } catch (error) {
      await admin.end();
      throw error;
    }
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${name}`;
    scratchUrl = url.toString();
    dropScratch = async () => {
      try { await admin.unsafe(`drop database if exists ${name} with (force)`); } finally { await admin.end(); }
    };
  }
});
afterAll(async () => {
  await dropScratch?.();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** A copy of drizzle/ that stops before migration `count`. */
function earlierMigrations(count: number): string {
  const folder = path.join(tmp, 'drizzle');
  fs.mkdirSync(path.join(folder, 'meta'), { recursive: true });
  const journal = JSON.parse(fs.readFileSync(path.join(MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as { entries: { idx: number; tag: string }[] };
  journal.entries = journal.entries.filter((e) => e.idx < count);
  for (const e of journal.entries) fs.copyFileSync(path.join(MIGRATIONS, `${e.tag}.sql`), path.join(folder, `${e.tag}.sql`));
  fs.writeFileSync(path.join(folder, 'meta', '_journal.json'), JSON.stringify(journal));
  return folder;
}

test('migration 0003 applies on a ledger written under the earlier migrations', async () => {
  const target = { databaseUrl: scratchUrl, dataDir: scratchUrl ? null : path.join(tmp, 'data') };
  const before = await openDatabase({ ...target, migrationsFolder: earlierMigrations(BEFORE_CHECKS) });
  let app: TestApp | null = null;
  let written: Awaited<ReturnType<typeof auditLedger>>;
  try {
    const [checksBefore] = await rows<{ n: string }>(before.db, sql`select count(*)::text as n from pg_constraint where contype = 'c' and connamespace = 'public'::regnamespace`);
    expect(checksBefore.n).toBe('0');

    await runStatements(before, fs.readFileSync(path.join(MIGRATIONS, `${PLANS_MIGRATION}.sql`), 'utf8'));
    await runStatements(before, fs.readFileSync(path.join(MIGRATIONS, `${ALERTS_MIGRATION}.sql`), 'utf8'), ALERTS_STATEMENTS);
    await runStatements(before, fs.readFileSync(path.join(MIGRATIONS, `${REPORTS_MIGRATION}.sql`), 'utf8'), REPORTS_STATEMENTS);
    await runStatements(before, fs.readFileSync(path.join(MIGRATIONS, `${TEAMS_MIGRATION}.sql`), 'utf8'), TEAMS_STATEMENTS);
    // Every closed-set value the API can write, debt, full and empty buckets.
    const t = await startTestApp({}, { database: before });
    app = t;
    for (const role of ['SERVICE', 'READONLY'] as const) await t.key(role);
    const team = await t.createAccount('team', { kind: 'TEAM', overdraftLimit: '5' });
    const user = await t.createAccount('user');
    for (const source of ['PLAN_ALLOWANCE', 'PURCHASE', 'PROMO', 'ROLLOVER', 'REFUND', 'ADJUSTMENT']) await t.grant(user, '2', { source });
    const charge = async (accountId: string, amount: string) =>
      (await t.ok<{ charge: { id: string } }>(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId, amount, idempotencyKey: uniqueKey('charge') } })).charge;
    const reserve = async (amount: string) =>
      (await t.ok<{ reserveCredits: { id: string } }>(`mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`, { i: { accountId: user, amount, idempotencyKey: uniqueKey('hold') } })).reserveCredits;
    const charged = await charge(user, '3');
    await t.ok(`mutation($i: RefundInput!) { refund(input: $i) { id } }`, { i: { transactionId: charged.id, amount: '1', idempotencyKey: uniqueKey('refund') } });
    await t.ok(`mutation($i: ReverseInput!) { reverseTransaction(input: $i) { id } }`, { i: { transactionId: (await charge(user, '1')).id, idempotencyKey: uniqueKey('reverse') } });
    await t.fails(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId: user, amount: '1000', idempotencyKey: uniqueKey('too-much') } });
    await t.ok(`mutation($i: CaptureInput!) { captureHold(input: $i) { id } }`, { i: { holdId: (await reserve('1')).id, idempotencyKey: uniqueKey('capture') } });
    await t.ok(`mutation($i: ReleaseInput!) { releaseHold(input: $i) { id } }`, { i: { holdId: (await reserve('1')).id, idempotencyKey: uniqueKey('release') } });
    await reserve('1');
    await charge(team, '3'); // into overdraft: debt
    await t.grant(team, '1'); // repays part of the debt
    const draftId = (await t.ok<{ createRateCardDraft: { id: string } }>(`mutation { createRateCardDraft(input: { name: "v1", empty: true }) { id } }`)).createRateCardDraft.id;
    await t.ok(`mutation($id: ID!) { publishRateCard(draftId: $id) { version } }`, { id: draftId });
    await t.ok(`mutation { createRateCardDraft(input: { name: "v2" }) { id } }`);
    written = await auditLedger(before.db);
    expect(written).toMatchObject({ ok: true, walletsChecked: 2 });
    await runStatements(before, UNDO_TEAMS_MIGRATION);
    await runStatements(before, UNDO_REPORTS_MIGRATION);
    await runStatements(before, UNDO_ALERTS_MIGRATION);
    await runStatements(before, UNDO_PLANS_MIGRATION);
  } finally {
    // The app closes `before`; if it never started, close `before` here (a failure must not leave it open).
    if (app) await app.close();
    else await before.close();
  }

  const after = await openDatabase(target); // applies the remaining migrations, as the server does on start
  try {
    const checks = await rows<{ conname: string }>(after.db, sql`select conname from pg_constraint where contype = 'c' and connamespace = 'public'::regnamespace order by conname`);
    expect(checks.map((c) => c.conname)).toEqual([
      'accounts_kind_check', 'admin_alerts_kind_check', 'alerts_kind_check', 'api_keys_role_check', 'auto_top_ups_target_check', 'buckets_remaining_check',
      'buckets_source_check', 'credit_packs_amounts_check', 'email_outbox_status_check', 'holds_status_check',
      'ledger_entries_kind_check', 'ledger_transactions_status_check', 'ledger_transactions_type_check', 'member_usage_quarterly_quarter_check',
      'payment_events_outcome_check',
      'plan_versions_amounts_check', 'plan_versions_cap_check', 'plan_versions_interval_check', 'plan_versions_rollover_check',
      'purchases_amounts_check', 'purchases_kind_check', 'purchases_status_check',
      'rate_cards_status_check', 'reviews_rule_check', 'reviews_status_check', 'subscription_periods_kind_check', 'subscriptions_status_check',
      'team_members_budget_check', 'team_members_role_check', 'usage_quarterly_quarter_check',
      'vendor_reconciliation_rows_status_check', 'wallets_debt_check',
    ]);
    expect(await auditLedger(after.db)).toEqual(written);
    const own = await rows<{ overdraft: string; own: boolean }>(after.db, sql`select overdraft_limit_millis::text as overdraft, overdraft_limit_own as own from wallets order by overdraft_limit_millis`);
    expect(own).toEqual([{ overdraft: '0', own: false }, { overdraft: '5000', own: true }]);
    // 0007 rebuilt the report aggregates from that ledger: each wallet's balance changes add up to its balance.
    const balances = await rows<{ flows: string; last: string; consumed: string }>(after.db, sql`
      select (select sum(balance_change_millis) from usage_daily u where u.account_id = w.account_id)::text as flows,
        (select balance_after_millis from ledger_transactions t where t.account_id = w.account_id and t.status = 'SUCCEEDED' order by sequence desc limit 1)::text as last,
        (select sum(consumed_millis) from usage_daily u where u.account_id = w.account_id)::text as consumed
      from wallets w order by w.account_id`);
    expect(balances).toHaveLength(2);
    for (const b of balances) expect(b.flows).toBe(b.last);
    expect(balances.map((b) => b.consumed).sort()).toEqual(['3000', '5000']) // team: 3; user: 3 + 1 + a capture of 1;
  } finally {
    await after.close();
  }
});
