/**
 * Plan advice, pure (src/modules/advice/advice.rules.ts): the replay of daily consumption under each
 * plan (periods counted back from the window's end, proration half up, rollover), the cheapest cover
 * of an overage (checked against brute force by fast-check), and the recommendation with its reason
 * for each case: consistent heavy overage → upgrade, occasional overage or a spike → packs, under-use
 * → downgrade, no plan, no consumption.
 */
import fc from 'fast-check';
import {
  advise, CoverSolver, daysProblem, describeCover, kindOf, periodsOf, proratedAllowance, proratedPrice, replay, usefulPacks,
  type AdviceInput, type AdvicePack, type AdvicePlan,
} from '../../src/modules/advice/advice.rules';
import type { PriceTable } from '../../src/modules/purchases/purchase-rules';
import { priceCustom } from '../../src/modules/purchases/purchase-rules';

const c = (n: number) => Math.round(n * 1000); // credits → millis

const plan = (code: string, fields: Partial<AdvicePlan> = {}): AdvicePlan => ({
  code, name: code[0].toUpperCase() + code.slice(1), priceMinor: 1000n, currency: 'USD', interval: 'MONTH', intervalCount: 1,
  allowanceMillis: c(1000), rollover: 'NONE', rolloverCapMillis: null, models: null, actions: null, ...fields,
});
const BASIC = plan('basic', { priceMinor: 1000n, allowanceMillis: c(1000) });
const PRO = plan('pro', { priceMinor: 3000n, allowanceMillis: c(5000) });
const pack = (credits: number, priceMinor: bigint, code = `pack-${credits}`): AdvicePack => ({ code, name: `${credits} credits`, creditsMillis: c(credits), priceMinor, currency: 'USD' });
const PACKS = [pack(500, 800n), pack(2500, 2500n)];

/** Today 2025-03-31, 90 days: exactly January, February and March. */
const MONTHS = ['2025-01', '2025-02', '2025-03'];
/** `perMonth[i]` credits consumed in month i, split over the 5th, 15th and 25th. */
function monthly(perMonth: number[]): Map<string, number> {
  const days = new Map<string, number>();
  perMonth.forEach((credits, i) => {
    const third = Math.floor(c(credits) / 3);
    days.set(`${MONTHS[i]}-05`, third);
    days.set(`${MONTHS[i]}-15`, third);
    days.set(`${MONTHS[i]}-25`, c(credits) - 2 * third);
  });
  return days;
}

const input = (fields: Partial<AdviceInput>): AdviceInput => ({
  days: 90, today: '2025-03-31', consumption: new Map(), modelsUsed: [], actionsUsed: [], currentPlan: BASIC,
  plans: [BASIC, PRO], packs: PACKS, priceTable: null, currency: 'USD', ...fields,
});

const summary = (advice: ReturnType<typeof advise>) => ({
  recommended: advice.recommended.label,
  kind: advice.recommended.kind,
  costs: Object.fromEntries(advice.options.map((o) => [o.label, o.replay.costMinor])),
  reason: advice.reason,
});

