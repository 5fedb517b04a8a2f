/**
 * The pure rules of buying credits (src/modules/purchases/purchase-rules.ts) and the money they use
 * (src/shared/money.ts): pack and price-table validation list every problem at once; the VOLUME price
 * of a custom amount at tier boundaries; which amounts may be bought; the one rounding (half up to the
 * minor unit), cost per credit and unit-price text. Table-driven cases, then properties checked
 * against an independent BigInt computation.
 */
import fc from 'fast-check';
import {
  PACK_EXPIRY_DAYS_MAX, PACK_NAME_LENGTH_MAX, PRICE_TIERS_MAX, PURCHASE_CREDITS_MAX,
  checkPurchasable, packPrice, packProblems, priceCustom, priceTableProblems, type PackTerms, type PriceTable,
} from '../../src/modules/purchases/purchase-rules';
import { costPerCredit, currencyDigits, formatUnitPrice, parseUnitPrice, priceOfCredits, PRICE_MINOR_MAX } from '../../src/shared/money';
import { badInputOf } from '../helpers/refusal';

const credits = (n: number) => Math.round(n * 1000); // millis

const pack = (fields: Partial<PackTerms> = {}): PackTerms => ({
  name: 'Starter', creditsMillis: credits(100), priceMinor: 999n, currency: 'USD', expiresAfterDays: null, ...fields,
});

/** $0.10 from 10 credits, $0.08 from 1,000, $0.06 from 10,000; at most 100,000 credits. */
const TABLE: PriceTable = {
  currency: 'USD', minimumMillis: credits(10), maximumMillis: credits(100_000),
  tiers: [
    { fromMillis: credits(10), unitPrice: '0.10' },
    { fromMillis: credits(1_000), unitPrice: '0.08' },
    { fromMillis: credits(10_000), unitPrice: '0.06' },
  ],
};
const table = (fields: Partial<PriceTable> = {}): PriceTable => ({ ...TABLE, ...fields });

const fields = (problems: { field: string }[]) => problems.map((p) => p.field);

const refused = (fn: () => unknown) => badInputOf(fn);

describe('packProblems', () => {
  test('a valid pack (with or without its code, with or without an expiry) has no problems', () => {
    expect(packProblems(pack())).toEqual([]);
    expect(packProblems(pack(), 'starter_20-a')).toEqual([]);
    expect(packProblems(pack({ expiresAfterDays: 1 }), '0pack')).toEqual([]);
    expect(packProblems(pack({ expiresAfterDays: PACK_EXPIRY_DAYS_MAX, creditsMillis: PURCHASE_CREDITS_MAX, priceMinor: 1n, currency: 'JPY' }))).toEqual([]);
    expect(packProblems(pack({ name: 'x'.repeat(PACK_NAME_LENGTH_MAX), creditsMillis: 1 }), 'a'.repeat(64))).toEqual([]);
  });

  test.each<[string, Partial<PackTerms>, string | undefined, string[]]>([
    ['code with capitals', {}, 'Starter', ['code']],
    ['code with a space', {}, 'star ter', ['code']],
    ['code starting with "-"', {}, '-starter', ['code']],
    ['empty code', {}, '', ['code']],
    ['code of 65 characters', {}, 'a'.repeat(65), ['code']],
    ['empty name', { name: '' }, undefined, ['name']],
    ['blank name', { name: '   ' }, undefined, ['name']],
    ['name too long', { name: 'x'.repeat(PACK_NAME_LENGTH_MAX + 1) }, undefined, ['name']],
    ['zero credits', { creditsMillis: 0 }, undefined, ['credits']],
    ['negative credits', { creditsMillis: -1000 }, undefined, ['credits']],
    ['credits beyond the maximum', { creditsMillis: PURCHASE_CREDITS_MAX + 1 }, undefined, ['credits']],
    ['unknown currency', { currency: 'XYZ' }, undefined, ['price.currency']],
    ['lowercase currency', { currency: 'usd' }, undefined, ['price.currency']],
    ['free pack', { priceMinor: 0n }, undefined, ['price.amount']],
    ['negative price', { priceMinor: -1n }, undefined, ['price.amount']],
    ['expiry of 0 days', { expiresAfterDays: 0 }, undefined, ['expiresAfterDays']],
    ['negative expiry', { expiresAfterDays: -5 }, undefined, ['expiresAfterDays']],
    ['expiry beyond the maximum', { expiresAfterDays: PACK_EXPIRY_DAYS_MAX + 1 }, undefined, ['expiresAfterDays']],
    ['fractional expiry', { expiresAfterDays: 1.5 }, undefined, ['expiresAfterDays']],
  ])('%s', (_name, terms, code, expected) => {
    const problems = packProblems(pack(terms), code);
    expect(fields(problems)).toEqual(expected);
    for (const problem of problems) expect(problem.message).toEqual(expect.any(String));
  });

  test('every problem is listed at once, in field order', () => {
    const problems = packProblems({ name: ' ', creditsMillis: 0, priceMinor: 0n, currency: 'dollars', expiresAfterDays: 0 }, 'Bad Code');
    expect(fields(problems)).toEqual(['code', 'name', 'credits', 'price.currency', 'price.amount', 'expiresAfterDays']);
  });
});

