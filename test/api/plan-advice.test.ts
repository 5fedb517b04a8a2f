/**
 * planAdvice through GraphQL (README, Reports → Plan advice): real consumption (charges on the 5th,
 * 15th and 25th of each month, read back from usage_daily) replayed under Basic and Pro and pay as you
 * go, with the recommendation, costs and reason for: consistent ≥ 50% overage → upgrade, a one-off
 * spike → packs, under-use → downgrade, no plan → the best plan. Access and bad input.
 *
 * Shared PostgreSQL: the catalogue is global, so this file prices everything in BND (Brunei dollars,
 * which no other file uses) and archives the BND plans and packs a previous run left behind; each
 * scenario lives in its own year (2331–2334), today being 31 March (the window: January to March).
 */
import { CreateCreditPackDocument, CreditPacksDocument, PlanAdviceDocument, PlansDocument, UpdateCreditPackDocument, UpdatePlanDocument } from '../../src/client';
import { planSteps } from '../helpers/plans';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
const CURRENCY = 'BND';
const { createPlan, subscribe } = planSteps(() => t);
let basic: string;
let pro: string;

beforeAll(async () => {
  t = await startTestApp();
  for (const p of (await t.op(PlansDocument, {})).plans) {
    if (p.price.currency === CURRENCY && p.active) await t.op(UpdatePlanDocument, { code: p.code, input: { active: false } });
  }
  for (const p of (await t.op(CreditPacksDocument, {})).creditPacks) {
    if (p.price.currency === CURRENCY && p.active) await t.op(UpdateCreditPackDocument, { code: p.code, input: { active: false } });
  }
  basic = (await createPlan({ name: 'Basic', price: { amount: '10.00', currency: CURRENCY }, allowance: '1000' }, 'basic')).code;
  pro = (await createPlan({ name: 'Pro', price: { amount: '30.00', currency: CURRENCY }, allowance: '5000' }, 'pro')).code;
  for (const [credits, amount] of [['500', '8.00'], ['2500', '25.00']]) {
    await t.op(CreateCreditPackDocument, { input: { code: uniqueKey(`adv${credits}`).toLowerCase(), name: `${credits} credits`, credits, price: { amount, currency: CURRENCY } } });
  }
});
afterAll(async () => { await t?.close(); });

const at = (iso: string) => t.clock.set(new Date(iso));

/** An account charged `perMonth[i]` credits in month i of `year` (January to March), a third each on the 5th, 15th, 25th; today 31 March. */
async function consumer(year: number, perMonth: number[], planCode: string | null): Promise<string> {
  at(`${year}-01-01T08:00:00Z`);
  const accountId = await t.createAccount('advised');
  await t.grant(accountId, '100000');
  for (const [i, credits] of perMonth.entries()) {
    const third = Math.floor(credits / 3);
    for (const [day, amount] of [['05', third], ['15', third], ['25', credits - 2 * third]] as const) {
      if (amount === 0) continue;
      at(`${year}-0${i + 1}-${day}T10:00:00Z`);
      await t.ok(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId, amount: String(amount), idempotencyKey: uniqueKey('adv') } });
    }
  }
  at(`${year}-03-31T12:00:00Z`);
  if (planCode) await subscribe(accountId, planCode);
  return accountId;
}

const advice = async (accountId: string, extra: { days?: number; currency?: string } = {}, token?: string) =>
  (await t.op(PlanAdviceDocument, { accountId, currency: CURRENCY, ...extra }, token)).planAdvice;

const costs = (a: Awaited<ReturnType<typeof advice>>) => Object.fromEntries(a.options.map((o) => [o.label, [o.kind, o.cost.amount, o.savings?.amount]]));