describe('advise: the recommendation and its reason', () => {
  test.each([
    {
      name: 'consistent overage ≥ 50% in each of the last 3 months → upgrade',
      fields: { consumption: monthly([3000, 3000, 3000]) },
      // Basic: 3 × 10 + packs for 2,000 over each month (2,500 | 3 × 500 with 500 left | 2,500) = 104; Pro 90;
      // no plan: 2,500 + 500 a month = 99.
      expected: {
        recommended: 'Pro', kind: 'UPGRADE',
        costs: { 'Basic (current)': 10400n, Pro: 9000n, 'Pay as you go (no plan)': 9900n },
        reason: 'You exceeded your allowance by more than 50% in each of the last 3 months: Pro would have cost 14.00 USD less (90.00 USD instead of 104.00 USD).',
      },
    },
    {
      name: 'occasional small overage → keep the plan, buy a pack',
      fields: { consumption: monthly([900, 900, 1120]) },
      expected: {
        recommended: 'Basic (current)', kind: 'CURRENT',
        costs: { 'Basic (current)': 3800n, 'Pay as you go (no plan)': 4800n, Pro: 9000n },
        reason: 'Keep Basic and buy credits when you run out — you went over your allowance in 1 of the last 3 months, by 12%: a 500-credit pack covers it for 8.00 USD; Pro would have cost 52.00 USD more.',
      },
    },
    {
      name: 'a one-off spike → packs, not an upgrade',
      fields: { consumption: monthly([500, 500, 3500]) },
      expected: {
        recommended: 'Basic (current)', kind: 'CURRENT',
        costs: { 'Basic (current)': 5500n, 'Pay as you go (no plan)': 5700n, Pro: 9000n },
        reason: 'Keep Basic and buy credits when you run out — a one-off spike: you went over your allowance in 1 of the last 3 months, by 250%: a 2,500-credit pack covers it for 25.00 USD; Pro would have cost 35.00 USD more.',
      },
    },
    {
      name: 'consistent under-use (< 50% every month) → downgrade',
      fields: { currentPlan: PRO, consumption: monthly([1000, 1000, 1000]) },
      expected: {
        recommended: 'Basic', kind: 'DOWNGRADE',
        costs: { 'Pro (current)': 9000n, Basic: 3000n, 'Pay as you go (no plan)': 4800n },
        reason: 'You used 20% of your allowance, less than 50% in each of the last 3 months: Basic would have cost 60.00 USD less (30.00 USD instead of 90.00 USD).',
      },
    },
    {
      name: 'no consumption → keep the current plan',
      fields: { consumption: new Map() },
      expected: {
        recommended: 'Basic (current)', kind: 'CURRENT',
        costs: { 'Basic (current)': 3000n, 'Pay as you go (no plan)': 0n, Pro: 9000n },
        reason: 'No credits were used in the last 90 days, so there is nothing to compare: keep Basic.',
      },
    },
    {
      name: 'no plan, steady use → the best plan',
      fields: { currentPlan: null, consumption: monthly([4000, 4000, 4000]) },
      expected: {
        recommended: 'Pro', kind: 'SWITCH',
        costs: { 'Pay as you go (no plan)': 14700n, Pro: 9000n, Basic: 12900n },
        reason: 'You used 12,000 credits in the last 90 days and have no plan: Pro would have cost 90.00 USD instead of 147.00 USD paying as you go, 57.00 USD less.',
      },
    },
    {
      name: 'no plan, light use → packs',
      fields: { currentPlan: null, consumption: monthly([300, 0, 0]) },
      expected: {
        recommended: 'Pay as you go (no plan)', kind: 'PACKS_ONLY',
        costs: { 'Pay as you go (no plan)': 800n, Basic: 3000n, Pro: 9000n },
        reason: 'You used 300 credits in the last 90 days and have no plan: paying as you go is the cheapest, a 500-credit pack for 8.00 USD; the cheapest plan, Basic, would have cost 30.00 USD.',
      },
    },
  ])('$name', ({ fields, expected }) => {
    expect(summary(advise(input(fields)))).toEqual(expected);
  });

  test('savings are against the current option (negative: costs more); plans in another currency or refusing a used model are left out, with why', () => {
    const euro = plan('euro', { currency: 'EUR' });
    const gated = plan('gated', { models: ['small'] });
    const advice = advise(input({ consumption: monthly([900, 900, 1120]), plans: [BASIC, PRO, euro, gated], modelsUsed: ['big'] }));
    expect(advice.options.map((o) => [o.label, o.savingsMinor])).toEqual([['Basic (current)', 0n], ['Pay as you go (no plan)', -1000n], ['Pro', -5200n]]);
    expect(advice.excluded).toEqual([
      { planCode: 'euro', reason: 'priced in EUR; options are compared in USD only' },
      { planCode: 'gated', reason: 'does not include the model big, which the account used' },
    ]);
  });

  test('overage in 2 of 3 months, not enough for Pro: keep Basic, "by up to"', () => {
    expect(advise(input({ consumption: monthly([1200, 900, 1400]) })).reason).toBe(
      'Keep Basic and buy credits when you run out — you went over your allowance in 2 of the last 3 months, by up to 40%: 2 × 500-credit packs cover it for 16.00 USD; Pro would have cost 44.00 USD more.');
  });

  test('a current plan in another currency than the one asked for is left out: compared as without a plan', () => {
    const advice = advise(input({ currentPlan: plan('euro', { currency: 'EUR' }), consumption: monthly([300, 0, 0]) }));
    expect(advice.currentPlanCode).toBe('euro');
    expect(advice.excluded).toEqual([{ planCode: 'euro', reason: 'the current plan, priced in EUR; options are compared in USD only' }]);
    expect(advice.options.map((o) => o.kind)).toEqual(['PACKS_ONLY', 'SWITCH', 'SWITCH']);
  });

  test('days: 1 to 366', () => {
    expect(daysProblem(1)).toBeNull();
    expect(daysProblem(366)).toBeNull();
    for (const days of [0, 367, 1.5, -3]) expect(daysProblem(days)).toBe('days must be a whole number from 1 to 366');
  });
});

