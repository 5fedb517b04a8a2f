/**
 * Purchases under concurrency on PostgreSQL, over real HTTP: the same webhook event delivered 20 times
 * at once, 20 different success events for one purchase at once, and a purchase confirmed while the
 * same wallet is charged in parallel. Runs only when DATABASE_URL names a PostgreSQL database; PGlite
 * (one connection, no real concurrency) reports the suite as skipped.
 *
 * No job runs here and the clock stays at today's date: nothing of another file is touched.
 */
import { ChargeDocument, CreditsApiError, TransactionsDocument, type TransactionFieldsFragment, type TransactionsQuery } from '../../src/client';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { purchaseSteps, WEBHOOK_SECRET } from '../helpers/purchases';

const suite = isPostgres() ? describe : describe.skip;

suite('PostgreSQL purchase webhooks under concurrency (runs only with DATABASE_URL)', () => {
  let t: TestApp;
  const steps = purchaseSteps(() => t);

  beforeAll(async () => { t = await startTestApp({ paymentWebhookSecret: WEBHOOK_SECRET }); });
  afterAll(async () => { await t?.close(); });

  /** Every transaction of a wallet, newest first (paged; bounded). */
  async function history(accountId: string): Promise<TransactionFieldsFragment[]> {
    const all: TransactionFieldsFragment[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page += 1) {
      const { transactions }: TransactionsQuery = await t.op(TransactionsDocument, { accountId, first: 100, after });
      all.push(...transactions.edges.map((e) => e.node));
      if (!transactions.pageInfo.hasNextPage) return all;
      after = transactions.pageInfo.endCursor;
    }
    throw new Error('history longer than 2,000 transactions');
  }

  /** The committed transactions' sequences are 1..n with no gap and no repeat. */
  function expectGapFree(transactions: TransactionFieldsFragment[], walletSequence: number | null | undefined) {
    const sequences = transactions.flatMap((x) => (x.sequence === null || x.sequence === undefined ? [] : [x.sequence])).sort((a, b) => a - b);
    expect(sequences).toEqual(Array.from({ length: sequences.length }, (_, i) => i + 1));
    expect(walletSequence).toBe(sequences.length);
  }

  test('20 concurrent deliveries of one event: one PURCHASE grant, every delivery answered 200', async () => {
    const accountId = await t.createAccount('one event, twenty deliveries');
    const pack = await steps.createPack({ credits: '250', price: { amount: '25.00', currency: 'USD' } });
    const purchase = await steps.buy(accountId, { packCode: pack.code });
    const body = JSON.stringify(steps.event(purchase, 'payment.succeeded', uniqueKey('evt-same')));

    const answers = await Promise.all(Array.from({ length: 20 }, () => steps.deliver(body)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const outcomes = answers.map((a) => a.body.outcome);
    expect(outcomes.filter((o) => o === 'APPLIED')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'IGNORED')).toHaveLength(19);

    const paid = await steps.purchase(purchase.id);
    expect(paid).toMatchObject({ status: 'SUCCEEDED', transaction: { type: 'PURCHASE', amount: '250' } });
    expect(paid.events).toEqual([expect.objectContaining({ type: 'payment.succeeded', outcome: 'APPLIED' })]);
    const transactions = await history(accountId);
    expect(transactions.filter((x) => x.type === 'PURCHASE')).toHaveLength(1);
    const wallet = await t.wallet(accountId);
    expect(wallet).toMatchObject({ balance: '250', available: '250', debt: '0', sequence: 1 });
    expect(wallet.buckets).toEqual([expect.objectContaining({ source: 'PURCHASE', amount: '250', remaining: '250', costPerCredit: '0.1', currency: 'USD' })]);
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('20 different success events for one purchase at once: one grant, the others recorded as already paid', async () => {
    const accountId = await t.createAccount('twenty events');
    const pack = await steps.createPack({ credits: '40', price: { amount: '4.00', currency: 'USD' } });
    const purchase = await steps.buy(accountId, { packCode: pack.code });

    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => steps.deliver(steps.event(purchase, 'payment.succeeded', uniqueKey(`evt-${i}`)))));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.filter((a) => a.body.outcome === 'APPLIED')).toHaveLength(1);
    expect(answers.filter((a) => a.body.outcome === 'IGNORED' && a.body.reason === 'the purchase is already paid')).toHaveLength(19);

    const paid = await steps.purchase(purchase.id);
    expect(paid).toMatchObject({ status: 'SUCCEEDED', transaction: { type: 'PURCHASE', amount: '40' } });
    expect(paid.events).toHaveLength(20);
    expect(paid.events.filter((e) => e.outcome === 'APPLIED')).toHaveLength(1);
    expect((await history(accountId)).filter((x) => x.type === 'PURCHASE')).toHaveLength(1);
    expect(await t.wallet(accountId)).toMatchObject({ balance: '40', sequence: 1 });
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('a purchase confirmed while 50 charges hit the same wallet: balance = start + pack − charged, audit clean, sequences gap-free', async () => {
    // 10 credits and an overdraft of 20: before the purchase lands at most 30 charges fit; after it, all 50 do.
    const accountId = await t.createAccount('charged while buying', { overdraftLimit: '20' });
    await t.grant(accountId, '10');
    const pack = await steps.createPack({ credits: '100', price: { amount: '10.00', currency: 'USD' } });
    const purchase = await steps.buy(accountId, { packCode: pack.code });
    const body = JSON.stringify(steps.event(purchase, 'payment.succeeded', uniqueKey('evt-race')));

    const charge = () => t.op(ChargeDocument, { input: { accountId, amount: '1', idempotencyKey: uniqueKey('race-charge') } })
      .then((data) => data.charge, (error: unknown) => {
        if (error instanceof CreditsApiError) return error;
        throw error;
      });
    // A stream of charges, 8 at a time; the webhook (and duplicate deliveries of it) goes out once 12 are done,
    // after they took the wallet into its overdraft, so it lands among the others.
    let done = 0;
    let fire: () => void = () => undefined;
    const fired = new Promise<void>((resolve) => { fire = resolve; });
    let started = 0;
    const results: Awaited<ReturnType<typeof charge>>[] = [];
    const worker = async () => {
      while (started < 50) {
        started += 1;
        results.push(await charge());
        if (++done === 12) fire();
      }
    };
    const work = Promise.all(Array.from({ length: 8 }, worker));
    const deliveries = fired.then(() => Promise.all(Array.from({ length: 5 }, () => steps.deliver(body))));
    const [, answers] = await Promise.all([work, deliveries]);
    expect(answers.map((a) => a.status)).toEqual(Array(5).fill(200));
    expect(answers.filter((a) => a.body.outcome === 'APPLIED')).toHaveLength(1);

    const charged = results.filter((r) => !(r instanceof CreditsApiError) && (r as { status: string }).status === 'SUCCEEDED').length;
    const refused = results.filter((r) => r instanceof CreditsApiError);
    expect(refused.every((r) => r.code === 'INSUFFICIENT_CREDITS')).toBe(true);
    expect(charged + refused.length).toBe(50);
    expect(charged).toBeGreaterThanOrEqual(30); // the 30 the wallet had room for before the purchase always go through

    const wallet = await t.wallet(accountId);
    expect(Number(wallet.balance)).toBe(10 + 100 - charged);
    expect(wallet).toMatchObject({ debt: '0', held: '0' });
    const transactions = await history(accountId);
    expect(transactions.filter((x) => x.type === 'PURCHASE')).toEqual([expect.objectContaining({ status: 'SUCCEEDED', amount: '100' })]);
    expect(transactions.filter((x) => x.type === 'CHARGE' && x.status === 'SUCCEEDED')).toHaveLength(charged);
    expectGapFree(transactions, wallet.sequence);
    // The purchase came after the 12 charges that let it go, and added the pack to the balance it found.
    const bought = transactions.find((x) => x.type === 'PURCHASE')!;
    expect(bought.sequence).toBeGreaterThanOrEqual(14);
    const before = transactions.find((x) => x.sequence === bought.sequence! - 1)!;
    expect(Number(bought.balanceAfter)).toBe(Number(before.balanceAfter) + 100);
    expect((await steps.purchase(purchase.id)).status).toBe('SUCCEEDED');
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });
});
