/**
 * Pricing through GraphQL (PRODUCT.md §4): rate-card drafts, publishing and versions, quotes that
 * lock a price, generation charges, holds priced from quotes or generations, and the cache that
 * keeps the current card on every instance.
 *
 * On PostgreSQL all test files share one database, so version numbers are never assumed: every
 * test reads the version publishRateCard returned. Within this file the current card is whatever
 * the test published last (files run serially).
 */
import { eq } from 'drizzle-orm';
import { createApp, type App } from '../../src/main';
import { loadConfig } from '../../src/config';
import { openDatabase, type Database } from '../../src/db/client';
import { quotes } from '../../src/db/schema';
import {
  CaptureHoldDocument, ChargeGenerationDocument, CreateRateCardDraftDocument, PublishRateCardDocument, QuoteDocument, RateCardDocument,
  RateCardDraftDocument, ReserveCreditsDocument, SetRateCardRateDocument, SetRateCardRatesDocument, TransactionDocument, UpdateWalletDocument, type CaptureInput, type ChargeGenerationInput, type ChargeGenerationMutation, type CreateAccountInput,
  type GenerationInput, type QuoteQuery, type RatePairInput, type ReserveInput,
} from '../../src/client';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { pricingOf } from '../helpers/pricing';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

// ------------------------------------------------------------------------------------------ cards

type Rate = Record<string, unknown>;

const IMAGE_RATES: Rate[] = [
  { action: 'image.generate', components: [{ unit: 'IMAGE', pricePerUnit: '8' }] },
  { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }] },
  { action: 'image.generate', model: 'dall-e-3', components: [{ unit: 'IMAGE', pricePerUnit: '10' }], modifiers: { quality: { standard: '1', hd: '2.5' } } },
  {
    // Every dimension at once, so each shows as its own line item.
    action: 'image.generate',
    model: 'flux-pro',
    components: [{ unit: 'IMAGE' }, { unit: 'STEP', pricePerUnit: '0.01' }],
    resolutions: { '720p': '1', '1080p': '2', '4K': '3', '8K': '4' },
    modifiers: { quality: { standard: '1', hd: '2.5' } },
    batchDiscounts: [{ minCount: 4, percentOff: '20' }],
    planTierMultipliers: { pro: '0.5' },
    minimumCredits: '1',
  },
];
const TEXT_RATES: Rate[] = [
  {
    action: 'text.generate',
    model: 'gpt-4o',
    components: [{ unit: 'INPUT_TOKENS_1K', pricePerUnit: '2.5' }, { unit: 'OUTPUT_TOKENS_1K', pricePerUnit: '10' }],
    planTierMultipliers: { pro: '0.8' },
  },
];
const BASE_RATES: Rate[] = [...IMAGE_RATES, ...TEXT_RATES, { action: 'image.erase', components: [{ unit: 'REQUEST', pricePerUnit: '7' }] }];

/** The same card with another price for SDXL images. */
const withSdxlPrice = (price: string): Rate[] =>
  BASE_RATES.map((r) => (r.model === 'sdxl' ? { ...r, components: [{ unit: 'IMAGE', pricePerUnit: price }] } : r));

async function draft(rates: Rate[], requiredPairs?: RatePairInput[]): Promise<string> {
  const id = (await t.op(CreateRateCardDraftDocument, { input: { name: `card ${uniqueKey()}`, empty: true } })).createRateCardDraft.id;
  await t.op(SetRateCardRatesDocument, { input: { draftId: id, rates, requiredPairs } });
  return id;
}

/** Publishes a card and returns its version (never assumed: PostgreSQL shares versions across files). */
async function publish(rates: Rate[] = BASE_RATES, requiredPairs?: RatePairInput[]): Promise<number> {
  const id = await draft(rates, requiredPairs);
  const card = (await t.op(PublishRateCardDocument, { draftId: id })).publishRateCard;
  expect(card).toMatchObject({ id, status: 'PUBLISHED', version: expect.any(Number) as unknown });
  if (card.version === null) throw new Error('published without a version');
  return card.version;
}

/** The SDXL rate's components on a card (rates are JSON). */
const sdxlComponents = (card: { rates: unknown } | null) => (card?.rates as Rate[] | undefined)?.find((r) => r.model === 'sdxl')?.components;

// ------------------------------------------------------------------------------------------ helpers

const sdxl = (count = 1): GenerationInput => ({ action: 'image.generate', model: 'sdxl', params: { count } });
const gpt4o = (inputTokens: number, outputTokens: number): GenerationInput => ({ action: 'text.generate', model: 'gpt-4o', params: { inputTokens, outputTokens } });

async function quote(accountId: string, generation: GenerationInput, token?: string | null) {
  return (await t.op(QuoteDocument, { accountId, generation }, token)).quote;
}
async function chargeGeneration(input: Omit<ChargeGenerationInput, 'idempotencyKey'>) {
  return (await t.op(ChargeGenerationDocument, { input: { idempotencyKey: uniqueKey('gen'), ...input } })).chargeGeneration;
}
const chargeGenerationFails = (input: Omit<ChargeGenerationInput, 'idempotencyKey'>, token?: string | null) =>
  t.opFails(ChargeGenerationDocument, { input: { idempotencyKey: uniqueKey('gen'), ...input } }, token);
async function reserve(input: Omit<ReserveInput, 'idempotencyKey'>) {
  return (await t.op(ReserveCreditsDocument, { input: { idempotencyKey: uniqueKey('hold'), ...input } })).reserveCredits;
}
async function capture(input: Omit<CaptureInput, 'idempotencyKey'>) {
  return (await t.op(CaptureHoldDocument, { input: { idempotencyKey: uniqueKey('capture'), ...input } })).captureHold;
}
const wallet = (accountId: string) => t.wallet(accountId);
const transaction = async (id: string) => {
  const found = (await t.op(TransactionDocument, { id })).transaction;
  if (!found) throw new Error(`no transaction ${id}`);
  return found;
};
const history = (accountId: string) => t.history(accountId);
const quoteRows = (accountId: string) => t.database.db.select().from(quotes).where(eq(quotes.accountId, accountId));
const cleanAudit = async () => expect(await t.audit()).toEqual({ ok: true, violations: [] });

