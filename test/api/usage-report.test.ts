/**
 * usageReport through GraphQL (README, Reports): a hand-worked history — a free monthly plan (1,000
 * credits, rollover capped at 300), a 2,500-credit pack bought through the payment webhook, a promo
 * that expires, a rollover and an expiry at the period end, a partial refund and a refused charge —
 * and every figure of MONTH and DAY reports in UTC and in Asia/Kolkata (+05:30) checked against the
 * arithmetic in the comments; periods add up to the totals; access; bad input.
 *
 * The file lives in 2301 (H1's years 2301–2309); assertions are on its own account only.
 */
import { ChargeDocument, RefundDocument, UsageReportDocument, type UsageReportQuery } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { planSteps } from '../helpers/plans';
import { purchaseSteps, WEBHOOK_SECRET } from '../helpers/purchases';

let t: TestApp;
const plans = planSteps(() => t, { price: { amount: '0.00', currency: 'USD' } });
const purchases = purchaseSteps(() => t);

let accountId: string;
let otherId: string;

const at = (text: string) => t.clock.set(new Date(text));

async function charge(amount: string, action: string, model: string) {
  return (await t.op(ChargeDocument, { input: { accountId, amount, action, model, idempotencyKey: uniqueKey('ur-charge') } })).charge;
}

/**
 * The history (UTC; Kolkata is +05:30):
 *  T1 2301-01-05 10:00  subscribe: allocated 1,000 (PLAN_ALLOWANCE, period to 02-05 10:00)     remaining 1,000
 *  T2 2301-01-10 12:00  charge 400 chat/m-small: allowance → free 400                           remaining   600
 *  T3 2301-01-12 20:00  pack of 2,500 paid (webhook): purchased 2,500                          remaining 3,100
 *  T4 2301-01-20 09:00  PROMO grant 200, expires 01-25 00:00: granted 200                      remaining 3,300
 *  T5 2301-01-22 19:00  charge 150 image/m-large (01-23 00:30 in Kolkata): PROMO first → free  remaining 3,150
 *  T6 2301-01-25 06:00  the wallet is settled: the PROMO's last 50 expire                      remaining 3,100
 *  T7 2301-01-31 18:45  charge 250 chat/m-small (02-01 00:15 in Kolkata): allowance → free      remaining 2,850
 *  T8 2301-02-05 10:00  renewal: 300 of the allowance's 350 roll over (cap), 50 expire,
 *                       allocated 1,000                                                        remaining 3,800
 *  T9 2301-02-10 08:00  charge 1,500 image/m-large: ROLLOVER 300 + allowance 1,000 → free 1,300,
 *                       PURCHASE → purchased 200                                               remaining 2,300
 *  T10 2301-02-10 09:00 refund 100 of T9: refunded 100                                         remaining 2,400
 *  T11 2301-02-15 12:00 charge 5,000: INSUFFICIENT_CREDITS (refused: no flow, not counted)     remaining 2,400
 */