describe('the replay', () => {
  test('periods are the plan\'s own, counted back from the window\'s end; the oldest is clipped to the window', () => {
    expect(periodsOf(BASIC, '2025-02-15', '2025-04-01')).toEqual([
      { startDay: '2025-02-15', endDay: '2025-03-01', daysIn: 14, daysTotal: 28 },
      { startDay: '2025-03-01', endDay: '2025-04-01', daysIn: 31, daysTotal: 31 },
    ]);
    expect(periodsOf({ interval: 'WEEK', intervalCount: 2 }, '2025-03-10', '2025-04-01').map((p) => [p.startDay, p.daysIn])).toEqual([['2025-03-10', 8], ['2025-03-18', 14]]);
  });

  test.each([
    // price × daysIn ÷ daysTotal, half up: 999 × 14/28 = 499.5 → 500; 1000 × 1/3 = 333.3 → 333; 1000 × 2/3 = 666.7 → 667.
    [999n, 14, 28, 500n], [1000n, 1, 3, 333n], [1000n, 2, 3, 667n], [1n, 1, 2, 1n], [1n, 1, 3, 0n], [999n, 31, 31, 999n],
  ])('proration: %s minor × %i/%i = %s', (price, daysIn, daysTotal, expected) => {
    expect(proratedPrice(price, daysIn, daysTotal)).toBe(expected);
  });

  test('a partial period gets its share of the allowance, rounded down to the millicredit', () => {
    expect(proratedAllowance(c(1000), 14, 28)).toBe(c(500));
    expect(proratedAllowance(1000, 1, 3)).toBe(333);
  });

  test('rollover: unused allowance rolls into the next period under the policy and cap; what rolled in is used first and does not roll again', () => {
    const solver = new CoverSolver(PACKS, null);
    const usage = monthly([400, 1500, 1200]);
    const run = (p: AdvicePlan) => replay(p, p, usage, '2025-01-01', '2025-04-01', solver).periods.map((x) => [x.rolledInMillis / 1000, x.overageMillis / 1000]);
    expect(run(plan('none'))).toEqual([[0, 0], [0, 500], [0, 200]]);
    // Capped at 300: 600 unused in January, 300 roll in; February uses them, then 1,200 of the allowance (200 over).
    expect(run(plan('capped', { rollover: 'CAPPED', rolloverCapMillis: c(300) }))).toEqual([[0, 0], [300, 200], [0, 200]]);
    expect(run(plan('full', { rollover: 'FULL' }))).toEqual([[0, 0], [600, 0], [100, 100]]);
  });

  test('credits bought and left over cover later overage first', () => {
    const periods = replay(BASIC, BASIC, monthly([1100, 1100, 1400]), '2025-01-01', '2025-04-01', new CoverSolver(PACKS, null)).periods;
    expect(periods.map((p) => [p.overageMillis / 1000, describeCover(p.cover.packs, p.cover.customMillis)])).toEqual([
      [100, 'a 500-credit pack'], [100, 'nothing'], [400, 'a 500-credit pack'],
    ]);
  });

  test('kinds: more allowance a year is an upgrade, whatever the interval', () => {
    expect(kindOf(BASIC, PRO)).toBe('UPGRADE');
    expect(kindOf(PRO, BASIC)).toBe('DOWNGRADE');
    expect(kindOf(BASIC, plan('yearly', { interval: 'YEAR', allowanceMillis: c(12_000), priceMinor: 12_000n }))).toBe('SWITCH');
    expect(kindOf(BASIC, plan('dearer', { priceMinor: 2000n }))).toBe('UPGRADE');
    expect(kindOf(null, PRO)).toBe('SWITCH');
    expect(kindOf(BASIC, BASIC)).toBe('CURRENT');
  });
});