/** A funded account (100 purchased credits unless told otherwise). */
async function funded(amount = '100', extra: Partial<CreateAccountInput> = {}): Promise<string> {
  const id = await t.createAccount('pricing test', extra);
  if (amount !== '0') await t.grant(id, amount);
  return id;
}

// ================================================================================================

describe('rate cards: drafts, publishing and versions', () => {
  test('publishing an incomplete card is refused with every problem listed, and nothing is published', async () => {
    const before = await publish();
    const id = await draft([
      { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '-5' }] },
      { action: 'image.generate', model: 'dall-e-3', components: [{ unit: 'PIXEL', pricePerUnit: '1' }] },
      { action: 'image.erase', components: [{ unit: 'REQUEST' }] },
      { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '6' }] },
      { action: 'video.generate', components: [{ unit: 'SECOND', pricePerUnit: '2' }], timeZone: 'Mars/Olympus' },
    ], [{ action: 'audio.tts', model: 'eleven' }, { action: 'image.generate', model: 'sdxl' }]);
    const error = await t.opFails(PublishRateCardDocument, { draftId: id });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'rates' });
    const problems = error.extensions.problems as string[];
    expect(problems).toHaveLength(6);
    expect(error.message).toContain('6 problems');
    for (const expected of [
      /^rates\[0\] \(image\.generate × sdxl\) components\[0\]\.pricePerUnit: .*negative/,
      /^rates\[1\] \(image\.generate × dall-e-3\) components\[0\]\.unit: "PIXEL" is not a price unit/,
      /^rates\[2\] \(image\.erase × \*\) components\[0\]: needs pricePerUnit or tiers/,
      /^rates\[3\] \(image\.generate × sdxl\): duplicate of rates\[0\]/,
      /^rates\[4\] \(video\.generate × \*\) timeZone: "Mars\/Olympus" is not an IANA time zone/,
      /^audio\.tts × eleven has no price$/,
    ]) expect(problems).toContainEqual(expect.stringMatching(expected));
    // Once the rates are fixed, the unpriced required pair is the one problem left.
    await t.op(SetRateCardRatesDocument, { input: { draftId: id, rates: BASE_RATES } });
    const missing = await t.opFails(PublishRateCardDocument, { draftId: id });
    expect(missing.extensions.problems).toEqual(['audio.tts × eleven has no price']);
    // Still a draft; the current version did not move.
    expect((await t.op(RateCardDraftDocument, { id })).rateCardDraft).toMatchObject({ status: 'DRAFT', version: null });
    expect((await t.op(RateCardDocument, {})).rateCard?.version).toBe(before);
    // Completed, it publishes as the next version.
    await t.op(SetRateCardRateDocument, { input: { draftId: id, rate: { action: 'audio.tts', model: 'eleven', components: [{ unit: 'SECOND', pricePerUnit: '0.5' }] } } });
    const published = (await t.op(PublishRateCardDocument, { draftId: id })).publishRateCard;
    expect(published.version).toBeGreaterThan(before);
    expect(published.requiredPairs).toEqual([{ action: 'audio.tts', model: 'eleven' }, { action: 'image.generate', model: 'sdxl' }]);
  });

  test('rateCard reads the current version without an argument and old versions by number', async () => {
    const v1 = await publish(withSdxlPrice('5'));
    const v2 = await publish(withSdxlPrice('6'));
    expect(v2).toBeGreaterThan(v1);
    const current = (await t.op(RateCardDocument, {})).rateCard;
    expect(current).toMatchObject({ version: v2, status: 'PUBLISHED', publishedAt: expect.any(String) as unknown });
    expect(sdxlComponents(current)).toEqual([{ unit: 'IMAGE', pricePerUnit: '6' }]);
    const old = (await t.op(RateCardDocument, { version: v1 })).rateCard;
    expect(old).toMatchObject({ version: v1, status: 'PUBLISHED' });
    expect(sdxlComponents(old)).toEqual([{ unit: 'IMAGE', pricePerUnit: '5' }]);
    expect((await t.op(RateCardDocument, { version: v2 + 1000 })).rateCard).toBeNull();
    // Prices are readable by every caller, user tokens included.
    const accountId = await funded('0');
    expect((await t.op(RateCardDocument, { version: v1 }, await t.userToken(accountId))).rateCard?.version).toBe(v1);
  });

  test('a published version is immutable: its rates cannot be set and it cannot be published again', async () => {
    const id = await draft(withSdxlPrice('5'));
    const { version } = (await t.op(PublishRateCardDocument, { draftId: id })).publishRateCard;
    const setAll = await t.opFails(SetRateCardRatesDocument, { input: { draftId: id, rates: withSdxlPrice('1') } });
    expect(setAll.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'draftId' });
    const setOne = await t.opFails(SetRateCardRateDocument, { input: { draftId: id, rate: { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '1' }] } } });
    expect(setOne.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'draftId' });
    const again = await t.opFails(PublishRateCardDocument, { draftId: id });
    expect(again.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'draftId' });
    const stored = (await t.op(RateCardDocument, { version })).rateCard;
    expect(sdxlComponents(stored)).toEqual([{ unit: 'IMAGE', pricePerUnit: '5' }]);
    expect((await t.op(RateCardDocument, {})).rateCard?.version).toBe(version);
  });

  test('a new draft copies the current version (or a given one); changing it never touches the version', async () => {
    const v1 = await publish(withSdxlPrice('5'));
    const v2 = await publish(withSdxlPrice('9'));
    const copy = (await t.op(CreateRateCardDraftDocument, { input: { name: 'copy of current' } })).createRateCardDraft;
    expect(copy).toMatchObject({ status: 'DRAFT', version: null });
    expect(sdxlComponents(copy)).toEqual([{ unit: 'IMAGE', pricePerUnit: '9' }]);
    const old = (await t.op(CreateRateCardDraftDocument, { input: { name: 'copy of old', basedOnVersion: v1 } })).createRateCardDraft;
    expect(sdxlComponents(old)).toEqual([{ unit: 'IMAGE', pricePerUnit: '5' }]);
    await t.op(SetRateCardRateDocument, { input: { draftId: copy.id, rate: { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '1' }] } } });
    expect(sdxlComponents((await t.op(RateCardDocument, { version: v2 })).rateCard)).toEqual([{ unit: 'IMAGE', pricePerUnit: '9' }]);
    expect((await t.opFails(CreateRateCardDraftDocument, { input: { name: 'x', basedOnVersion: v2 + 1000 } })).extensions.code).toBe('NOT_FOUND');
  });

  test('drafts published at the same time get distinct versions, and the highest is current', async () => {
    const before = await publish();
    const ids = await Promise.all([draft(withSdxlPrice('5')), draft(withSdxlPrice('6')), draft(withSdxlPrice('7'))]);
    const versions = (await Promise.all(ids.map((id) => t.op(PublishRateCardDocument, { draftId: id })))).map((r) => r.publishRateCard.version as number).sort((a, b) => a - b);
    expect(new Set(versions).size).toBe(3);
    expect(versions[0]).toBeGreaterThan(before);
    expect((await t.op(RateCardDocument, {})).rateCard?.version).toBe(versions[2]);
  });

  test('only admins manage rate cards', async () => {
    const service = await t.key('SERVICE');
    const accountId = await funded('0');
    expect((await t.opFails(CreateRateCardDraftDocument, { input: { name: 'x' } }, service)).extensions.code).toBe('FORBIDDEN');
    expect((await t.opFails(CreateRateCardDraftDocument, { input: { name: 'x' } }, await t.userToken(accountId))).extensions.code).toBe('FORBIDDEN');
    const id = await draft(BASE_RATES);
    expect((await t.opFails(PublishRateCardDocument, { draftId: id }, service)).extensions.code).toBe('FORBIDDEN');
    expect((await t.opFails(SetRateCardRatesDocument, { input: { draftId: id, rates: [] } }, service)).extensions.code).toBe('FORBIDDEN');
  });
});

