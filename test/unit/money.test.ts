/**
 * The wallet's money decisions, each one pure function shared by quotes, holds, charges and wallet
 * reads: free credits, overdraft room, figures, burn-down order, the can-pay rule and the
 * INSUFFICIENT_CREDITS details. Table-driven cases, then properties of the can-pay rule.
 */
import fc from 'fast-check';
import { compareBurnOrder, freeMillis, type BurnBucket, type BurnOrderKey } from '../../src/modules/ledger/burn-down';
import { overdraftRoomMillis, walletFigures, type FigureBucket } from '../../src/modules/ledger/figures';
import { insufficientCredits, paymentRefusal, planPayment, type PayingWallet, type PaymentKind } from '../../src/modules/ledger/payment';

const NOW = new Date('2024-06-01T12:00:00Z');
const at = (offsetSeconds: number) => new Date(NOW.getTime() + offsetSeconds * 1000);

let ids = 0;
function bucket(fields: Partial<BurnBucket & FigureBucket> = {}): BurnBucket & FigureBucket {
  ids += 1;
  return {
    id: `b${String(ids).padStart(4, '0')}`, priority: 60, expiresAt: null, createdAt: at(-3600), effectiveAt: at(-3600),
    applicableActions: null, applicableModels: null, remainingMillis: 0, heldActiveMillis: 0, ...fields,
  };
}

const wallet = (fields: Partial<PayingWallet> = {}): PayingWallet => ({ frozen: false, debtMillis: 0, overdraftLimitMillis: 0, ...fields });

describe('freeMillis', () => {
  test.each([
    [10_000, 0, 10_000],
    [10_000, 4_000, 6_000],
    [10_000, 10_000, 0],
  ])('remaining %d, held %d: %d free', (remainingMillis, heldActiveMillis, free) => {
    expect(freeMillis({ remainingMillis, heldActiveMillis })).toBe(free);
  });
});

describe('overdraftRoomMillis', () => {
  test.each([
    [0, 0, 0],
    [5_000, 0, 5_000],
    [5_000, 2_000, 3_000],
    [5_000, 5_000, 0],
    [2_000, 5_000, 0], // the limit was lowered below the debt: no room, never negative
  ])('limit %d, debt %d: room %d', (overdraftLimitMillis, debtMillis, room) => {
    expect(overdraftRoomMillis({ overdraftLimitMillis, debtMillis })).toBe(room);
  });
});

describe('walletFigures', () => {
  const live = bucket({ remainingMillis: 10_000, heldActiveMillis: 3_000 });
  const lapsed = bucket({ remainingMillis: 4_000, heldActiveMillis: 1_000, expiresAt: at(-1) });
  const future = bucket({ remainingMillis: 2_000, effectiveAt: at(60) });

  test.each<[string, FigureBucket[], { debtMillis: number; overdraftLimitMillis: number }, Date | 'settled', { balanceMillis: number; heldMillis: number; availableMillis: number }]>([
    ['live buckets count in full', [live], { debtMillis: 0, overdraftLimitMillis: 0 }, NOW, { balanceMillis: 10_000, heldMillis: 3_000, availableMillis: 7_000 }],
    ['debt lowers the balance, the overdraft raises available', [live], { debtMillis: 1_000, overdraftLimitMillis: 5_000 }, NOW, { balanceMillis: 9_000, heldMillis: 3_000, availableMillis: 11_000 }],
    ['a lapsed bucket counts only what holds secured', [live, lapsed], { debtMillis: 0, overdraftLimitMillis: 0 }, NOW, { balanceMillis: 11_000, heldMillis: 4_000, availableMillis: 7_000 }],
    ['a bucket not yet effective counts only what holds secured', [future], { debtMillis: 0, overdraftLimitMillis: 0 }, NOW, { balanceMillis: 0, heldMillis: 0, availableMillis: 0 }],
    ['under the lock every remaining counts', [live, lapsed], { debtMillis: 0, overdraftLimitMillis: 0 }, 'settled', { balanceMillis: 14_000, heldMillis: 4_000, availableMillis: 10_000 }],
    ['no buckets, only debt', [], { debtMillis: 2_000, overdraftLimitMillis: 3_000 }, NOW, { balanceMillis: -2_000, heldMillis: 0, availableMillis: 1_000 }],
  ])('%s', (_name, buckets, w, asOf, figures) => {
    expect(walletFigures(buckets, w, asOf)).toEqual(figures);
  });

  test('settled figures equal the figures read at the same time once lapsed buckets hold only what holds secured', () => {
    const settledLapsed = bucket({ remainingMillis: 1_000, heldActiveMillis: 1_000, expiresAt: at(-1) });
    const w = { debtMillis: 500, overdraftLimitMillis: 2_000 };
    expect(walletFigures([live, settledLapsed], w, 'settled')).toEqual(walletFigures([live, settledLapsed], w, NOW));
  });
});

