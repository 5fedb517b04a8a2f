/**
 * The rules of buying credits, pure: what makes a pack or a volume price table valid (every problem
 * is listed at once), the price of a custom amount, and which amounts may be bought.
 * Table-driven tests: test/unit/purchases.rules.test.ts.
 */
import { AppError, ErrorCode, badInput } from '../../shared/errors';
import { CATALOGUE_CODE_PATTERN, CATALOGUE_CODE_RULE } from '../../shared/validate';
import { formatCredits, MILLIS_PER_CREDIT, type Millis } from '../../shared/credits';
import { formatUnitPrice, isCurrency, parseMoney, parseUnitPrice, priceOfCredits, PRICE_MINOR_MAX } from '../../shared/money';

export const PACK_NAME_LENGTH_MAX = 200;
export const PACK_EXPIRY_DAYS_MAX = 3650;
export const PACKS_LISTED_MAX = 200;
export const PRICE_TIERS_MAX = 20;
/** The most credits one purchase may buy, whatever the table says (10^9 credits). */
export const PURCHASE_CREDITS_MAX: Millis = 1_000_000_000 * MILLIS_PER_CREDIT;

export interface Problem {
  field: string;
  message: string;
}

/** BAD_USER_INPUT listing every problem (details.problems), the first one's field as `field`. */
export function invalid(what: string, problems: Problem[]): AppError {
  return new AppError(ErrorCode.BAD_USER_INPUT, `${what}: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, {
    field: problems[0].field, problems,
  });
}

export interface PackTerms {
  name: string;
  creditsMillis: Millis;
  priceMinor: bigint;
  currency: string;
  expiresAfterDays: number | null;
}

/**
 * A pack's price as given ("9.99" USD): its minor units, or, when it is not a price, the problem (listed
 * by packProblems with the pack's other problems) and a stand-in of 1 minor unit.
 */
export function packPrice(amount: string, currency: string): { minor: bigint; currency: string; problem: Problem | null } {
  try {
    return { ...parseMoney(amount, currency), problem: null };
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== ErrorCode.BAD_USER_INPUT) throw error;
    return { minor: 1n, currency, problem: { field: String(error.details.field), message: error.message } };
  }
}

/** Problems of a pack's terms (the code is checked too when given; `priceProblem` from packPrice); none: valid. */
export function packProblems(terms: PackTerms, code?: string, priceProblem: Problem | null = null): Problem[] {
  const problems: Problem[] = [];
  if (code !== undefined && !CATALOGUE_CODE_PATTERN.test(code)) problems.push({ field: 'code', message: CATALOGUE_CODE_RULE });
  const name = terms.name.trim();
  if (!name || name.length > PACK_NAME_LENGTH_MAX) problems.push({ field: 'name', message: `must be 1 to ${PACK_NAME_LENGTH_MAX} characters` });
  if (terms.creditsMillis <= 0) problems.push({ field: 'credits', message: 'must be > 0' });
  else if (terms.creditsMillis > PURCHASE_CREDITS_MAX) problems.push({ field: 'credits', message: `must be at most ${formatCredits(PURCHASE_CREDITS_MAX)}` });
  if (priceProblem) problems.push(priceProblem);
  else if (!isCurrency(terms.currency)) problems.push({ field: 'price.currency', message: 'must be an ISO 4217 code such as USD' });
  if (!priceProblem && terms.priceMinor <= 0n) problems.push({ field: 'price.amount', message: 'must be > 0 (give credits away with grantCredits)' });
  if (terms.expiresAfterDays !== null && (!Number.isSafeInteger(terms.expiresAfterDays) || terms.expiresAfterDays < 1 || terms.expiresAfterDays > PACK_EXPIRY_DAYS_MAX)) {
    problems.push({ field: 'expiresAfterDays', message: `must be 1 to ${PACK_EXPIRY_DAYS_MAX} days, or null for credits that never expire` });
  }
  return problems;
}

/** A volume price table as stored: tiers ascending, the first starting at the minimum. */
export interface PriceTable {
  currency: string;
  minimumMillis: Millis;
  maximumMillis: Millis;
  tiers: { fromMillis: Millis; unitPrice: string }[];
}

/** Problems of a price table; none: valid. */
export function priceTableProblems(table: PriceTable): Problem[] {
  const problems: Problem[] = [];
  if (!isCurrency(table.currency)) problems.push({ field: 'currency', message: 'must be an ISO 4217 code such as USD' });
  if (table.minimumMillis <= 0) problems.push({ field: 'minimum', message: 'must be > 0' });
  if (table.maximumMillis < table.minimumMillis) problems.push({ field: 'maximum', message: 'must be ≥ minimum' });
  if (table.maximumMillis > PURCHASE_CREDITS_MAX) problems.push({ field: 'maximum', message: `must be at most ${formatCredits(PURCHASE_CREDITS_MAX)}` });
  if (table.tiers.length === 0 || table.tiers.length > PRICE_TIERS_MAX) problems.push({ field: 'tiers', message: `must list 1 to ${PRICE_TIERS_MAX} tiers` });
  table.tiers.forEach((tier, i) => {
    const field = `tiers[${i}]`;
    const micros = parseUnitPrice(tier.unitPrice);
    if (micros === undefined || micros <= 0n) problems.push({ field: `${field}.unitPrice`, message: 'must be a positive decimal with at most 6 fractional digits, e.g. "0.08"' });
    if (i === 0 && tier.fromMillis !== table.minimumMillis) problems.push({ field: `${field}.from`, message: `the first tier must start at the minimum (${formatCredits(table.minimumMillis)})` });
    if (i > 0 && tier.fromMillis <= table.tiers[i - 1].fromMillis) problems.push({ field: `${field}.from`, message: 'tiers must start at increasing amounts' });
    if (tier.fromMillis > table.maximumMillis) problems.push({ field: `${field}.from`, message: 'must be at most the maximum' });
  });
  if (problems.length === 0) {
    // The largest amount must have a price that fits (a table that overflows is no table).
    const top = priceCustom(table, table.maximumMillis);
    if (top.minor > PRICE_MINOR_MAX) problems.push({ field: 'maximum', message: 'the price of the maximum amount is too large' });
  }
  return problems;
}

export interface CustomPrice {
  minor: bigint;
  /** The unit price applied (millionths of the currency unit per credit), and the tier it came from. */
  unitMicros: bigint;
  tierIndex: number;
}

/**
 * VOLUME pricing: the whole amount at the unit price of the highest tier it reaches (1,000 credits in
 * the "from 1,000 at $0.08" tier cost 1,000 × $0.08), rounded half up to the minor unit once.
 * The amount must be within [minimum, maximum] (checked by `checkPurchasable`).
 */
export function priceCustom(table: PriceTable, millis: Millis): CustomPrice {
  let tierIndex = 0;
  table.tiers.forEach((tier, i) => { if (millis >= tier.fromMillis) tierIndex = i; });
  const unitMicros = parseUnitPrice(table.tiers[tierIndex].unitPrice)!;
  return { minor: priceOfCredits(millis, unitMicros, table.currency), unitMicros, tierIndex };
}

/** Credits ≤ 0 or outside the table's bounds are BAD_USER_INPUT (more than 3 decimals never parse as Credits). */
export function checkPurchasable(table: PriceTable | null, millis: Millis, field = 'credits'): PriceTable {
  if (millis <= 0) throw badInput(`${field} must be > 0`, field);
  if (!table) throw badInput('custom amounts are not on sale: an admin has not set credit price tiers (setCreditPriceTiers); buy a pack instead', field);
  if (millis < table.minimumMillis || millis > table.maximumMillis) {
    throw badInput(`${field} must be between ${formatCredits(table.minimumMillis)} and ${formatCredits(table.maximumMillis)}`, field);
  }
  return table;
}

export function describeTier(table: PriceTable, index: number): string {
  const tier = table.tiers[index];
  return `from ${formatCredits(tier.fromMillis)} credits at ${formatUnitPrice(parseUnitPrice(tier.unitPrice)!)} ${table.currency} each`;
}
