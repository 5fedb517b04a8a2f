/**
 * The worked examples of PRODUCT.md §4, end to end through GraphQL: one realistic rate card is
 * published, each example is quoted and then charged (by quote id or directly), and the wallet
 * moves by exactly the quoted credits. Time windows run on the test clock, moved to a weekday
 * morning in the card's time zone.
 *
 * Version numbers are read from publishRateCard (PostgreSQL shares them across test files).
 */
import {
  CaptureHoldDocument, ChargeGenerationDocument, CreateRateCardDraftDocument, PublishRateCardDocument, QuoteDocument, ReserveCreditsDocument,
  SetRateCardRatesDocument, type CreateAccountInput, type GenerationInput, type RatePairInput,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { pricingOf } from '../helpers/pricing';

let t: TestApp;
let version: number | null;

const ZONE = 'Europe/Berlin';

const CARD = [
  // Text-to-image: 8 per image for any model without its own price.
  { action: 'image.generate', components: [{ unit: 'IMAGE', pricePerUnit: '8' }] },
  { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }], batchDiscounts: [{ minCount: 10, percentOff: '10' }] },
  { action: 'image.generate', model: 'dall-e-3', components: [{ unit: 'IMAGE', pricePerUnit: '10' }], modifiers: { quality: { standard: '1', hd: '2.5' } } },
  { action: 'image.generate', model: 'midjourney-v6', components: [{ unit: 'IMAGE', pricePerUnit: '15' }] },
  { action: 'image.generate', model: 'flux-pro', components: [{ unit: 'IMAGE' }], resolutions: { '720p': '1', '1080p': '2', '4K': '3', '8K': '4' } },
  { action: 'image.erase', components: [{ unit: 'REQUEST', pricePerUnit: '7' }] },
  { action: 'image.upscale', components: [{ unit: 'REQUEST', pricePerUnit: '0' }] },
  { action: 'file.ingest', components: [{ unit: 'MEGABYTE', tiers: [{ upTo: 10, pricePerUnit: '1' }, { upTo: null, pricePerUnit: '0.7' }] }] },
  {
    action: 'text.generate',
    model: 'gpt-4o',
    components: [{ unit: 'INPUT_TOKENS_1K', pricePerUnit: '2.5' }, { unit: 'OUTPUT_TOKENS_1K', pricePerUnit: '10' }],
    planTierMultipliers: { pro: '0.8' },
    minimumCredits: '0.1',
  },
  {
    action: 'video.generate',
    components: [{ unit: 'SECOND', pricePerUnit: '2' }],
    timeZone: ZONE,
    timeWindows: [
      { name: 'peak', days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00', multiplier: '1.5' },
      { name: 'off-peak', days: [1, 2, 3, 4, 5, 6, 7], start: '22:00', end: '06:00', multiplier: '0.8' },
    ],
  },
];
const REQUIRED: RatePairInput[] = [
  ...['sdxl', 'dall-e-3', 'midjourney-v6', 'flux-pro'].map((model) => ({ action: 'image.generate', model })),
  { action: 'image.erase' }, { action: 'image.upscale' }, { action: 'file.ingest' }, { action: 'text.generate', model: 'gpt-4o' }, { action: 'video.generate' },
];

beforeAll(async () => {
  t = await startTestApp();
  const draftId = (await t.op(CreateRateCardDraftDocument, { input: { name: 'PRODUCT.md examples', empty: true } })).createRateCardDraft.id;
  await t.op(SetRateCardRatesDocument, { input: { draftId, rates: CARD, requiredPairs: REQUIRED } });
  version = (await t.op(PublishRateCardDocument, { draftId })).publishRateCard.version;
});
afterAll(async () => { await t.close(); });

type Item = [kind: string, label: string, credits: string];
const items = (q: { lineItems: { kind: string; label: string; credits: string }[] }): Item[] => q.lineItems.map((i) => [i.kind, i.label, i.credits]);

async function account(extra: Partial<CreateAccountInput> = {}): Promise<string> {
  const id = await t.createAccount('examples', extra);
  await t.grant(id, '1000');
  return id;
}
const quote = async (accountId: string, generation: GenerationInput) => (await t.op(QuoteDocument, { accountId, generation })).quote;
const wallet = (accountId: string) => t.wallet(accountId);
const balance = async (accountId: string): Promise<string> => (await wallet(accountId)).balance;

