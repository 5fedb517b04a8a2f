import fc from 'fast-check';
import {
  priceGeneration,
  PricingInputError,
  validateRateCard,
  type Generation,
  type LineItemKind,
  type PriceResult,
} from '../../src/modules/pricing/pricing.engine';
import type { PriceComponent, RateCardContent, RateDefinition, TimeWindow } from '../../src/modules/pricing/rate-card.model';

const MONDAY_NOON = new Date('2024-01-15T12:00:00Z');
const REQUEST_8: PriceComponent = { unit: 'REQUEST', pricePerUnit: '8' };

type Item = [kind: LineItemKind, label: string, millis: number];

/** Prices `params` under a one-rate card built from `overrides`, after checking the card is valid. */
function price(
  overrides: Partial<RateDefinition>,
  params: Record<string, unknown> = {},
  context: { at?: Date; planTier?: string | null } = {},
): PriceResult {
  const content: RateCardContent = { rates: [{ action: 'act', components: [REQUEST_8], ...overrides }] };
  expect(validateRateCard(content)).toEqual([]);
  return priceGeneration(content, { action: 'act', params }, { at: MONDAY_NOON, ...context });
}

const items = (result: PriceResult): Item[] => result.lineItems.map((i) => [i.kind, i.label, i.millis]);
const sumOf = (result: PriceResult): number => result.lineItems.reduce((sum, i) => sum + i.millis, 0);

function expectPrice(result: PriceResult, total: number, expected?: Item[]): void {
  expect(result.totalMillis).toBe(total);
  expect(sumOf(result)).toBe(total);
  if (expected) expect(items(result)).toEqual(expected);
}

describe('each dimension alone', () => {
  const hdTable = { quality: { standard: '1', hd: '2.5' } };
  test.each<[string, Partial<RateDefinition>, Record<string, unknown>, string | null, number, Item[]]>([
    ['flat per request', {}, {}, null, 8000, [['BASE', '1 request at 8', 8000]]],
    ['zero price is valid', { components: [{ unit: 'REQUEST', pricePerUnit: '0' }] }, {}, null, 0, [['BASE', '1 request at 0', 0]]],
    [
      'per image × count',
      { components: [{ unit: 'IMAGE', pricePerUnit: '1.5' }] },
      { count: 4 },
      null,
      6000,
      [['BASE', '4 images at 1.5', 6000]],
    ],
    [
      'input and output tokens per 1k',
      { components: [{ unit: 'INPUT_TOKENS_1K', pricePerUnit: '2.5' }, { unit: 'OUTPUT_TOKENS_1K', pricePerUnit: '10' }] },
      { inputTokens: 1200, outputTokens: 350 },
      null,
      6500,
      [
        ['BASE', '1.2k input tokens at 2.5', 3000],
        ['BASE', '0.35k output tokens at 10', 3500],
      ],
    ],
    ['per second', { components: [{ unit: 'SECOND', pricePerUnit: '0.3' }] }, { seconds: 12.5 }, null, 3750, [['BASE', '12.5 s at 0.3', 3750]]],
    ['per megabyte', { components: [{ unit: 'MEGABYTE', pricePerUnit: '0.1' }] }, { megabytes: 2.5 }, null, 250, [['BASE', '2.5 MB at 0.1', 250]]],
    ['per megapixel', { components: [{ unit: 'MEGAPIXEL', pricePerUnit: '0.25' }] }, { megapixels: 4 }, null, 1000, [['BASE', '4 MP at 0.25', 1000]]],
    [
      'per megapixel from width × height (2.0736 MP × 0.25 = 0.5184)',
      { components: [{ unit: 'MEGAPIXEL', pricePerUnit: '0.25' }] },
      { width: 1920, height: 1080 },
      null,
      518,
      [['BASE', '2.0736 MP at 0.25', 518]],
    ],
    ['per step', { components: [{ unit: 'STEP', pricePerUnit: '0.02' }] }, { steps: 50 }, null, 1000, [['BASE', '50 steps at 0.02', 1000]]],
    [
      'resolution table',
      { components: [{ unit: 'IMAGE' }], resolutions: { '720p': '1', '1080p': '2' } },
      { resolution: '1080p', count: 3 },
      null,
      6000,
      [['RESOLUTION', '3 images at 2 (1080p)', 6000]],
    ],
    [
      'resolution table replaces the component price',
      { components: [{ unit: 'IMAGE', pricePerUnit: '99' }], resolutions: { '720p': '1' } },
      { resolution: '720p' },
      null,
      1000,
      [['RESOLUTION', '1 image at 1 (720p)', 1000]],
    ],
    [
      'modifier',
      { components: [{ unit: 'IMAGE', pricePerUnit: '10' }], modifiers: hdTable },
      { quality: 'hd' },
      null,
      25000,
      [
        ['BASE', '1 image at 10', 10000],
        ['MODIFIER', 'quality hd ×2.5', 15000],
      ],
    ],
    [
      'modifier ×1 still shows',
      { components: [{ unit: 'IMAGE', pricePerUnit: '10' }], modifiers: hdTable },
      { quality: 'standard' },
      null,
      10000,
      [
        ['BASE', '1 image at 10', 10000],
        ['MODIFIER', 'quality standard ×1', 0],
      ],
    ],
    [
      'modifier param absent: no modifier',
      { components: [{ unit: 'IMAGE', pricePerUnit: '10' }], modifiers: hdTable },
      {},
      null,
      10000,
      [['BASE', '1 image at 10', 10000]],
    ],
    [
      'graduated tiers',
      { components: [{ unit: 'MEGABYTE', tiers: [{ upTo: 10, pricePerUnit: '2' }, { upTo: null, pricePerUnit: '1.4' }] }] },
      { megabytes: 50 },
      null,
      76000,
      [
        ['TIER', 'first 10 MB at 2', 20000],
        ['TIER', 'next 40 MB at 1.4', 56000],
      ],
    ],
    [
      'batch discount, highest matching threshold',
      { components: [{ unit: 'IMAGE', pricePerUnit: '1' }], batchDiscounts: [{ minCount: 10, percentOff: '10' }, { minCount: 4, percentOff: '5' }] },
      { count: 12 },
      null,
      10800,
      [
        ['BASE', '12 images at 1', 12000],
        ['BATCH_DISCOUNT', 'batch of 12 (≥ 10) -10%', -1200],
      ],
    ],
    [
      'batch discount, lower threshold',
      { components: [{ unit: 'IMAGE', pricePerUnit: '1' }], batchDiscounts: [{ minCount: 10, percentOff: '10' }, { minCount: 4, percentOff: '5' }] },
      { count: 5 },
      null,
      4750,
      [
        ['BASE', '5 images at 1', 5000],
        ['BATCH_DISCOUNT', 'batch of 5 (≥ 4) -5%', -250],
      ],
    ],
    [
      'batch discount below every threshold',
      { components: [{ unit: 'IMAGE', pricePerUnit: '1' }], batchDiscounts: [{ minCount: 4, percentOff: '5' }] },
      { count: 3 },
      null,
      3000,
      [['BASE', '3 images at 1', 3000]],
    ],
    ['plan tier multiplier', { planTierMultipliers: { pro: '0.8' } }, {}, 'pro', 6400, [['BASE', '1 request at 8', 8000], ['PLAN_MULTIPLIER', 'plan pro ×0.8', -1600]]],
    ['plan tier not listed pays ×1', { planTierMultipliers: { pro: '0.8' } }, {}, 'free', 8000, [['BASE', '1 request at 8', 8000]]],
    [
      'minimum charge raises a small price',
      { components: [{ unit: 'OUTPUT_TOKENS_1K', pricePerUnit: '0.5' }], minimumCredits: '2' },
      { outputTokens: 100 },
      null,
      2000,
      [
        ['BASE', '0.1k output tokens at 0.5', 50],
        ['MINIMUM', 'minimum charge 2', 1950],
      ],
    ],
    [
      'minimum charge below the price: no line',
      { components: [{ unit: 'OUTPUT_TOKENS_1K', pricePerUnit: '0.5' }], minimumCredits: '2' },
      { outputTokens: 10000 },
      null,
      5000,
      [['BASE', '10k output tokens at 0.5', 5000]],
    ],
  ])('%s', (_name, rate, params, planTier, total, expected) => {
    expectPrice(price(rate, params, { planTier }), total, expected);
  });
});

