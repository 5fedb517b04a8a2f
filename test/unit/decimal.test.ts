/** The one decimal parser and the credits parser built on it: exact, no floats. */
import fc from 'fast-check';
import { parseDecimal, type DecimalRules } from '../../src/shared/decimal';
import { CreditsFormatError, MILLIS_INPUT_MAX, formatCredits, parseCredits } from '../../src/shared/credits';

describe('parseDecimal', () => {
  test.each<[string, DecimalRules, { units: bigint; scale: number } | undefined]>([
    ['0', {}, { units: 0n, scale: 0 }],
    ['12', {}, { units: 12n, scale: 0 }],
    ['0.125', {}, { units: 125n, scale: 3 }],
    ['1.50', {}, { units: 150n, scale: 2 }], // scale as written
    ['007.5', {}, { units: 75n, scale: 1 }],
    ['12345678901234567890.123456789', {}, { units: 12345678901234567890123456789n, scale: 9 }], // beyond float precision, exact
    ['-3', {}, undefined], // unsigned by default
    ['-3', { signed: true }, { units: -3n, scale: 0 }],
    ['-0.5', { signed: true }, { units: -5n, scale: 1 }],
    ['-0', { signed: true }, { units: 0n, scale: 0 }],
    ['1.2345', { fractionDigitsMax: 3 }, undefined],
    ['1.234', { fractionDigitsMax: 3 }, { units: 1234n, scale: 3 }],
    ['123456789012', { wholeDigitsMax: 12 }, { units: 123456789012n, scale: 0 }],
    ['1234567890123', { wholeDigitsMax: 12 }, undefined],
    ['', {}, undefined],
    ['.5', {}, undefined],
    ['5.', {}, undefined],
    ['+5', { signed: true }, undefined],
    ['1e3', {}, undefined],
    [' 1', {}, undefined],
    ['1,5', {}, undefined],
    ['--1', { signed: true }, undefined],
    ['0x10', {}, undefined],
    ['Infinity', {}, undefined],
  ])('%j with %j', (text, rules, expected) => {
    expect(parseDecimal(text, rules)).toEqual(expected);
  });

  test('reads any digit string exactly', () => {
    fc.assert(fc.property(
      fc.boolean(), fc.stringMatching(/^\d{1,30}$/), fc.option(fc.stringMatching(/^\d{1,30}$/), { nil: undefined }),
      (negative, whole, fraction) => {
        const text = `${negative ? '-' : ''}${whole}${fraction === undefined ? '' : '.' + fraction}`;
        const parsed = parseDecimal(text, { signed: true });
        const magnitude = BigInt(whole + (fraction ?? ''));
        expect(parsed).toEqual({ units: negative ? -magnitude : magnitude, scale: fraction?.length ?? 0 });
      },
    ));
  });
});

describe('parseCredits', () => {
  test.each<[unknown, number]>([
    ['12.5', 12_500],
    ['0.125', 125],
    ['-3', -3_000],
    [' 7 ', 7_000],
    [12.5, 12_500],
    [0.001, 1],
    [-0.25, -250],
    ['1000000000000', MILLIS_INPUT_MAX],
    ['-1000000000000', -MILLIS_INPUT_MAX],
    ['-0', 0],
  ])('%j is %d millis', (value, millis) => {
    expect(parseCredits(value)).toBe(millis);
  });

  test.each<[unknown, RegExp]>([
    ['1.0001', /at most 3 fractional digits/],
    [1.0001, /at most 3 fractional digits/],
    ['1000000000000.001', /beyond 10\^12/],
    ['99999999999999999999', /beyond 10\^12/],
    ['00000000000001', /beyond 10\^12/], // 14 whole digits, as before the shared parser
    [1e21, /exponent/],
    [1e-7, /exponent/],
    [Number.NaN, /finite/],
    [Number.POSITIVE_INFINITY, /finite/],
    ['abc', /not a decimal amount/],
    ['', /not a decimal amount/],
    [true, /decimal string or a number/],
    [null, /decimal string or a number/],
  ])('%j is refused', (value, message) => {
    expect(() => parseCredits(value)).toThrow(CreditsFormatError);
    expect(() => parseCredits(value)).toThrow(message);
  });

  test('formatCredits and parseCredits are inverse over the accepted range', () => {
    fc.assert(fc.property(fc.integer({ min: -MILLIS_INPUT_MAX, max: MILLIS_INPUT_MAX }), (millis) => {
      expect(parseCredits(formatCredits(millis))).toBe(millis);
    }));
  });
});
