/** flows.ts: what each ledger transaction adds to the report figures, and the vendor cost of a vendorUsage record. */
import fc from 'fast-check';
import { flowsOf, vendorCostOf, type FlowEntry, type FlowFigures, type FlowTransaction } from '../../src/modules/ledger/flows';
import { BUCKET_SOURCES, TRANSACTION_TYPES, type BucketSourceName } from '../../src/db/schema';
import { formatDecimal, sumDecimals } from '../../src/shared/decimal';

const tx = (type: FlowTransaction['type'], entries: [number, BucketSourceName | null][], debtChangeMillis = 0): FlowTransaction => ({
  type, entries: entries.map(([millis, source]) => ({ millis, source })), amountMillis: entries.reduce((s, [m]) => s + m, 0), debtChangeMillis,
});
const nonZero = (f: FlowFigures) => Object.fromEntries(Object.entries(f).filter(([, v]) => v !== 0));

describe('flowsOf', () => {
  test.each<[string, FlowTransaction, Partial<FlowFigures>]>([
    ['a charge from free and purchased credits and debt', tx('CHARGE', [[-3000, 'PROMO'], [-2000, 'PURCHASE'], [-1000, null]], 1000),
      { consumedMillis: 6000, consumedFreeMillis: 3000, consumedPurchasedMillis: 2000, transactions: 1, balanceChangeMillis: -6000, debtChangeMillis: 1000 }],
    ['a zero charge still counts', tx('CHARGE', []), { transactions: 1 }],
    ['a capture from the allowance', tx('CAPTURE', [[-500, 'PLAN_ALLOWANCE']]), { consumedMillis: 500, consumedFreeMillis: 500, transactions: 1, balanceChangeMillis: -500 }],
    ['a refund (credits back, part of it repays debt)', tx('REFUND', [[700, 'PURCHASE'], [300, null]], -300),
      { refundedMillis: 1000, balanceChangeMillis: 1000, debtChangeMillis: -300 }],
    ['a reversal of a charge is a refund', tx('REVERSAL', [[400, 'PROMO']]), { refundedMillis: 400, balanceChangeMillis: 400 }],
    ['a reversal of a purchase takes credits back', tx('REVERSAL', [[-900, 'PURCHASE'], [-100, null]], 100),
      { reversedMillis: 1000, balanceChangeMillis: -1000, debtChangeMillis: 100 }],
    ['a reversal of a rollover moves credits back', tx('REVERSAL', [[-50, 'ROLLOVER'], [50, 'PLAN_ALLOWANCE']]), {}],
    ['an allowance grant is allocated', tx('GRANT', [[10000, 'PLAN_ALLOWANCE']]), { allocatedMillis: 10000, balanceChangeMillis: 10000 }],
    ['a purchase is purchased', tx('PURCHASE', [[2500000, 'PURCHASE']]), { purchasedMillis: 2500000, balanceChangeMillis: 2500000 }],
    ['an admin grant of purchased credits is purchased', tx('GRANT', [[5, 'PURCHASE']]), { purchasedMillis: 5, balanceChangeMillis: 5 }],
    ['promo, adjustment and refund buckets are granted', tx('ADJUSTMENT', [[7, 'ADJUSTMENT']]), { grantedMillis: 7, balanceChangeMillis: 7 }],
    ['the plan rollover is carried forward (a move)', tx('ROLLOVER', [[-300, 'PLAN_ALLOWANCE'], [300, 'ROLLOVER']]), { carriedForwardMillis: 300 }],
    ['a ROLLOVER grant by an admin brings credits', tx('ROLLOVER', [[300, 'ROLLOVER']]), { carriedForwardMillis: 300, grantedMillis: 300, balanceChangeMillis: 300 }],
    ['an expiry', tx('EXPIRE', [[-40, 'PROMO'], [-60, 'PLAN_ALLOWANCE']]), { expiredMillis: 100, balanceChangeMillis: -100 }],
    ['a debt repayment moves credits to the debt', tx('DEBT_REPAYMENT', [[-80, 'PURCHASE'], [80, null]], -80), { debtChangeMillis: -80 }],
    ['holds and releases move nothing', tx('HOLD', []), {}],
  ])('%s', (_name, t, expected) => {
    expect(nonZero(flowsOf(t))).toEqual(expected);
  });

  test('the figures always add up to the balance change (any type, any entries)', () => {
    const entry = fc.record<FlowEntry>({ millis: fc.integer({ min: -1_000_000, max: 1_000_000 }), source: fc.option(fc.constantFrom(...BUCKET_SOURCES), { nil: null }) });
    fc.assert(fc.property(fc.constantFrom(...TRANSACTION_TYPES), fc.array(entry, { maxLength: 5 }), (type, entries) => {
      // The ledger's own shapes: consumption is negative, credits in are positive.
      const signed = entries.map((e) => ({ ...e, millis: ['CHARGE', 'CAPTURE', 'EXPIRE'].includes(type) ? -Math.abs(e.millis)
        : ['GRANT', 'PURCHASE', 'ADJUSTMENT', 'REFUND'].includes(type) ? Math.abs(e.millis) : e.millis }));
      const usable = ['HOLD', 'RELEASE', 'DEBT_REPAYMENT'].includes(type) || (type === 'ROLLOVER' && signed.some((e) => e.millis < 0)) ? [] : signed;
      const f = flowsOf({ type, entries: usable, amountMillis: usable.reduce((s, e) => s + e.millis, 0), debtChangeMillis: 0 });
      expect(f.allocatedMillis + f.purchasedMillis + f.grantedMillis + f.refundedMillis - f.consumedMillis - f.expiredMillis - f.reversedMillis).toBe(f.balanceChangeMillis);
      for (const key of ['consumedMillis', 'consumedFreeMillis', 'consumedPurchasedMillis', 'refundedMillis', 'allocatedMillis', 'purchasedMillis', 'grantedMillis', 'expiredMillis', 'reversedMillis', 'carriedForwardMillis'] as const) {
        expect(f[key]).toBeGreaterThanOrEqual(0);
      }
      expect(f.consumedFreeMillis + f.consumedPurchasedMillis).toBeLessThanOrEqual(f.consumedMillis);
    }));
  });
});

