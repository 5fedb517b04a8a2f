/**
 * Pricing engine: what a generation costs under a rate card. Pure arithmetic — no I/O, no clock
 * (the caller passes `context.at`), no GraphQL, no database.
 *
 * Exactness. Every price, multiplier, percentage and quantity is parsed from its decimal text into
 * a scaled BigInt (`Dec` = units / 10^scale); JS numbers from params are read through their
 * shortest round-trip text (String(0.1) === "0.1"), so the value the client wrote is the value
 * priced. Products of decimals are decimals and the only divisions (tokens per 1k, width × height
 * per 10^6, percent per 100) are by powers of ten, so every intermediate value is exact.
 *
 * Order of application (each step acts on the exact running total of the steps before it):
 *   1. base components, summed in card order: a flat component is one line (BASE, or RESOLUTION for
 *      the resolution target); a graduated one is one TIER line per tier used;
 *   2. modifiers (MODIFIER), one line per modifier param present, in param-name order so the lines
 *      do not depend on the key order jsonb happens to store;
 *   3. batch discount (BATCH_DISCOUNT), the highest minCount ≤ params.count;
 *   4. plan tier multiplier (PLAN_MULTIPLIER), when context.planTier is listed;
 *   5. time window multiplier (TIME_WINDOW), the first window containing context.at;
 *   6. minimum charge (MINIMUM), a line only when it raises the rounded price.
 *
 * Rounding. The total is rounded once, half-up, to 1/1000 credit (all values are non-negative).
 * Line items must add up to that total exactly, so after each step the exact running total is
 * rounded and the step's line item is rounded(after) − rounded(before): the items telescope to
 * rounded(final), and no item is ever rounded on its own.
 *
 * Resolution rule. When a rate has `resolutions`, params.resolution is required and must be one of
 * its keys; that price is the price per unit of the resolution target — the first IMAGE component,
 * else the first SECOND component, else the first REQUEST component — which must be flat and may
 * omit its own pricePerUnit (if present, the table's price replaces it).
 *
 * Quantities. REQUEST 1 per request; INPUT_TOKENS_1K / OUTPUT_TOKENS_1K params.inputTokens /
 * outputTokens ÷ 1000; IMAGE params.count (default 1); SECOND params.seconds; MEGABYTE
 * params.megabytes; MEGAPIXEL params.megapixels, else params.width × params.height ÷ 10^6; STEP
 * params.steps. Quantities are finite non-negative numbers (or decimal strings); count, steps,
 * tokens, width and height are integers.
 */
import { assert } from '../../shared/assert';
import { MILLIS_INPUT_MAX, type Millis } from '../../shared/credits';
import { parseDecimal, type Decimal } from '../../shared/decimal';
import {
  PRICE_UNITS,
  type BatchDiscount,
  type PriceComponent,
  type PriceUnit,
  type RateCardContent,
  type RateDefinition,
  type RatePair,
  type TimeWindow,
} from './rate-card.model';

export type LineItemKind =
  | 'BASE'
  | 'RESOLUTION'
  | 'MODIFIER'
  | 'TIER'
  | 'BATCH_DISCOUNT'
  | 'PLAN_MULTIPLIER'
  | 'TIME_WINDOW'
  | 'MINIMUM';

export interface PriceLineItem {
  label: string;
  millis: Millis;
  kind: LineItemKind;
}

export interface PriceResult {
  totalMillis: Millis;
  lineItems: PriceLineItem[];
  /** The rate that priced the generation (the exact model's, or the action's default). */
  rate: RateDefinition;
}

/** A generation to price (the engine's input; the GraphQL input class is pricing.type's GenerationInput). */
export interface Generation {
  action: string;
  model?: string | null;
  params?: Record<string, unknown> | null;
}

export interface PricingContext {
  at: Date;
  planTier?: string | null;
}

/** The generation cannot be priced as asked; `field` names the offending input (e.g. 'generation.params.count'). */
export class PricingInputError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'PricingInputError';
  }
}

// ---------------------------------------------------------------------------------------------
// Exact decimals