describe('compareBurnOrder', () => {
  const base: BurnOrderKey = { id: 'm', priority: 20, expiresAt: at(100), createdAt: at(-100) };
  test.each<[string, Partial<BurnOrderKey>, number]>([
    ['lower priority first', { priority: 10 }, -1],
    ['higher priority later', { priority: 30 }, 1],
    ['sooner expiry first', { expiresAt: at(50) }, -1],
    ['never-expiring last', { expiresAt: null }, 1],
    ['older first', { createdAt: at(-200) }, -1],
    ['then by id', { id: 'a' }, -1],
    ['the same bucket', {}, 0],
  ])('%s', (_name, change, sign) => {
    expect(Math.sign(compareBurnOrder({ ...base, ...change }, base))).toBe(sign);
  });

  test('takes any bucket-like row (no burn-down fields needed)', () => {
    const rows = [
      { ...base, id: 'z', source: 'PURCHASE', priority: 60 },
      { ...base, id: 'y', source: 'PROMO', priority: 10 },
    ];
    expect(rows.sort(compareBurnOrder).map((r) => r.source)).toEqual(['PROMO', 'PURCHASE']);
  });
});

describe('planPayment', () => {
  const promo = bucket({ priority: 10, remainingMillis: 3_000 });
  const purchase = bucket({ priority: 60, remainingMillis: 10_000, heldActiveMillis: 4_000 });
  const imagesOnly = bucket({ priority: 5, remainingMillis: 5_000, applicableActions: ['image.generate'] });
  const buckets = [purchase, imagesOnly, promo];

  test.each<[string, PayingWallet, { action?: string; model?: string }, number, PaymentKind, { allocations: [string, number][]; debtMillis: number; availableMillis: number; refusal: string | null; gated: { field: string; value: string } | null; reviewId?: string }]>([
    ['burns promo before purchase, only free credits', wallet(), {}, 5_000, 'CHARGE',
      { allocations: [[promo.id, 3_000], [purchase.id, 2_000]], debtMillis: 0, availableMillis: 9_000, refusal: null, gated: null }],
    ['a filtered bucket pays for its action first', wallet(), { action: 'image.generate' }, 6_000, 'CHARGE',
      { allocations: [[imagesOnly.id, 5_000], [promo.id, 1_000]], debtMillis: 0, availableMillis: 14_000, refusal: null, gated: null }],
    ['a charge goes into overdraft up to the room', wallet({ overdraftLimitMillis: 5_000, debtMillis: 1_000 }), {}, 12_000, 'CHARGE',
      { allocations: [[promo.id, 3_000], [purchase.id, 6_000]], debtMillis: 3_000, availableMillis: 13_000, refusal: null, gated: null }],
    ['beyond the room it is refused', wallet({ overdraftLimitMillis: 5_000, debtMillis: 1_000 }), {}, 13_001, 'CHARGE',
      { allocations: [[promo.id, 3_000], [purchase.id, 6_000]], debtMillis: 0, availableMillis: 13_000, refusal: 'INSUFFICIENT_CREDITS', gated: null }],
    ['a hold never uses the overdraft', wallet({ overdraftLimitMillis: 5_000 }), {}, 9_001, 'HOLD',
      { allocations: [[promo.id, 3_000], [purchase.id, 6_000]], debtMillis: 0, availableMillis: 9_000, refusal: 'INSUFFICIENT_CREDITS', gated: null }],
    ['a hold up to the free credits is paid', wallet({ overdraftLimitMillis: 5_000 }), {}, 9_000, 'HOLD',
      { allocations: [[promo.id, 3_000], [purchase.id, 6_000]], debtMillis: 0, availableMillis: 9_000, refusal: null, gated: null }],
    ['a model outside the plan is refused (MODEL_NOT_IN_PLAN), nothing allocated', wallet({ planModels: ['sdxl'] }), { model: 'dall-e-3' }, 1_000, 'CHARGE',
      { allocations: [], debtMillis: 0, availableMillis: 9_000, refusal: 'MODEL_NOT_IN_PLAN', gated: { field: 'model', value: 'dall-e-3' } }],
    ['an action outside the plan is refused', wallet({ planActions: ['text.generate'] }), { action: 'image.generate' }, 1_000, 'HOLD',
      { allocations: [], debtMillis: 0, availableMillis: 14_000, refusal: 'MODEL_NOT_IN_PLAN', gated: { field: 'action', value: 'image.generate' } }],
    ['a model in the plan is paid', wallet({ planModels: ['sdxl'] }), { model: 'sdxl' }, 1_000, 'CHARGE',
      { allocations: [[promo.id, 1_000]], debtMillis: 0, availableMillis: 9_000, refusal: null, gated: null }],
    ['gating applies only to what is named: no model given', wallet({ planModels: ['sdxl'] }), {}, 1_000, 'CHARGE',
      { allocations: [[promo.id, 1_000]], debtMillis: 0, availableMillis: 9_000, refusal: null, gated: null }],
    ['a frozen wallet is refused (WALLET_FROZEN)', wallet({ frozen: true }), {}, 1_000, 'CHARGE',
      { allocations: [[promo.id, 1_000]], debtMillis: 0, availableMillis: 9_000, refusal: 'WALLET_FROZEN', gated: null }],
    ['a wallet on hold for review is refused (WALLET_FROZEN, its review named)', wallet({ reviewId: 'review-1' }), {}, 1_000, 'HOLD',
      { allocations: [[promo.id, 1_000]], debtMillis: 0, availableMillis: 9_000, refusal: 'WALLET_FROZEN', gated: null, reviewId: 'review-1' }],
  ])('%s', (_name, w, target, amountMillis, kind, expected) => {
    const payment = planPayment(w, buckets, target, amountMillis, kind);
    expect({ ...payment, allocations: payment.allocations.map((a) => [a.bucketId, a.millis]) }).toEqual({ reviewId: null, ...expected });
  });

  test('the refusal a client sees', () => {
    const short = planPayment(wallet(), buckets, {}, 10_000, 'CHARGE');
    expect(paymentRefusal(short, 10_000)?.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '10', available: '9', shortfall: '1' });
    expect(paymentRefusal(planPayment(wallet({ frozen: true }), buckets, {}, 1, 'CHARGE'), 1)?.code).toBe('WALLET_FROZEN');
    expect(paymentRefusal(planPayment(wallet(), buckets, {}, 1, 'CHARGE'), 1)).toBeNull();
    const gated = paymentRefusal(planPayment(wallet({ planModels: ['sdxl'] }), buckets, { model: 'flux-pro' }, 1, 'CHARGE'), 1);
    expect(gated?.extensions).toMatchObject({ code: 'MODEL_NOT_IN_PLAN', model: 'flux-pro' });
  });
});