beforeAll(async () => {
  t = await startTestApp({ paymentWebhookSecret: WEBHOOK_SECRET });
  at('2301-01-05T10:00:00Z');
  const plan = await plans.createPlan({ interval: 'MONTH', allowance: '1000', rollover: 'CAPPED', rolloverCap: '300' }, 'ur-plan');
  accountId = await t.createAccount('usage report');
  otherId = await t.createAccount('someone else');
  await plans.subscribe(accountId, plan.code);

  at('2301-01-10T12:00:00Z');
  expect(await charge('400', 'chat', 'm-small')).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '600' });

  at('2301-01-12T20:00:00Z');
  const pack = await purchases.createPack({ credits: '2500' });
  const purchase = await purchases.buy(accountId, { packCode: pack.code });
  expect((await purchases.deliver(purchases.event(purchase))).body).toMatchObject({ outcome: 'APPLIED' });

  at('2301-01-20T09:00:00Z');
  await t.grant(accountId, '200', { source: 'PROMO', expiresAt: '2301-01-25T00:00:00.000Z' });

  at('2301-01-22T19:00:00Z');
  expect(await charge('150', 'image', 'm-large')).toMatchObject({ balanceAfter: '3150', entries: [expect.objectContaining({ bucketSource: 'PROMO', amount: '-150' })] });

  at('2301-01-25T06:00:00Z');
  await t.app.services.ledger.settleWallet(accountId);

  at('2301-01-31T18:45:00Z');
  expect(await charge('250', 'chat', 'm-small')).toMatchObject({ balanceAfter: '2850', entries: [expect.objectContaining({ bucketSource: 'PLAN_ALLOWANCE' })] });

  at('2301-02-05T10:00:00Z');
  expect((await t.wallet(accountId)).balance).toBe('3800'); // the read renews the period at its end

  at('2301-02-10T08:00:00Z');
  const big = await charge('1500', 'image', 'm-large');
  expect(big.entries.map((e) => [e.bucketSource, e.amount])).toEqual([['ROLLOVER', '-300'], ['PLAN_ALLOWANCE', '-1000'], ['PURCHASE', '-200']]);

  at('2301-02-10T09:00:00Z');
  await t.op(RefundDocument, { input: { transactionId: big.id, amount: '100', idempotencyKey: uniqueKey('ur-refund') } });

  at('2301-02-15T12:00:00Z');
  const refused = await t.opFails(ChargeDocument, { input: { accountId, amount: '5000', action: 'chat', idempotencyKey: uniqueKey('ur-charge') } });
  expect(refused.code).toBe('INSUFFICIENT_CREDITS');
  expect((await t.wallet(accountId)).balance).toBe('2400');
});
afterAll(async () => {
  await t?.app.services.purchases.settled();
  await t?.close();
});

type Totals = UsageReportQuery['usageReport']['totals'];
const ZERO: Omit<Totals, '__typename'> = {
  allocated: '0', purchased: '0', granted: '0', consumed: '0', consumedFree: '0', consumedPurchased: '0', consumedOnCredit: '0', expired: '0',
  refunded: '0', reversed: '0', carriedForward: '0', charges: 0, remainingAtStart: '0', debtAtStart: '0', remaining: '0', debt: '0',
};
const totals = (figures: Partial<Totals>) => ({ ...ZERO, ...figures });
/** A period with no movement: the stocks stay. */
const still = (remaining: string) => totals({ remainingAtStart: remaining, remaining });

const report = async (from: string, to: string, granularity?: 'DAY' | 'MONTH', timeZone?: string, token?: string) =>
  (await t.op(UsageReportDocument, { accountId, from, to, granularity, timeZone }, token)).usageReport;

/** Flows of the periods add up to the totals; each period opens where the previous one closed. */
function expectConsistent(r: UsageReportQuery['usageReport']) {
  const flows = ['allocated', 'purchased', 'granted', 'consumed', 'consumedFree', 'consumedPurchased', 'consumedOnCredit', 'expired', 'refunded', 'reversed', 'carriedForward'] as const;
  for (const key of flows) expect(r.periods.reduce((s, p) => s + Number(p.totals[key]), 0)).toBe(Number(r.totals[key]));
  expect(r.periods.reduce((s, p) => s + p.totals.charges, 0)).toBe(r.totals.charges);
  expect(r.periods[0].totals.remainingAtStart).toBe(r.totals.remainingAtStart);
  for (let i = 1; i < r.periods.length; i += 1) {
    expect(r.periods[i].start).toBe(r.periods[i - 1].end);
    expect(r.periods[i].totals.remainingAtStart).toBe(r.periods[i - 1].totals.remaining);
    expect(r.periods[i].totals.debtAtStart).toBe(r.periods[i - 1].totals.debt);
  }
  expect(r.periods[r.periods.length - 1].totals.remaining).toBe(r.totals.remaining);
}