/** units / 10^scale, scale ≥ 0 (the engine only ever holds non-negative values). */
type Dec = Decimal;

const ZERO: Dec = { units: 0n, scale: 0 };
const ONE: Dec = { units: 1n, scale: 0 };
const ONE_HUNDRED: Dec = { units: 100n, scale: 0 };
const pow10 = (n: number): bigint => 10n ** BigInt(n);

function aligned(a: Dec, b: Dec): [bigint, bigint, number] {
  const scale = Math.max(a.scale, b.scale);
  return [a.units * pow10(scale - a.scale), b.units * pow10(scale - b.scale), scale];
}

function add(a: Dec, b: Dec): Dec {
  const [x, y, scale] = aligned(a, b);
  return { units: x + y, scale };
}

function sub(a: Dec, b: Dec): Dec {
  const [x, y, scale] = aligned(a, b);
  return { units: x - y, scale };
}

function mul(a: Dec, b: Dec): Dec {
  return { units: a.units * b.units, scale: a.scale + b.scale };
}

/** a ÷ 10^places. */
function shift(a: Dec, places: number): Dec {
  return { units: a.units, scale: a.scale + places };
}

function cmp(a: Dec, b: Dec): number {
  const [x, y] = aligned(a, b);
  return x < y ? -1 : x > y ? 1 : 0;
}

const isInteger = (a: Dec): boolean => a.units % pow10(a.scale) === 0n;

/** Credits -> millicredits, rounded half-up (a ≥ 0). */
function roundToMillis(a: Dec): bigint {
  if (a.scale <= 3) return a.units * pow10(3 - a.scale);
  const divisor = pow10(a.scale - 3);
  return (2n * a.units + divisor) / (2n * divisor);
}

/** Shortest exact decimal text of a ≥ 0: 2.50 -> "2.5". */
function formatDec(a: Dec): string {
  if (a.scale === 0) return a.units.toString();
  const digits = a.units.toString().padStart(a.scale + 1, '0');
  const fraction = digits.slice(-a.scale).replace(/0+$/, '');
  const whole = digits.slice(0, -a.scale);
  return fraction ? `${whole}.${fraction}` : whole;
}

/**
 * A finite non-negative JS number, exactly as it prints: String() gives the shortest text that
 * round-trips, in exponent form beyond 1e21 or below 1e-6 (the exponent is bounded by ±324).
 */
function numberToDec(value: number): Dec {
  const [mantissa, exponent = '0'] = String(value).split('e');
  const { units, scale } = parseDecimal(mantissa)!;
  const shifted = scale - Number(exponent);
  return shifted >= 0 ? { units, scale: shifted } : { units: units * pow10(-shifted), scale: 0 };
}

/** A decimal from a validated rate card (a malformed one there is a bug, not a user error). */
function cardDec(value: string | number, what: string): Dec {
  if (typeof value === 'number') return numberToDec(value);
  const parsed = parseDecimal(value);
  assert(parsed !== undefined, `rate card ${what} is not a decimal: ${value}`);
  return parsed;
}

// ---------------------------------------------------------------------------------------------
// Pricing

const own = (record: object, key: string): boolean => Object.hasOwn(record, key);

const nameText = (value: unknown): string => (typeof value === 'string' && value !== '' ? value : '?');

/** "action × model" for messages; "*" is the action's default (no model), "?" a missing or malformed name. */
const rateName = (action: unknown, model: unknown): string =>
  `${nameText(action)} × ${model === null || model === undefined ? '*' : nameText(model)}`;

/** The exact (action, model) rate, else the action's default (model null/absent). */
function lookupRate<R extends { action?: unknown; model?: unknown }>(
  rates: readonly R[],
  action: string,
  model: string | null,
): R | undefined {
  const forModel = (wanted: string | null) => rates.find((r) => r.action === action && (r.model ?? null) === wanted);
  return (model === null ? undefined : forModel(model)) ?? forModel(null);
}

/** Index of the component the resolution table prices: first IMAGE, else SECOND, else REQUEST; -1 if none. */
function resolutionTargetIndex(components: readonly unknown[]): number {
  for (const unit of ['IMAGE', 'SECOND', 'REQUEST'] as const) {
    const index = components.findIndex((c) => isRecord(c) && c.unit === unit);
    if (index >= 0) return index;
  }
  return -1;
}

