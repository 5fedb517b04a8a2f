/** The worked examples of PRODUCT.md §4, priced from one realistic rate card. */
import { formatCredits } from '../../src/shared/credits';
import { priceGeneration, validateRateCard, type Generation, type LineItemKind } from '../../src/modules/pricing/pricing.engine';
import type { RateCardContent } from '../../src/modules/pricing/rate-card.model';

const CARD: RateCardContent = {
  rates: [
    // Text-to-image: 8 per image for any model without its own price.
    { action: 'image.generate', components: [{ unit: 'IMAGE', pricePerUnit: '8' }] },
    { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }], batchDiscounts: [{ minCount: 10, percentOff: '10' }] },
    {
      action: 'image.generate',
      model: 'dall-e-3',
      components: [{ unit: 'IMAGE', pricePerUnit: '10' }],
      modifiers: { quality: { standard: '1', hd: '2.5' } },
    },
    { action: 'image.generate', model: 'midjourney-v6', components: [{ unit: 'IMAGE', pricePerUnit: '15' }] },
    {
      action: 'image.generate',
      model: 'flux-pro',
      components: [{ unit: 'IMAGE' }],
      resolutions: { '720p': '1', '1080p': '2', '4K': '3', '8K': '4' },
    },
    { action: 'image.erase', components: [{ unit: 'REQUEST', pricePerUnit: '7' }] },
    { action: 'image.upscale', components: [{ unit: 'REQUEST', pricePerUnit: '0' }] },
    {
      action: 'file.ingest',
      components: [{ unit: 'MEGABYTE', tiers: [{ upTo: 10, pricePerUnit: '1' }, { upTo: null, pricePerUnit: '0.7' }] }],
    },
    {
      action: 'text.generate',
      model: 'gpt-4o',
      components: [
        { unit: 'INPUT_TOKENS_1K', pricePerUnit: '2.5' },
        { unit: 'OUTPUT_TOKENS_1K', pricePerUnit: '10' },
      ],
      planTierMultipliers: { pro: '0.8' },
      minimumCredits: '0.1',
    },
    {
      action: 'video.generate',
      components: [{ unit: 'SECOND', pricePerUnit: '2' }],
      timeZone: 'Europe/Berlin',
      timeWindows: [
        { name: 'peak', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', multiplier: '1.5' },
        { name: 'off-peak', days: [1, 2, 3, 4, 5, 6, 7], start: '22:00', end: '06:00', multiplier: '0.8' },
      ],
    },
  ],
};

const WEDNESDAY_NOON = new Date('2024-03-13T11:00:00Z'); // 12:00 in Berlin (CET)

type Item = [kind: LineItemKind, label: string, credits: string];

function quote(generation: Generation, context: { at?: Date; planTier?: string } = {}): { credits: string; items: Item[] } {
  const result = priceGeneration(CARD, generation, { at: WEDNESDAY_NOON, ...context });
  return { credits: formatCredits(result.totalMillis), items: result.lineItems.map((i) => [i.kind, i.label, formatCredits(i.millis)]) };
}

test('the example card is complete for the pairs it sells', () => {
  const pairs = ['sdxl', 'dall-e-3', 'midjourney-v6', 'flux-pro', 'any-new-model'].map((model) => ({ action: 'image.generate', model }));
  expect(validateRateCard(CARD, [...pairs, { action: 'image.erase' }, { action: 'text.generate', model: 'gpt-4o' }])).toEqual([]);
});

test.each([
  ['720p', '1'],
  ['1080p', '2'],
  ['4K', '3'],
  ['8K', '4'],
])('an image at %s costs %s credits', (resolution, credits) => {
  const { credits: total, items } = quote({ action: 'image.generate', model: 'flux-pro', params: { resolution } });
  expect(total).toBe(credits);
  expect(items).toEqual([['RESOLUTION', `1 image at ${credits} (${resolution})`, credits]]);
});

