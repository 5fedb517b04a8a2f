/**
 * The pure rules of plans (src/modules/plans/plan-rules.ts): money in a currency's minor units,
 * plan terms and codes (each refusal BAD_USER_INPUT naming its field), which change is an upgrade,
 * an upgrade's prorated allowance and the rollover of unused allowance. Table-driven cases, then
 * properties.
 */
import fc from 'fast-check';
import type { RolloverPolicyName } from '../../src/db/schema';
import {
  GATING_ITEM_LENGTH_MAX, GATING_LIST_MAX, INTERVAL_COUNT_MAX, PLAN_NAME_LENGTH_MAX, PLAN_TIER_LENGTH_MAX, SEATS_MAX,
  isUpgrade, rolloverMillis, upgradeProrationMillis, validateCode, validateTerms, type PlanTerms,
} from '../../src/modules/plans/plan-rules';
import { currencyDigits, formatMoney, parseMoney } from '../../src/shared/money';
import { LEVELS_MAX as THRESHOLDS_MAX } from '../../src/modules/alerts/levels';
import { MILLIS_INPUT_MAX } from '../../src/shared/credits';
import { badInputOf } from '../helpers/refusal';

const DAY_MS = 24 * 3600 * 1000;

const refusedField = (fn: () => unknown) => badInputOf(fn).field;

const terms = (fields: Partial<PlanTerms> = {}): PlanTerms => ({
  name: 'Pro', priceMinor: 4900n, currency: 'USD', interval: 'MONTH', intervalCount: 1, allowanceMillis: 5_000_000,
  rollover: 'NONE', rolloverCapMillis: null, overdraftLimitMillis: 0, tier: 'pro', models: null, actions: null,
  lowCreditThresholds: [], lowCreditThresholdPercents: [], seats: 1, ...fields,
});

const text = (length: number, char = 'x') => char.repeat(length);
const list = (length: number) => Array.from({ length }, (_, i) => `m${i}`);

describe('currencyDigits', () => {
  test.each([['USD', 2], ['EUR', 2], ['JPY', 0], ['KRW', 0], ['KWD', 3], ['BHD', 3]])('%s has %d digits', (currency, digits) => {
    expect(currencyDigits(currency)).toBe(digits);
  });
});

describe('parseMoney', () => {
  test.each<[string, string, bigint]>([
    ['25.00', 'USD', 2500n],
    ['25', 'USD', 2500n],
    ['25.5', 'USD', 2550n],
    ['0', 'USD', 0n],
    ['0.01', 'USD', 1n],
    ['9.99', 'USD', 999n],
    ['007.50', 'EUR', 750n],
    ['1000', 'JPY', 1000n],
    ['0', 'JPY', 0n],
    ['1.234', 'KWD', 1234n],
    ['1.2', 'KWD', 1200n],
    ['0.001', 'KWD', 1n],
    ['100000000000.00', 'USD', 10n ** 13n], // the largest price: 10^13 minor units
    ['9999999999999', 'JPY', 9_999_999_999_999n],
    ['10000000000.000', 'KWD', 10n ** 13n],
  ])('%s %s = %d minor units', (amount, currency, minor) => {
    expect(parseMoney(amount, currency)).toEqual({ minor, currency });
  });

  test.each<[string, string, string, string]>([
    ['a currency that does not exist', '25.00', 'XYZ', 'price.currency'],
    ['a lowercase code', '25.00', 'usd', 'price.currency'],
    ['no currency', '25.00', '', 'price.currency'],
    ['a symbol', '25.00', '$', 'price.currency'],
    ['3 digits for USD', '9.999', 'USD', 'price.amount'],
    ['any fraction for JPY', '1000.5', 'JPY', 'price.amount'],
    ['even ".0" for JPY', '1000.0', 'JPY', 'price.amount'],
    ['4 digits for KWD', '1.2345', 'KWD', 'price.amount'],
    ['a negative amount', '-1.00', 'USD', 'price.amount'],
    ['minus zero', '-0', 'USD', 'price.amount'],
    ['a plus sign', '+1', 'USD', 'price.amount'],
    ['an exponent', '1e3', 'USD', 'price.amount'],
    ['space around', ' 1.00', 'USD', 'price.amount'],
    ['a comma', '1,00', 'USD', 'price.amount'],
    ['no digits', '', 'USD', 'price.amount'],
    ['a bare point', '.50', 'USD', 'price.amount'],
    ['a trailing point', '5.', 'USD', 'price.amount'],
    ['words', 'ten', 'USD', 'price.amount'],
    ['one minor unit over 10^13', '100000000000.01', 'USD', 'price.amount'],
    ['13 whole digits of USD (10^15 minor units)', '9999999999999', 'USD', 'price.amount'],
    ['15 whole digits', '100000000000000', 'JPY', 'price.amount'],
    ['one more than the largest price', '10000000000001', 'JPY', 'price.amount'],
    ['huge', '1' + '0'.repeat(40), 'USD', 'price.amount'],
    ['one minor unit over 10^13 in KWD', '10000000000.001', 'KWD', 'price.amount'],
  ])('refuses %s ("%s" %s), naming %s', (_name, amount, currency, field) => {
    expect(refusedField(() => parseMoney(amount, currency))).toBe(field);
  });

  test('names the field it is given', () => {
    expect(refusedField(() => parseMoney('1.001', 'USD', 'fee'))).toBe('fee.amount');
    expect(refusedField(() => parseMoney('1', 'XYZ', 'fee'))).toBe('fee.currency');
  });

  test('the message shows an example with the currency\'s digits', () => {
    expect(() => parseMoney('1.5', 'JPY')).toThrow(/0 fractional digits for JPY, e\.g\. "25"/);
    expect(() => parseMoney('1.5555', 'KWD')).toThrow(/3 fractional digits for KWD, e\.g\. "25\.000"/);
  });
});