const INTEGER_PARAMS = new Set(['count', 'steps', 'inputTokens', 'outputTokens', 'width', 'height']);

/** Reads and checks the generation's params. */
class Params {
  constructor(private readonly values: Record<string, unknown>) {}

  raw(name: string): unknown {
    return own(this.values, name) ? this.values[name] : undefined;
  }

  /** A non-negative quantity, or undefined when absent. */
  quantity(name: string): Dec | undefined {
    const value = this.raw(name);
    if (value === undefined || value === null) return undefined;
    const field = `generation.params.${name}`;
    let parsed: Dec | undefined;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw new PricingInputError(field, `${name} must be a finite number`);
      if (value < 0) throw new PricingInputError(field, `${name} must not be negative, got ${value}`);
      parsed = numberToDec(value);
    } else if (typeof value === 'string') {
      // A decimal string keeps digits a JSON number would lose; no exponent form.
      const text = value.trim();
      if (text.startsWith('-') && parseDecimal(text.slice(1))) throw new PricingInputError(field, `${name} must not be negative, got ${text}`);
      parsed = parseDecimal(text);
      if (!parsed) throw new PricingInputError(field, `${name} must be a number, got "${text.slice(0, 40)}"`);
    } else {
      throw new PricingInputError(field, `${name} must be a number, got ${typeof value}`);
    }
    if (INTEGER_PARAMS.has(name) && !isInteger(parsed)) {
      throw new PricingInputError(field, `${name} must be a whole number, got ${String(value)}`);
    }
    return parsed;
  }

  required(name: string, unit: PriceUnit): Dec {
    const value = this.quantity(name);
    if (value === undefined) throw new PricingInputError(`generation.params.${name}`, `${name} is required to price ${unit}`);
    return value;
  }

  /** Images in the request (params.count, default 1). */
  count(): Dec {
    return this.quantity('count') ?? ONE;
  }
}

function unitQuantity(unit: PriceUnit, params: Params): Dec {
  switch (unit) {
    case 'REQUEST':
      return ONE;
    case 'INPUT_TOKENS_1K':
      return shift(params.required('inputTokens', unit), 3);
    case 'OUTPUT_TOKENS_1K':
      return shift(params.required('outputTokens', unit), 3);
    case 'IMAGE':
      return params.count();
    case 'SECOND':
      return params.required('seconds', unit);
    case 'MEGABYTE':
      return params.required('megabytes', unit);
    case 'MEGAPIXEL': {
      const megapixels = params.quantity('megapixels');
      if (megapixels !== undefined) return megapixels;
      const width = params.quantity('width');
      const height = params.quantity('height');
      if (width === undefined && height === undefined) {
        throw new PricingInputError('generation.params.megapixels', 'megapixels (or width and height) is required to price MEGAPIXEL');
      }
      if (width === undefined) throw new PricingInputError('generation.params.width', 'width is required with height to price MEGAPIXEL');
      if (height === undefined) throw new PricingInputError('generation.params.height', 'height is required with width to price MEGAPIXEL');
      return shift(mul(width, height), 6);
    }
    case 'STEP':
      return params.required('steps', unit);
  }
}

/** How a quantity of each unit reads in a label ("3 images", "1.2k input tokens"). */
const UNIT_TEXT: Record<PriceUnit, [one: string, many: string]> = {
  REQUEST: [' request', ' requests'],
  INPUT_TOKENS_1K: ['k input tokens', 'k input tokens'],
  OUTPUT_TOKENS_1K: ['k output tokens', 'k output tokens'],
  IMAGE: [' image', ' images'],
  SECOND: [' s', ' s'],
  MEGABYTE: [' MB', ' MB'],
  MEGAPIXEL: [' MP', ' MP'],
  STEP: [' step', ' steps'],
};

function quantityText(unit: PriceUnit, quantity: Dec): string {
  const [one, many] = UNIT_TEXT[unit];
  return formatDec(quantity) + (cmp(quantity, ONE) === 0 ? one : many);
}