describe('packPrice: a price as given, or its problem to list with the others', () => {
  test.each<[string, string, { minor: bigint; currency: string; problem: string | null }]>([
    ['9.99', 'USD', { minor: 999n, currency: 'USD', problem: null }],
    ['25', 'USD', { minor: 2_500n, currency: 'USD', problem: null }],
    ['0', 'USD', { minor: 0n, currency: 'USD', problem: null }], // a price; packProblems refuses it
    ['1500', 'JPY', { minor: 1_500n, currency: 'JPY', problem: null }],
    ['1.234', 'KWD', { minor: 1_234n, currency: 'KWD', problem: null }],
    ['9.999', 'USD', { minor: 1n, currency: 'USD', problem: 'price.amount' }],
    ['1.5', 'JPY', { minor: 1n, currency: 'JPY', problem: 'price.amount' }],
    ['-1', 'USD', { minor: 1n, currency: 'USD', problem: 'price.amount' }],
    ['ten', 'USD', { minor: 1n, currency: 'USD', problem: 'price.amount' }],
    ['100000000000.01', 'USD', { minor: 1n, currency: 'USD', problem: 'price.amount' }], // beyond PRICE_MINOR_MAX
    ['1.00', 'XYZ', { minor: 1n, currency: 'XYZ', problem: 'price.currency' }],
  ])('%s %s', (amount, currency, expected) => {
    const price = packPrice(amount, currency);
    expect({ ...price, problem: price.problem?.field ?? null }).toEqual(expected);
  });

  test('its problem is listed in the price\'s place, instead of the checks it stands for', () => {
    const amount = packPrice('9.999', 'USD');
    expect(fields(packProblems(pack({ name: '', creditsMillis: 0, priceMinor: amount.minor, expiresAfterDays: 0 }), 'Bad', amount.problem)))
      .toEqual(['code', 'name', 'credits', 'price.amount', 'expiresAfterDays']);
    const currency = packPrice('1', 'XYZ');
    expect(fields(packProblems(pack({ currency: currency.currency, priceMinor: currency.minor }), undefined, currency.problem))).toEqual(['price.currency']);
    expect(packProblems(pack(), undefined, null)).toEqual([]);
  });
});