describe('MONTH', () => {
  test('UTC, January and February', async () => {
    const r = await report('2301-01-01T00:00:00Z', '2301-03-01T00:00:00Z');
    expect(r).toMatchObject({ accountId, from: '2301-01-01T00:00:00.000Z', to: '2301-03-01T00:00:00.000Z', timeZone: 'UTC', granularity: 'MONTH' });
    expect(r.periods.map((p) => [p.start, p.end])).toEqual([
      ['2301-01-01T00:00:00.000Z', '2301-02-01T00:00:00.000Z'], ['2301-02-01T00:00:00.000Z', '2301-03-01T00:00:00.000Z'],
    ]);
    // January: T1–T7. consumed 400 + 150 + 250 = 800, all free; expired the PROMO's 50;
    // remaining 1,000 − 800 + 2,500 + 200 − 50 = 2,850.
    expect(r.periods[0].totals).toEqual(totals({
      allocated: '1000', purchased: '2500', granted: '200', consumed: '800', consumedFree: '800', expired: '50', charges: 3, remaining: '2850',
    }));
    // February: T8–T11. allocated 1,000, carried forward 300, expired 50; consumed 1,500 = 1,300 free + 200 purchased;
    // refunded 100; the refused charge counts nothing. remaining 2,850 + 1,000 − 50 − 1,500 + 100 = 2,400.
    expect(r.periods[1].totals).toEqual(totals({
      allocated: '1000', carriedForward: '300', expired: '50', consumed: '1500', consumedFree: '1300', consumedPurchased: '200', refunded: '100',
      charges: 1, remainingAtStart: '2850', remaining: '2400',
    }));
    expect(r.totals).toEqual(totals({
      allocated: '2000', purchased: '2500', granted: '200', consumed: '2300', consumedFree: '2100', consumedPurchased: '200', expired: '100',
      refunded: '100', carriedForward: '300', charges: 4, remaining: '2400',
    }));
    // image: 150 + 1,500 (refunded 100); chat: 400 + 250.
    expect(r.byAction).toEqual([{ key: 'image', credits: '1650', refunded: '100', count: 2 }, { key: 'chat', credits: '650', refunded: '0', count: 2 }]);
    expect(r.byModel).toEqual([{ key: 'm-large', credits: '1650', refunded: '100', count: 2 }, { key: 'm-small', credits: '650', refunded: '0', count: 2 }]);
    expectConsistent(r);
  });

  test('Asia/Kolkata: T7 (01-31 18:45 UTC) is 1 February there', async () => {
    const r = await report('2301-01-01T00:00:00Z', '2301-02-28T18:00:00Z', 'MONTH', 'Asia/Kolkata');
    // Snapped to local days: 1 January 00:00 +05:30 and 1 March 00:00 +05:30 (to was 28 Feb 23:30 there).
    expect(r).toMatchObject({ from: '2300-12-31T18:30:00.000Z', to: '2301-02-28T18:30:00.000Z', timeZone: 'Asia/Kolkata' });
    expect(r.periods.map((p) => p.start)).toEqual(['2300-12-31T18:30:00.000Z', '2301-01-31T18:30:00.000Z']);
    // January: consumed 400 + 150 = 550; remaining 1,000 − 550 + 2,500 + 200 − 50 = 3,100.
    expect(r.periods[0].totals).toEqual(totals({
      allocated: '1000', purchased: '2500', granted: '200', consumed: '550', consumedFree: '550', expired: '50', charges: 2, remaining: '3100',
    }));
    // February: consumed 250 + 1,500 = 1,750 (free 250 + 1,300); remaining 3,100 + 1,000 − 50 − 1,750 + 100 = 2,400.
    expect(r.periods[1].totals).toEqual(totals({
      allocated: '1000', carriedForward: '300', expired: '50', consumed: '1750', consumedFree: '1550', consumedPurchased: '200', refunded: '100',
      charges: 2, remainingAtStart: '3100', remaining: '2400',
    }));
    expect(r.totals).toEqual(totals({
      allocated: '2000', purchased: '2500', granted: '200', consumed: '2300', consumedFree: '2100', consumedPurchased: '200', expired: '100',
      refunded: '100', carriedForward: '300', charges: 4, remaining: '2400',
    }));
    expectConsistent(r);
  });

  test('a range starting mid-month opens with the stocks at its start: 20 January 12:00 → 10 February 08:30 (UTC)', async () => {
    // Snapped: 20 January 00:00 (T4 at 09:00 is inside) to 11 February 00:00. Opening remaining: 3,100 (after T3).
    const r = await report('2301-01-20T12:00:00Z', '2301-02-10T08:30:00Z');
    expect(r).toMatchObject({ from: '2301-01-20T00:00:00.000Z', to: '2301-02-11T00:00:00.000Z' });
    // 20–31 January: granted 200, consumed 150 + 250, expired 50: 3,100 + 200 − 400 − 50 = 2,850.
    expect(r.periods[0].totals).toEqual(totals({
      granted: '200', consumed: '400', consumedFree: '400', expired: '50', charges: 2, remainingAtStart: '3100', remaining: '2850',
    }));
    // 1–10 February: T8, T9, T10: 2,850 + 1,000 − 50 − 1,500 + 100 = 2,400.
    expect(r.periods[1].totals).toEqual(totals({
      allocated: '1000', carriedForward: '300', expired: '50', consumed: '1500', consumedFree: '1300', consumedPurchased: '200', refunded: '100',
      charges: 1, remainingAtStart: '2850', remaining: '2400',
    }));
    expectConsistent(r);
  });
});

