/**
 * Batches under concurrency on PostgreSQL (issue 13): batches, atomic batches and single charges on the
 * same wallets at once, through two server instances on one database, never spend a credit twice or
 * past the balance, and the same batch sent to both instances at once charges each item once. Runs
 * only when DATABASE_URL names a PostgreSQL database.
 */
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

const suite = isPostgres() ? describe : describe.skip;

suite('charge batches on PostgreSQL (runs only with DATABASE_URL)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => { [a, b] = await Promise.all([startTestApp(), startTestApp()]); });
  afterAll(async () => { await Promise.all([a?.close(), b?.close()]); });

  const BATCH = `mutation($i: ChargeBatchInput!) { chargeBatch(input: $i) { results { transaction { id amount } error { code } } } }`;
  const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id } }`;
  type Item = { accountId: string; amount: string; idempotencyKey: string };
  type Results = { transaction: { id: string; amount: string } | null; error: { code: string } | null }[];
  const item = (accountId: string, amount = '1'): Item => ({ accountId, amount, idempotencyKey: uniqueKey('pgbatch') });

  async function batch(t: TestApp, charges: Item[], atomic = false): Promise<Results> {
    // One key for both instances: idempotency keys are scoped per API key.
    const data = await t.ok<{ chargeBatch: { results: Results } }>(BATCH, { i: { charges, atomic } }, a.adminKey);
    return data.chargeBatch.results;
  }

  async function funded(amount: string): Promise<string> {
    const id = await a.createAccount('batch race');
    await a.grant(id, amount);
    return id;
  }

  test('batches, atomic batches and single charges at once on 3 wallets of 100: exactly 100 credits leave each', async () => {
    const wallets = [await funded('100'), await funded('100'), await funded('100')];
    const work: Promise<number>[] = [];
    // 10 batches of 30 (10 per wallet), 10 atomic batches of 3 (1 per wallet), 60 single charges: 390 credits asked of 300.
    for (let i = 0; i < 10; i++) {
      const t = i % 2 === 0 ? a : b;
      work.push(batch(t, wallets.flatMap((w) => Array.from({ length: 10 }, () => item(w)))).then((r) => r.filter((x) => x.transaction).length));
      work.push(batch(t === a ? b : a, wallets.map((w) => item(w)), true).then((r) => r.filter((x) => x.transaction).length));
    }
    for (let i = 0; i < 60; i++) {
      const t = i % 2 === 0 ? a : b;
      work.push(t.gql(CHARGE, { i: item(wallets[i % 3]) }, a.adminKey).then((r) => (r.errors?.length ? 0 : 1)));
    }
    const charged = (await Promise.all(work)).reduce((s, n) => s + n, 0);
    expect(charged).toBe(300);
    for (const w of wallets) expect(await a.wallet(w)).toMatchObject({ balance: '0', held: '0' });
    expect(await a.audit()).toEqual({ ok: true, violations: [] });
  });

  test('the same batch sent to both instances at once: each item charged once, both answers the same', async () => {
    const wallets = [await funded('50'), await funded('50')];
    const charges = Array.from({ length: 40 }, (_v, i) => item(wallets[i % 2]));
    const [first, second] = await Promise.all([batch(a, charges), batch(b, charges)]);
    expect(first.every((r) => r.transaction)).toBe(true);
    expect(second.map((r) => r.transaction?.id)).toEqual(first.map((r) => r.transaction?.id));
    for (const w of wallets) expect((await a.wallet(w)).balance).toBe('30');
    // The same atomic batch twice at once: one charges, the other replays it.
    const atomic = Array.from({ length: 10 }, (_v, i) => item(wallets[i % 2]));
    const [x, y] = await Promise.all([batch(a, atomic, true), batch(b, atomic, true)]);
    expect(x.every((r) => r.transaction)).toBe(true);
    expect(y.map((r) => r.transaction?.id)).toEqual(x.map((r) => r.transaction?.id));
    for (const w of wallets) expect((await a.wallet(w)).balance).toBe('25');
    expect(await a.audit()).toEqual({ ok: true, violations: [] });
  });
});
