import { badInput } from './errors';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else cannot name a row (and must not reach a uuid column). */
export function isUuid(value: string): boolean {
  return UUID.test(value);
}

/** The code of a catalogue item (a plan, a credit pack): what operators type and URLs carry. */
export const CATALOGUE_CODE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,63}$/;
export const CATALOGUE_CODE_RULE = 'must be 1 to 64 characters: lowercase letters, digits, "-" and "_", starting with a letter or digit';

export const TEXT_LENGTH_MAX = 500;

/** A free-text input (comment, action, model, currency): at most TEXT_LENGTH_MAX characters. */
export function boundedText(value: string | null | undefined, field: string): string | null {
  if (value === null || value === undefined) return null;
  if (value.length > TEXT_LENGTH_MAX) throw badInput(`${field} must be at most ${TEXT_LENGTH_MAX} characters`, field);
  return value;
}

/** Longest client generation fingerprint (the review rules hash it; README, "Review holds"). */
export const FINGERPRINT_LENGTH_MAX = 128;

/** A client's generation fingerprint: 1 to 128 characters, or absent. */
export function checkedFingerprint(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (value.length < 1 || value.length > FINGERPRINT_LENGTH_MAX) throw badInput(`fingerprint must be 1 to ${FINGERPRINT_LENGTH_MAX} characters`, 'fingerprint');
  return value;
}

export function requirePositive(amount: number | null | undefined, field = 'amount'): number {
  if (amount === null || amount === undefined || amount <= 0) throw badInput(`${field} must be greater than 0`, field);
  return amount;
}
