/**
 * Migration 0007 rebuilds the report aggregates of an existing ledger in SQL; the server writes them
 * in JavaScript (src/modules/ledger/flows.ts and the wallet session). Both must agree: a history of
 * every kind of ledger transaction is written through the API, its aggregates are kept, the tables are
 * emptied, the migration's backfill part is run again, and the rows must be the same (the plan code
 * aside: the ledger does not say which plan a wallet had, so the backfill writes '').
 * On a database of its own (a fresh PGlite, or a scratch PostgreSQL database): the backfill reads
 * the whole ledger.
 */
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { sql } from 'drizzle-orm';
import { rows } from '../../src/db/client';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

const MIGRATION = path.join(__dirname, '../../drizzle/0007_reports_aggregates.sql');

function backfillStatements(): string[] {
  const text = fs.readFileSync(MIGRATION, 'utf8');
  const part = text.slice(text.indexOf('-- backfill:start'), text.indexOf('-- backfill:end'));
  return part.split('--> statement-breakpoint').map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean);
}

let t: TestApp;
let dropScratch: (() => Promise<void>) | null = null;

beforeAll(async () => {
  let databaseUrl: string | null = null;
  if (isPostgres()) {
    const name = `credits_backfill_${process.pid}_${Date.now()}`;
    const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${name}`);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${name}`;
    databaseUrl = url.toString();
    dropScratch = async () => {
      try { await admin.unsafe(`drop database if exists ${name} with (force)`); } finally { await admin.end(); }
    };
  }
  t = await startTestApp({ databaseUrl });
});
afterAll(async () => {
  await t?.close();
  await dropScratch?.();
});

const at = (iso: string) => t.clock.set(new Date(iso));

async function charge(accountId: string, amount: string, extra: Record<string, unknown> = {}): Promise<{ id: string; status: string }> {
  const data = await t.ok<{ charge: { id: string; status: string } }>(`mutation($i: ChargeInput!) { charge(input: $i) { id status } }`, {
    i: { accountId, amount, idempotencyKey: uniqueKey('bf'), ...extra },
  });
  return data.charge;
}

const TABLES = {
  usage_daily: `select account_id, day, action, model, sum(consumed_millis) c, sum(consumed_free_millis) cf, sum(consumed_purchased_millis) cp,
      sum(transactions) n, sum(refunded_millis) r, sum(allocated_millis) al, sum(purchased_millis) pu, sum(granted_millis) g, sum(expired_millis) e,
      sum(reversed_millis) rv, sum(carried_forward_millis) cfw, sum(balance_change_millis) b, sum(debt_change_millis) d
    from usage_daily group by 1, 2, 3, 4 order by 1, 2, 3, 4`,
  usage_quarterly: `select * from usage_quarterly order by account_id, day, quarter, action, model`,
  balance_daily: `select * from balance_daily order by account_id, day`,
  model_costs_daily: `select account_id, day, vendor, model, currency, revenue::numeric::text r, vendor_cost::numeric::text c, vendor_units::numeric::text u, vendor_charges
    from model_costs_daily order by 1, 2, 3, 4, 5`,
  failures_daily: `select * from failures_daily order by account_id, day, failure_code`,
};

async function snapshot(): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [name, query] of Object.entries(TABLES)) {
    // numeric text: 1.50 and 1.5 are the same amount.
    out[name] = (await rows<Record<string, unknown>>(t.database.db, sql.raw(query))).map((r) =>
      Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'string' && /^-?\d+\.\d*0$/.test(v) ? v.replace(/\.?0+$/, '') : String(v)])));
  }
  return out;
}

test('the migration backfill rebuilds the aggregates the server writes', async () => {
  at('2041-03-01T09:07:00Z');
  const a = await t.createAccount('backfill a');
  const b = await t.createAccount('backfill b');
  await t.grant(a, '100', { source: 'PURCHASE', costPerCredit: '0.012', currency: 'USD' });
  await t.grant(a, '20', { source: 'PROMO', expiresAt: '2041-03-02T00:00:00Z' });
  await t.grant(a, '4', { source: 'PROMO', expiresAt: '2041-03-02T00:00:00Z', applicableModels: ['unused-model'] }); // expires unspent
  await t.grant(a, '5', { source: 'PLAN_ALLOWANCE' });
  await t.grant(a, '3', { source: 'ROLLOVER' });
  await t.grant(a, '2', { source: 'ADJUSTMENT' });
  at('2041-03-01T10:31:00Z');
  const vendorUsage = { vendor: 'openai', requestId: 'r1', cost: '0.0125', currency: 'USD', units: { inputTokens: 1000, outputTokens: 250 } };
  const c1 = await charge(a, '40', { action: 'text.generate', model: 'gpt-4o', vendorUsage });
  await charge(a, '7.5', { action: 'image.generate', model: 'flux', vendorUsage: { vendor: 'bfl', cost: 0.04, currency: 'EUR', units: 1 } });
  await charge(a, '1', { action: 'image.generate', model: 'flux', vendorUsage: { note: 'no cost' } });
  // A refused charge is recorded (FAILED) and answers with an error.
  expect((await t.gql(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId: a, amount: '100000', idempotencyKey: uniqueKey('bf') } })).errors).toHaveLength(1);
  await t.ok(`mutation($i: RefundInput!) { refund(input: $i) { id } }`, { i: { transactionId: c1.id, amount: '15', idempotencyKey: uniqueKey('bf-r') } });
  at('2041-03-01T23:59:59Z');
  const c2 = await charge(a, '2', { action: 'text.generate', model: 'gpt-4o' });
  await t.ok(`mutation($i: ReverseInput!) { reverseTransaction(input: $i) { id } }`, { i: { transactionId: c2.id, idempotencyKey: uniqueKey('bf-v') } });
  at('2041-03-02T00:14:00Z'); // the PROMO bucket has lapsed: the next operation expires it
  await charge(a, '0.5', { action: 'text.generate', model: 'gpt-4o' });
  // b: overdraft, debt, a grant that repays it, a reversed grant.
  await t.ok(`mutation($i: UpdateWalletInput!) { updateWallet(input: $i) { accountId } }`, { i: { accountId: b, overdraftLimit: '50' } });
  await charge(b, '30', { action: 'chat' });
  await t.grant(b, '10', { source: 'PURCHASE', costPerCredit: '0.01', currency: 'USD' });
  await t.grant(b, '40', { source: 'PROMO' });
  await charge(b, '5', { action: 'chat' });
  at('2041-03-02T12:00:00Z');
  const g = await t.grant(b, '3', { source: 'ADJUSTMENT' });
  await t.ok(`mutation($i: ReverseInput!) { reverseTransaction(input: $i) { id status } }`, { i: { transactionId: g.id, idempotencyKey: uniqueKey('bf-v') } });

  const written = await snapshot();
  const figures = JSON.stringify(written.usage_daily);
  for (const figure of ['"e":"4000"', '"rv":"3000"', '"r":"17000"', '"d":"30000"']) expect(figures).toContain(figure);
  expect(written.usage_quarterly.length).toBeGreaterThan(5);
  expect(written.model_costs_daily.length).toBeGreaterThan(1);
  expect(written.failures_daily).toHaveLength(1);

  for (const table of Object.keys(TABLES)) await t.database.db.execute(sql.raw(`delete from ${table}`));
  for (const statement of backfillStatements()) await t.database.db.execute(sql.raw(statement));
  expect(await snapshot()).toEqual(written);
});