describe('quotes', () => {
  test('a quote returns credits, one line item per dimension, affordability, paying buckets, version and expiry', async () => {
    const version = await publish();
    const accountId = await funded();
    const q = await quote(accountId, { action: 'image.generate', model: 'flux-pro', params: { count: 4, resolution: '4K', steps: 50, quality: 'hd' } });
    // 4 images at 3 (4K) = 12; 50 steps at 0.01 = 0.5; hd ×2.5 → 31.25; batch of 4 −20% → 25.
    expect(q).toMatchObject({
      id: expect.any(String) as unknown, accountId, credits: '25', affordable: true, available: '100', rateCardVersion: version,
      action: 'image.generate', model: 'flux-pro',
    });
    expect(q.lineItems).toEqual([
      { kind: 'RESOLUTION', label: '4 images at 3 (4K)', credits: '12' },
      { kind: 'BASE', label: '50 steps at 0.01', credits: '0.5' },
      { kind: 'MODIFIER', label: 'quality hd ×2.5', credits: '18.75' },
      { kind: 'BATCH_DISCOUNT', label: 'batch of 4 (≥ 4) -20%', credits: '-6.25' },
    ]);
    expect(q.payingBuckets).toEqual([{ bucketId: expect.any(String) as unknown, source: 'PURCHASE', credits: '25' }]);
    expect(new Date(q.expiresAt).getTime()).toBeGreaterThan(t.clock.now().getTime());
    // A quote is a read: the wallet did not move.
    expect(await wallet(accountId)).toMatchObject({ balance: '100', held: '0', sequence: 1 });
    // The minimum charge is its own line when it raises the price.
    const tiny = await quote(accountId, { action: 'image.generate', model: 'flux-pro', params: { resolution: '720p', count: 0, steps: 10 } });
    expect(tiny).toMatchObject({ credits: '1' });
    expect(tiny.lineItems).toEqual([
      { kind: 'RESOLUTION', label: '0 images at 1 (720p)', credits: '0' },
      { kind: 'BASE', label: '10 steps at 0.01', credits: '0.1' },
      { kind: 'MINIMUM', label: 'minimum charge 1', credits: '0.9' },
    ]);
  });

  test('paying buckets follow the burn-down order, and affordable says whether the wallet can pay', async () => {
    await publish();
    const accountId = await t.createAccount('burn-down');
    const inDays = (days: number) => new Date(t.clock.now().getTime() + days * 86_400_000).toISOString();
    const purchaseNever = (await t.grant(accountId, '100')).entries[0].bucketId;
    const purchaseSoon = (await t.grant(accountId, '8', { expiresAt: inDays(2) })).entries[0].bucketId;
    const allowance = (await t.grant(accountId, '10', { source: 'PLAN_ALLOWANCE', expiresAt: inDays(30) })).entries[0].bucketId;
    const promo = (await t.grant(accountId, '5', { source: 'PROMO' })).entries[0].bucketId;
    await t.grant(accountId, '50', { source: 'PROMO', applicableActions: ['text.generate'] }); // does not apply to images
    const q = await quote(accountId, sdxl(5));
    expect(q).toMatchObject({ credits: '25', affordable: true, available: '123' });
    expect(q.payingBuckets).toEqual([
      { bucketId: promo, source: 'PROMO', credits: '5' },
      { bucketId: allowance, source: 'PLAN_ALLOWANCE', credits: '10' },
      { bucketId: purchaseSoon, source: 'PURCHASE', credits: '8' },
      { bucketId: purchaseNever, source: 'PURCHASE', credits: '2' },
    ]);
    // The charge takes exactly those buckets.
    const charged = await chargeGeneration({ accountId, quoteId: q.id });
    expect(charged.entries.map((e) => [e.bucketId, e.amount])).toEqual([[promo, '-5'], [allowance, '-10'], [purchaseSoon, '-8'], [purchaseNever, '-2']]);
    // More than the applicable buckets hold: not affordable (the text-only promo does not count).
    const tooMuch = await quote(accountId, sdxl(20));
    expect(tooMuch).toMatchObject({ credits: '100', affordable: false, available: '98' });
    expect(tooMuch.payingBuckets).toEqual([{ bucketId: purchaseNever, source: 'PURCHASE', credits: '98' }]);
    // Text generation may also draw on the text-only promo, which burns first.
    const text = await quote(accountId, gpt4o(0, 1000));
    expect(text).toMatchObject({ credits: '10', affordable: true, available: '148' });
    expect(text.payingBuckets).toEqual([{ bucketId: expect.any(String) as unknown, source: 'PROMO', credits: '10' }]);
    await cleanAudit();
  });

  test('a frozen wallet or an empty one cannot afford a quote', async () => {
    await publish();
    const empty = await funded('0');
    expect(await quote(empty, sdxl())).toMatchObject({ credits: '5', affordable: false, available: '0', payingBuckets: [] });
    const frozen = await funded('100');
    await t.op(UpdateWalletDocument, { input: { accountId: frozen, frozen: true } });
    expect(await quote(frozen, sdxl())).toMatchObject({ credits: '5', affordable: false });
    // Free actions are always affordable.
    expect(await quote(empty, { action: 'image.generate', model: 'sdxl', params: { count: 0 } })).toMatchObject({ credits: '0', affordable: true });
  });

  test.each<[string, GenerationInput, string]>([
    ['unknown action', { action: 'audio.tts', model: 'eleven' }, 'generation.action'],
    ['unknown model of an action without a default price', { action: 'text.generate', model: 'gpt-5', params: { inputTokens: 1, outputTokens: 1 } }, 'generation.model'],
    ['no model for an action without a default price', { action: 'text.generate', params: { inputTokens: 1, outputTokens: 1 } }, 'generation.model'],
    ['missing tokens', { action: 'text.generate', model: 'gpt-4o', params: { inputTokens: 100 } }, 'generation.params.outputTokens'],
    ['negative tokens', gpt4o(-100, 10), 'generation.params.inputTokens'],
    ['negative tokens as a string', { action: 'text.generate', model: 'gpt-4o', params: { inputTokens: 10, outputTokens: '-5' } }, 'generation.params.outputTokens'],
    ['fractional tokens', gpt4o(10.5, 10), 'generation.params.inputTokens'],
    ['tokens that are not a number', { action: 'text.generate', model: 'gpt-4o', params: { inputTokens: 'many', outputTokens: 1 } }, 'generation.params.inputTokens'],
    ['an unlisted resolution', { action: 'image.generate', model: 'flux-pro', params: { resolution: '16K', steps: 1 } }, 'generation.params.resolution'],
    ['a missing resolution', { action: 'image.generate', model: 'flux-pro', params: { steps: 1 } }, 'generation.params.resolution'],
    ['a non-integer image count', { action: 'image.generate', model: 'sdxl', params: { count: 2.5 } }, 'generation.params.count'],
    ['a negative image count', { action: 'image.generate', model: 'sdxl', params: { count: -1 } }, 'generation.params.count'],
    ['an unpriced modifier value', { action: 'image.generate', model: 'dall-e-3', params: { quality: 'ultra' } }, 'generation.params.quality'],
    ['params that are not an object', { action: 'image.generate', model: 'sdxl', params: [1, 2] }, 'generation.params'],
    ['an empty action', { action: '', model: 'sdxl' }, 'generation.action'],
  ])('%s is BAD_USER_INPUT naming the field, and nothing is written', async (_name, generation, field) => {
    await publish();
    const accountId = await funded();
    const before = await wallet(accountId);
    const refusedQuote = await t.opFails(QuoteDocument, { accountId, generation });
    expect(refusedQuote.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    const key = uniqueKey('bad');
    const refusedCharge = await t.opFails(ChargeGenerationDocument, { input: { accountId, generation, idempotencyKey: key } });
    expect(refusedCharge.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    const refusedHold = await t.opFails(ReserveCreditsDocument, { input: { accountId, generation, idempotencyKey: uniqueKey('bad') } });
    expect(refusedHold.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    // No quote row, no transaction (not even a FAILED one), and the idempotency key is still free.
    expect(await quoteRows(accountId)).toHaveLength(0);
    expect(await history(accountId)).toHaveLength(1); // the grant
    expect(await wallet(accountId)).toEqual(before);
    const charged = (await t.op(ChargeGenerationDocument, { input: { accountId, generation: sdxl(), idempotencyKey: key } })).chargeGeneration;
    expect(charged).toMatchObject({ status: 'SUCCEEDED', amount: '-5' });
  });

  test('a quote for an unknown account is NOT_FOUND; another account\'s quote cannot be used', async () => {
    await publish();
    expect((await t.opFails(QuoteDocument, { accountId: '00000000-0000-4000-8000-000000000000', generation: sdxl() })).extensions.code).toBe('NOT_FOUND');
    expect((await t.opFails(QuoteDocument, { accountId: 'not-a-uuid', generation: sdxl() })).extensions.code).toBe('NOT_FOUND');
    const owner = await funded();
    const other = await funded();
    const q = await quote(owner, sdxl());
    expect((await chargeGenerationFails({ accountId: other, quoteId: q.id })).extensions.code).toBe('NOT_FOUND');
    expect(await history(other)).toHaveLength(1);
    // The quote is still good for its own account.
    expect(await chargeGeneration({ accountId: owner, quoteId: q.id })).toMatchObject({ amount: '-5', quoteId: q.id });
  });

  test('a user token may quote its own account, but not another account, and may not charge', async () => {
    await publish();
    const accountId = await funded();
    const other = await funded();
    const token = await t.userToken(accountId);
    const q = await quote(accountId, sdxl(2), token);
    expect(q).toMatchObject({ credits: '10', affordable: true });
    expect((await t.opFails(QuoteDocument, { accountId: other, generation: sdxl() }, token)).extensions.code).toBe('FORBIDDEN');
    expect((await chargeGenerationFails({ accountId, quoteId: q.id }, token)).extensions.code).toBe('FORBIDDEN');
    expect((await chargeGenerationFails({ accountId, generation: sdxl() }, token)).extensions.code).toBe('FORBIDDEN');
    expect((await t.opFails(ReserveCreditsDocument, { input: { accountId, quoteId: q.id, idempotencyKey: uniqueKey() } }, token)).extensions.code).toBe('FORBIDDEN');
    const readonly = await t.key('READONLY');
    expect(await quote(accountId, sdxl(), readonly)).toMatchObject({ credits: '5' });
    expect((await chargeGenerationFails({ accountId, quoteId: q.id }, readonly)).extensions.code).toBe('FORBIDDEN');
    expect((await t.opFails(QuoteDocument, { accountId, generation: sdxl() }, null)).extensions.code).toBe('UNAUTHENTICATED');
    // Nothing was charged and the quote is still usable by a key that may move credits.
    expect(await wallet(accountId)).toMatchObject({ balance: '100' });
    expect(await chargeGeneration({ accountId, quoteId: q.id })).toMatchObject({ amount: '-10', status: 'SUCCEEDED' });
  });
});

describe('charging a generation', () => {
  test('by quote id: the locked price and version, even after the card changed', async () => {
    const v1 = await publish(withSdxlPrice('5'));
    const accountId = await funded();
    const q = await quote(accountId, sdxl(2));
    expect(q).toMatchObject({ credits: '10', rateCardVersion: v1 });
    const v2 = await publish(withSdxlPrice('7'));
    expect(await quote(accountId, sdxl(2))).toMatchObject({ credits: '14', rateCardVersion: v2 });
    const charged = await chargeGeneration({ accountId, quoteId: q.id, comment: 'two images' });
    expect(charged).toMatchObject({
      type: 'CHARGE', status: 'SUCCEEDED', amount: '-10', balanceAfter: '90', quoteId: q.id,
      action: 'image.generate', model: 'sdxl', params: { count: 2 },
    });
    expect(charged.pricing).toEqual({
      rateCardVersion: v1, quotedCredits: '10', lineItems: [{ label: '2 images at 5', credits: '10', kind: 'BASE' }],
    });
    // History keeps the version the charge used.
    expect(pricingOf(await transaction(charged.id)).rateCardVersion).toBe(v1);
    await cleanAudit();
  });

  test('without a quote: priced by the current card; the transaction records action, model, params, version and line items', async () => {
    const version = await publish();
    const accountId = await funded();
    const charged = await chargeGeneration({ accountId, generation: { action: 'image.generate', model: 'dall-e-3', params: { quality: 'hd', count: 2 } } });
    expect(charged).toMatchObject({
      type: 'CHARGE', status: 'SUCCEEDED', amount: '-50', requestedAmount: '50', balanceAfter: '50', quoteId: null,
      action: 'image.generate', model: 'dall-e-3', params: { quality: 'hd', count: 2 },
    });
    expect(charged.pricing).toEqual({
      rateCardVersion: version,
      quotedCredits: null,
      lineItems: [
        { label: '2 images at 10', credits: '20', kind: 'BASE' },
        { label: 'quality hd ×2.5', credits: '30', kind: 'MODIFIER' },
      ],
    });
    const [latest] = await history(accountId);
    expect(latest).toMatchObject({ id: charged.id, action: 'image.generate', model: 'dall-e-3', pricing: charged.pricing });
    // The default rate prices a model the card does not list.
    expect(await chargeGeneration({ accountId, generation: { action: 'image.generate', model: 'brand-new' } })).toMatchObject({ amount: '-8', model: 'brand-new' });
    // Neither a generation nor a quote.
    expect((await chargeGenerationFails({ accountId })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'generation' });
    await cleanAudit();
  });

  test('not enough credits: INSUFFICIENT_CREDITS and a FAILED transaction with the priced amount', async () => {
    const version = await publish();
    const accountId = await funded('12');
    const error = await chargeGenerationFails({ accountId, generation: sdxl(3) });
    expect(error.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '15', available: '12', shortfall: '3' });
    const [failed] = await history(accountId);
    expect(failed).toMatchObject({
      type: 'CHARGE', status: 'FAILED', amount: '0', requestedAmount: '15', failureCode: 'INSUFFICIENT_CREDITS', action: 'image.generate', model: 'sdxl',
    });
    expect(pricingOf(failed).rateCardVersion).toBe(version);
    expect(await wallet(accountId)).toMatchObject({ balance: '12' });
  });

  test('an expired quote is refused with QUOTE_EXPIRED and the attempt is recorded as FAILED', async () => {
    await publish();
    const accountId = await funded();
    const q = await quote(accountId, sdxl(2));
    const ttl = t.app.services.config.quoteTtlSeconds; // 600 s by default
    t.clock.advanceSeconds(ttl + 1);
    const key = uniqueKey('expired');
    const error = await t.opFails(ChargeGenerationDocument, { input: { accountId, quoteId: q.id, idempotencyKey: key } });
    expect(error.extensions).toMatchObject({ code: 'QUOTE_EXPIRED', reason: 'EXPIRED', quoteId: q.id, remedy: expect.any(String) as unknown });
    const [failed] = await history(accountId);
    expect(failed).toMatchObject({ type: 'CHARGE', status: 'FAILED', amount: '0', failureCode: 'QUOTE_EXPIRED', idempotencyKey: key, quoteId: q.id });
    expect(await wallet(accountId)).toMatchObject({ balance: '100', held: '0' });
    // A replay returns the same refusal without a second record; a hold on the quote is refused too.
    expect((await t.opFails(ChargeGenerationDocument, { input: { accountId, quoteId: q.id, idempotencyKey: key } })).extensions.code).toBe('QUOTE_EXPIRED');
    expect((await t.opFails(ReserveCreditsDocument, { input: { accountId, quoteId: q.id, idempotencyKey: uniqueKey() } })).extensions.code).toBe('QUOTE_EXPIRED');
    const records = await history(accountId);
    expect(records.filter((r) => r.status === 'FAILED').map((r) => [r.type, r.failureCode])).toEqual([['HOLD', 'QUOTE_EXPIRED'], ['CHARGE', 'QUOTE_EXPIRED']]);
    // Just before expiry a quote is still good.
    const fresh = await quote(accountId, sdxl(2));
    t.clock.advanceSeconds(ttl - 1);
    expect(await chargeGeneration({ accountId, quoteId: fresh.id })).toMatchObject({ status: 'SUCCEEDED', amount: '-10' });
    await cleanAudit();
  });

  test('a quote pays once: a second charge or a hold with it is refused', async () => {
    await publish();
    const accountId = await funded();
    const q = await quote(accountId, sdxl(2));
    await chargeGeneration({ accountId, quoteId: q.id });
    const again = await chargeGenerationFails({ accountId, quoteId: q.id });
    expect(again.extensions).toMatchObject({ code: 'QUOTE_EXPIRED', reason: 'ALREADY_USED', quoteId: q.id });
    const hold = await t.opFails(ReserveCreditsDocument, { input: { accountId, quoteId: q.id, idempotencyKey: uniqueKey() } });
    expect(hold.extensions).toMatchObject({ code: 'QUOTE_EXPIRED', reason: 'ALREADY_USED' });
    // A quote used by a hold cannot be charged either.
    const q2 = await quote(accountId, sdxl(1));
    await reserve({ accountId, quoteId: q2.id });
    expect((await chargeGenerationFails({ accountId, quoteId: q2.id })).extensions).toMatchObject({ code: 'QUOTE_EXPIRED', reason: 'ALREADY_USED' });
    expect(await wallet(accountId)).toMatchObject({ balance: '90', held: '5' });
    await cleanAudit();
  });

  test('concurrent charges with one quote: exactly one pays', async () => {
    await publish();
    const accountId = await funded();
    const q = await quote(accountId, sdxl(2));
    const results = await Promise.allSettled(Array.from({ length: 5 }, () =>
      t.op(ChargeGenerationDocument, { input: { accountId, quoteId: q.id, idempotencyKey: uniqueKey('race') } })));
    const paid = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    expect(paid).toHaveLength(1);
    expect(paid[0].chargeGeneration).toMatchObject({ amount: '-10', quoteId: q.id });
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ extensions: { code: 'QUOTE_EXPIRED', reason: 'ALREADY_USED' } });
    expect(await wallet(accountId)).toMatchObject({ balance: '90' });
    await cleanAudit();
  });

  test('a refused charge does not use up the quote: after a top-up it still pays the locked price', async () => {
    const v1 = await publish(withSdxlPrice('5'));
    const accountId = await funded('4');
    const q = await quote(accountId, sdxl(2));
    expect(q).toMatchObject({ credits: '10', affordable: false, available: '4' });
    const refused = await chargeGenerationFails({ accountId, quoteId: q.id });
    expect(refused.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '10', available: '4', shortfall: '6' });
    const [failed] = await history(accountId);
    expect(failed).toMatchObject({ status: 'FAILED', failureCode: 'INSUFFICIENT_CREDITS', quoteId: q.id, requestedAmount: '10', action: 'image.generate', model: 'sdxl' });
    await t.grant(accountId, '20');
    await publish(withSdxlPrice('8'));
    const paid = await chargeGeneration({ accountId, quoteId: q.id });
    expect(paid).toMatchObject({ status: 'SUCCEEDED', amount: '-10', balanceAfter: '14', pricing: { rateCardVersion: v1 } });
    await cleanAudit();
  });

  test('charging more than the quote is impossible: a costlier generation with the quote pays the quote, a cheaper one pays less', async () => {
    const version = await publish();
    const accountId = await funded();
    const q = await quote(accountId, sdxl(2));
    // Ten images "with" a two-image quote: the quote's price, never more.
    const capped = await chargeGeneration({ accountId, quoteId: q.id, generation: sdxl(10) });
    expect(capped).toMatchObject({ amount: '-10', quoteId: q.id, params: { count: 2 } });
    expect(capped.pricing).toMatchObject({ rateCardVersion: version, quotedCredits: '10' });
    // One image with a two-image quote: the actual, lower price.
    const q2 = await quote(accountId, sdxl(2));
    const lower = await chargeGeneration({ accountId, quoteId: q2.id, generation: sdxl(1) });
    expect(lower).toMatchObject({ amount: '-5', quoteId: q2.id, params: { count: 1 } });
    expect(lower.pricing).toEqual({ rateCardVersion: version, quotedCredits: '10', lineItems: [{ label: '1 image at 5', credits: '5', kind: 'BASE' }] });
    // A generation of another model cannot ride on the quote.
    const q3 = await quote(accountId, sdxl(1));
    const other = await chargeGenerationFails({ accountId, quoteId: q3.id, generation: { action: 'image.generate', model: 'dall-e-3' } });
    expect(other.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'generation' });
    expect(await wallet(accountId)).toMatchObject({ balance: '85' });
    await cleanAudit();
  });

  test('an idempotent replay after the card changed returns the first transaction, not re-priced', async () => {
    const v1 = await publish(withSdxlPrice('5'));
    const accountId = await funded();
    const key = uniqueKey('replay');
    const input = { accountId, generation: sdxl(2), idempotencyKey: key };
    const first = (await t.op(ChargeGenerationDocument, { input })).chargeGeneration;
    expect(first).toMatchObject({ amount: '-10', pricing: { rateCardVersion: v1 } });
    await publish(withSdxlPrice('7'));
    const replay = (await t.op(ChargeGenerationDocument, { input })).chargeGeneration;
    expect(replay).toEqual(first);
    // By quote id too: the quote is used, but a replay is not a second use.
    const q = await quote(accountId, sdxl(1));
    const byQuote = { accountId, quoteId: q.id, idempotencyKey: uniqueKey('replay') };
    const firstByQuote = (await t.op(ChargeGenerationDocument, { input: byQuote })).chargeGeneration;
    await publish(withSdxlPrice('9'));
    expect((await t.op(ChargeGenerationDocument, { input: byQuote })).chargeGeneration).toEqual(firstByQuote);
    // The same key with another input is refused.
    const reused = await t.opFails(ChargeGenerationDocument, { input: { ...input, generation: sdxl(3) } });
    expect(reused.extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await wallet(accountId)).toMatchObject({ balance: '83' }); // 100 − 10 − 7
    expect((await history(accountId)).filter((r) => r.type === 'CHARGE')).toHaveLength(2);
  });

  test('vendor usage given with a generation charge is stored and returned', async () => {
    await publish();
    const accountId = await funded();
    const vendorUsage = { vendor: 'openai', requestId: 'req_123', cost: '0.0125', currency: 'USD', units: { inputTokens: 1000, outputTokens: 1000 } };
    const charged = await chargeGeneration({ accountId, generation: gpt4o(1000, 1000), vendorUsage });
    expect(charged).toMatchObject({ amount: '-12.5', vendorUsage });
    expect((await transaction(charged.id)).vendorUsage).toEqual(vendorUsage);
  });

  test('a plan-tier multiplier prices the same action lower on a higher tier', async () => {
    await publish();
    const pro = await funded('100', { planTier: 'pro' });
    const free = await funded('100', { planTier: 'free' });
    const generation = gpt4o(1500, 500); // 3.75 + 5 = 8.75
    expect(await quote(free, generation)).toMatchObject({ credits: '8.75' });
    const proQuote = await quote(pro, generation);
    expect(proQuote).toMatchObject({ credits: '7' });
    expect(proQuote.lineItems).toEqual([
      { kind: 'BASE', label: '1.5k input tokens at 2.5', credits: '3.75' },
      { kind: 'BASE', label: '0.5k output tokens at 10', credits: '5' },
      { kind: 'PLAN_MULTIPLIER', label: 'plan pro ×0.8', credits: '-1.75' },
    ]);
    const charged = await chargeGeneration({ accountId: pro, generation });
    expect(charged).toMatchObject({ amount: '-7' });
    expect(pricingOf(charged).lineItems).toContainEqual({ kind: 'PLAN_MULTIPLIER', label: 'plan pro ×0.8', credits: '-1.75' });
    // Every step of the flux-pro rate, with the pro multiplier last.
    const flux = await quote(pro, { action: 'image.generate', model: 'flux-pro', params: { count: 4, resolution: '4K', steps: 50, quality: 'hd' } });
    expect(flux).toMatchObject({ credits: '12.5' });
    expect(flux.lineItems.map((i) => [i.kind, i.credits])).toEqual([
      ['RESOLUTION', '12'], ['BASE', '0.5'], ['MODIFIER', '18.75'], ['BATCH_DISCOUNT', '-6.25'], ['PLAN_MULTIPLIER', '-12.5'],
    ]);
  });
});

