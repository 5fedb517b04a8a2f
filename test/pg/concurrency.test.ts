/**
 * Concurrency on PostgreSQL: many connections at once on the same wallets, through the real HTTP
 * GraphQL layer. Runs only when DATABASE_URL names a PostgreSQL database; PGlite (one connection,
 * no real concurrency) reports the suite as skipped.
 */
import { createApp, type App } from '../../src/main';
import { openDatabase, type Database } from '../../src/db/client';
import {
  ChargeDocument, CreditsApiError, GrantCreditsDocument, TransactionsDocument, WalletDocument, type ChargeInput, type TransactionFieldsFragment,
  type TransactionFilter, type TransactionsQuery,
} from '../../src/client';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

/** Every transaction of a wallet (newest first), paging through; bounded. */
async function history(t: TestApp, accountId: string, filter: TransactionFilter = {}): Promise<TransactionFieldsFragment[]> {
  const all: TransactionFieldsFragment[] = [];
  let after: string | null = null;
  for (let page = 0; page < 100; page += 1) {
    const { transactions }: TransactionsQuery = await t.op(TransactionsDocument, { accountId, first: 100, after, filter });
    all.push(...transactions.edges.map((e) => e.node));
    if (!transactions.pageInfo.hasNextPage) return all;
    after = transactions.pageInfo.endCursor;
  }
  throw new Error('history longer than 10,000 transactions');
}

const wallet = async (t: TestApp, accountId: string) => (await t.op(WalletDocument, { accountId })).wallet;
/** Charges; a refusal is returned rather than thrown. */
const charge = (t: TestApp, input: ChargeInput) => t.op(ChargeDocument, { input }).then((data) => data.charge, (error: unknown) => {
  if (error instanceof CreditsApiError) return error;
  throw error;
});

const suite = isPostgres() ? describe : describe.skip;