describe('priceTableProblems', () => {
  test('a valid table has no problems (one tier; several; one tier at exactly the maximum)', () => {
    expect(priceTableProblems(TABLE)).toEqual([]);
    expect(priceTableProblems(table({ tiers: [{ fromMillis: credits(10), unitPrice: '0.1' }] }))).toEqual([]);
    expect(priceTableProblems(table({ minimumMillis: 1, maximumMillis: 1, tiers: [{ fromMillis: 1, unitPrice: '0.000001' }] }))).toEqual([]);
    expect(priceTableProblems(table({ tiers: [...TABLE.tiers, { fromMillis: TABLE.maximumMillis, unitPrice: '0.05' }] }))).toEqual([]);
    expect(priceTableProblems(table({ currency: 'JPY', tiers: [{ fromMillis: credits(10), unitPrice: '12' }] }))).toEqual([]);
  });

  test.each<[string, Partial<PriceTable>, string[]]>([
    ['unknown currency', { currency: 'XXXX' }, ['currency']],
    ['minimum 0 (the first tier starts at 0 too)', { minimumMillis: 0, tiers: [{ fromMillis: 0, unitPrice: '0.1' }] }, ['minimum']],
    ['maximum below the minimum', { maximumMillis: credits(5), tiers: [{ fromMillis: credits(10), unitPrice: '0.1' }] }, ['maximum', 'tiers[0].from']],
    ['maximum beyond the purchase limit', { maximumMillis: PURCHASE_CREDITS_MAX + 1 }, ['maximum']],
    ['no tiers', { tiers: [] }, ['tiers']],
    ['too many tiers', { tiers: Array.from({ length: PRICE_TIERS_MAX + 1 }, (_, i) => ({ fromMillis: credits(10 + i), unitPrice: '0.1' })) }, ['tiers']],
    ['a unit price of 0', { tiers: [{ fromMillis: credits(10), unitPrice: '0' }] }, ['tiers[0].unitPrice']],
    ['a negative unit price', { tiers: [{ fromMillis: credits(10), unitPrice: '-0.1' }] }, ['tiers[0].unitPrice']],
    ['a unit price of 7 fractional digits', { tiers: [{ fromMillis: credits(10), unitPrice: '0.0000001' }] }, ['tiers[0].unitPrice']],
    ['a unit price that is not a decimal', { tiers: [{ fromMillis: credits(10), unitPrice: '1e-2' }] }, ['tiers[0].unitPrice']],
    ['the first tier not at the minimum', { tiers: [{ fromMillis: credits(20), unitPrice: '0.1' }] }, ['tiers[0].from']],
    ['tiers not increasing', { tiers: [TABLE.tiers[0], TABLE.tiers[2], TABLE.tiers[1]] }, ['tiers[2].from']],
    ['two tiers at one amount', { tiers: [TABLE.tiers[0], TABLE.tiers[1], { ...TABLE.tiers[1], unitPrice: '0.07' }] }, ['tiers[2].from']],
    ['a tier beyond the maximum', { tiers: [TABLE.tiers[0], { fromMillis: TABLE.maximumMillis + 1, unitPrice: '0.05' }] }, ['tiers[1].from']],
    ['the maximum costs more than any price', { maximumMillis: PURCHASE_CREDITS_MAX, tiers: [{ fromMillis: credits(10), unitPrice: '100000' }] }, ['maximum']],
  ])('%s', (_name, changes, expected) => {
    const problems = priceTableProblems(table(changes));
    expect(fields(problems)).toEqual(expected);
  });

  test('every problem is listed at once', () => {
    const problems = priceTableProblems({
      currency: 'usd', minimumMillis: 0, maximumMillis: -1,
      tiers: [{ fromMillis: 5, unitPrice: 'free' }, { fromMillis: 5, unitPrice: '0.1' }],
    });
    expect(fields(problems)).toEqual([
      'currency', 'minimum', 'maximum', 'tiers[0].unitPrice', 'tiers[0].from', 'tiers[0].from', 'tiers[1].from', 'tiers[1].from',
    ]);
  });

  test('the overflow check runs only on an otherwise valid table, and the largest price that fits passes', () => {
    // 10^9 credits at 10000 USD = 10^13 USD cents: exactly PRICE_MINOR_MAX, allowed; one more micro is too much.
    const atLimit = table({ maximumMillis: PURCHASE_CREDITS_MAX, tiers: [{ fromMillis: credits(10), unitPrice: '0.01' }] });
    expect(priceCustom(atLimit, PURCHASE_CREDITS_MAX).minor).toBe(10n ** 9n);
    expect(priceTableProblems(atLimit)).toEqual([]);
    const biggest = table({ maximumMillis: PURCHASE_CREDITS_MAX, tiers: [{ fromMillis: credits(10), unitPrice: '100' }] });
    expect(priceCustom(biggest, PURCHASE_CREDITS_MAX).minor).toBe(10n ** 13n);
    expect(priceCustom(biggest, PURCHASE_CREDITS_MAX).minor).toBe(PRICE_MINOR_MAX);
    expect(priceTableProblems(biggest)).toEqual([]);
    const over = table({ maximumMillis: PURCHASE_CREDITS_MAX, tiers: [{ fromMillis: credits(10), unitPrice: '100.000001' }] });
    expect(fields(priceTableProblems(over))).toEqual(['maximum']);
  });
});

