/**
 * Credits are kept as integer millicredits (1 credit = 1000). Every amount in the code is a
 * `Millis` (a safe integer); floats never touch money. 10^12 credits = 10^15 millis stays far
 * below Number.MAX_SAFE_INTEGER (~9.007e15), which is why that is the largest accepted amount.
 */
import { parseDecimal } from './decimal';

export type Millis = number;

export const MILLIS_PER_CREDIT = 1000;
export const CREDITS_INPUT_MAX = 1_000_000_000_000; // 10^12 credits
export const MILLIS_INPUT_MAX: Millis = CREDITS_INPUT_MAX * MILLIS_PER_CREDIT;
const MILLIS_INPUT_MAX_BIG = BigInt(MILLIS_INPUT_MAX);

export class CreditsFormatError extends Error {}

/** Parses a decimal string or number with at most 3 fractional digits into millis. */
export function parseCredits(value: unknown): Millis {
  let text: string;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new CreditsFormatError('credits must be a finite number');
    // A JS number prints its shortest round-trip form; more than 3 decimals there means the caller sent more.
    text = String(value);
    if (/e/i.test(text)) throw new CreditsFormatError('credits must be a plain decimal, not exponent notation');
  } else if (typeof value === 'string') {
    text = value.trim();
  } else {
    throw new CreditsFormatError('credits must be a decimal string or a number');
  }
  const parsed = parseDecimal(text, { signed: true, fractionDigitsMax: 3 });
  if (!parsed) throw new CreditsFormatError(`"${String(value).slice(0, 40)}" is not a decimal amount with at most 3 fractional digits`);
  // More than 13 whole digits (leading zeros included) is refused before any arithmetic on it.
  if (text.replace(/^[-+]/, '').split('.')[0].length > 13) throw new CreditsFormatError('credits beyond 10^12 are not accepted');
  const millis = parsed.units * 10n ** BigInt(3 - parsed.scale);
  if (millis > MILLIS_INPUT_MAX_BIG || millis < -MILLIS_INPUT_MAX_BIG) throw new CreditsFormatError('credits beyond 10^12 are not accepted');
  return Number(millis);
}

/** Formats millis as the shortest decimal string: 12500 -> "12.5", -3000 -> "-3", 125 -> "0.125". */
export function formatCredits(millis: Millis): string {
  if (!Number.isSafeInteger(millis)) throw new Error(`credits out of range: ${millis}`);
  const negative = millis < 0;
  const abs = Math.abs(millis);
  const whole = Math.floor(abs / MILLIS_PER_CREDIT);
  const frac = abs % MILLIS_PER_CREDIT;
  let text = String(whole);
  if (frac > 0) text += '.' + String(frac).padStart(3, '0').replace(/0+$/, '');
  return negative && abs > 0 ? '-' + text : text;
}