describe('formatMoney', () => {
  test.each<[bigint, string, string]>([
    [2500n, 'USD', '25.00'],
    [999n, 'USD', '9.99'],
    [5n, 'USD', '0.05'],
    [0n, 'USD', '0.00'],
    [-250n, 'USD', '-2.50'],
    [-5n, 'USD', '-0.05'],
    [1000n, 'JPY', '1000'],
    [0n, 'JPY', '0'],
    [1234n, 'KWD', '1.234'],
    [5n, 'KWD', '0.005'],
    [0n, 'KWD', '0.000'],
    [10n ** 13n, 'USD', '100000000000.00'],
    [123456789012345678901234567890n, 'USD', '1234567890123456789012345678.90'], // exact beyond float precision
  ])('%d %s = "%s"', (minor, currency, expected) => {
    expect(formatMoney(minor, currency)).toBe(expected);
  });

  test('the largest price reads back in a currency without minor units (14 whole digits)', () => {
    expect(parseMoney(formatMoney(10n ** 13n, 'JPY'), 'JPY')).toEqual({ minor: 10n ** 13n, currency: 'JPY' });
  });

  test('parseMoney reads back what formatMoney writes', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 10n ** 13n }), fc.constantFrom('USD', 'EUR', 'JPY', 'KWD', 'BHD'), (minor, currency) => {
      expect(parseMoney(formatMoney(minor, currency), currency)).toEqual({ minor, currency });
    }));
  });
});