describe('priceCustom: VOLUME, the whole amount at the highest tier it reaches', () => {
  test.each<[number, number, bigint]>([
    // millis, tier index, cents
    [credits(10), 0, 100n],
    [credits(10.005), 0, 100n], // $1.0005 → $1.00 (half up would need $1.005)
    [credits(10.05), 0, 101n], // $1.005 exactly: half up → $1.01
    [credits(999.999), 0, 10_000n], // $99.9999 → $100.00
    [credits(1_000), 1, 8_000n], // the boundary belongs to the new tier: 1,000 × $0.08
    [credits(1_000.001), 1, 8_000n],
    [credits(1_234.5), 1, 9_876n], // $98.76
    [credits(9_999.999), 1, 80_000n], // $799.99992 → $800.00
    [credits(10_000), 2, 60_000n], // 10,000 × $0.06
    [credits(100_000), 2, 600_000n], // the maximum
  ])('%d millis: tier %d, %d cents', (millis, tierIndex, minor) => {
    const price = priceCustom(TABLE, millis);
    expect(price).toEqual({ minor, tierIndex, unitMicros: parseUnitPrice(TABLE.tiers[tierIndex].unitPrice) });
  });

  test('one tier only: every amount at its price', () => {
    const single = table({ tiers: [{ fromMillis: credits(10), unitPrice: '0.085' }] });
    expect(priceCustom(single, credits(1_234.5))).toEqual({ minor: 10_493n, tierIndex: 0, unitMicros: 85_000n });
    expect(priceCustom(single, credits(100_000))).toEqual({ minor: 850_000n, tierIndex: 0, unitMicros: 85_000n });
  });

  test('a currency without minor units rounds to whole units', () => {
    const yen = table({ currency: 'JPY', tiers: [{ fromMillis: credits(10), unitPrice: '15' }, { fromMillis: credits(1_000), unitPrice: '12.5' }] });
    expect(priceCustom(yen, credits(10.1)).minor).toBe(152n); // ¥151.5 → ¥152
    expect(priceCustom(yen, credits(999.999)).minor).toBe(15_000n); // ¥14,999.985
    expect(priceCustom(yen, credits(1_000.04)).minor).toBe(12_501n); // ¥12,500.5 → ¥12,501
  });
});

describe('checkPurchasable', () => {
  test('amounts within [minimum, maximum] are accepted and return the table', () => {
    for (const millis of [TABLE.minimumMillis, credits(10.001), credits(5_000), TABLE.maximumMillis]) {
      expect(checkPurchasable(TABLE, millis)).toBe(TABLE);
    }
  });

  test.each<[string, PriceTable | null, number, RegExp]>([
    ['zero', TABLE, 0, /must be > 0/],
    ['negative', TABLE, -1000, /must be > 0/],
    ['zero without a table: the amount is refused first', null, 0, /must be > 0/],
    ['no table', null, credits(100), /not on sale/],
    ['one millicredit below the minimum', TABLE, TABLE.minimumMillis - 1, /between 10 and 100000/],
    ['one millicredit above the maximum', TABLE, TABLE.maximumMillis + 1, /between 10 and 100000/],
    ['beyond the purchase limit', TABLE, PURCHASE_CREDITS_MAX + 1, /between 10 and 100000/],
  ])('%s: BAD_USER_INPUT', (_name, t, millis, message) => {
    const refusal = refused(() => checkPurchasable(t, millis));
    expect(refusal.field).toBe('credits');
    expect(refusal.message).toMatch(message);
  });

  test('the refusal names the field it is given', () => {
    expect(refused(() => checkPurchasable(TABLE, 1, 'targetBalance')).field).toBe('targetBalance');
  });
});

