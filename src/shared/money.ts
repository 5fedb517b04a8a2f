/**
 * Money, exact: amounts are integer minor units of an ISO 4217 currency (cents), as BigInt; decimal
 * text only at the edges ("25.00"). Unit prices (a price per credit, "0.085") are exact decimals with
 * up to UNIT_PRICE_DIGITS fractional digits. One rounding rule everywhere a price is computed:
 * half up to the currency's minor unit (`roundHalfUp`). Table-driven tests: test/unit/money.test.ts
 * and test/unit/purchases.rules.test.ts.
 */
import { parseDecimal } from './decimal';
import { badInput } from './errors';
import { MILLIS_PER_CREDIT, type Millis } from './credits';

/** 10^13 minor units: far beyond any price, far below 2^63. */
export const PRICE_MINOR_MAX = 10n ** 13n;
/** Fractional digits a unit price may have (in the currency's units): $0.000001 a credit at the finest. */
export const UNIT_PRICE_DIGITS = 6;

const CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

/** Digits after the point of an ISO 4217 currency (USD 2, JPY 0, KWD 3), from the platform's ICU data. */
export function currencyDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

export function isCurrency(code: string): boolean {
  return CURRENCIES.has(code);
}

export interface Price {
  minor: bigint;
  currency: string;
}

/** "25.00" USD → 2500 minor units; at most the currency's digits, never negative; BAD_USER_INPUT naming `field`. */
export function parseMoney(amount: string, currency: string, field = 'price'): Price {
  if (!CURRENCIES.has(currency)) throw badInput(`${field}.currency must be an ISO 4217 code such as USD or EUR`, `${field}.currency`);
  const digits = currencyDigits(currency);
  // 14 whole digits reach the bound in a currency without minor units (JPY); the bound itself is checked next.
  const parsed = parseDecimal(amount, { fractionDigitsMax: digits, wholeDigitsMax: 14 });
  if (!parsed) throw badInput(`${field}.amount must be a decimal of at most ${digits} fractional digits for ${currency}, e.g. "${(25).toFixed(digits)}"`, `${field}.amount`);
  const minor = parsed.units * 10n ** BigInt(digits - parsed.scale);
  if (minor > PRICE_MINOR_MAX) throw badInput(`${field}.amount is too large`, `${field}.amount`);
  return { minor, currency };
}

/** 2500 USD minor units → "25.00" (the currency's digits). */
export function formatMoney(minor: bigint, currency: string): string {
  return formatScaled(minor, currencyDigits(currency));
}

/** units / 10^digits as decimal text with exactly `digits` fractional digits. */
function formatScaled(units: bigint, digits: number): string {
  const negative = units < 0n;
  const text = (negative ? -units : units).toString().padStart(digits + 1, '0');
  const whole = digits === 0 ? text : text.slice(0, -digits);
  return (negative ? '-' : '') + (digits === 0 ? whole : `${whole}.${text.slice(-digits)}`);
}

/** A unit price ("0.085") as millionths of the currency unit; undefined when it is not a plain decimal of ≤ 6 digits. */
export function parseUnitPrice(text: string): bigint | undefined {
  const parsed = parseDecimal(text, { fractionDigitsMax: UNIT_PRICE_DIGITS, wholeDigitsMax: 9 });
  return parsed && parsed.units * 10n ** BigInt(UNIT_PRICE_DIGITS - parsed.scale);
}

export function formatUnitPrice(micros: bigint): string {
  return formatScaled(micros, UNIT_PRICE_DIGITS).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
}

/** numerator / denominator rounded half up (both ≥ 0): the one rounding of money. */
export function roundHalfUp(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/**
 * The price of `millis` credits at `unitMicros` (millionths of the currency unit per credit), in
 * minor units, rounded half up once: 1,234.5 credits at $0.085 = $104.9325 → 10493 cents.
 */
export function priceOfCredits(millis: Millis, unitMicros: bigint, currency: string): bigint {
  const digits = BigInt(currencyDigits(currency));
  // millis × micros is in 10^-(3+6) currency units; minor units are 10^-digits.
  return roundHalfUp(BigInt(millis) * unitMicros * 10n ** digits, BigInt(MILLIS_PER_CREDIT) * 10n ** BigInt(UNIT_PRICE_DIGITS));
}

/** What one credit cost (the cost basis recorded on a PURCHASE bucket): price ÷ credits, 6 digits, half up. */
export function costPerCredit(priceMinor: bigint, millis: Millis, currency: string): string {
  if (millis <= 0) return '0';
  const digits = BigInt(currencyDigits(currency));
  // minor × 10^(6 − digits) micros per (millis / 1000) credits.
  const micros = roundHalfUp(priceMinor * 10n ** (BigInt(UNIT_PRICE_DIGITS) - digits) * BigInt(MILLIS_PER_CREDIT), BigInt(millis));
  return formatUnitPrice(micros);
}