describe('validateTerms', () => {
  test('accepts a complete plan and returns it normalized', () => {
    const valid = validateTerms(terms({
      name: '  Pro  ', tier: ' pro ', rollover: 'CAPPED', rolloverCapMillis: 2_500_000, overdraftLimitMillis: 100_000,
      models: [' sdxl', 'gpt-4o', 'sdxl'], actions: ['image', 'chat'], lowCreditThresholds: [250_000, 1_000_000, 250_000], seats: 3,
    }));
    expect(valid).toEqual(terms({
      name: 'Pro', tier: 'pro', rollover: 'CAPPED', rolloverCapMillis: 2_500_000, overdraftLimitMillis: 100_000,
      models: ['gpt-4o', 'sdxl'], actions: ['chat', 'image'], lowCreditThresholds: [1_000_000, 250_000], lowCreditThresholdPercents: [], seats: 3,
      // Review thresholds and rate not given: stored as null (the server's defaults).
      velocityMultiplier: null, velocityFloorMillis: null, fingerprintRepeats: null, fingerprintWindowMinutes: null, requestsPerMinute: null,
    }));
  });

  test.each<[string, Partial<PlanTerms>, string]>([
    ['multiplier 0', { velocityMultiplier: 0 }, 'velocityMultiplier'],
    ['multiplier 1001', { velocityMultiplier: 1001 }, 'velocityMultiplier'],
    ['multiplier 2.5', { velocityMultiplier: 2.5 }, 'velocityMultiplier'],
    ['floor 0', { velocityFloorMillis: 0 }, 'velocityFloor'],
    ['repeats 1', { fingerprintRepeats: 1 }, 'fingerprintRepeats'],
    ['repeats 101', { fingerprintRepeats: 101 }, 'fingerprintRepeats'],
    ['window 0', { fingerprintWindowMinutes: 0 }, 'fingerprintWindowMinutes'],
    ['window 1441', { fingerprintWindowMinutes: 1441 }, 'fingerprintWindowMinutes'],
    ['0 requests per minute', { requestsPerMinute: 0 }, 'requestsPerMinute'],
    ['2,000,000 requests per minute', { requestsPerMinute: 2_000_000 }, 'requestsPerMinute'],
  ])('review thresholds out of bounds: %s names %s', (_label, fields, field) => {
    expect(refusedField(() => validateTerms(terms(fields)))).toBe(field);
  });

  test('review thresholds within bounds are kept', () => {
    const fields = { velocityMultiplier: 1, velocityFloorMillis: 1, fingerprintRepeats: 2, fingerprintWindowMinutes: 1440, requestsPerMinute: 1 };
    expect(validateTerms(terms(fields))).toMatchObject(fields);
  });

  test.each<[string, Partial<PlanTerms>]>([
    ['allowance 0', { allowanceMillis: 0 }],
    ['no tier', { tier: null }],
    ['a name of the maximum length', { name: text(PLAN_NAME_LENGTH_MAX) }],
    ['a tier of the maximum length', { tier: text(PLAN_TIER_LENGTH_MAX) }],
    ['intervalCount at the maximum', { intervalCount: INTERVAL_COUNT_MAX }],
    ['FULL rollover without a cap', { rollover: 'FULL' }],
    ['CAPPED rollover with a cap of 1 millicredit', { rollover: 'CAPPED', rolloverCapMillis: 1 }],
    ['CAPPED rollover with a cap above the allowance', { rollover: 'CAPPED', rolloverCapMillis: 10_000_000 }],
    ['the largest gating lists', { models: list(GATING_LIST_MAX), actions: list(GATING_LIST_MAX) }],
    ['gating items of the maximum length', { models: [text(GATING_ITEM_LENGTH_MAX)] }],
    ['empty gating lists', { models: [], actions: [] }],
    ['the most thresholds', { lowCreditThresholds: Array.from({ length: THRESHOLDS_MAX }, (_, i) => (i + 1) * 1000) }],
    ['the most seats', { seats: SEATS_MAX }],
    ['a free plan', { priceMinor: 0n }],
    ['weekly', { interval: 'WEEK', intervalCount: 2 }],
  ])('accepts %s', (_name, fields) => {
    expect(() => validateTerms(terms(fields))).not.toThrow();
  });

  test.each<[string, string, Partial<PlanTerms>]>([
    ['an empty name', 'name', { name: '' }],
    ['a blank name', 'name', { name: '   ' }],
    ['a name too long', 'name', { name: text(PLAN_NAME_LENGTH_MAX + 1) }],
    ['intervalCount 0', 'intervalCount', { intervalCount: 0 }],
    ['a negative intervalCount', 'intervalCount', { intervalCount: -1 }],
    ['intervalCount over the maximum', 'intervalCount', { intervalCount: INTERVAL_COUNT_MAX + 1 }],
    ['a fractional intervalCount', 'intervalCount', { intervalCount: 1.5 }],
    ['a negative allowance', 'allowance', { allowanceMillis: -1 }],
    ['a negative overdraftLimit', 'overdraftLimit', { overdraftLimitMillis: -1 }],
    ['CAPPED without a cap', 'rolloverCap', { rollover: 'CAPPED', rolloverCapMillis: null }],
    ['a cap with NONE', 'rolloverCap', { rollover: 'NONE', rolloverCapMillis: 1000 }],
    ['a cap with FULL', 'rolloverCap', { rollover: 'FULL', rolloverCapMillis: 1000 }],
    ['a cap of 0', 'rolloverCap', { rollover: 'CAPPED', rolloverCapMillis: 0 }],
    ['a negative cap', 'rolloverCap', { rollover: 'CAPPED', rolloverCapMillis: -1000 }],
    ['an empty tier', 'tier', { tier: '' }],
    ['a blank tier', 'tier', { tier: '  ' }],
    ['a tier too long', 'tier', { tier: text(PLAN_TIER_LENGTH_MAX + 1) }],
    ['too many models', 'models', { models: list(GATING_LIST_MAX + 1) }],
    ['an empty model', 'models', { models: ['sdxl', ''] }],
    ['a blank model', 'models', { models: ['  '] }],
    ['a model name too long', 'models', { models: [text(GATING_ITEM_LENGTH_MAX + 1)] }],
    ['too many actions', 'actions', { actions: list(GATING_LIST_MAX + 1) }],
    ['an empty action', 'actions', { actions: [''] }],
    ['an action name too long', 'actions', { actions: [text(GATING_ITEM_LENGTH_MAX + 1)] }],
    ['too many thresholds', 'lowCreditThresholds', { lowCreditThresholds: Array.from({ length: THRESHOLDS_MAX + 1 }, (_, i) => (i + 1) * 1000) }],
    ['a threshold of 0', 'lowCreditThresholds', { lowCreditThresholds: [1000, 0] }],
    ['a negative threshold', 'lowCreditThresholds', { lowCreditThresholds: [-1000] }],
    ['0 seats', 'seats', { seats: 0 }],
    ['too many seats', 'seats', { seats: SEATS_MAX + 1 }],
    ['a fractional number of seats', 'seats', { seats: 1.5 }],
  ])('refuses %s, naming %s', (_name, field, fields) => {
    expect(refusedField(() => validateTerms(terms(fields)))).toBe(field);
  });

  test('names the first problem in field order', () => {
    expect(refusedField(() => validateTerms(terms({ name: '', allowanceMillis: -1, seats: 0 })))).toBe('name');
    expect(refusedField(() => validateTerms(terms({ allowanceMillis: -1, seats: 0 })))).toBe('allowance');
  });
});