describe('vendorCostOf', () => {
  const refuse = (message: string) => new Error(message);
  test.each<[string, unknown, ReturnType<typeof vendorCostOf> | 'refused']>([
    ['no record', null, null],
    ['no cost', { vendor: 'openai', requestId: 'x' }, null],
    ['a string cost, token units summed', { vendor: ' openai ', cost: '0.0125', currency: 'USD', units: { inputTokens: 1000, outputTokens: 250 } },
      { vendor: 'openai', cost: '0.0125', currency: 'USD', units: '1250' }],
    ['a number cost and units', { vendor: 'bfl', cost: 0.04, currency: 'EUR', units: 1.5 }, { vendor: 'bfl', cost: '0.04', currency: 'EUR', units: '1.5' }],
    ['no units', { vendor: 'bfl', cost: '1', currency: 'EUR' }, { vendor: 'bfl', cost: '1', currency: 'EUR', units: '0' }],
    ['non-numeric units are not counted', { vendor: 'v', cost: '1', currency: 'USD', units: { model: 'x', n: 2 } }, { vendor: 'v', cost: '1', currency: 'USD', units: '2' }],
    ['a negative cost', { vendor: 'v', cost: '-1', currency: 'USD' }, 'refused'],
    ['an exponent', { vendor: 'v', cost: '1e3', currency: 'USD' }, 'refused'],
    ['a cost without vendor', { cost: '1', currency: 'USD' }, 'refused'],
    ['a cost without currency', { vendor: 'v', cost: '1' }, 'refused'],
    ['a lowercase currency', { vendor: 'v', cost: '1', currency: 'usd' }, 'refused'],
  ])('%s', (_name, record, expected) => {
    if (expected === 'refused') expect(() => vendorCostOf(record, refuse)).toThrow();
    else expect(vendorCostOf(record, refuse)).toEqual(expected);
  });
});

describe('formatDecimal and sumDecimals', () => {
  test.each<[bigint, number, string]>([[0n, 9, '0'], [12500000n, 9, '0.0125'], [-15n, 1, '-1.5'], [100n, 0, '100'], [-1n, 3, '-0.001']])('%s / 10^%s', (units, scale, text) => {
    expect(formatDecimal({ units, scale })).toBe(text);
  });
  test.each<[string[], string]>([[[], '0'], [['0.1', '0.2'], '0.3'], [['1.005', '-0.005', '2'], '3'], [['123456789012345678.9', '0.1'], '123456789012345679']])('%j', (texts, sum) => {
    expect(sumDecimals(texts)).toBe(sum);
  });
});