describe('priceOfCredits: exact, rounded half up once to the minor unit', () => {
  test.each<[string, number, string, string, bigint]>([
    ['the README example', credits(1_234.5), '0.085', 'USD', 10_493n], // $104.9325
    ['exactly half a cent rounds up', credits(1), '0.005', 'USD', 1n],
    ['just under half a cent rounds down', credits(1), '0.004999', 'USD', 0n],
    ['just over half a cent rounds up', credits(1), '0.005001', 'USD', 1n],
    ['1.5 cents → 2', credits(3), '0.005', 'USD', 2n],
    ['2.5 cents → 3 (half up, not half even)', credits(5), '0.005', 'USD', 3n],
    ['one millicredit at $0.10', 1, '0.10', 'USD', 0n],
    ['five millicredits at $1', 5, '1', 'USD', 1n], // $0.005
    ['whole dollars', credits(2_500), '0.01', 'USD', 2_500n],
    ['a finest unit price', credits(1_000_000), '0.000001', 'USD', 100n],
    ['JPY: no minor unit, ¥104.9325 → ¥105', credits(1_234.5), '0.085', 'JPY', 105n],
    ['JPY: ¥4.5 → ¥5', credits(3), '1.5', 'JPY', 5n],
    ['JPY: ¥0.4999 → ¥0', credits(1), '0.4999', 'JPY', 0n],
    ['KWD: three digits, 0.5 fils → 1', credits(1), '0.0005', 'KWD', 1n],
    ['the largest purchase', 1_000_000_000_000, '100', 'USD', 10n ** 13n],
  ])('%s', (_name, millis, unitPrice, currency, minor) => {
    expect(priceOfCredits(millis, parseUnitPrice(unitPrice)!, currency)).toBe(minor);
  });

  test('the currencies used above have the digits assumed', () => {
    expect([currencyDigits('USD'), currencyDigits('JPY'), currencyDigits('KWD')]).toEqual([2, 0, 3]);
  });
});

describe('costPerCredit: price ÷ credits, 6 digits, half up', () => {
  test.each<[string, bigint, number, string, string]>([
    ['2,500 for $25', 2_500n, credits(2_500), 'USD', '0.01'],
    ['20 for $9.99', 999n, credits(20), 'USD', '0.4995'],
    ['50 for $19.99', 1_999n, credits(50), 'USD', '0.3998'],
    ['100 for $34.99', 3_499n, credits(100), 'USD', '0.3499'],
    ['200 for $59.99', 5_999n, credits(200), 'USD', '0.29995'],
    ['a third of a cent rounds down', 1n, credits(3), 'USD', '0.003333'],
    ['two thirds of a cent round up', 2n, credits(3), 'USD', '0.006667'],
    ['whole units', 500n, credits(100), 'USD', '0.05'],
    ['a price per credit above one unit', 12_345n, credits(1.5), 'USD', '82.3'],
    ['JPY', 100n, credits(3), 'JPY', '33.333333'],
    ['JPY whole', 1_000n, credits(100), 'JPY', '10'],
    ['KWD', 1n, credits(3), 'KWD', '0.000333'],
    ['a fractional amount', 10_493n, credits(1_234.5), 'USD', '0.084998'], // 104.93 / 1234.5 = 0.0849979…
    ['no credits', 100n, 0, 'USD', '0'],
  ])('%s', (_name, minor, millis, currency, expected) => {
    expect(costPerCredit(minor, millis, currency)).toBe(expected);
  });
});

describe('unit prices: exact decimal text of at most 6 fractional digits', () => {
  test.each<[string, bigint | undefined]>([
    ['0.085', 85_000n],
    ['0.08', 80_000n],
    ['0.10', 100_000n],
    ['1', 1_000_000n],
    ['12.5', 12_500_000n],
    ['0.000001', 1n],
    ['0', 0n],
    ['999999999.999999', 999_999_999_999_999n],
    ['0.0000001', undefined],
    ['1000000000', undefined],
    ['-0.1', undefined],
    ['+0.1', undefined],
    ['.5', undefined],
    ['1.', undefined],
    ['1e-3', undefined],
    [' 0.1', undefined],
    ['', undefined],
    ['abc', undefined],
  ])('parseUnitPrice(%j) = %s', (text, micros) => {
    expect(parseUnitPrice(text)).toBe(micros);
  });

  test.each<[bigint, string]>([
    [85_000n, '0.085'],
    [80_000n, '0.08'],
    [100_000n, '0.1'],
    [1_000_000n, '1'],
    [10_000_000n, '10'],
    [12_500_000n, '12.5'],
    [1n, '0.000001'],
    [0n, '0'],
    [999_999_999_999_999n, '999999999.999999'],
  ])('formatUnitPrice(%s) = %s', (micros, text) => {
    expect(formatUnitPrice(micros)).toBe(text);
  });

  test('property: format then parse gives the same micros; parse then format gives the shortest form', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: 999_999_999_999_999n }), (micros) => {
      const text = formatUnitPrice(micros);
      expect(text).toMatch(/^(0|[1-9]\d*)(\.\d*[1-9])?$/);
      expect(parseUnitPrice(text)).toBe(micros);
      const [whole, fraction = ''] = text.split('.');
      const padded = `${whole}.${fraction.padEnd(6, '0')}`; // "0.085000": the same price, written long
      expect(parseUnitPrice(padded)).toBe(micros);
      expect(formatUnitPrice(parseUnitPrice(padded)!)).toBe(text);
    }), { numRuns: 500 });
  });
});