test.each<[string, Generation, string]>([
  ['text-to-image (any model)', { action: 'image.generate', model: 'any-new-model' }, '8'],
  ['erase', { action: 'image.erase' }, '7'],
  ['upscale (zero price)', { action: 'image.upscale' }, '0'],
  ['SDXL', { action: 'image.generate', model: 'sdxl' }, '5'],
  ['DALL-E 3', { action: 'image.generate', model: 'dall-e-3' }, '10'],
  ['a Midjourney-class model', { action: 'image.generate', model: 'midjourney-v6' }, '15'],
])('%s costs %s credits', (_name, generation, credits) => {
  expect(quote(generation).credits).toBe(credits);
});

test('a 50 MB file: the first 10 MB at 1, the other 40 MB 30% cheaper -> 10 + 28 = 38', () => {
  expect(quote({ action: 'file.ingest', params: { megabytes: 50 } })).toEqual({
    credits: '38',
    items: [
      ['TIER', 'first 10 MB at 1', '10'],
      ['TIER', 'next 40 MB at 0.7', '28'],
    ],
  });
});

test.each<[string, string, string, Item | undefined]>([
  ['peak: Wednesday 10:00 in Berlin', '2024-03-13T09:00:00Z', '30', ['TIME_WINDOW', 'peak ×1.5', '10']],
  ['off-peak: Thursday 02:00 in Berlin', '2024-03-14T01:00:00Z', '16', ['TIME_WINDOW', 'off-peak ×0.8', '-4']],
  ['neither: Saturday 15:00 in Berlin', '2024-03-16T14:00:00Z', '20', undefined],
])('10 s of video at 2/s, %s', (_name, at, credits, windowItem) => {
  const { credits: total, items } = quote({ action: 'video.generate', params: { seconds: 10 } }, { at: new Date(at) });
  expect(total).toBe(credits);
  expect(items).toEqual([['BASE', '10 s at 2', '20'], ...(windowItem ? [windowItem] : [])]);
});

describe('gpt-4o: 2.5 per 1k input tokens, 10 per 1k output tokens', () => {
  const gpt4o = (inputTokens: number, outputTokens: number): Generation => ({ action: 'text.generate', model: 'gpt-4o', params: { inputTokens, outputTokens } });

  test('1500 in + 500 out = 3.75 + 5 = 8.75', () => {
    expect(quote(gpt4o(1500, 500))).toEqual({
      credits: '8.75',
      items: [
        ['BASE', '1.5k input tokens at 2.5', '3.75'],
        ['BASE', '0.5k output tokens at 10', '5'],
      ],
    });
  });

  test('on the pro plan ×0.8: 7', () => {
    expect(quote(gpt4o(1500, 500), { planTier: 'pro' })).toMatchObject({ credits: '7', items: expect.arrayContaining([['PLAN_MULTIPLIER', 'plan pro ×0.8', '-1.75']]) as unknown });
  });

  test('a tiny request pays the minimum charge of 0.1', () => {
    expect(quote(gpt4o(10, 0))).toEqual({
      credits: '0.1',
      items: [
        ['BASE', '0.01k input tokens at 2.5', '0.025'],
        ['BASE', '0k output tokens at 10', '0'],
        ['MINIMUM', 'minimum charge 0.1', '0.075'],
      ],
    });
  });
});

test.each<[string, Record<string, unknown>, string]>([
  ['standard quality', { quality: 'standard' }, '10'],
  ['hd quality ×2.5', { quality: 'hd' }, '25'],
  ['2 hd images', { quality: 'hd', count: 2 }, '50'],
])('DALL-E 3, %s: %s credits', (_name, params, credits) => {
  expect(quote({ action: 'image.generate', model: 'dall-e-3', params }).credits).toBe(credits);
});

test.each<[number, string]>([
  [9, '45'], // no discount below 10
  [10, '45'], // 50 − 10%
  [12, '54'], // 60 − 10%
])('SDXL, %d images in one request: %s credits', (count, credits) => {
  expect(quote({ action: 'image.generate', model: 'sdxl', params: { count } }).credits).toBe(credits);
});
