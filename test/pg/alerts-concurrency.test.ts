/**
 * Low-credit levels under concurrency on PostgreSQL: two server instances (each its own pool, the same
 * database) charge one wallet across its levels at the same time. The fired state lives on the wallet
 * row the charges lock, so each level alerts exactly once whatever the interleaving, and the alerts
 * agree with the ledger. Runs only when DATABASE_URL names a PostgreSQL database.
 *
 * No job runs and the clock stays at today's date: nothing of another file is touched.
 */
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

const suite = isPostgres() ? describe : describe.skip;

suite('PostgreSQL low-credit alerts with two instances (runs only with DATABASE_URL)', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    a = await startTestApp();
    b = await startTestApp();
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  const charge = (t: TestApp, accountId: string, amount: string) =>
    t.gql(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId, amount, idempotencyKey: uniqueKey('pg-lvl') } });

  async function alertsOf(accountId: string) {
    const data = await a.ok<{ alerts: { edges: { node: { kind: string; threshold: string | null; transactionId: string } }[] } }>(
      `query($id: ID!) { alerts(accountId: $id, first: 100) { edges { node { kind threshold transactionId } } } }`, { id: accountId },
    );
    return data.alerts.edges.map((e) => e.node);
  }

  test('40 charges from two instances at once across two levels and zero: each level alerts exactly once', async () => {
    for (let round = 0; round < 5; round += 1) {
      const accountId = await a.createAccount('two instances, one wallet');
      await a.ok(`mutation($i: UpdateWalletInput!) { updateWallet(input: $i) { accountId } }`, { i: { accountId, lowCreditThresholds: ['300', '100'] } });
      await a.grant(accountId, '400');
      // 40 × 10 credits = 400: crosses 300, 100 and reaches 0, whatever the order
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => charge(i % 2 === 0 ? a : b, accountId, '10')));
      expect(results.filter((r) => r.errors)).toEqual([]);
      const alerts = await alertsOf(accountId);
      expect(alerts.map((x) => `${x.kind}@${x.threshold}`).sort()).toEqual(['DEPLETED@0', 'LOW_BALANCE@100', 'LOW_BALANCE@300']);
      // each alert names the charge that crossed its level: the one that left `available` at or below it first
      const history = await a.history(accountId);
      for (const alert of alerts) {
        const crossing = history.find((x) => x.id === alert.transactionId)!;
        expect(crossing.type).toBe('CHARGE');
        const level = Number(alert.threshold);
        expect(Number(crossing.balanceAfter)).toBeLessThanOrEqual(level);
        expect(Number(crossing.balanceAfter) + 10).toBeGreaterThan(level);
      }
    }
    expect(await a.audit()).toEqual({ ok: true, violations: [] });
  });
});