describe('validateCode', () => {
  test.each(['a', 'pro', 'pro-2024', 'team_plus', '0day', text(64, 'a')])('accepts %j', (code) => {
    expect(validateCode(code)).toBe(code);
  });

  test.each(['', 'Pro', 'PRO', '-pro', '_pro', 'pro plan', 'pro.plan', 'pro/plan', 'prö', 'pro\n', ' pro', text(65, 'a')])('refuses %j, naming code', (code) => {
    expect(refusedField(() => validateCode(code))).toBe('code');
  });
});

describe('isUpgrade', () => {
  const current = terms({ allowanceMillis: 5_000_000, priceMinor: 4900n });
  test.each<[string, boolean, Partial<PlanTerms>]>([
    ['same interval, larger allowance', true, { allowanceMillis: 50_000_000, priceMinor: 39900n }],
    ['same interval, larger allowance at a lower price', true, { allowanceMillis: 6_000_000, priceMinor: 100n }],
    ['same interval, smaller allowance', false, { allowanceMillis: 500_000, priceMinor: 999n }],
    ['same interval, smaller allowance at a higher price', false, { allowanceMillis: 500_000, priceMinor: 99900n }],
    ['equal allowance, higher price', true, { priceMinor: 5900n }],
    ['equal allowance, equal price', false, {}],
    ['equal allowance, lower price', false, { priceMinor: 999n }],
    ['equal allowance, higher price in another currency', false, { priceMinor: 5900n, currency: 'EUR' }],
    ['another interval, larger allowance', false, { interval: 'YEAR', allowanceMillis: 60_000_000 }],
    ['another interval, equal allowance and higher price', false, { interval: 'WEEK', priceMinor: 9900n }],
    ['another interval count, larger allowance', false, { intervalCount: 3, allowanceMillis: 15_000_000 }],
  ])('%s: %s', (_name, expected, fields) => {
    expect(isUpgrade(current, terms(fields))).toBe(expected);
  });
});