describe('DAY', () => {
  test('UTC, 22–26 January: T5 on the 22nd, the expiry on the 25th', async () => {
    const r = await report('2301-01-22T00:00:00Z', '2301-01-27T00:00:00Z', 'DAY');
    expect(r.periods.map((p) => p.start)).toEqual(['2301-01-22', '2301-01-23', '2301-01-24', '2301-01-25', '2301-01-26'].map((d) => `${d}T00:00:00.000Z`));
    expect(r.periods.map((p) => p.totals)).toEqual([
      totals({ consumed: '150', consumedFree: '150', charges: 1, remainingAtStart: '3300', remaining: '3150' }), // T5
      still('3150'), still('3150'),
      totals({ expired: '50', remainingAtStart: '3150', remaining: '3100' }), // T6
      still('3100'),
    ]);
    expect(r.totals).toEqual(totals({ consumed: '150', consumedFree: '150', expired: '50', charges: 1, remainingAtStart: '3300', remaining: '3100' }));
    expect(r.byAction).toEqual([{ key: 'image', credits: '150', refunded: '0', count: 1 }]);
    expectConsistent(r);
  });

  test('Asia/Kolkata, 22–26 January local: T5 (19:00 UTC on the 22nd) is the 23rd there', async () => {
    const r = await report('2301-01-22T00:00:00Z', '2301-01-26T12:00:00Z', 'DAY', 'Asia/Kolkata');
    // 22 January 05:30 local snaps back to its 00:00 (21 January 18:30 UTC); 26 January 18:00 local on to the 27th's start.
    expect(r).toMatchObject({ from: '2301-01-21T18:30:00.000Z', to: '2301-01-26T18:30:00.000Z' });
    expect(r.periods.map((p) => p.start)).toEqual(['2301-01-21', '2301-01-22', '2301-01-23', '2301-01-24', '2301-01-25'].map((d) => `${d}T18:30:00.000Z`));
    expect(r.periods.map((p) => p.totals)).toEqual([
      still('3300'),
      totals({ consumed: '150', consumedFree: '150', charges: 1, remainingAtStart: '3300', remaining: '3150' }), // T5, the 23rd local
      still('3150'),
      totals({ expired: '50', remainingAtStart: '3150', remaining: '3100' }), // T6 at 11:30 local on the 25th
      still('3100'),
    ]);
    expectConsistent(r);
  });

  test('Asia/Kolkata around T7 and the renewal: 31 January – 5 February local', async () => {
    const r = await report('2301-01-30T18:30:00Z', '2301-02-05T18:30:00Z', 'DAY', 'Asia/Kolkata');
    expect(r.periods).toHaveLength(6);
    expect(r.periods.map((p) => p.totals)).toEqual([
      still('3100'), // 31 January local: T7 is at 00:15 on 1 February there
      totals({ consumed: '250', consumedFree: '250', charges: 1, remainingAtStart: '3100', remaining: '2850' }),
      still('2850'), still('2850'), still('2850'),
      // 5 February 15:30 local: the renewal (rollover 300, expiry 50, allowance 1,000)
      totals({ allocated: '1000', carriedForward: '300', expired: '50', remainingAtStart: '2850', remaining: '3800' }),
    ]);
    expectConsistent(r);
  });
});