describe('holds priced from quotes and generations', () => {
  test('a hold from a quote, then a capture of less: the rest returns', async () => {
    const version = await publish();
    const accountId = await funded();
    const q = await quote(accountId, { action: 'image.generate', model: 'dall-e-3', params: { quality: 'hd' } });
    expect(q.credits).toBe('25');
    const hold = await reserve({ accountId, quoteId: q.id });
    expect(hold).toMatchObject({ amount: '25', status: 'ACTIVE', quoteId: q.id, action: 'image.generate', model: 'dall-e-3' });
    expect(await wallet(accountId)).toMatchObject({ balance: '100', available: '75', held: '25' });
    const vendorUsage = { vendor: 'openai', requestId: 'img_1', cost: '0.08', currency: 'USD' };
    const captured = await capture({ holdId: hold.id, amount: '20', vendorUsage });
    expect(captured).toMatchObject({
      type: 'CAPTURE', status: 'SUCCEEDED', amount: '-20', heldChange: '-25', holdId: hold.id, quoteId: q.id, vendorUsage,
    });
    expect(captured.pricing).toMatchObject({ rateCardVersion: version, quotedCredits: '25' });
    expect((await transaction(captured.id)).vendorUsage).toEqual(vendorUsage);
    expect(await wallet(accountId)).toMatchObject({ balance: '80', available: '80', held: '0' });
    await cleanAudit();
  });

  test('a capture can never exceed the quoted hold', async () => {
    await publish();
    const accountId = await funded();
    const q = await quote(accountId, { action: 'image.generate', model: 'dall-e-3', params: { quality: 'hd' } });
    const hold = await reserve({ accountId, quoteId: q.id });
    const tooMuch = await t.opFails(CaptureHoldDocument, { input: { holdId: hold.id, amount: '25.001', idempotencyKey: uniqueKey() } });
    expect(tooMuch.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'amount' });
    // Actual usage of three hd images (75) is capped at the 25 held.
    const captured = await capture({ holdId: hold.id, generation: { action: 'image.generate', model: 'dall-e-3', params: { quality: 'hd', count: 3 } } });
    expect(captured).toMatchObject({ amount: '-25', heldChange: '-25' });
    expect(pricingOf(captured).lineItems).toEqual([
      { label: '3 images at 10', credits: '30', kind: 'BASE' },
      { label: 'quality hd ×2.5', credits: '45', kind: 'MODIFIER' },
      { label: 'capped at the hold', credits: '-50', kind: 'CAP' },
    ]);
    expect(await wallet(accountId)).toMatchObject({ balance: '75', held: '0' });
    await cleanAudit();
  });

  test('a hold from a generation, captured with the actual usage: the actual price, capped at the hold', async () => {
    const version = await publish();
    const accountId = await funded();
    const estimate = gpt4o(1000, 2000); // 2.5 + 20 = 22.5
    const hold = await reserve({ accountId, generation: estimate });
    expect(hold).toMatchObject({ amount: '22.5', status: 'ACTIVE', quoteId: null, action: 'text.generate', model: 'gpt-4o' });
    // The model wrote fewer tokens than estimated: 2.5 + 8 = 10.5.
    const vendorUsage = { vendor: 'openai', requestId: 'chatcmpl-1', cost: '0.011', currency: 'USD', units: { outputTokens: 800 } };
    const captured = await capture({ holdId: hold.id, generation: gpt4o(1000, 800), vendorUsage });
    expect(captured).toMatchObject({ type: 'CAPTURE', amount: '-10.5', heldChange: '-22.5', vendorUsage, action: 'text.generate', model: 'gpt-4o' });
    expect(captured.pricing).toEqual({
      rateCardVersion: version, quotedCredits: null,
      lineItems: [
        { label: '1k input tokens at 2.5', credits: '2.5', kind: 'BASE' },
        { label: '0.8k output tokens at 10', credits: '8', kind: 'BASE' },
      ],
    });
    expect(await wallet(accountId)).toMatchObject({ balance: '89.5', held: '0' });
    // More tokens than estimated: capped at the hold.
    const hold2 = await reserve({ accountId, generation: estimate });
    const capped = await capture({ holdId: hold2.id, generation: gpt4o(1000, 5000) });
    expect(capped).toMatchObject({ amount: '-22.5' });
    expect(pricingOf(capped).lineItems.at(-1)).toEqual({ label: 'capped at the hold', credits: '-30', kind: 'CAP' });
    expect(await wallet(accountId)).toMatchObject({ balance: '67', held: '0' });
    await cleanAudit();
  });

  test('a capture is priced by the hold\'s card, not a card published since', async () => {
    const v1 = await publish(withSdxlPrice('5'));
    const accountId = await funded();
    const hold = await reserve({ accountId, generation: sdxl(4) });
    expect(hold.amount).toBe('20');
    await publish(withSdxlPrice('2'));
    const captured = await capture({ holdId: hold.id, generation: sdxl(3) });
    expect(captured).toMatchObject({ amount: '-15' });
    expect(pricingOf(captured).rateCardVersion).toBe(v1);
    // Another model than the hold's cannot be captured; an amount hold cannot be priced.
    const hold2 = await reserve({ accountId, generation: sdxl(1) });
    const otherModel = await t.opFails(CaptureHoldDocument, { input: { holdId: hold2.id, generation: { action: 'image.generate', model: 'dall-e-3' }, idempotencyKey: uniqueKey() } });
    expect(otherModel.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'generation' });
    const amountHold = await reserve({ accountId, amount: '5' });
    const unpriced = await t.opFails(CaptureHoldDocument, { input: { holdId: amountHold.id, generation: sdxl(1), idempotencyKey: uniqueKey() } });
    expect(unpriced.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'generation' });
    await cleanAudit();
  });

  test('an idempotent replay of a priced capture returns the first transaction', async () => {
    await publish();
    const accountId = await funded();
    const hold = await reserve({ accountId, generation: gpt4o(1000, 2000) });
    const input = { holdId: hold.id, generation: gpt4o(1000, 1000), idempotencyKey: uniqueKey('capture') };
    const first = (await t.op(CaptureHoldDocument, { input })).captureHold;
    await publish(withSdxlPrice('11'));
    expect((await t.op(CaptureHoldDocument, { input })).captureHold).toEqual(first);
    expect(await wallet(accountId)).toMatchObject({ balance: '87.5', held: '0' });
  });
});