describe('insufficientCredits', () => {
  test.each<[number, number, string | undefined, { message: RegExp; required: string; available: string; shortfall: string }]>([
    [12_500, 2_000, undefined, { message: /needs 12.5 credits but 2 are available/, required: '12.5', available: '2', shortfall: '10.5' }],
    [1_000, -3_000, undefined, { message: /but 0 are available/, required: '1', available: '0', shortfall: '1' }], // never shown below 0
    [1_000, 250, 'already spent', { message: /^already spent$/, required: '1', available: '0.25', shortfall: '0.75' }],
  ])('required %d, available %d', (required, available, message, expected) => {
    const error = insufficientCredits(required, available, message);
    expect(error.code).toBe('INSUFFICIENT_CREDITS');
    expect(error.message).toMatch(expected.message);
    expect(error.details).toEqual({ required: expected.required, available: expected.available, shortfall: expected.shortfall });
  });
});

// ------------------------------------------------------------------------------------ properties

const ACTIONS = ['image.generate', 'text.generate'] as const;

const bucketArb = fc.record({
  priority: fc.integer({ min: 0, max: 3 }),
  expiresIn: fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
  createdAgo: fc.integer({ min: 0, max: 3 }),
  remainingMillis: fc.integer({ min: 0, max: 20_000 }),
  heldShare: fc.integer({ min: 0, max: 100 }),
  applicableActions: fc.option(fc.subarray([...ACTIONS], { minLength: 1 }), { nil: null }),
});