/** Quotes, charges by quote id, and checks the wallet moved by exactly the quote. Returns the quote. */
async function quoteAndCharge(generation: GenerationInput, extra: Partial<CreateAccountInput> = {}) {
  const accountId = await account(extra);
  const q = await quote(accountId, generation);
  expect(q.rateCardVersion).toBe(version);
  const charged = (await t.op(ChargeGenerationDocument, { input: { accountId, quoteId: q.id, idempotencyKey: uniqueKey('example') } })).chargeGeneration;
  expect(charged).toMatchObject({ type: 'CHARGE', status: 'SUCCEEDED', quoteId: q.id, action: generation.action, model: generation.model ?? null });
  expect(charged.pricing).toMatchObject({ rateCardVersion: version, quotedCredits: q.credits });
  expect(charged.amount).toBe(q.credits === '0' ? '0' : `-${q.credits}`);
  expect(await balance(accountId)).toBe(String(1000 - Number(q.credits)));
  return { q, charged, accountId };
}

/** Local weekday and time in the card's zone. */
const local = new Intl.DateTimeFormat('en-US', { timeZone: ZONE, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const HOUR = 3_600_000;

/** The next whole hour after the test clock that is `hhmm` local time on one of `days` ("Mon" … "Sun"). */
function nextLocal(days: string[], hhmm: string): Date {
  let at = Math.floor(t.clock.now().getTime() / HOUR) * HOUR + HOUR;
  for (let i = 0; i < 24 * 15; i++, at += HOUR) {
    const parts = Object.fromEntries(local.formatToParts(new Date(at)).map((p) => [p.type, p.value]));
    if (days.includes(parts.weekday) && `${parts.hour}:${parts.minute}` === hhmm) return new Date(at);
  }
  throw new Error(`no ${hhmm} on ${days.join('/')} in the next two weeks`);
}
const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'];

describe('PRODUCT.md §4 worked examples, quoted and charged through GraphQL', () => {
  test.each([
    ['720p', '1'],
    ['1080p', '2'],
    ['4K', '3'],
    ['8K', '4'],
  ])('an image at %s costs %s credits', async (resolution, credits) => {
    const { q, charged } = await quoteAndCharge({ action: 'image.generate', model: 'flux-pro', params: { resolution } });
    expect(q.credits).toBe(credits);
    expect(items(q)).toEqual([['RESOLUTION', `1 image at ${credits} (${resolution})`, credits]]);
    expect(charged.params).toEqual({ resolution });
  });

  test.each<[string, string, GenerationInput]>([
    ['text-to-image (a model without its own price)', '8', { action: 'image.generate', model: 'any-new-model' }],
    ['erase', '7', { action: 'image.erase' }],
    ['upscale (a zero price)', '0', { action: 'image.upscale' }],
    ['SDXL', '5', { action: 'image.generate', model: 'sdxl' }],
    ['DALL-E 3', '10', { action: 'image.generate', model: 'dall-e-3' }],
    ['a Midjourney-class model', '15', { action: 'image.generate', model: 'midjourney-v6' }],
    ['DALL-E 3 in HD (×2.5)', '25', { action: 'image.generate', model: 'dall-e-3', params: { quality: 'hd' } }],
    ['two DALL-E 3 images in HD', '50', { action: 'image.generate', model: 'dall-e-3', params: { quality: 'hd', count: 2 } }],
    ['9 SDXL images (no batch discount)', '45', { action: 'image.generate', model: 'sdxl', params: { count: 9 } }],
    ['10 SDXL images in one request (−10%)', '45', { action: 'image.generate', model: 'sdxl', params: { count: 10 } }],
    ['gpt-4o, 1500 input + 500 output tokens', '8.75', { action: 'text.generate', model: 'gpt-4o', params: { inputTokens: 1500, outputTokens: 500 } }],
    ['gpt-4o, a tiny request (minimum charge)', '0.1', { action: 'text.generate', model: 'gpt-4o', params: { inputTokens: 10, outputTokens: 0 } }],
  ])('%s costs %s credits', async (_name, credits, generation) => {
    const { q } = await quoteAndCharge(generation);
    expect(q.credits).toBe(credits);
    expect(q.affordable).toBe(true);
  });

  test('a 50 MB file: the first 10 MB at the full rate, the other 40 MB 30% cheaper = 38', async () => {
    const { q } = await quoteAndCharge({ action: 'file.ingest', params: { megabytes: 50 } });
    expect(q.credits).toBe('38');
    expect(items(q)).toEqual([
      ['TIER', 'first 10 MB at 1', '10'],
      ['TIER', 'next 40 MB at 0.7', '28'],
    ]);
    // Within the first tier only one line.
    const small = await quoteAndCharge({ action: 'file.ingest', params: { megabytes: 4 } });
    expect(items(small.q)).toEqual([['TIER', 'first 4 MB at 1', '4']]);
  });

  test('the batch discount and the HD modifier are their own line items', async () => {
    const batch = await quoteAndCharge({ action: 'image.generate', model: 'sdxl', params: { count: 12 } });
    expect(items(batch.q)).toEqual([
      ['BASE', '12 images at 5', '60'],
      ['BATCH_DISCOUNT', 'batch of 12 (≥ 10) -10%', '-6'],
    ]);
    const hd = await quoteAndCharge({ action: 'image.generate', model: 'dall-e-3', params: { quality: 'hd' } });
    expect(items(hd.q)).toEqual([
      ['BASE', '1 image at 10', '10'],
      ['MODIFIER', 'quality hd ×2.5', '15'],
    ]);
  });

  test('the pro plan pays ×0.8 for gpt-4o', async () => {
    const { q } = await quoteAndCharge({ action: 'text.generate', model: 'gpt-4o', params: { inputTokens: 1500, outputTokens: 500 } }, { planTier: 'pro' });
    expect(q.credits).toBe('7');
    expect(items(q)).toEqual([
      ['BASE', '1.5k input tokens at 2.5', '3.75'],
      ['BASE', '0.5k output tokens at 10', '5'],
      ['PLAN_MULTIPLIER', 'plan pro ×0.8', '-1.75'],
    ]);
  });
});

describe('time windows in the card\'s time zone (the test clock moves forward only)', () => {
  const video = (seconds: number) => ({ action: 'video.generate', params: { seconds } });

  test('10 s of video at 2/s on a weekday at 10:00 in Berlin: peak ×1.5 = 30', async () => {
    t.clock.set(nextLocal(WEEKDAYS, '10:00'));
    const { q } = await quoteAndCharge(video(10));
    expect(q.credits).toBe('30');
    expect(items(q)).toEqual([['BASE', '10 s at 2', '20'], ['TIME_WINDOW', 'peak ×1.5', '10']]);
    // A direct charge at the same moment prices the same.
    const accountId = await account();
    const charged = (await t.op(ChargeGenerationDocument, { input: { accountId, generation: video(10), idempotencyKey: uniqueKey() } })).chargeGeneration;
    expect(charged.amount).toBe('-30');
    expect(pricingOf(charged).lineItems).toContainEqual({ kind: 'TIME_WINDOW', label: 'peak ×1.5', credits: '10' });
  });

  test('a quote taken at peak keeps its price when charged after the window closed', async () => {
    t.clock.set(new Date(nextLocal(WEEKDAYS, '17:00').getTime() + 55 * 60_000)); // 17:55
    const accountId = await account();
    const q = await quote(accountId, video(10));
    expect(q.credits).toBe('30');
    t.clock.advanceSeconds(4 * 60); // 17:59: a fresh quote is still peak
    expect((await quote(accountId, video(10))).credits).toBe('30');
    t.clock.advanceSeconds(2 * 60); // 18:01: the window closed, the first quote is still valid
    expect((await quote(accountId, video(10))).credits).toBe('20');
    const charged = (await t.op(ChargeGenerationDocument, { input: { accountId, quoteId: q.id, idempotencyKey: uniqueKey() } })).chargeGeneration;
    expect(charged.amount).toBe('-30');
  });

  test('off-peak at 02:00 (the window opened the evening before) ×0.8 = 16; Saturday afternoon neither = 20', async () => {
    t.clock.set(nextLocal(['Tue', 'Wed', 'Thu', 'Fri', 'Sat'], '02:00'));
    const night = await quoteAndCharge(video(10));
    expect(night.q.credits).toBe('16');
    expect(items(night.q)).toEqual([['BASE', '10 s at 2', '20'], ['TIME_WINDOW', 'off-peak ×0.8', '-4']]);
    t.clock.set(nextLocal(['Sat'], '15:00'));
    const weekend = await quoteAndCharge(video(10));
    expect(weekend.q.credits).toBe('20');
    expect(items(weekend.q)).toEqual([['BASE', '10 s at 2', '20']]);
  });

  test('a priced capture is priced in the hold\'s time window, so a replay after the window changed returns the first transaction', async () => {
    t.clock.set(new Date(nextLocal(WEEKDAYS, '17:00').getTime() + 50 * 60_000)); // 17:50
    const accountId = await account();
    const hold = (await t.op(ReserveCreditsDocument, { input: { accountId, generation: video(10), idempotencyKey: uniqueKey() } })).reserveCredits;
    expect(hold.amount).toBe('30');
    t.clock.advanceSeconds(8 * 60); // 17:58: the generation took 8 s
    const input = { holdId: hold.id, generation: video(8), idempotencyKey: uniqueKey('capture') };
    const first = (await t.op(CaptureHoldDocument, { input })).captureHold;
    expect(first).toMatchObject({ type: 'CAPTURE', amount: '-24', heldChange: '-30' });
    // The client did not see the answer and retries at 18:05: the same capture, not a new price.
    t.clock.advanceSeconds(7 * 60);
    expect((await t.op(CaptureHoldDocument, { input })).captureHold).toEqual(first);
    expect(await balance(accountId)).toBe('976');
    expect((await wallet(accountId)).held).toBe('0');
  });

  test('the ledger stays consistent', async () => {
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });
});
