/**
 * The one parser of decimal text (credits, rate-card prices, cost per credit). Exact: digits go
 * into a BigInt, never through a float.
 */

/** units / 10^scale; `scale` is the number of fractional digits as written ("1.50" has scale 2). */
export interface Decimal {
  readonly units: bigint;
  readonly scale: number;
}

export interface DecimalRules {
  /** Accept a leading "-" (the result's units are then negative; "-0" is 0). Default: no sign. */
  signed?: boolean;
  /** At most this many fractional digits. Default: any. */
  fractionDigitsMax?: number;
  /** At most this many digits before the point. Default: any. */
  wholeDigitsMax?: number;
}

const PLAIN_DECIMAL = /^(-?)(\d+)(?:\.(\d+))?$/;

/**
 * A plain decimal ("12", "0.125", "-3" when signed): digits, an optional point followed by digits;
 * no exponent, no "+", no surrounding space. Undefined when `text` is not one or breaks `rules`.
 */
export function parseDecimal(text: string, rules: DecimalRules = {}): Decimal | undefined {
  const match = PLAIN_DECIMAL.exec(text);
  if (!match) return undefined;
  const [, sign, whole, fraction = ''] = match;
  if (sign && !rules.signed) return undefined;
  if (rules.fractionDigitsMax !== undefined && fraction.length > rules.fractionDigitsMax) return undefined;
  if (rules.wholeDigitsMax !== undefined && whole.length > rules.wholeDigitsMax) return undefined;
  const magnitude = BigInt(whole + fraction);
  return { units: sign ? -magnitude : magnitude, scale: fraction.length };
}

/** units / 10^scale as plain decimal text, trailing fractional zeros dropped ("-1.5", "0", "12"). */
export function formatDecimal(value: Decimal): string {
  const negative = value.units < 0n;
  const digits = (negative ? -value.units : value.units).toString().padStart(value.scale + 1, '0');
  const whole = digits.slice(0, digits.length - value.scale);
  const fraction = digits.slice(digits.length - value.scale).replace(/0+$/, '');
  const text = fraction ? `${whole}.${fraction}` : whole;
  return negative && text !== '0' ? `-${text}` : text;
}

/** The exact sum of plain decimal texts (signed allowed), as decimal text ("0" for none). */
export function sumDecimals(texts: readonly string[]): string {
  let units = 0n;
  let scale = 0;
  for (const text of texts) {
    const value = parseDecimal(text, { signed: true });
    if (!value) throw new Error(`not a plain decimal: ${text}`);
    if (value.scale > scale) {
      units *= 10n ** BigInt(value.scale - scale);
      scale = value.scale;
    }
    units += value.units * 10n ** BigInt(scale - value.scale);
  }
  return formatDecimal({ units, scale });
}