const caseArb = fc.record({
  buckets: fc.array(bucketArb, { maxLength: 8 }),
  frozen: fc.boolean(),
  overdraftLimitMillis: fc.integer({ min: 0, max: 10_000 }),
  debtMillis: fc.integer({ min: 0, max: 12_000 }),
  action: fc.option(fc.constantFrom(...ACTIONS), { nil: null }),
  amountMillis: fc.integer({ min: 1, max: 60_000 }),
  kind: fc.constantFrom<PaymentKind>('CHARGE', 'HOLD'),
});

test('the can-pay rule: a plan pays exactly the amount from free credits in burn-down order, debt only within the room', () => {
  fc.assert(fc.property(caseArb, (c) => {
    const buckets: BurnBucket[] = c.buckets.map((b, i) => ({
      id: `b${i}`, priority: b.priority, expiresAt: b.expiresIn === null ? null : at(b.expiresIn * 60), createdAt: at(-b.createdAgo * 60),
      applicableActions: b.applicableActions, applicableModels: null,
      remainingMillis: b.remainingMillis, heldActiveMillis: Math.floor((b.remainingMillis * b.heldShare) / 100),
    }));
    const w = wallet({ frozen: c.frozen, overdraftLimitMillis: c.overdraftLimitMillis, debtMillis: c.debtMillis });
    const target = { action: c.action };
    const payment = planPayment(w, buckets, target, c.amountMillis, c.kind);

    const applicable = buckets.filter((b) => !b.applicableActions || (c.action !== null && b.applicableActions.includes(c.action)));
    const applicableFree = applicable.reduce((sum, b) => sum + freeMillis(b), 0);
    const room = c.kind === 'CHARGE' ? overdraftRoomMillis(w) : 0;

    // What could pay, and the rule itself.
    expect(payment.availableMillis).toBe(applicableFree + room);
    const canPay = !c.frozen && c.amountMillis <= applicableFree + room;
    expect(payment.refusal === null).toBe(canPay);
    if (c.frozen) expect(payment.refusal).toBe('WALLET_FROZEN');
    else if (!canPay) expect(payment.refusal).toBe('INSUFFICIENT_CREDITS');

    // Each bucket gives at most its free credits, only if it applies, never zero.
    const byId = new Map(buckets.map((b) => [b.id, b]));
    for (const a of payment.allocations) {
      const b = byId.get(a.bucketId)!;
      expect(applicable).toContain(b);
      expect(a.millis).toBeGreaterThan(0);
      expect(a.millis).toBeLessThanOrEqual(freeMillis(b));
    }
    const fromBuckets = payment.allocations.reduce((sum, a) => sum + a.millis, 0);
    expect(fromBuckets).toBe(Math.min(c.amountMillis, applicableFree));

    // Burn-down order: allocations follow it, and every bucket before the last one used is emptied.
    const used = payment.allocations.map((a) => byId.get(a.bucketId)!);
    for (let i = 1; i < used.length; i++) expect(compareBurnOrder(used[i - 1], used[i])).toBeLessThan(0);
    const order = applicable.filter((b) => freeMillis(b) > 0).sort(compareBurnOrder);
    const last = used.length > 0 ? order.indexOf(used[used.length - 1]) : -1;
    for (let i = 0; i < last; i++) expect(payment.allocations[i]).toEqual({ bucketId: order[i].id, millis: freeMillis(order[i]) });

    // The amount is paid in full (buckets, then debt within the room) or not at all.
    if (payment.refusal === null) {
      expect(fromBuckets + payment.debtMillis).toBe(c.amountMillis);
      expect(payment.debtMillis).toBeLessThanOrEqual(room);
      if (payment.debtMillis > 0) expect(fromBuckets).toBe(applicableFree);
    } else {
      expect(payment.debtMillis).toBe(0);
    }
  }), { numRuns: 500 });
});