describe('the current card across the cache and instances', () => {
  test('publishing invalidates the in-memory card: the next quote uses the new version', async () => {
    const v1 = await publish(withSdxlPrice('5'));
    const accountId = await funded();
    expect(await quote(accountId, sdxl())).toMatchObject({ credits: '5', rateCardVersion: v1 });
    expect(await quote(accountId, sdxl())).toMatchObject({ credits: '5', rateCardVersion: v1 }); // served from the cache
    const v2 = await publish(withSdxlPrice('6'));
    expect(await quote(accountId, sdxl())).toMatchObject({ credits: '6', rateCardVersion: v2 });
    expect(await chargeGeneration({ accountId, generation: sdxl() })).toMatchObject({ amount: '-6', pricing: { rateCardVersion: v2 } });
  });

  test('a card published on one instance is used by another instance sharing the database', async () => {
    let database: Database = t.database;
    let other: App | null = null;
    try {
      if (isPostgres()) database = await openDatabase({ databaseUrl: process.env.DATABASE_URL!, poolSize: 4 });
      const config = loadConfig({ port: 0, databaseUrl: process.env.DATABASE_URL || null, dataDir: '', loadDemo: false });
      other = await createApp({ config, clock: t.clock, database, runJobs: false });
      const otherUrl = await other.listen(0);
      const onOther = t.client(t.adminKey, { url: `${otherUrl}/graphql`, retry: { maxAttempts: 1 } });

      const v1 = await publish(withSdxlPrice('5'));
      const accountId = await funded();
      // The other instance loads (and caches) the current card.
      expect((await onOther.request(QuoteDocument, { accountId, generation: sdxl() })).quote).toMatchObject({ credits: '5', rateCardVersion: v1 });
      // Publish here; the other instance hears about it (LISTEN/NOTIFY), well before its periodic refresh.
      const v2 = await publish(withSdxlPrice('6'));
      let seen: QuoteQuery['quote'] | null = null;
      for (let attempt = 0; attempt < 100; attempt++) {
        seen = (await onOther.request(QuoteDocument, { accountId, generation: sdxl() })).quote;
        if (seen.rateCardVersion === v2) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(seen).toMatchObject({ credits: '6', rateCardVersion: v2 });
      // And the other way round: publish there, charge here.
      const draftId = (await onOther.request(CreateRateCardDraftDocument, { input: { name: 'from the other instance', empty: true } })).createRateCardDraft.id;
      await onOther.request(SetRateCardRatesDocument, { input: { draftId, rates: withSdxlPrice('3') } });
      const v3 = (await onOther.request(PublishRateCardDocument, { draftId })).publishRateCard.version;
      expect(v3).toBeGreaterThan(v2);
      let charged: ChargeGenerationMutation['chargeGeneration'] | null = null;
      for (let attempt = 0; attempt < 100; attempt++) {
        const q = await quote(accountId, sdxl());
        if (q.rateCardVersion === v3) {
          charged = await chargeGeneration({ accountId, quoteId: q.id });
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(charged).toMatchObject({ amount: '-3', pricing: { rateCardVersion: v3 } });
      // A quote made on one instance is charged on the other.
      const q = (await onOther.request(QuoteDocument, { accountId, generation: sdxl(2) })).quote;
      expect(await chargeGeneration({ accountId, quoteId: q.id })).toMatchObject({ amount: '-6', quoteId: q.id });
    } finally {
      await other?.stop();
      if (database !== t.database) await database.close();
    }
  });
});