describe('the cheapest cover', () => {
  /** $0.10 a credit from 10, $0.08 from 100, $0.05 from 400; at most 1,000. */
  const TABLE: PriceTable = {
    currency: 'USD', minimumMillis: c(10), maximumMillis: c(1000),
    tiers: [{ fromMillis: c(10), unitPrice: '0.10' }, { fromMillis: c(100), unitPrice: '0.08' }, { fromMillis: c(400), unitPrice: '0.05' }],
  };

  test.each([
    { need: 0, packs: PACKS, table: null, cost: 0n, says: 'nothing' },
    { need: 2600, packs: PACKS, table: null, cost: 3300n, says: 'a 2,500-credit pack and a 500-credit pack' },
    // A tie (a 500-credit pack costs 8.00 too): either is right.
    { need: 2600, packs: PACKS, table: TABLE, cost: 3300n, says: 'a 2,500-credit pack and 100 custom credits' },
    { need: 2520, packs: PACKS, table: TABLE, cost: 2700n, says: 'a 2,500-credit pack and 20 custom credits' },
    // 95 custom credits cost 9.50; 100 (the next tier) cost 8.00.
    { need: 95, packs: [], table: TABLE, cost: 800n, says: '100 custom credits' },
    { need: 1500, packs: [], table: TABLE, cost: null, says: null },
  ])('$need credits → $cost ($says)', ({ need, packs, table, cost, says }) => {
    const cover = new CoverSolver(packs, table).cover(c(need));
    expect(cover && cover.costMinor).toBe(cost);
    expect(cover && describeCover(cover.packs, cover.customMillis)).toBe(says);
    if (cover) expect(cover.creditsMillis).toBeGreaterThanOrEqual(c(need));
  });

  test('the demo catalogue\'s packs: 100 and 200 are beaten by the 2,500 (more credits for less); exact', () => {
    const demo = [pack(20, 999n), pack(50, 1999n), pack(100, 3499n), pack(200, 5999n), pack(2500, 2500n)];
    const solver = new CoverSolver(demo, null);
    expect(solver.packs.map((p) => p.code)).toEqual(['pack-20', 'pack-50', 'pack-2500']);
    expect(solver.exact).toBe(true);
    expect(solver.cover(c(5001))?.costMinor).toBe(5999n); // 2 × 2,500 + 20
  });

  test('an irregular catalogue too large for the exact table still gives a valid cover', () => {
    const solver = new CoverSolver([pack(9973, 9000n), pack(7919, 7500n), pack(3, 5n)], null);
    expect(solver.exact).toBe(false);
    const cover = solver.cover(c(123_457))!;
    expect(cover.creditsMillis).toBeGreaterThanOrEqual(c(123_457));
  });

  test('a pack beaten by another (as many credits or more, for no more) is never used', () => {
    expect(usefulPacks([pack(100, 500n, 'a'), pack(100, 400n, 'b'), pack(200, 400n, 'c'), pack(300, 900n, 'd')]).map((p) => p.code)).toEqual(['c', 'd']);
  });

  /** Brute force: every pack count up to the need, every custom amount (whole credits here). */
  function brute(packs: AdvicePack[], table: PriceTable | null, need: number): bigint | null {
    let best: bigint | null = null;
    const customCosts: [number, bigint][] = [[0, 0n]];
    if (table) for (let x = table.minimumMillis; x <= table.maximumMillis; x += 1000) customCosts.push([x, priceCustom(table, x).minor]);
    const walk = (i: number, millis: number, cost: bigint) => {
      if (i === packs.length) {
        for (const [x, price] of customCosts) if (millis + x >= need && (best === null || cost + price < best)) best = cost + price;
        return;
      }
      for (let k = 0; k <= Math.ceil(need / packs[i].creditsMillis); k += 1) walk(i + 1, millis + k * packs[i].creditsMillis, cost + BigInt(k) * packs[i].priceMinor);
    };
    walk(0, 0, 0n);
    return best;
  }

  test('property: the cover is as cheap as brute force finds, and covers the need', () => {
    const packArb = fc.record({ credits: fc.integer({ min: 1, max: 12 }), price: fc.integer({ min: 1, max: 60 }) });
    const tableArb = fc.option(fc.record({
      min: fc.integer({ min: 1, max: 5 }), span: fc.integer({ min: 0, max: 40 }),
      tiers: fc.array(fc.record({ from: fc.integer({ min: 0, max: 40 }), micros: fc.integer({ min: 1, max: 90 }) }), { minLength: 1, maxLength: 3 }),
    }), { nil: null });
    fc.assert(fc.property(fc.array(packArb, { maxLength: 3 }), tableArb, fc.integer({ min: 0, max: 50 }), (packSpecs, t, need) => {
      const packs = packSpecs.map((p, i) => pack(p.credits, BigInt(p.price), `p${i}`));
      let table: PriceTable | null = null;
      if (t) {
        const froms = [...new Set(t.tiers.map((x) => t.min + x.from))].filter((f) => f <= t.min + t.span).sort((a, b) => a - b);
        if (froms[0] !== t.min) froms.unshift(t.min);
        // Unit prices in cents a credit (0.01 to 0.90), 2 digits: whole minor units, so the brute force is exact too.
        table = { currency: 'USD', minimumMillis: c(t.min), maximumMillis: c(t.min + t.span), tiers: froms.map((f, i) => ({ fromMillis: c(f), unitPrice: `0.${String(t.tiers[i % t.tiers.length].micros).padStart(2, '0')}` })) };
      }
      const cover = new CoverSolver(packs, table).cover(c(need));
      const expected = brute(packs, table, c(need));
      expect(cover?.costMinor ?? null).toBe(expected);
      if (cover) {
        const bought = cover.packs.reduce((s, p) => s + p.creditsMillis * p.count, 0) + cover.customMillis;
        expect(bought).toBe(cover.creditsMillis);
        expect(bought).toBeGreaterThanOrEqual(c(need));
        const priced = cover.packs.reduce((s, p) => s + p.costMinor, 0n) + cover.customMinor;
        expect(priced).toBe(cover.costMinor);
      }
    }), { numRuns: 300 });
  });
});