describe('planAdvice', () => {
  test('consistent overage of more than 50% each month → upgrade to Pro', async () => {
    const accountId = await consumer(2331, [3000, 3000, 3000], basic);
    const a = await advice(accountId, { currency: undefined }); // the current plan's currency by default
    expect(a).toMatchObject({ accountId, days: 90, from: '2331-01-01T00:00:00.000Z', to: '2331-04-01T00:00:00.000Z', consumed: '9000', currentPlan: basic, currency: CURRENCY });
    expect(a.recommended).toMatchObject({ label: 'Pro', kind: 'UPGRADE', planCode: pro, cost: { amount: '90.00', currency: CURRENCY }, overageCredits: '0', packs: [] });
    expect(costs(a)).toEqual({
      'Basic (current)': ['CURRENT', '104.00', '0.00'],
      Pro: ['UPGRADE', '90.00', '14.00'],
      'Pay as you go (no plan)': ['PACKS_ONLY', '99.00', '5.00'],
    });
    const current = a.options[0];
    // 2,000 over each month: a 2,500 pack; then 1,500 still needed (500 left): 3 × 500; then a 2,500 pack.
    expect(current).toMatchObject({ planCost: { amount: '30.00' }, overageCredits: '6000', customCredits: null, covered: true });
    expect(current.packs.map((p) => [p.credits, p.count, p.cost.amount])).toEqual([['2500', 2, '50.00'], ['500', 3, '24.00']]);
    expect(current.periods.map((p) => [p.start.slice(0, 10), p.consumed, p.overage, p.boughtCost.amount])).toEqual([
      ['2331-01-01', '3000', '2000', '25.00'], ['2331-02-01', '3000', '2000', '24.00'], ['2331-03-01', '3000', '2000', '25.00'],
    ]);
    expect(a.reason).toBe(`You exceeded your allowance by more than 50% in each of the last 3 months: Pro would have cost 14.00 ${CURRENCY} less (90.00 ${CURRENCY} instead of 104.00 ${CURRENCY}).`);
  });

  test('a one-off spike → keep Basic and buy a pack (a leap year: January is prorated)', async () => {
    const accountId = await consumer(2332, [500, 500, 3500], basic);
    const a = await advice(accountId);
    // 2332 is a leap year: the 90 days start on 2 January, so January counts 30 of its 31 days: 10.00 × 30/31 = 9.677 → 9.68.
    expect(a.from).toBe('2332-01-02T00:00:00.000Z');
    expect(a.recommended.periods[0]).toMatchObject({ start: '2332-01-02T00:00:00.000Z', daysIn: 30, daysTotal: 31, allowance: '967.741', planCost: { amount: '9.68' } });
    expect(a.recommended).toMatchObject({ kind: 'CURRENT', planCode: basic, cost: { amount: '54.68' }, overageCredits: '2500' });
    expect(a.recommended.packs.map((p) => [p.credits, p.count])).toEqual([['2500', 1]]);
    expect(costs(a)).toEqual({
      'Basic (current)': ['CURRENT', '54.68', '0.00'],
      'Pay as you go (no plan)': ['PACKS_ONLY', '57.00', '-2.32'],
      Pro: ['UPGRADE', '89.03', '-34.35'],
    });
    expect(a.reason).toBe(`Keep Basic and buy credits when you run out — a one-off spike: you went over your allowance in 1 of the last 3 months, by 250%: a 2,500-credit pack covers it for 25.00 ${CURRENCY}; Pro would have cost 34.35 ${CURRENCY} more.`);
  });

  test('under-use of Pro (20%) → downgrade to Basic', async () => {
    const accountId = await consumer(2333, [1000, 1000, 1000], pro);
    const a = await advice(accountId);
    expect(a.currentPlan).toBe(pro);
    expect(a.recommended).toMatchObject({ label: 'Basic', kind: 'DOWNGRADE', planCode: basic, cost: { amount: '30.00' }, savings: { amount: '60.00' } });
    expect(a.reason).toBe(`You used 20% of your allowance, less than 50% in each of the last 3 months: Basic would have cost 60.00 ${CURRENCY} less (30.00 ${CURRENCY} instead of 90.00 ${CURRENCY}).`);
  });

  test('no plan → the best plan; with no consumption, keep what you have', async () => {
    const accountId = await consumer(2334, [4000, 4000, 4000], null);
    const a = await advice(accountId);
    expect(a.currentPlan).toBeNull();
    expect(a.options[0]).toMatchObject({ kind: 'PACKS_ONLY', cost: { amount: '147.00' }, savings: { amount: '0.00' } });
    expect(a.recommended).toMatchObject({ label: 'Pro', kind: 'SWITCH', cost: { amount: '90.00' }, savings: { amount: '57.00' } });
    expect(a.reason).toBe(`You used 12,000 credits in the last 90 days and have no plan: Pro would have cost 90.00 ${CURRENCY} instead of 147.00 ${CURRENCY} paying as you go, 57.00 ${CURRENCY} less.`);

    // 30 days from 1 July: nothing consumed since March.
    at('2334-07-01T12:00:00Z');
    const idle = await advice(accountId, { days: 30 });
    expect(idle).toMatchObject({ consumed: '0', from: '2334-06-02T00:00:00.000Z', to: '2334-07-02T00:00:00.000Z' });
    expect(idle.recommended.kind).toBe('PACKS_ONLY');
    expect(idle.reason).toBe('No credits were used in the last 30 days, so there is nothing to compare: keep paying as you go.');
  });

  test('a user token reads its own account only; days outside 1–366 and a bad currency are BAD_USER_INPUT', async () => {
    at('2335-03-31T12:00:00Z');
    const mine = await t.createAccount('advice owner');
    const other = await t.createAccount('advice other');
    const token = await t.userToken(mine);
    expect((await advice(mine, {}, token)).accountId).toBe(mine);
    expect((await t.opFails(PlanAdviceDocument, { accountId: other }, token)).code).toBe('FORBIDDEN');
    for (const days of [0, 367]) {
      const error = await t.opFails(PlanAdviceDocument, { accountId: mine, days });
      expect([error.code, error.extensions.field]).toEqual(['BAD_USER_INPUT', 'days']);
    }
    const bad = await t.opFails(PlanAdviceDocument, { accountId: mine, currency: 'XYZQ' });
    expect([bad.code, bad.extensions.field]).toEqual(['BAD_USER_INPUT', 'currency']);
    expect((await t.opFails(PlanAdviceDocument, { accountId: '00000000-0000-4000-8000-000000000000' })).code).toBe('NOT_FOUND');
  });
});