describe('upgradeProrationMillis', () => {
  const start = new Date('2027-01-01T00:00:00.000Z');
  const end = new Date('2027-01-31T00:00:00.000Z'); // 30 days
  const at = (msAfterStart: number) => new Date(start.getTime() + msAfterStart);
  const length = end.getTime() - start.getTime();

  test.each<[string, number, number, Date, number]>([
    ['half the period left', 1_000_000, 3_000_000, at(length / 2), 1_000_000],
    ['the whole period left (at its start)', 1_000_000, 3_000_000, start, 2_000_000],
    ['before the period (at most the whole difference)', 1_000_000, 3_000_000, at(-DAY_MS), 2_000_000],
    ['a third left: rounded down', 0, 5_000_000, at(20 * DAY_MS), 1_666_666],
    ['two thirds left: rounded down', 0, 1000, at(10 * DAY_MS), 666],
    ['1 ms left of a small difference: 0', 0, 5_000_000, at(length - 1), 0],
    ['1 ms gone: just under the difference', 0, 2_592_000_000, at(1), 2_591_999_999],
    ['none left (at the end)', 1_000_000, 3_000_000, end, 0],
    ['none left (after the end)', 1_000_000, 3_000_000, at(length + DAY_MS), 0],
    ['a smaller allowance', 3_000_000, 1_000_000, at(length / 2), 0],
    ['an equal allowance', 3_000_000, 3_000_000, at(length / 2), 0],
    // d × left / length in floats would be 469459339536135; exact integer arithmetic floors to …134
    ['large numbers without float loss', 0, 999_999_999_242_021, at(length - 1_216_838_609), 469_459_339_536_134],
    ['the largest allowances', 1, MILLIS_INPUT_MAX, start, MILLIS_INPUT_MAX - 1],
  ])('%s', (_name, currentAllowance, targetAllowance, now, expected) => {
    expect(upgradeProrationMillis(currentAllowance, targetAllowance, start, end, now)).toBe(expected);
  });

  test('an empty period grants nothing', () => {
    expect(upgradeProrationMillis(0, 1000, start, start, start)).toBe(0);
  });

  const allowances = fc.integer({ min: 0, max: MILLIS_INPUT_MAX });
  const periods = fc.record({
    startMs: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }),
    lengthMs: fc.integer({ min: 1, max: 10 * 366 * DAY_MS }),
  });

  test('property: between 0 and the difference, and monotone in the time left', () => {
    fc.assert(fc.property(allowances, allowances, periods, fc.double({ min: -0.2, max: 1.2, noNaN: true }), fc.double({ min: -0.2, max: 1.2, noNaN: true }),
      (currentAllowance, targetAllowance, { startMs, lengthMs }, f1, f2) => {
        const periodStart = new Date(startMs);
        const periodEnd = new Date(startMs + lengthMs);
        const [early, late] = [Math.min(f1, f2), Math.max(f1, f2)].map((f) => new Date(startMs + Math.round(f * lengthMs)));
        const moreLeft = upgradeProrationMillis(currentAllowance, targetAllowance, periodStart, periodEnd, early);
        const lessLeft = upgradeProrationMillis(currentAllowance, targetAllowance, periodStart, periodEnd, late);
        const difference = Math.max(0, targetAllowance - currentAllowance);
        for (const granted of [moreLeft, lessLeft]) {
          expect(Number.isSafeInteger(granted)).toBe(true);
          expect(granted).toBeGreaterThanOrEqual(0);
          expect(granted).toBeLessThanOrEqual(difference);
        }
        expect(moreLeft).toBeGreaterThanOrEqual(lessLeft);
      }), { numRuns: 500 });
  });

  test('property: exact floor of difference × left / length', () => {
    fc.assert(fc.property(allowances, allowances, periods, fc.double({ min: 0, max: 1, noNaN: true }), (a, b, { startMs, lengthMs }, f) => {
      const left = Math.round(f * lengthMs);
      const granted = upgradeProrationMillis(a, b, new Date(startMs), new Date(startMs + lengthMs), new Date(startMs + lengthMs - left));
      const difference = BigInt(Math.max(0, b - a));
      // granted ≤ difference × left / length < granted + 1
      expect(BigInt(granted) * BigInt(lengthMs)).toBeLessThanOrEqual(difference * BigInt(left));
      expect((BigInt(granted) + 1n) * BigInt(lengthMs)).toBeGreaterThan(difference * BigInt(left));
    }), { numRuns: 300 });
  });
});

describe('rolloverMillis', () => {
  test.each<[RolloverPolicyName, number | null, number, number]>([
    ['NONE', null, 500_000, 0],
    ['NONE', null, 0, 0],
    ['CAPPED', 300_000, 500_000, 300_000],
    ['CAPPED', 300_000, 300_000, 300_000],
    ['CAPPED', 300_000, 200_000, 200_000],
    ['CAPPED', 300_000, 1, 1],
    ['CAPPED', 300_000, 0, 0],
    ['CAPPED', null, 500_000, 0],
    ['FULL', null, 500_000, 500_000],
    ['FULL', null, MILLIS_INPUT_MAX, MILLIS_INPUT_MAX],
    ['FULL', null, 0, 0],
    ['FULL', null, -1000, 0],
    ['CAPPED', 300_000, -1000, 0],
  ])('%s (cap %s), unused %d: %d rolls over', (policy, cap, unused, expected) => {
    expect(rolloverMillis(policy, cap, unused)).toBe(expected);
  });
});