suite('PostgreSQL concurrency (runs only with DATABASE_URL)', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp(); });
  afterAll(async () => { await t?.close(); });

  test('200 concurrent charges of 1 on a wallet of 100: exactly 100 succeed, 100 are refused, balance 0', async () => {
    const accountId = await t.createAccount('race');
    await t.grant(accountId, '100');
    const results = await Promise.all(Array.from({ length: 200 }, () =>
      charge(t, { accountId, amount: '1', idempotencyKey: uniqueKey('race') })));

    const succeeded = results.flatMap((r) => (!(r instanceof CreditsApiError) && r.status === 'SUCCEEDED' ? [r] : []));
    const refused = results.filter((r) => r instanceof CreditsApiError && r.code === 'INSUFFICIENT_CREDITS');
    const other = results.filter((r) => (r instanceof CreditsApiError ? r.code !== 'INSUFFICIENT_CREDITS' : r.status !== 'SUCCEEDED'));
    expect(other).toEqual([]);
    expect(succeeded).toHaveLength(100);
    expect(refused).toHaveLength(100);
    // Each success saw a distinct balance and sequence: the wallet lock serialized them.
    const balances = succeeded.map((r) => Number(r.balanceAfter)).sort((a, b) => a - b);
    expect(balances).toEqual(Array.from({ length: 100 }, (_, i) => i));
    const sequences = succeeded.map((r) => r.sequence).sort((a, b) => (a ?? 0) - (b ?? 0));
    expect(sequences).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));

    expect(await wallet(t, accountId)).toMatchObject({ balance: '0', available: '0', held: '0', debt: '0', sequence: 101 });
    const charges = await history(t, accountId, { types: ['CHARGE'] });
    expect(charges.filter((c) => c.status === 'SUCCEEDED')).toHaveLength(100);
    expect(charges.filter((c) => c.status === 'FAILED')).toHaveLength(100);
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('20 concurrent requests with one idempotency key: one effect, identical responses', async () => {
    const accountId = await t.createAccount('same key');
    await t.grant(accountId, '50');
    const idempotencyKey = uniqueKey('same');
    const results = await Promise.all(Array.from({ length: 20 }, () =>
      t.op(ChargeDocument, { input: { accountId, amount: '3', idempotencyKey } })));

    const first = results[0].charge;
    expect(first).toMatchObject({ type: 'CHARGE', status: 'SUCCEEDED', amount: '-3', balanceAfter: '47', sequence: 2, idempotencyKey });
    for (const r of results) expect(r.charge).toEqual(first);

    expect(await wallet(t, accountId)).toMatchObject({ balance: '47', sequence: 2 });
    const charges = await history(t, accountId, { types: ['CHARGE'] });
    expect(charges.map((c) => c.id)).toEqual([first.id]);
    // A different request under the same key is refused, concurrently or not.
    const reused = await t.opFails(ChargeDocument, { input: { accountId, amount: '4', idempotencyKey } });
    expect(reused.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('charges on several wallets interleaved with grants: no deadlock, sums add up, audit clean', async () => {
    const walletCount = 6;
    const accounts = await Promise.all(Array.from({ length: walletCount }, (_, i) => t.createAccount(`mix ${i}`)));
    await Promise.all(accounts.map((id) => t.grant(id, '1000')));
    const expected = new Map(accounts.map((id) => [id, 1000_000])); // millis
    const posted = new Map(accounts.map((id) => [id, 1]));
    // Deterministic pseudo-random interleaving: 360 charges and 40 grants, all in flight together.
    let seed = 12345;
    const next = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
    const ops: (() => Promise<unknown>)[] = [];
    for (let i = 0; i < 400; i += 1) {
      const accountId = accounts[next() % walletCount];
      if (i % 10 === 7) {
        const millis = 1000 * (1 + (next() % 20));
        expected.set(accountId, expected.get(accountId)! + millis);
        posted.set(accountId, posted.get(accountId)! + 1);
        ops.push(() => t.op(GrantCreditsDocument, { input: { accountId, amount: String(millis / 1000), source: 'PURCHASE', idempotencyKey: uniqueKey('mix-grant') } }));
      } else {
        const millis = 1 + (next() % 5000);
        expected.set(accountId, expected.get(accountId)! - millis);
        posted.set(accountId, posted.get(accountId)! + 1);
        ops.push(() => t.op(ChargeDocument, { input: { accountId, amount: (millis / 1000).toFixed(3), idempotencyKey: uniqueKey('mix') } }));
      }
    }
    const results = await Promise.allSettled(ops.map((op) => op()));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(failed).toEqual([]);

    for (const accountId of accounts) {
      const found = await wallet(t, accountId);
      expect(Math.round(Number(found?.balance) * 1000)).toBe(expected.get(accountId));
      expect(found?.sequence).toBe(posted.get(accountId));
    }
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('two server instances running the expiry job at once write each EXPIRE exactly once', async () => {
    // A second instance on the same PostgreSQL database, sharing the test clock.
    const second: Database = await openDatabase({ databaseUrl: process.env.DATABASE_URL!, dataDir: null, poolSize: 10 });
    let other: App | null = null;
    try {
      other = await createApp({ config: t.app.services.config, clock: t.clock, database: second, runJobs: false });
      await other.listen(0);
      const accounts = await Promise.all(Array.from({ length: 30 }, (_, i) => t.createAccount(`expiry ${i}`)));
      // Expiring 1 s after the (frozen) test clock, so the job, run at now + 2 s, touches almost
      // nothing else in a database other tests share.
      const expiresAt = new Date(t.clock.now().getTime() + 1000).toISOString();
      await Promise.all(accounts.map(async (id, i) => {
        await t.grant(id, String(10 + i), { expiresAt, source: 'PROMO' });
        await t.grant(id, '5'); // never expires
        await t.op(ChargeDocument, { input: { accountId: id, amount: '1', idempotencyKey: uniqueKey('pre') } }); // burns the PROMO bucket first
      }));
      t.clock.advanceSeconds(2);

      // Both instances, two job runs each, all at the same time; repeat until nothing is left (bounded).
      const instances = [t.app, other];
      for (let round = 0; round < 20; round += 1) {
        const settled = await Promise.all([...instances, ...instances].map((a) => a.services.ledger.runExpiry()));
        if (settled.every((n) => n === 0)) break;
      }

      for (const [i, id] of accounts.entries()) {
        const expires = (await history(t, id)).filter((x) => x.type === 'EXPIRE');
        expect(expires).toHaveLength(1);
        expect(expires[0]).toMatchObject({ status: 'SUCCEEDED', amount: String(-(10 + i - 1)), actor: 'system:expiry', sequence: 4 });
        expect(await wallet(t, id)).toMatchObject({ balance: '5', sequence: 4 });
      }
      // Running the job again on either instance finds nothing more to do for these wallets.
      await Promise.all(instances.map((a) => a.services.ledger.runExpiry()));
      for (const id of accounts.slice(0, 3)) expect((await history(t, id)).filter((x) => x.type === 'EXPIRE')).toHaveLength(1);
      expect(await t.audit()).toEqual({ ok: true, violations: [] });
    } finally {
      await other?.stop();
      await second.close();
    }
  });
});

if (!isPostgres()) {
  test.skip('PostgreSQL concurrency tests need DATABASE_URL (skipped on PGlite)', () => {});
}