/** Accumulates the exact running total and emits each step's line item (see "Rounding" above). */
class RunningTotal {
  readonly lineItems: PriceLineItem[] = [];
  exact: Dec = ZERO;
  rounded = 0n;

  step(kind: LineItemKind, label: string, next: Dec): void {
    const rounded = roundToMillis(next);
    if (rounded > BigInt(MILLIS_INPUT_MAX)) {
      throw new PricingInputError('generation.params', 'the price exceeds the largest accepted amount (10^12 credits)');
    }
    this.lineItems.push({ kind, label, millis: Number(rounded - this.rounded) });
    this.exact = next;
    this.rounded = rounded;
  }

  multiply(kind: LineItemKind, label: string, factor: Dec): void {
    this.step(kind, label, mul(this.exact, factor));
  }
}

function findRate(content: RateCardContent, generation: Generation): RateDefinition {
  const { action } = generation;
  const model = generation.model ?? null;
  if (typeof action !== 'string' || action === '') {
    throw new PricingInputError('generation.action', 'action must be a non-empty string');
  }
  const rate = lookupRate(content.rates, action, model);
  if (rate) return rate;
  const models = content.rates.filter((r) => r.action === action).map((r) => r.model ?? '*');
  if (models.length === 0) throw new PricingInputError('generation.action', `no price for action "${action}"`);
  throw new PricingInputError(
    'generation.model',
    model === null
      ? `action "${action}" has no default price; name a model (priced: ${models.join(', ')})`
      : `no price for model "${model}" of action "${action}" (priced: ${models.join(', ')})`,
  );
}

/** The resolution table's price for params.resolution. */
function resolutionPrice(resolutions: Record<string, string>, params: Params): [resolution: string, price: Dec] {
  const field = 'generation.params.resolution';
  const listed = Object.keys(resolutions).join(', ');
  const resolution = params.raw('resolution');
  if (resolution === undefined || resolution === null) throw new PricingInputError(field, `resolution is required (one of ${listed})`);
  if (typeof resolution !== 'string' || !own(resolutions, resolution)) {
    throw new PricingInputError(field, `resolution ${JSON.stringify(resolution)} is not priced (one of ${listed})`);
  }
  return [resolution, cardDec(resolutions[resolution], `resolution ${resolution}`)];
}

