/**
 * Exact arithmetic on plain decimal text (src/shared/decimal.ts parses it): differences, comparisons,
 * percentages and money text for reports. BigInt throughout, never a float.
 */
import { formatDecimal, parseDecimal, type Decimal } from './decimal';
import { currencyDigits } from './money';

function parsed(text: string): Decimal {
  const value = parseDecimal(text, { signed: true });
  if (!value) throw new Error(`not a plain decimal: ${text}`);
  return value;
}

/** Both values at the larger scale: comparable units. */
function aligned(a: string, b: string): { a: bigint; b: bigint; scale: number } {
  const x = parsed(a);
  const y = parsed(b);
  const scale = Math.max(x.scale, y.scale);
  return { a: x.units * 10n ** BigInt(scale - x.scale), b: y.units * 10n ** BigInt(scale - y.scale), scale };
}

/** a − b, exact. */
export function subtractDecimals(a: string, b: string): string {
  const { a: x, b: y, scale } = aligned(a, b);
  return formatDecimal({ units: x - y, scale });
}

/** −1, 0 or 1 as a <, =, > b. */
export function compareDecimals(a: string, b: string): -1 | 0 | 1 {
  const { a: x, b: y } = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export function isZeroDecimal(text: string): boolean {
  return parsed(text).units === 0n;
}

/** n / d rounded half away from zero (d > 0). */
function divideHalfAway(n: bigint, d: bigint): bigint {
  const negative = n < 0n;
  const magnitude = ((negative ? -n : n) * 2n + d) / (d * 2n);
  return negative ? -magnitude : magnitude;
}

/**
 * numerator / denominator × 100 with two decimals, rounded half away from zero ("half up" for a
 * negative value too: −2.005 → "-2.01"); null when the denominator is 0. Always two decimals ("12.50").
 */
export function percentOf(numerator: string, denominator: string): string | null {
  const { a: n, b: d } = aligned(numerator, denominator);
  if (d === 0n) return null;
  // n/d × 100 in hundredths: n × 10^4 / d (same scale on both sides cancels).
  const signedD = d < 0n ? -d : d;
  const hundredths = divideHalfAway((d < 0n ? -n : n) * 10_000n, signedD);
  const negative = hundredths < 0n;
  const digits = (negative ? -hundredths : hundredths).toString().padStart(3, '0');
  const text = `${digits.slice(0, -2)}.${digits.slice(-2)}`;
  return negative && hundredths !== 0n ? `-${text}` : text;
}

/**
 * |a − b| × 100 ≤ tolerancePercent × |b|, exact (b is the reference, e.g. an invoice). With b = 0 only
 * a = 0 is within.
 */
export function withinPercent(a: string, b: string, tolerancePercent: string): boolean {
  const abs = (text: string) => (text.startsWith('-') ? text.slice(1) : text);
  const deviation = productText(abs(subtractDecimals(a, b)), '100');
  return compareDecimals(deviation, productText(tolerancePercent, abs(b))) <= 0;
}

/** a × b, exact. */
export function productText(a: string, b: string): string {
  const x = parsed(a);
  const y = parsed(b);
  return formatDecimal({ units: x.units * y.units, scale: x.scale + y.scale });
}

/**
 * An exact money amount as text with at least the currency's minor digits and never fewer digits than
 * it has: "12.5" USD → "12.50", "0.0125" USD → "0.0125", "7" JPY → "7". Nothing is rounded.
 */
export function exactMoneyText(amount: string, currency: string): string {
  const text = formatDecimal(parsed(amount));
  const digits = currencyDigits(currency);
  const [whole, fraction = ''] = text.split('.');
  if (fraction.length >= digits) return text;
  return digits === 0 ? whole : `${whole}.${fraction.padEnd(digits, '0')}`;
}
