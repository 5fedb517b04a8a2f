/**
 * Prepared statements on PostgreSQL (src/db/prepared-statements.ts): the charge path's statements run
 * prepared (postgres.js keeps them per connection), texts that vary with their data never are, and a
 * batch of charges on many wallets is as correct prepared as it was unprepared. Runs only with
 * DATABASE_URL; the rule itself is checked on any database.
 */
import { sql } from 'drizzle-orm';
import { rows } from '../../src/db/client';
import { PREPARED_TEXTS_MAX, preparable, preparedTextCount } from '../../src/db/prepared-statements';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

describe('which texts are prepared', () => {
  test('fixed texts are; an in-list of two or more and multi-row values are not', () => {
    expect(preparable('select "id" from "wallets" where "account_id" = $1')).toBe(true);
    expect(preparable('select "id" from "wallets" where "account_id" = any($1::uuid[])')).toBe(true);
    expect(preparable('select "id" from "wallets" where "account_id" in ($1)')).toBe(true);
    expect(preparable('select "id" from "wallets" where "account_id" in ($1, $2)')).toBe(false);
    expect(preparable('insert into "holds" ("id", "amount") values ($1, $2), ($3, $4)')).toBe(false);
    expect(preparable('insert into "holds" ("id", "amount") values ($1, $2)')).toBe(true);
    expect(preparedTextCount()).toBeLessThanOrEqual(PREPARED_TEXTS_MAX);
  });
});

const suite = isPostgres() ? describe : describe.skip;

suite('the charge path on PostgreSQL (runs only with DATABASE_URL)', () => {
  let t: TestApp;
  // One connection: pg_prepared_statements shows that session's statements, the ones the charges ran.
  beforeAll(async () => { t = await startTestApp({ databasePoolSize: 1 }); });
  afterAll(async () => { await t?.close(); });

  test('charges run prepared statements, one text per statement whatever the batch size', async () => {
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => t.createAccount(`prepared ${i}`)));
    for (const id of ids) await t.grant(id, '100');
    // Concurrent charges on several wallets coalesce into batches of different sizes.
    for (let round = 0; round < 3; round += 1) {
      await Promise.all(ids.slice(0, round * 2 + 2).map((accountId) => t.ok(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`,
        { i: { accountId, amount: '1', idempotencyKey: uniqueKey('prep') } })));
    }
    const prepared = await rows<{ statement: string }>(t.database.db, sql`select statement from pg_prepared_statements`);
    const texts = prepared.map((r) => r.statement);
    expect(texts.some((s) => s.startsWith('select') && s.includes('"wallets"') && s.includes('for update'))).toBe(true);
    expect(texts.some((s) => s.includes('insert into "ledger_transactions"'))).toBe(true);
    expect(texts.some((s) => s.includes('insert into "idempotency_keys"'))).toBe(true);
    expect(texts.filter((s) => /\bin \(\$\d+, |\), \(/i.test(s))).toEqual([]);
    expect(new Set(texts).size).toBe(texts.length);
    // The money is right: 100 granted, one charge of 1 per round a wallet took part in.
    for (const [i, id] of ids.entries()) {
      const charged = [0, 1, 2].filter((round) => i < round * 2 + 2).length;
      expect((await t.wallet(id)).balance).toBe(String(100 - charged));
    }
  });
});