/** Independent of src: millis × micros credits-currency at 10^-9 units, to minor units, half up by remainder. */
function expectedMinor(millis: number, micros: bigint, digits: number): bigint {
  const numerator = BigInt(millis) * micros * 10n ** BigInt(digits);
  const denominator = 10n ** 9n;
  const quotient = numerator / denominator;
  const remainder = numerator % denominator;
  return remainder * 2n >= denominator ? quotient + 1n : quotient;
}

describe('properties of the price of a custom amount', () => {
  /** A valid table: sorted distinct tier starts from the minimum, unit prices up to 10 units, in USD, JPY or KWD. */
  const tableArb = fc.record({
    currency: fc.constantFrom('USD', 'JPY', 'KWD', 'EUR'),
    minimumMillis: fc.integer({ min: 1, max: 1_000_000 }),
    span: fc.integer({ min: 0, max: 1_000_000_000 }),
    starts: fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000_000 }), { maxLength: 5 }),
    prices: fc.array(fc.bigInt({ min: 1n, max: 10_000_000n }), { minLength: 6, maxLength: 6 }),
  }).map(({ currency, minimumMillis, span, starts, prices }): PriceTable => {
    const maximumMillis = minimumMillis + span;
    const froms = [minimumMillis, ...starts.map((s) => minimumMillis + (s % (span + 1))).filter((f) => f > minimumMillis)];
    const sorted = [...new Set(froms)].sort((a, b) => a - b);
    return { currency, minimumMillis, maximumMillis, tiers: sorted.map((fromMillis, i) => ({ fromMillis, unitPrice: formatUnitPrice(prices[i]) })) };
  });

  /** A table, a tier of it, and two amounts a ≤ b within that tier. */
  const caseArb = tableArb.chain((t) => fc.integer({ min: 0, max: t.tiers.length - 1 }).chain((tierIndex) => {
    const low = t.tiers[tierIndex].fromMillis;
    const high = tierIndex + 1 < t.tiers.length ? t.tiers[tierIndex + 1].fromMillis - 1 : t.maximumMillis;
    return fc.tuple(fc.integer({ min: low, max: high }), fc.integer({ min: low, max: high }))
      .map(([x, y]) => ({ table: t, tierIndex, a: Math.min(x, y), b: Math.max(x, y) }));
  }));

  test('generated tables are valid', () => {
    fc.assert(fc.property(tableArb, (t) => {
      expect(priceTableProblems(t)).toEqual([]);
    }), { numRuns: 200 });
  });

  test('within one tier the price never decreases as the amount grows, and is round-half-up of credits × unit price', () => {
    fc.assert(fc.property(caseArb, ({ table: t, tierIndex, a, b }) => {
      const priceA = priceCustom(t, a);
      const priceB = priceCustom(t, b);
      expect(priceA.tierIndex).toBe(tierIndex);
      expect(priceB.tierIndex).toBe(tierIndex);
      expect(priceA.minor <= priceB.minor).toBe(true);
      const micros = parseUnitPrice(t.tiers[tierIndex].unitPrice)!;
      const digits = currencyDigits(t.currency);
      expect(priceA.minor).toBe(expectedMinor(a, micros, digits));
      expect(priceB.minor).toBe(expectedMinor(b, micros, digits));
    }), { numRuns: 1000 });
  });

  test('priceOfCredits agrees with the independent computation on any amount and unit price', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 1_000_000_000_000 }), fc.bigInt({ min: 0n, max: 100_000_000n }), fc.constantFrom('USD', 'JPY', 'KWD', 'BHD', 'CLP'),
      (millis, micros, currency) => {
        expect(priceOfCredits(millis, micros, currency)).toBe(expectedMinor(millis, micros, currencyDigits(currency)));
      },
    ), { numRuns: 1000 });
  });

  test('the independent computation itself rounds half up', () => {
    expect(expectedMinor(credits(1), 5_000n, 2)).toBe(1n); // 0.5 cent
    expect(expectedMinor(credits(1), 4_999n, 2)).toBe(0n);
    expect(expectedMinor(credits(1_234.5), 85_000n, 2)).toBe(10_493n);
  });
});