describe('all dimensions combined', () => {
  const rate: Partial<RateDefinition> = {
    components: [{ unit: 'IMAGE' }, { unit: 'REQUEST', pricePerUnit: '0.5' }],
    resolutions: { '1080p': '2', '4K': '3' },
    modifiers: { style: { natural: '1', vivid: '1.2' }, quality: { standard: '1', hd: '2.5' } },
    batchDiscounts: [{ minCount: 10, percentOff: '10' }],
    planTierMultipliers: { pro: '0.9' },
    timeZone: 'Europe/Berlin',
    timeWindows: [{ name: 'peak', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', multiplier: '1.5' }],
    minimumCredits: '1',
  };

  test('applies every step in order on the exact running total', () => {
    const result = price(
      rate,
      { resolution: '4K', count: 10, quality: 'hd', style: 'vivid' },
      { planTier: 'pro', at: new Date('2024-01-15T10:00:00Z') }, // Monday 11:00 in Berlin
    );
    // 30 + 0.5 = 30.5; ×2.5 = 76.25; ×1.2 = 91.5; −10% = 82.35; ×0.9 = 74.115; ×1.5 = 111.1725 -> 111.173
    expectPrice(result, 111173, [
      ['RESOLUTION', '10 images at 3 (4K)', 30000],
      ['BASE', '1 request at 0.5', 500],
      ['MODIFIER', 'quality hd ×2.5', 45750],
      ['MODIFIER', 'style vivid ×1.2', 15250],
      ['BATCH_DISCOUNT', 'batch of 10 (≥ 10) -10%', -9150],
      ['PLAN_MULTIPLIER', 'plan pro ×0.9', -8235],
      ['TIME_WINDOW', 'peak ×1.5', 37058],
    ]);
  });

  test('the minimum applies after every multiplier', () => {
    const cheap = { ...rate, resolutions: { '1080p': '0.2' }, components: [{ unit: 'IMAGE' as const }] };
    // 0.2 ×0.9 (plan) = 0.18 off-peak (Saturday) -> minimum 1
    expectPrice(price(cheap, { resolution: '1080p' }, { planTier: 'pro', at: new Date('2024-01-20T10:00:00Z') }), 1000, [
      ['RESOLUTION', '1 image at 0.2 (1080p)', 200],
      ['PLAN_MULTIPLIER', 'plan pro ×0.9', -20],
      ['MINIMUM', 'minimum charge 1', 820],
    ]);
  });

  test('modifier lines follow param-name order whatever the stored key order', () => {
    const reordered = { ...rate, modifiers: { quality: rate.modifiers!.quality, style: rate.modifiers!.style } };
    const params = { resolution: '1080p', quality: 'hd', style: 'vivid' };
    expect(items(price(reordered, params))).toEqual(items(price(rate, params)));
  });
});

describe('rate lookup', () => {
  const content: RateCardContent = {
    rates: [
      { action: 'image.generate', model: 'dall-e-3', components: [{ unit: 'IMAGE', pricePerUnit: '10' }] },
      { action: 'image.generate', components: [{ unit: 'IMAGE', pricePerUnit: '6' }] },
      { action: 'image.upscale', model: 'esrgan', components: [{ unit: 'IMAGE', pricePerUnit: '0' }] },
    ],
  };
  test.each<[string, Generation, number, number]>([
    ['exact model', { action: 'image.generate', model: 'dall-e-3' }, 10000, 0],
    ['other model falls back to the default', { action: 'image.generate', model: 'sdxl' }, 6000, 1],
    ['no model uses the default', { action: 'image.generate', model: null }, 6000, 1],
  ])('%s', (_name, generation, total, rateIndex) => {
    const result = priceGeneration(content, generation, { at: MONDAY_NOON });
    expect(result.totalMillis).toBe(total);
    expect(result.rate).toBe(content.rates[rateIndex]);
  });

  test.each<[string, Generation, string, RegExp]>([
    ['unknown action', { action: 'video.generate' }, 'generation.action', /no price for action "video.generate"/],
    ['empty action', { action: '' }, 'generation.action', /non-empty/],
    ['unknown model, no default', { action: 'image.upscale', model: 'other' }, 'generation.model', /no price for model "other".*esrgan/],
    ['no model, no default', { action: 'image.upscale' }, 'generation.model', /no default price/],
  ])('%s -> PricingInputError', (_name, generation, field, message) => {
    const error = catchError(() => priceGeneration(content, generation, { at: MONDAY_NOON }));
    expect(error).toBeInstanceOf(PricingInputError);
    expect(error).toMatchObject({ field, message: expect.stringMatching(message) as unknown });
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('bad params', () => {
  const tokens: Partial<RateDefinition> = { components: [{ unit: 'INPUT_TOKENS_1K', pricePerUnit: '1' }] };
  const images: Partial<RateDefinition> = { components: [{ unit: 'IMAGE', pricePerUnit: '1' }] };
  const megapixels: Partial<RateDefinition> = { components: [{ unit: 'MEGAPIXEL', pricePerUnit: '1' }] };
  const resolutions: Partial<RateDefinition> = { components: [{ unit: 'IMAGE' }], resolutions: { '720p': '1' } };
  const modifiers: Partial<RateDefinition> = { modifiers: { quality: { standard: '1', hd: '2.5' } } };
  test.each<[string, Partial<RateDefinition>, Record<string, unknown>, string, RegExp]>([
    ['missing tokens', tokens, {}, 'generation.params.inputTokens', /required/],
    ['fractional tokens', tokens, { inputTokens: 1.5 }, 'generation.params.inputTokens', /whole number/],
    ['negative tokens', tokens, { inputTokens: -1 }, 'generation.params.inputTokens', /negative/],
    ['negative tokens as text', tokens, { inputTokens: '-1' }, 'generation.params.inputTokens', /negative/],
    ['NaN', tokens, { inputTokens: NaN }, 'generation.params.inputTokens', /finite/],
    ['Infinity', { components: [{ unit: 'SECOND', pricePerUnit: '1' }] }, { seconds: Infinity }, 'generation.params.seconds', /finite/],
    ['boolean', tokens, { inputTokens: true }, 'generation.params.inputTokens', /must be a number, got boolean/],
    ['not a number', tokens, { inputTokens: 'many' }, 'generation.params.inputTokens', /must be a number/],
    ['exponent text', { components: [{ unit: 'SECOND', pricePerUnit: '1' }] }, { seconds: '1e9' }, 'generation.params.seconds', /must be a number, got "1e9"/],
    ['missing seconds', { components: [{ unit: 'SECOND', pricePerUnit: '1' }] }, {}, 'generation.params.seconds', /required/],
    ['missing megabytes', { components: [{ unit: 'MEGABYTE', pricePerUnit: '1' }] }, {}, 'generation.params.megabytes', /required/],
    ['missing steps', { components: [{ unit: 'STEP', pricePerUnit: '1' }] }, {}, 'generation.params.steps', /required/],
    ['fractional steps', { components: [{ unit: 'STEP', pricePerUnit: '1' }] }, { steps: 2.5 }, 'generation.params.steps', /whole number/],
    ['fractional count', images, { count: 2.5 }, 'generation.params.count', /whole number/],
    ['negative count', images, { count: -2 }, 'generation.params.count', /negative/],
    ['count as object', images, { count: { n: 2 } }, 'generation.params.count', /got object/],
    ['no megapixels nor size', megapixels, {}, 'generation.params.megapixels', /width and height/],
    ['width without height', megapixels, { width: 100 }, 'generation.params.height', /required/],
    ['height without width', megapixels, { height: 100 }, 'generation.params.width', /required/],
    ['fractional width', megapixels, { width: 10.5, height: 2 }, 'generation.params.width', /whole number/],
    ['missing resolution', resolutions, {}, 'generation.params.resolution', /required \(one of 720p\)/],
    ['unlisted resolution', resolutions, { resolution: '16K' }, 'generation.params.resolution', /"16K" is not priced/],
    ['resolution not a string', resolutions, { resolution: 720 }, 'generation.params.resolution', /not priced/],
    ['prototype key is not a resolution', resolutions, { resolution: 'constructor' }, 'generation.params.resolution', /not priced/],
    ['unknown modifier value', modifiers, { quality: 'ultra' }, 'generation.params.quality', /"ultra" is not priced \(one of standard, hd\)/],
    ['modifier value not a scalar', modifiers, { quality: ['hd'] }, 'generation.params.quality', /not priced/],
    ['params not an object', {}, ['x'] as unknown as Record<string, unknown>, 'generation.params', /object/],
    ['price beyond 10^12 credits', images, { count: 1e13 }, 'generation.params', /exceeds/],
  ])('%s', (_name, rate, params, field, message) => {
    const error = catchError(() => price(rate, params));
    expect(error).toBeInstanceOf(PricingInputError);
    expect(error).toMatchObject({ field, message: expect.stringMatching(message) as unknown });
  });

  test('params may be decimal strings, priced exactly', () => {
    expectPrice(price({ components: [{ unit: 'MEGABYTE', pricePerUnit: '1' }] }, { megabytes: '2.0005' }), 2001);
  });

  test('numbers JS prints in exponent form are read exactly', () => {
    // 5e-7 s × 1000 = 0.0005 credits -> 1 millicredit
    expectPrice(price({ components: [{ unit: 'SECOND', pricePerUnit: '1000' }] }, { seconds: 5e-7 }), 1, [['BASE', '0.0000005 s at 1000', 1]]);
  });

  test('null params price with defaults', () => {
    const content: RateCardContent = { rates: [{ action: 'act', components: [{ unit: 'IMAGE', pricePerUnit: '2' }] }] };
    expect(priceGeneration(content, { action: 'act', params: null }, { at: MONDAY_NOON }).totalMillis).toBe(2000);
  });
});

describe('rounding: once, half-up, to 1/1000 credit', () => {
  test.each<[string, string, number]>([
    ['0.0005 rounds up', '0.0005', 1],
    ['0.00049 rounds down', '0.00049', 0],
    ['0.000499 rounds down', '0.000499', 0],
    ['0.0015 rounds up (not to even)', '0.0015', 2],
    ['0.0025 rounds up (not to even)', '0.0025', 3],
    ['1.9995 carries into the credit', '1.9995', 2000],
    ['1.0005 (a float would give 1000.4999…)', '1.0005', 1001],
  ])('%s', (_name, pricePerUnit, millis) => {
    expectPrice(price({ components: [{ unit: 'REQUEST', pricePerUnit }] }), millis);
  });

  test.each<[number, number]>([
    [500, 1], // 500 × 0.000001 = 0.0005
    [499, 0],
    [1500, 2],
  ])('%d steps at 0.000001 -> %d millis', (steps, millis) => {
    expectPrice(price({ components: [{ unit: 'STEP', pricePerUnit: '0.000001' }] }, { steps }), millis);
  });

  test.each<[string, string, Item[]]>([
    ['0.001 ×0.5 = 0.0005', '0.5', [['BASE', '1 request at 0.001', 1], ['PLAN_MULTIPLIER', 'plan pro ×0.5', 0]]],
    ['0.001 ×0.499999 = 0.000499999', '0.499999', [['BASE', '1 request at 0.001', 1], ['PLAN_MULTIPLIER', 'plan pro ×0.499999', -1]]],
  ])('multipliers act on the exact value: %s', (_name, multiplier, expected) => {
    const result = price({ components: [{ unit: 'REQUEST', pricePerUnit: '0.001' }], planTierMultipliers: { pro: multiplier } }, {}, { planTier: 'pro' });
    expectPrice(result, expected.reduce((s, [, , m]) => s + m, 0), expected);
  });

  test('line items are differences of the rounded running total, not rounded one by one', () => {
    // 0.0004 + 0.0004 = 0.0008 -> 1 millicredit; rounding each alone would give 0 + 0.
    const result = price({ components: [{ unit: 'REQUEST', pricePerUnit: '0.0004' }, { unit: 'STEP', pricePerUnit: '0.0004' }] }, { steps: 1 });
    expectPrice(result, 1, [
      ['BASE', '1 request at 0.0004', 0],
      ['BASE', '1 step at 0.0004', 1],
    ]);
  });
});

describe('graduated tiers', () => {
  const twoTiers: Partial<RateDefinition> = {
    components: [{ unit: 'MEGABYTE', tiers: [{ upTo: 10, pricePerUnit: '1' }, { upTo: null, pricePerUnit: '0.7' }] }],
  };
  const threeTiers: Partial<RateDefinition> = {
    components: [
      {
        unit: 'MEGABYTE',
        tiers: [
          { upTo: 10, pricePerUnit: '1' },
          { upTo: 100, pricePerUnit: '0.5' },
          { upTo: null, pricePerUnit: '0.25' },
        ],
      },
    ],
  };
  test.each<[string, Partial<RateDefinition>, number | string, number, Item[]]>([
    ['0 MB', twoTiers, 0, 0, [['TIER', 'first 0 MB at 1', 0]]],
    ['inside the first tier', twoTiers, 5, 5000, [['TIER', 'first 5 MB at 1', 5000]]],
    ['exactly at the threshold', twoTiers, 10, 10000, [['TIER', 'first 10 MB at 1', 10000]]],
    [
      'just past the threshold',
      twoTiers,
      10.000001,
      10000,
      [
        ['TIER', 'first 10 MB at 1', 10000],
        ['TIER', 'next 0.000001 MB at 0.7', 0],
      ],
    ],
    [
      'past the threshold by enough to round up',
      twoTiers,
      '10.001',
      10001,
      [
        ['TIER', 'first 10 MB at 1', 10000],
        ['TIER', 'next 0.001 MB at 0.7', 1],
      ],
    ],
    ['one MB past', twoTiers, 11, 10700, [['TIER', 'first 10 MB at 1', 10000], ['TIER', 'next 1 MB at 0.7', 700]]],
    ['exactly at the second threshold', threeTiers, 100, 55000, [['TIER', 'first 10 MB at 1', 10000], ['TIER', 'next 90 MB at 0.5', 45000]]],
    [
      'through three tiers',
      threeTiers,
      150,
      67500,
      [
        ['TIER', 'first 10 MB at 1', 10000],
        ['TIER', 'next 90 MB at 0.5', 45000],
        ['TIER', 'next 50 MB at 0.25', 12500],
      ],
    ],
  ])('%s', (_name, rate, megabytes, total, expected) => {
    expectPrice(price(rate, { megabytes }), total, expected);
  });
});

describe('time windows', () => {
  const peak: TimeWindow = { name: 'peak', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', multiplier: '1.5' };
  const night: TimeWindow = { name: 'night', days: [1, 2, 3, 4, 5, 6, 7], start: '22:00', end: '06:00', multiplier: '0.8' };
  const berlin: Partial<RateDefinition> = { components: [{ unit: 'REQUEST', pricePerUnit: '10' }], timeZone: 'Europe/Berlin', timeWindows: [peak, night] };

  test.each<[string, string, number, string | null]>([
    ['Monday 08:59 Berlin: before peak', '2024-01-15T07:59:00Z', 10000, null],
    ['Monday 09:00 Berlin: peak starts (inclusive)', '2024-01-15T08:00:00Z', 15000, 'peak ×1.5'],
    ['Monday 17:59 Berlin: still peak', '2024-01-15T16:59:00Z', 15000, 'peak ×1.5'],
    ['Monday 18:00 Berlin: peak ended (exclusive)', '2024-01-15T17:00:00Z', 10000, null],
    ['Saturday 11:00 Berlin: no peak on weekends', '2024-01-20T10:00:00Z', 10000, null],
    ['Sunday 23:30 Berlin: night', '2024-01-21T22:30:00Z', 8000, 'night ×0.8'],
    ['Monday 05:59 Berlin: night that began Sunday', '2024-01-15T04:59:00Z', 8000, 'night ×0.8'],
    ['Monday 06:00 Berlin: night ended', '2024-01-15T05:00:00Z', 10000, null],
    ['summer time: 09:00 CEST is 07:00 UTC', '2024-07-15T07:00:00Z', 15000, 'peak ×1.5'],
    ['summer time: 08:59 CEST', '2024-07-15T06:59:00Z', 10000, null],
  ])('%s', (_name, at, total, label) => {
    const result = price(berlin, {}, { at: new Date(at) });
    expectPrice(result, total);
    expect(result.lineItems.find((i) => i.kind === 'TIME_WINDOW')?.label ?? null).toBe(label);
  });

  const fridayNight: TimeWindow = { name: 'friday night', days: [5], start: '22:00', end: '06:00', multiplier: '2' };
  const sundayNight: TimeWindow = { name: 'sunday night', days: [7], start: '23:00', end: '02:00', multiplier: '2' };
  test.each<[string, TimeWindow, string, boolean]>([
    ['Friday 22:00 opens the window', fridayNight, '2024-01-19T21:00:00Z', true],
    ['Saturday 02:00 belongs to Friday’s window', fridayNight, '2024-01-20T01:00:00Z', true],
    ['Friday 02:00 belongs to Thursday, not listed', fridayNight, '2024-01-19T01:00:00Z', false],
    ['Saturday 22:30 is not Friday', fridayNight, '2024-01-20T21:30:00Z', false],
    ['Monday 01:00 belongs to Sunday’s window (7 -> 1)', sundayNight, '2024-01-15T00:00:00Z', true],
    ['Sunday 01:00 belongs to Saturday, not listed', sundayNight, '2024-01-21T00:00:00Z', false],
  ])('wrapping window: %s', (_name, window, at, applies) => {
    const result = price({ components: [{ unit: 'REQUEST', pricePerUnit: '10' }], timeZone: 'Europe/Berlin', timeWindows: [window] }, {}, { at: new Date(at) });
    expectPrice(result, applies ? 20000 : 10000);
  });

  test('the first matching window applies', () => {
    const allDay = (name: string, multiplier: string): TimeWindow => ({ name, days: [1, 2, 3, 4, 5, 6, 7], start: '00:00', end: '24:00', multiplier });
    const result = price({ timeWindows: [allDay('first', '2'), allDay('second', '3')] });
    expectPrice(result, 16000, [['BASE', '1 request at 8', 8000], ['TIME_WINDOW', 'first ×2', 8000]]);
  });

  test('"24:00" ends a window at midnight', () => {
    const evening: TimeWindow = { name: 'evening', days: [1], start: '20:00', end: '24:00', multiplier: '2' };
    expectPrice(price({ timeWindows: [evening] }, {}, { at: new Date('2024-01-15T23:59:00Z') }), 16000);
    expectPrice(price({ timeWindows: [evening] }, {}, { at: new Date('2024-01-16T00:00:00Z') }), 8000);
  });

  test('without timeZone the windows are read in UTC', () => {
    const window: TimeWindow = { name: 'utc', days: [1], start: '12:00', end: '13:00', multiplier: '2' };
    expectPrice(price({ timeWindows: [window] }, {}, { at: new Date('2024-01-15T12:30:00Z') }), 16000);
  });
});

describe('validateRateCard', () => {
  const valid = (extra: Partial<RateDefinition> = {}): RateDefinition => ({ action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }], ...extra });
  const cardOf = (...rates: unknown[]) => ({ rates });
  const tiered = (tiers: unknown): unknown => valid({ components: [{ unit: 'MEGABYTE', tiers } as PriceComponent] });

  test('a complete card has no problems', () => {
    const card = cardOf(
      valid({
        components: [{ unit: 'IMAGE' }, { unit: 'MEGABYTE', tiers: [{ upTo: 10, pricePerUnit: '1' }, { upTo: null, pricePerUnit: '0.7' }] }],
        resolutions: { '720p': '1', '4K': '3' },
        modifiers: { quality: { standard: '1', hd: '2.5' } },
        minimumCredits: '0.5',
        batchDiscounts: [{ minCount: 10, percentOff: '10' }, { minCount: 50, percentOff: '12.5' }],
        planTierMultipliers: { pro: '0.9' },
        timeZone: 'Europe/Berlin',
        timeWindows: [{ name: 'night', days: [1, 7], start: '22:00', end: '06:00', multiplier: '0.8' }],
      }),
      valid({ model: null, components: [{ unit: 'REQUEST', pricePerUnit: '0' }] }),
    );
    expect(validateRateCard(card)).toEqual([]);
  });

  const S = 'rates[0] (image.generate × sdxl)';
  test.each<[string, unknown, string[]]>([
    ['not an object', null, ['rate card: must be an object { rates: [...] }']],
    ['missing rates', {}, ['rates: missing; must be an array of rates']],
    ['currency is refused', { rates: [], currency: 'USD' }, ['currency: rate cards are priced in credits; remove "currency"']],
    ['rate not an object', cardOf('x'), ['rates[0]: must be an object']],
    ['rate without action', cardOf({ components: [{ unit: 'IMAGE', pricePerUnit: '1' }] }), ['rates[0] (? × *) action: missing: a rate needs a non-empty action']],
    ['empty model', cardOf(valid({ model: '' })), [`rates[0] (image.generate × ?) model: "" must be a non-empty string, or null for the action's default`]],
    ['unknown field', cardOf({ ...valid(), minimumCredit: '1' }), [`${S} minimumCredit: unknown field`]],
    ['no components', cardOf(valid({ components: [] })), [`${S} components: must be a non-empty array of price components`]],
    ['unknown unit', cardOf(valid({ components: [{ unit: 'PIXEL', pricePerUnit: '1' } as unknown as PriceComponent] })), [`${S} components[0].unit: "PIXEL" is not a price unit (REQUEST, INPUT_TOKENS_1K, OUTPUT_TOKENS_1K, IMAGE, SECOND, MEGABYTE, MEGAPIXEL, STEP)`]],
    ['neither price nor tiers', cardOf(valid({ components: [{ unit: 'IMAGE' }] })), [`${S} components[0]: needs pricePerUnit or tiers`]],
    ['both price and tiers', cardOf(valid({ components: [{ unit: 'IMAGE', pricePerUnit: '1', tiers: [{ upTo: null, pricePerUnit: '1' }] }] })), [`${S} components[0]: has both pricePerUnit and tiers; give exactly one`]],
    ['negative price', cardOf(valid({ components: [{ unit: 'IMAGE', pricePerUnit: '-1' }] })), [`${S} components[0].pricePerUnit: price -1 must not be negative`]],
    ['price as a number', cardOf(valid({ components: [{ unit: 'IMAGE', pricePerUnit: 1 as unknown as string }] })), [`${S} components[0].pricePerUnit: 1 is not a decimal string`]],
    ['malformed price', cardOf(valid({ components: [{ unit: 'IMAGE', pricePerUnit: '1,5' }] })), [`${S} components[0].pricePerUnit: "1,5" is not a decimal string`]],
    ['7 fractional digits', cardOf(valid({ components: [{ unit: 'IMAGE', pricePerUnit: '0.1234567' }] })), [`${S} components[0].pricePerUnit: 0.1234567 has more than 6 fractional digits`]],
    ['empty tiers', cardOf(tiered([])), [`${S} components[0].tiers: must be a non-empty array of tiers`]],
    ['unsorted tiers', cardOf(tiered([{ upTo: 50, pricePerUnit: '1' }, { upTo: 10, pricePerUnit: '1' }, { upTo: null, pricePerUnit: '1' }])), [`${S} components[0].tiers[1].upTo: thresholds must ascend: 10 comes after 50`]],
    ['overlapping tiers', cardOf(tiered([{ upTo: 10, pricePerUnit: '1' }, { upTo: 10, pricePerUnit: '1' }, { upTo: null, pricePerUnit: '1' }])), [`${S} components[0].tiers[1].upTo: 10 overlaps the previous tier, which also ends at 10`]],
    [
      'null before the last tier',
      cardOf(tiered([{ upTo: null, pricePerUnit: '1' }, { upTo: 10, pricePerUnit: '1' }])),
      [`${S} components[0].tiers[0].upTo: only the last tier may be unbounded (upTo null)`, `${S} components[0].tiers[1].upTo: the last tier must be unbounded (upTo null)`],
    ],
    ['last tier bounded', cardOf(tiered([{ upTo: 10, pricePerUnit: '1' }, { upTo: 20, pricePerUnit: '1' }])), [`${S} components[0].tiers[1].upTo: the last tier must be unbounded (upTo null)`]],
    ['zero threshold', cardOf(tiered([{ upTo: 0, pricePerUnit: '1' }, { upTo: null, pricePerUnit: '1' }])), [`${S} components[0].tiers[0].upTo: 0 must be a positive number, or null on the last tier`]],
    ['missing threshold', cardOf(tiered([{ pricePerUnit: '1' }, { upTo: null, pricePerUnit: '1' }])), [`${S} components[0].tiers[0].upTo: missing must be a positive number, or null on the last tier`]],
    ['negative tier price', cardOf(tiered([{ upTo: null, pricePerUnit: '-0.5' }])), [`${S} components[0].tiers[0].pricePerUnit: price -0.5 must not be negative`]],
    ['resolutions without a component to price', cardOf(valid({ components: [{ unit: 'MEGABYTE', pricePerUnit: '1' }], resolutions: { '720p': '1' } })), [`${S} resolutions: needs an IMAGE, SECOND or REQUEST component to price`]],
    ['tiered resolution target', cardOf(valid({ components: [{ unit: 'IMAGE', tiers: [{ upTo: null, pricePerUnit: '1' }] }], resolutions: { '720p': '1' } })), [`${S} components[0].tiers: the component priced by the resolution table must be flat (no tiers)`]],
    ['empty resolution table', cardOf(valid({ components: [{ unit: 'IMAGE' }], resolutions: {} })), [`${S} resolutions: must list at least one value`]],
    ['negative resolution price', cardOf(valid({ components: [{ unit: 'IMAGE' }], resolutions: { '4K': '-3' } })), [`${S} resolutions.4K: price -3 must not be negative`]],
    ['zero modifier', cardOf(valid({ modifiers: { quality: { hd: '0' } } })), [`${S} modifiers.quality.hd: multiplier 0 must be greater than 0`]],
    ['negative modifier', cardOf(valid({ modifiers: { quality: { hd: '-2' } } })), [`${S} modifiers.quality.hd: multiplier -2 must not be negative`]],
    ['empty modifier table', cardOf(valid({ modifiers: { quality: {} } })), [`${S} modifiers.quality: must list at least one value`]],
    ['zero plan multiplier', cardOf(valid({ planTierMultipliers: { pro: '0.000' } })), [`${S} planTierMultipliers.pro: multiplier 0.000 must be greater than 0`]],
    ['malformed minimum', cardOf(valid({ minimumCredits: 'two' })), [`${S} minimumCredits: "two" is not a decimal string`]],
    ['percentOff above 100', cardOf(valid({ batchDiscounts: [{ minCount: 10, percentOff: '100.5' }] })), [`${S} batchDiscounts[0].percentOff: percentOff 100.5 must be at most 100`]],
    ['negative percentOff', cardOf(valid({ batchDiscounts: [{ minCount: 10, percentOff: '-5' }] })), [`${S} batchDiscounts[0].percentOff: percentOff -5 must not be negative`]],
    ['percentOff with 4 decimals', cardOf(valid({ batchDiscounts: [{ minCount: 10, percentOff: '5.1234' }] })), [`${S} batchDiscounts[0].percentOff: 5.1234 has more than 3 fractional digits`]],
    [
      'bad and duplicate minCount',
      cardOf(valid({ batchDiscounts: [{ minCount: 0, percentOff: '5' }, { minCount: 10, percentOff: '5' }, { minCount: 10, percentOff: '6' }] })),
      [`${S} batchDiscounts[0].minCount: 0 must be a whole number ≥ 1`, `${S} batchDiscounts[2].minCount: 10 is listed twice`],
    ],
    ['bad time zone', cardOf(valid({ timeZone: 'Mars/Olympus_Mons' })), [`${S} timeZone: "Mars/Olympus_Mons" is not an IANA time zone`]],
    [
      'bad times and days',
      cardOf(valid({ timeWindows: [{ name: 'w', days: [0, 8], start: '9:00', end: '18:60', multiplier: '1' }] })),
      [
        `${S} timeWindows[0].days[0]: 0 is not a weekday 1 (Monday) … 7 (Sunday)`,
        `${S} timeWindows[0].days[1]: 8 is not a weekday 1 (Monday) … 7 (Sunday)`,
        `${S} timeWindows[0].start: "9:00" is not a time "HH:MM" (00:00–23:59)`,
        `${S} timeWindows[0].end: "18:60" is not a time "HH:MM" (00:00–24:00)`,
      ],
    ],
    ['start 24:00', cardOf(valid({ timeWindows: [{ name: 'w', days: [1], start: '24:00', end: '06:00', multiplier: '1' }] })), [`${S} timeWindows[0].start: "24:00" is not a time "HH:MM" (00:00–23:59)`]],
    ['empty window', cardOf(valid({ timeWindows: [{ name: 'w', days: [1], start: '10:00', end: '10:00', multiplier: '1' }] })), [`${S} timeWindows[0]: start and end are both 10:00 (empty window)`]],
    ['window without name, days or positive multiplier', cardOf(valid({ timeWindows: [{ name: '', days: [], start: '10:00', end: '11:00', multiplier: '0' }] })), [
      `${S} timeWindows[0].name: must be a non-empty string`,
      `${S} timeWindows[0].days: must be a non-empty array of weekdays 1 (Monday) … 7 (Sunday)`,
      `${S} timeWindows[0].multiplier: multiplier 0 must be greater than 0`,
    ]],
    ['duplicate action × model', cardOf(valid(), valid()), ['rates[1] (image.generate × sdxl): duplicate of rates[0]: one price per action × model']],
    ['duplicate default (null and absent model)', cardOf(valid({ model: null }), { action: 'image.generate', components: [{ unit: 'IMAGE', pricePerUnit: '1' }] }), ['rates[1] (image.generate × *): duplicate of rates[0]: one price per action × model']],
  ])('%s', (_name, card, problems) => {
    expect(validateRateCard(card)).toEqual(problems);
  });

  test('lists every problem at once, across rates', () => {
    const card = {
      rates: [
        { components: [{ unit: 'PIXEL', pricePerUnit: '-1' }] },
        valid({ components: [{ unit: 'IMAGE' }], modifiers: { quality: { hd: '0' } }, timeZone: 'Nowhere/Land' }),
        valid({ components: [{ unit: 'MEGABYTE', tiers: [{ upTo: 10, pricePerUnit: '1' }, { upTo: 5, pricePerUnit: 'x' }] }] }),
      ],
    };
    expect(validateRateCard(card)).toEqual([
      'rates[0] (? × *) action: missing: a rate needs a non-empty action',
      'rates[0] (? × *) components[0].unit: "PIXEL" is not a price unit (REQUEST, INPUT_TOKENS_1K, OUTPUT_TOKENS_1K, IMAGE, SECOND, MEGABYTE, MEGAPIXEL, STEP)',
      'rates[0] (? × *) components[0].pricePerUnit: price -1 must not be negative',
      'rates[1] (image.generate × sdxl) components[0]: needs pricePerUnit or tiers',
      'rates[1] (image.generate × sdxl) modifiers.quality.hd: multiplier 0 must be greater than 0',
      'rates[1] (image.generate × sdxl) timeZone: "Nowhere/Land" is not an IANA time zone',
      'rates[2] (image.generate × sdxl) components[0].tiers[1].pricePerUnit: "x" is not a decimal string',
      'rates[2] (image.generate × sdxl) components[0].tiers[1].upTo: thresholds must ascend: 5 comes after 10',
      'rates[2] (image.generate × sdxl) components[0].tiers[1].upTo: the last tier must be unbounded (upTo null)',
      'rates[2] (image.generate × sdxl): duplicate of rates[1]: one price per action × model',
    ]);
  });

  test('required action × model pairs without a price are listed', () => {
    const card = cardOf(
      valid({ action: 'image.generate', model: 'dall-e-3' }),
      valid({ action: 'text.generate', model: null, components: [{ unit: 'INPUT_TOKENS_1K', pricePerUnit: '1' }] }),
    );
    const problems = validateRateCard(card, [
      { action: 'image.generate', model: 'dall-e-3' },
      { action: 'image.generate', model: 'sdxl' },
      { action: 'text.generate', model: 'gpt-4o' }, // priced by the action's default
      { action: 'video.generate' },
    ]);
    expect(problems).toEqual(['image.generate × sdxl has no price', 'video.generate × * has no price']);
  });
});

describe('property: line items always add up', () => {
  /** Decimal strings in [min, max] with up to maxScale fractional digits. */
  const decimal = (min: number, max: number, maxScale: number) =>
    fc
      .integer({ min: 0, max: maxScale })
      .chain((scale) => fc.tuple(fc.integer({ min: Math.ceil(min * 10 ** scale), max: max * 10 ** scale }), fc.constant(scale)))
      .map(([units, scale]) => {
        const digits = String(units).padStart(scale + 1, '0');
        return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
      });
  const multiplier = decimal(0.000001, 5, 6);
  const flatOrTiered = (unit: PriceComponent['unit']) =>
    fc.oneof(
      decimal(0, 100, 6).map((pricePerUnit): PriceComponent => ({ unit, pricePerUnit })),
      fc
        .tuple(fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { maxLength: 3 }), fc.array(decimal(0, 100, 6), { minLength: 4, maxLength: 4 }))
        .map(([thresholds, prices]): PriceComponent => ({
          unit,
          tiers: [...thresholds.sort((a, b) => a - b), null].map((upTo, i) => ({ upTo, pricePerUnit: prices[i] })),
        })),
    );
  const rate = fc.record(
    {
      action: fc.constant('act'),
      components: fc.uniqueArray(fc.constantFrom<PriceComponent['unit']>('REQUEST', 'INPUT_TOKENS_1K', 'IMAGE', 'SECOND', 'MEGABYTE', 'STEP'), { minLength: 1 }).chain((units) => fc.tuple(...units.map(flatOrTiered))),
      modifiers: fc.record({ quality: fc.record({ standard: multiplier, hd: multiplier }) }),
      minimumCredits: decimal(0, 10, 6),
      batchDiscounts: fc.uniqueArray(fc.record({ minCount: fc.integer({ min: 1, max: 20 }), percentOff: decimal(0, 100, 3) }), { selector: (d) => d.minCount, maxLength: 3 }),
      planTierMultipliers: fc.record({ pro: multiplier }),
      timeWindows: fc.array(
        fc.record({
          name: fc.constant('w'),
          days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1 }),
          start: fc.constantFrom('00:00', '09:00', '22:00'),
          end: fc.constantFrom('06:00', '18:00', '24:00'),
          multiplier,
        }),
        { maxLength: 2 },
      ),
    },
    { requiredKeys: ['action', 'components'] },
  ) as fc.Arbitrary<RateDefinition>;
  const params = fc.record(
    {
      count: fc.integer({ min: 0, max: 50 }),
      inputTokens: fc.integer({ min: 0, max: 100_000 }),
      seconds: fc.double({ min: 0, max: 600, noNaN: true }),
      megabytes: decimal(0, 1000, 6),
      steps: fc.integer({ min: 0, max: 200 }),
      quality: fc.constantFrom('standard', 'hd'),
    },
    { requiredKeys: ['inputTokens', 'seconds', 'megabytes', 'steps'] },
  );

  test('total = Σ line items, an integer ≥ 0', () => {
    fc.assert(
      fc.property(rate, params, fc.date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true }), fc.constantFrom('pro', 'free', null), (r, p, at, planTier) => {
        const content: RateCardContent = { rates: [{ ...r, timeZone: 'Europe/Berlin' }] };
        expect(validateRateCard(content)).toEqual([]);
        const result = priceGeneration(content, { action: 'act', params: p }, { at, planTier });
        expect(Number.isSafeInteger(result.totalMillis)).toBe(true);
        expect(result.totalMillis).toBeGreaterThanOrEqual(0);
        expect(sumOf(result)).toBe(result.totalMillis);
        for (const item of result.lineItems) expect(Number.isSafeInteger(item.millis)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