function priceComponent(total: RunningTotal, component: PriceComponent, quantity: Dec): void {
  const { unit, tiers, pricePerUnit } = component;
  if (!tiers) {
    assert(pricePerUnit !== undefined, 'flat component without pricePerUnit');
    const price = cardDec(pricePerUnit, 'pricePerUnit');
    total.step('BASE', `${quantityText(unit, quantity)} at ${formatDec(price)}`, add(total.exact, mul(quantity, price)));
    return;
  }
  // Graduated: the slice (lower, upTo] of the quantity is priced at each tier's rate.
  let lower = ZERO;
  for (const [index, tier] of tiers.entries()) {
    const upper = tier.upTo === null ? undefined : cardDec(tier.upTo, 'upTo');
    const reachesUpper = upper !== undefined && cmp(quantity, upper) > 0;
    const slice = sub(reachesUpper ? upper : quantity, lower);
    const price = cardDec(tier.pricePerUnit, 'tier pricePerUnit');
    const label = `${index === 0 ? 'first' : 'next'} ${quantityText(unit, slice)} at ${formatDec(price)}`;
    total.step('TIER', label, add(total.exact, mul(slice, price)));
    if (!reachesUpper) return;
    lower = upper;
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** Local ISO weekday (1 = Monday) and minutes since local midnight of `at` in `timeZone`. */
function localTime(at: Date, timeZone: string): { day: number; minutes: number } {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, formatter);
  }
  const parts = Object.fromEntries(formatter.formatToParts(at).map((p) => [p.type, p.value]));
  return { day: WEEKDAYS[parts.weekday], minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

const toMinutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

function windowContains(window: TimeWindow, day: number, minutes: number): boolean {
  const start = toMinutes(window.start);
  const end = toMinutes(window.end);
  if (start < end) return window.days.includes(day) && minutes >= start && minutes < end;
  // Wraps past midnight: the early-morning part belongs to the window that opened the day before.
  const previousDay = day === 1 ? 7 : day - 1;
  return (window.days.includes(day) && minutes >= start) || (window.days.includes(previousDay) && minutes < end);
}

/** Prices one generation. Throws PricingInputError when the generation cannot be priced as asked. */
export function priceGeneration(content: RateCardContent, generation: Generation, context: PricingContext): PriceResult {
  if (Number.isNaN(context.at.getTime())) throw new RangeError('context.at is not a valid date');
  const rate = findRate(content, generation);
  const rawParams = generation.params ?? {};
  if (typeof rawParams !== 'object' || Array.isArray(rawParams)) {
    throw new PricingInputError('generation.params', 'params must be an object');
  }
  const params = new Params(rawParams);
  const total = new RunningTotal();

  // 1. Base components.
  const resolution = rate.resolutions ? resolutionPrice(rate.resolutions, params) : undefined;
  const targetIndex = resolution ? resolutionTargetIndex(rate.components) : -1;
  for (const [index, component] of rate.components.entries()) {
    const quantity = unitQuantity(component.unit, params);
    if (resolution && index === targetIndex) {
      const [name, price] = resolution;
      const label = `${quantityText(component.unit, quantity)} at ${formatDec(price)} (${name})`;
      total.step('RESOLUTION', label, add(total.exact, mul(quantity, price)));
    } else {
      priceComponent(total, component, quantity);
    }
  }

  // 2. Modifiers.
  const modifiers = rate.modifiers ?? {};
  for (const name of Object.keys(modifiers).sort()) {
    const table = modifiers[name];
    const value = params.raw(name);
    if (value === undefined || value === null) continue;
    const key = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : undefined;
    if (key === undefined || !own(table, key)) {
      throw new PricingInputError(
        `generation.params.${name}`,
        `${name} ${JSON.stringify(value)} is not priced (one of ${Object.keys(table).join(', ')})`,
      );
    }
    const factor = cardDec(table[key], `modifier ${name}.${key}`);
    total.multiply('MODIFIER', `${name} ${key} ×${formatDec(factor)}`, factor);
  }

  // 3. Batch discount.
  if (rate.batchDiscounts?.length) {
    const count = params.count();
    let best: BatchDiscount | undefined;
    for (const discount of rate.batchDiscounts) {
      const applies = cmp(count, cardDec(discount.minCount, 'minCount')) >= 0;
      if (applies && (!best || discount.minCount > best.minCount)) best = discount;
    }
    if (best) {
      const percentOff = cardDec(best.percentOff, 'percentOff');
      const label = `batch of ${formatDec(count)} (≥ ${best.minCount}) -${formatDec(percentOff)}%`;
      total.multiply('BATCH_DISCOUNT', label, shift(sub(ONE_HUNDRED, percentOff), 2));
    }
  }

  // 4. Plan tier multiplier.
  const tier = context.planTier;
  if (tier && rate.planTierMultipliers && own(rate.planTierMultipliers, tier)) {
    const factor = cardDec(rate.planTierMultipliers[tier], `plan tier ${tier}`);
    total.multiply('PLAN_MULTIPLIER', `plan ${tier} ×${formatDec(factor)}`, factor);
  }

  // 5. Time window.
  if (rate.timeWindows?.length) {
    const { day, minutes } = localTime(context.at, rate.timeZone ?? 'UTC');
    const window = rate.timeWindows.find((w) => windowContains(w, day, minutes));
    if (window) {
      const factor = cardDec(window.multiplier, `time window ${window.name}`);
      total.multiply('TIME_WINDOW', `${window.name} ×${formatDec(factor)}`, factor);
    }
  }

  // 6. Minimum charge: compared after rounding, so it shows only when it changes the price.
  if (rate.minimumCredits !== undefined) {
    const minimum = cardDec(rate.minimumCredits, 'minimumCredits');
    if (roundToMillis(minimum) > total.rounded) total.step('MINIMUM', `minimum charge ${formatDec(minimum)}`, minimum);
  }

  return { totalMillis: Number(total.rounded), lineItems: total.lineItems, rate };
}

// ---------------------------------------------------------------------------------------------
// Validation

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const show = (value: unknown): string => (value === undefined ? 'missing' : String(JSON.stringify(value)).slice(0, 60));

const RATE_FIELDS = new Set([
  'action', 'model', 'components', 'resolutions', 'modifiers', 'minimumCredits',
  'batchDiscounts', 'planTierMultipliers', 'timeZone', 'timeWindows',
]);
const COMPONENT_FIELDS = new Set(['unit', 'pricePerUnit', 'tiers']);
const TIER_FIELDS = new Set(['upTo', 'pricePerUnit']);
const BATCH_FIELDS = new Set(['minCount', 'percentOff']);
const WINDOW_FIELDS = new Set(['name', 'days', 'start', 'end', 'multiplier']);
const HHMM = /^(?:[01]\d|2[0-3]):[0-5]\d$/;

type Report = (path: string, message: string) => void;

function checkFields(value: Record<string, unknown>, allowed: Set<string>, path: string, report: Report): void {
  for (const key of Object.keys(value)) if (!allowed.has(key)) report(path ? `${path}.${key}` : key, 'unknown field');
}

interface DecimalRule {
  what: string;
  maxFraction: number;
  /** Zero is refused (multipliers); negatives always are. */
  positive?: boolean;
  max?: Dec;
}

/** Reports `value` unless it is a decimal string obeying `rule`. */
function checkDecimal(value: unknown, path: string, report: Report, rule: DecimalRule): void {
  const parsed = typeof value === 'string' ? parseDecimal(value, { signed: true }) : undefined;
  if (!parsed || typeof value !== 'string') return report(path, `${show(value)} is not a decimal string`);
  if (parsed.scale > rule.maxFraction) {
    return report(path, `${value} has more than ${rule.maxFraction} fractional digits`);
  }
  // "-0" is zero, not negative.
  if (parsed.units < 0n) return report(path, `${rule.what} ${value} must not be negative`);
  if (rule.positive && parsed.units === 0n) return report(path, `${rule.what} ${value} must be greater than 0`);
  if (rule.max && cmp(parsed, rule.max) > 0) report(path, `${rule.what} ${value} must be at most ${formatDec(rule.max)}`);
}

const PRICE: DecimalRule = { what: 'price', maxFraction: 6 };
const MULTIPLIER: DecimalRule = { what: 'multiplier', maxFraction: 6, positive: true };
const PERCENT: DecimalRule = { what: 'percentOff', maxFraction: 3, max: ONE_HUNDRED };

/** A record of decimal strings, e.g. resolutions or planTierMultipliers; `nonEmpty` when an empty table cannot price anything. */
function checkDecimalTable(value: unknown, path: string, report: Report, rule: DecimalRule, nonEmpty: boolean): void {
  if (!isRecord(value)) return report(path, 'must be an object of decimal strings');
  if (nonEmpty && Object.keys(value).length === 0) report(path, 'must list at least one value');
  for (const [key, entry] of Object.entries(value)) checkDecimal(entry, `${path}.${key}`, report, rule);
}

function checkTiers(tiers: unknown, path: string, report: Report): void {
  if (!Array.isArray(tiers) || tiers.length === 0) return report(path, 'must be a non-empty array of tiers');
  // Each tier starts where the previous one ends, so gaps cannot be expressed; what can go wrong is the order of thresholds.
  let previous: number | undefined;
  tiers.forEach((tier, index) => {
    const at = `${path}[${index}]`;
    if (!isRecord(tier)) return report(at, 'must be an object { upTo, pricePerUnit }');
    checkFields(tier, TIER_FIELDS, at, report);
    checkDecimal(tier.pricePerUnit, `${at}.pricePerUnit`, report, PRICE);
    const isLast = index === tiers.length - 1;
    const { upTo } = tier;
    if (upTo === null) {
      if (!isLast) report(`${at}.upTo`, 'only the last tier may be unbounded (upTo null)');
      return;
    }
    if (typeof upTo !== 'number' || !Number.isFinite(upTo) || upTo <= 0) {
      return report(`${at}.upTo`, `${show(upTo)} must be a positive number, or null on the last tier`);
    }
    if (previous !== undefined && upTo === previous) report(`${at}.upTo`, `${upTo} overlaps the previous tier, which also ends at ${previous}`);
    if (previous !== undefined && upTo < previous) report(`${at}.upTo`, `thresholds must ascend: ${upTo} comes after ${previous}`);
    if (isLast) report(`${at}.upTo`, 'the last tier must be unbounded (upTo null)');
    previous = upTo;
  });
}

function checkComponents(rate: Record<string, unknown>, report: Report): void {
  const { components } = rate;
  if (!Array.isArray(components) || components.length === 0) {
    return report('components', 'must be a non-empty array of price components');
  }
  const targetIndex = rate.resolutions === undefined ? -1 : resolutionTargetIndex(components);
  components.forEach((component, index) => {
    const at = `components[${index}]`;
    if (!isRecord(component)) return report(at, 'must be an object { unit, pricePerUnit | tiers }');
    checkFields(component, COMPONENT_FIELDS, at, report);
    if (!(PRICE_UNITS as readonly unknown[]).includes(component.unit)) {
      report(`${at}.unit`, `${show(component.unit)} is not a price unit (${PRICE_UNITS.join(', ')})`);
    }
    const hasPrice = component.pricePerUnit !== undefined;
    const hasTiers = component.tiers !== undefined;
    if (index === targetIndex) {
      if (hasTiers) report(`${at}.tiers`, 'the component priced by the resolution table must be flat (no tiers)');
    } else if (hasPrice === hasTiers) {
      report(at, hasPrice ? 'has both pricePerUnit and tiers; give exactly one' : 'needs pricePerUnit or tiers');
    }
    if (hasPrice) checkDecimal(component.pricePerUnit, `${at}.pricePerUnit`, report, PRICE);
    if (hasTiers) checkTiers(component.tiers, `${at}.tiers`, report);
  });
  if (rate.resolutions !== undefined && targetIndex < 0) {
    report('resolutions', 'needs an IMAGE, SECOND or REQUEST component to price');
  }
}

function checkBatchDiscounts(value: unknown, report: Report): void {
  if (!Array.isArray(value)) return report('batchDiscounts', 'must be an array of { minCount, percentOff }');
  const seen = new Set<unknown>();
  value.forEach((discount, index) => {
    const at = `batchDiscounts[${index}]`;
    if (!isRecord(discount)) return report(at, 'must be an object { minCount, percentOff }');
    checkFields(discount, BATCH_FIELDS, at, report);
    const { minCount } = discount;
    if (!Number.isSafeInteger(minCount) || (minCount as number) < 1) report(`${at}.minCount`, `${show(minCount)} must be a whole number ≥ 1`);
    else if (seen.has(minCount)) report(`${at}.minCount`, `${show(minCount)} is listed twice`);
    seen.add(minCount);
    checkDecimal(discount.percentOff, `${at}.percentOff`, report, PERCENT);
  });
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function checkTimeWindows(value: unknown, report: Report): void {
  if (!Array.isArray(value)) return report('timeWindows', 'must be an array of time windows');
  value.forEach((window, index) => {
    const at = `timeWindows[${index}]`;
    if (!isRecord(window)) return report(at, 'must be an object { name, days, start, end, multiplier }');
    checkFields(window, WINDOW_FIELDS, at, report);
    if (typeof window.name !== 'string' || window.name === '') report(`${at}.name`, 'must be a non-empty string');
    const { days, start, end } = window;
    if (!Array.isArray(days) || days.length === 0) report(`${at}.days`, 'must be a non-empty array of weekdays 1 (Monday) … 7 (Sunday)');
    else {
      days.forEach((day, i) => {
        if (!Number.isInteger(day) || day < 1 || day > 7) report(`${at}.days[${i}]`, `${show(day)} is not a weekday 1 (Monday) … 7 (Sunday)`);
      });
    }
    const startOk = typeof start === 'string' && HHMM.test(start);
    const endOk = typeof end === 'string' && (HHMM.test(end) || end === '24:00');
    if (!startOk) report(`${at}.start`, `${show(start)} is not a time "HH:MM" (00:00–23:59)`);
    if (!endOk) report(`${at}.end`, `${show(end)} is not a time "HH:MM" (00:00–24:00)`);
    if (startOk && endOk && start === end) report(at, `start and end are both ${start} (empty window)`);
    checkDecimal(window.multiplier, `${at}.multiplier`, report, MULTIPLIER);
  });
}

function checkRate(rate: Record<string, unknown>, report: Report): void {
  checkFields(rate, RATE_FIELDS, '', report);
  const { action, model } = rate;
  if (typeof action !== 'string' || action === '') report('action', `${show(action)}: a rate needs a non-empty action`);
  if (model !== undefined && model !== null && (typeof model !== 'string' || model === '')) {
    report('model', `${show(model)} must be a non-empty string, or null for the action's default`);
  }
  checkComponents(rate, report);
  if (rate.resolutions !== undefined) checkDecimalTable(rate.resolutions, 'resolutions', report, PRICE, true);
  if (rate.modifiers !== undefined) {
    if (!isRecord(rate.modifiers)) report('modifiers', 'must be an object: param name -> value -> multiplier');
    else {
      for (const [name, table] of Object.entries(rate.modifiers)) checkDecimalTable(table, `modifiers.${name}`, report, MULTIPLIER, true);
    }
  }
  if (rate.minimumCredits !== undefined) checkDecimal(rate.minimumCredits, 'minimumCredits', report, PRICE);
  if (rate.batchDiscounts !== undefined) checkBatchDiscounts(rate.batchDiscounts, report);
  if (rate.planTierMultipliers !== undefined) checkDecimalTable(rate.planTierMultipliers, 'planTierMultipliers', report, MULTIPLIER, false);
  if (rate.timeZone !== undefined && (typeof rate.timeZone !== 'string' || !isTimeZone(rate.timeZone))) {
    report('timeZone', `${show(rate.timeZone)} is not an IANA time zone`);
  }
  if (rate.timeWindows !== undefined) checkTimeWindows(rate.timeWindows, report);
}

/**
 * Every problem with a rate card (empty when it can be published). Each message names the rate as
 * "rates[i] (action × model)" ("*" = the action's default) and the path inside it. `requiredPairs`
 * lists action × model pairs the card must price (directly or through the action's default).
 */
export function validateRateCard(content: unknown, requiredPairs: readonly RatePair[] = []): string[] {
  const problems: string[] = [];
  if (!isRecord(content)) return ['rate card: must be an object { rates: [...] }'];
  for (const key of Object.keys(content)) {
    if (key === 'currency') problems.push('currency: rate cards are priced in credits; remove "currency"');
    else if (key !== 'rates') problems.push(`${key}: unknown field`);
  }
  const rates = Array.isArray(content.rates) ? content.rates : [];
  if (!Array.isArray(content.rates)) problems.push('rates: missing; must be an array of rates');

  const firstIndex = new Map<string, number>();
  rates.forEach((rate, index) => {
    if (!isRecord(rate)) {
      problems.push(`rates[${index}]: must be an object`);
      return;
    }
    const name = `rates[${index}] (${rateName(rate.action, rate.model)})`;
    const report: Report = (path, message) => problems.push(`${name}${path ? ` ${path}` : ''}: ${message}`);
    checkRate(rate, report);
    if (typeof rate.action === 'string' && rate.action !== '') {
      const key = JSON.stringify([rate.action, rate.model ?? null]);
      const first = firstIndex.get(key);
      if (first === undefined) firstIndex.set(key, index);
      else report('', `duplicate of rates[${first}]: one price per action × model`);
    }
  });

  const priced = rates.filter(isRecord);
  for (const { action, model = null } of requiredPairs) {
    if (!lookupRate(priced, action, model)) problems.push(`${rateName(action, model)} has no price`);
  }
  return problems;
}
