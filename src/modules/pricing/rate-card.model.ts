/**
 * The content of a rate card version, stored as jsonb. Plain JSON only: every price, multiplier and
 * percentage is a decimal string so it is parsed exactly (never through a JS float); tier
 * thresholds, counts and days are JSON numbers.
 *
 * `validateRateCard` (pricing.engine.ts) checks a value against these rules; `priceGeneration`
 * assumes a validated card.
 */

export const PRICE_UNITS = [
  'REQUEST',
  'INPUT_TOKENS_1K',
  'OUTPUT_TOKENS_1K',
  'IMAGE',
  'SECOND',
  'MEGABYTE',
  'MEGAPIXEL',
  'STEP',
] as const;
export type PriceUnit = (typeof PRICE_UNITS)[number];

/** Decimal string: prices and multipliers up to 6 fractional digits ("2.5", "0.000125"). */
export type DecimalString = string;

/**
 * One step of a graduated price: the quantity in (previous upTo, upTo] costs `pricePerUnit`.
 * Thresholds ascend strictly; only the last tier has `upTo: null` (no upper bound).
 */
export interface PriceTier {
  upTo: number | null;
  pricePerUnit: DecimalString;
}

/** Exactly one of `pricePerUnit` (flat) and `tiers` (graduated) — except the resolution target, see RateDefinition. */
export interface PriceComponent {
  unit: PriceUnit;
  pricePerUnit?: DecimalString;
  tiers?: PriceTier[];
}

/**
 * A recurring local time span. [start, end) in "HH:MM" on each listed day (1 = Monday … 7 = Sunday).
 * `end` may be "24:00" (end of day); an end before the start wraps past midnight, and the part after
 * midnight belongs to the day the window started on (22:00–06:00 on Friday covers Saturday 03:00).
 */
export interface TimeWindow {
  name: string;
  days: number[];
  start: string;
  end: string;
  multiplier: DecimalString;
}

export interface BatchDiscount {
  /** Applies when params.count (images in one request) is at least this; the highest matching threshold wins. */
  minCount: number;
  /** Decimal string in [0, 100], up to 3 fractional digits. */
  percentOff: DecimalString;
}

export interface RateDefinition {
  action: string;
  /** null/absent: the action's default price, used for any model without its own rate. */
  model?: string | null;
  /** Summed; each component is its own line item (one per tier used when graduated). */
  components: PriceComponent[];
  /**
   * Resolution -> price per unit. When present, params.resolution is required and must be listed;
   * the table's price is the price per unit of the resolution target: the first IMAGE component,
   * else the first SECOND component, else the first REQUEST component. The target must be flat
   * (no tiers) and may omit pricePerUnit; if it has one, the table's price replaces it.
   */
  resolutions?: Record<string, DecimalString>;
  /** Param name -> param value -> multiplier, e.g. { quality: { standard: "1", hd: "2.5" } }. Param absent = no modifier. */
  modifiers?: Record<string, Record<string, DecimalString>>;
  /** Minimum charge per request, in credits. */
  minimumCredits?: DecimalString;
  batchDiscounts?: BatchDiscount[];
  /** Plan tier id -> multiplier; a tier not listed pays ×1. */
  planTierMultipliers?: Record<string, DecimalString>;
  /** IANA zone the time windows are read in; UTC when absent. */
  timeZone?: string;
  /** The first window containing the generation's time applies. */
  timeWindows?: TimeWindow[];
}

/** Rate cards are priced in credits only; `currency` must not be set. */
export interface RateCardContent {
  currency?: never;
  rates: RateDefinition[];
}

/** An action × model a rate card must price (model null: the action's default rate). */
export interface RatePair {
  action: string;
  model?: string | null;
}
