/**
 * The database itself refuses rows that break what the ledger promises (CHECK constraints of
 * src/db/schema.ts), and the audit still reports such a row when one gets in anyway.
 */
import { sql, type SQL } from 'drizzle-orm';
import { rows, type Tx } from '../../src/db/client';
import { auditLedger, type AuditResult } from '../../src/modules/ledger/audit.service';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

/**
 * Runs a statement that must be refused; returns the name of the CHECK constraint that refused it.
 * It runs in a transaction that is rolled back, so a missing constraint never leaves the bad row behind.
 */
async function refusedBy(statement: SQL): Promise<string> {
  try {
    await t.database.db.transaction(async (tx) => {
      await tx.execute(statement);
      throw new Rollback();
    });
  } catch (error) {
    if (error instanceof Rollback) throw new Error('the database accepted a row its constraints should refuse', { cause: error });
    const cause = ((error as { cause?: unknown }).cause ?? error) as { code?: string; message?: string };
    expect(cause.code).toBe('23514'); // check_violation
    return /violates check constraint "([^"]+)"/.exec(cause.message ?? '')?.[1] ?? `no constraint named in: ${cause.message}`;
  }
  throw new Error('unreachable: the transaction always ends in an error');
}

class Rollback extends Error {}

/** Runs `fn` in a database transaction that is always rolled back, and returns what it returned. */
async function inUndoneTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  let result: T | undefined;
  await expect(t.database.db.transaction(async (tx) => {
    result = await fn(tx);
    throw new Rollback();
  })).rejects.toBeInstanceOf(Rollback);
  return result as T;
}

/** A wallet with a bucket, a charge (with a bucket entry) and an active hold. */
async function walletWithHold() {
  const accountId = await t.createAccount();
  const grant = await t.grant(accountId, '10');
  await t.ok(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId, amount: '2', idempotencyKey: uniqueKey('charge') } });
  const hold = (await t.ok<{ reserveCredits: { id: string } }>(`mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`,
    { i: { accountId, amount: '1', idempotencyKey: uniqueKey('hold') } })).reserveCredits;
  return { accountId, bucketId: grant.entries[0].bucketId, transactionId: grant.id, holdId: hold.id };
}

test('bucket remaining stays between 0 and its amount; debt never goes below 0', async () => {
  const { accountId, bucketId } = await walletWithHold();
  expect(await refusedBy(sql`update buckets set remaining_millis = amount_millis + 1 where id = ${bucketId}`)).toBe('buckets_remaining_check');
  expect(await refusedBy(sql`update buckets set remaining_millis = -1 where id = ${bucketId}`)).toBe('buckets_remaining_check');
  expect(await refusedBy(sql`update wallets set debt_millis = -1 where account_id = ${accountId}`)).toBe('wallets_debt_check');
  // The bounds themselves are allowed (a full and an empty bucket), inside a transaction that is then undone.
  await inUndoneTransaction(async (tx) => {
    await tx.execute(sql`update buckets set remaining_millis = amount_millis where id = ${bucketId}`);
    await tx.execute(sql`update buckets set remaining_millis = 0 where id = ${bucketId}`);
  });
  expect(await t.audit()).toEqual({ ok: true, violations: [] });
});

test('type, status, source, kind and role columns hold only their closed sets', async () => {
  const { accountId, bucketId, transactionId, holdId } = await walletWithHold();
  const refusals = {
    buckets_source_check: sql`update buckets set source = 'GIFT' where id = ${bucketId}`,
    ledger_transactions_type_check: sql`update ledger_transactions set type = 'grant' where id = ${transactionId}`,
    ledger_transactions_status_check: sql`update ledger_transactions set status = 'PENDING' where id = ${transactionId}`,
    ledger_entries_kind_check: sql`update ledger_entries set kind = 'HOLD' where transaction_id = ${transactionId}`,
    holds_status_check: sql`update holds set status = 'OPEN' where id = ${holdId}`,
    accounts_kind_check: sql`update accounts set kind = 'ORG' where id = ${accountId}`,
    api_keys_role_check: sql`update api_keys set role = 'ROOT' where secret_hash is not null`,
    rate_cards_status_check: sql`insert into rate_cards (id, status, name, content, created_at)
      values (gen_random_uuid(), 'ARCHIVED', 'bad', '{}'::jsonb, now())`,
  };
  for (const [constraint, statement] of Object.entries(refusals)) {
    expect(await refusedBy(statement)).toBe(constraint);
  }
});

// The constraint now forbids the rows the audit looks for, so the test removes it inside a database
// transaction, writes the bad row, runs the audit's queries in that same transaction (which sees the
// row), and rolls everything back: the shared PostgreSQL test database never holds the bad row or
// lacks the constraint for other connections (they wait on the table lock for that moment).
test('the audit reports a bucket above its amount or below zero', async () => {
  const { bucketId } = await walletWithHold();
  const auditWith = (remaining: SQL) => inUndoneTransaction(async (tx): Promise<AuditResult> => {
    await tx.execute(sql`alter table buckets drop constraint buckets_remaining_check`);
    await tx.execute(sql`update buckets set remaining_millis = ${remaining} where id = ${bucketId}`);
    return auditLedger(tx);
  });
  const above = await auditWith(sql`amount_millis + 1`);
  expect(above.ok).toBe(false);
  expect(above.violations).toContain(`no bucket below zero or above its amount: bucket ${bucketId}: remaining 10001 is outside 0..10000`);
  const below = await auditWith(sql`-1`);
  expect(below.violations).toContain(`no bucket below zero or above its amount: bucket ${bucketId}: remaining -1 is outside 0..10000`);

  // Rolled back: the constraint is there again and the ledger is clean.
  const [constraint] = await rows<{ n: string }>(t.database.db, sql`select count(*)::text as n from pg_constraint where conname = 'buckets_remaining_check'`);
  expect(constraint.n).toBe('1');
  expect(await t.audit()).toEqual({ ok: true, violations: [] });
});