describe('access and bad input', () => {
  test('a user token reads its own account only; a READONLY key reads any', async () => {
    const own = await t.userToken(accountId);
    expect((await report('2301-01-01T00:00:00Z', '2301-03-01T00:00:00Z', 'MONTH', 'UTC', own)).totals.remaining).toBe('2400');
    const theirs = await t.userToken(otherId);
    expect((await t.opFails(UsageReportDocument, { accountId, from: '2301-01-01T00:00:00Z', to: '2301-03-01T00:00:00Z' }, theirs)).code).toBe('FORBIDDEN');
    const readonly = await t.key('READONLY');
    expect((await report('2301-01-01T00:00:00Z', '2301-03-01T00:00:00Z', 'MONTH', 'UTC', readonly)).totals.consumed).toBe('2300');
    expect((await t.opFails(UsageReportDocument, { accountId, from: '2301-01-01T00:00:00Z', to: '2301-03-01T00:00:00Z' }, null)).code).toBe('UNAUTHENTICATED');
  });

  test('an unknown account is NOT_FOUND; an account without movements reports zeros', async () => {
    const missing = await t.opFails(UsageReportDocument, { accountId: '00000000-0000-4000-8000-000000000001', from: '2301-01-01T00:00:00Z', to: '2301-02-01T00:00:00Z' });
    expect(missing.code).toBe('NOT_FOUND');
    const quiet = (await t.op(UsageReportDocument, { accountId: otherId, from: '2301-01-01T00:00:00Z', to: '2301-02-01T00:00:00Z' })).usageReport;
    expect(quiet.totals).toEqual(totals({}));
    expect(quiet.periods).toHaveLength(1);
    expect(quiet.byAction).toEqual([]);
  });

  test.each<[string, string, Record<string, unknown>]>([
    ['from = to', 'to', { from: '2301-01-01T00:00:00Z', to: '2301-01-01T00:00:00Z' }],
    ['from after to', 'to', { from: '2301-02-01T00:00:00Z', to: '2301-01-01T00:00:00Z' }],
    ['DAY over 366 days (367)', 'to', { from: '2301-01-01T00:00:00Z', to: '2302-01-03T00:00:00Z', granularity: 'DAY' }],
    ['MONTH over 1,100 days (1,101)', 'to', { from: '2301-01-01T00:00:00Z', to: '2304-01-07T00:00:00Z' }],
    ['an unknown time zone', 'timeZone', { from: '2301-01-01T00:00:00Z', to: '2301-02-01T00:00:00Z', timeZone: 'Europe/Atlantis' }],
  ])('%s → BAD_USER_INPUT on %s', async (_what, field, args) => {
    const refused = await t.opFails(UsageReportDocument, { accountId, ...args } as never);
    expect(refused.code).toBe('BAD_USER_INPUT');
    expect(refused.extensions.field).toBe(field);
  });
});
