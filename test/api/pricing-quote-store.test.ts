/**
 * Quotes priced before their wallet is read (src/modules/pricing/pricing.service.ts quote()): when no
 * rate of the current card has planTierMultipliers, the quote is stored while the wallet is read.
 * The outcome must be the one of reading first: the row is stored before the answer, a charge can use
 * it at once, an unknown account is NOT_FOUND (before a pricing error) and leaves no quote, and one
 * such request coalesced with others never fails theirs.
 */
import { eq } from 'drizzle-orm';
import { quotes } from '../../src/db/schema';
import { ChargeGenerationDocument, CreateRateCardDraftDocument, PublishRateCardDocument, QuoteDocument, SetRateCardRatesDocument } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
  const draftId = (await t.op(CreateRateCardDraftDocument, { input: { name: 'tierless', empty: true } })).createRateCardDraft.id;
  await t.op(SetRateCardRatesDocument, { input: { draftId, rates: [{ action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }] }] } });
  await t.op(PublishRateCardDocument, { draftId });
});
afterAll(async () => { await t.close(); });

const sdxl = (count = 1) => ({ action: 'image.generate', model: 'sdxl', params: { count } });
const UNKNOWN = '00000000-0000-4000-8000-00000000abcd';
const storedFor = (accountId: string) => t.database.db.select().from(quotes).where(eq(quotes.accountId, accountId));

test('the quote is stored before the answer and a charge uses it at once', async () => {
  const id = await t.createAccount('quoted');
  await t.grant(id, '100');
  const { quote } = await t.op(QuoteDocument, { accountId: id, generation: sdxl(2) });
  expect(quote).toMatchObject({ credits: '10', affordable: true });
  const [row] = await storedFor(id);
  expect(row).toMatchObject({ id: quote.id, creditsMillis: 10_000, action: 'image.generate', model: 'sdxl', usedAt: null });
  const charged = (await t.op(ChargeGenerationDocument, { input: { accountId: id, quoteId: quote.id, idempotencyKey: uniqueKey() } })).chargeGeneration;
  expect(charged.amount).toBe('-10');
});

test('an unknown account is NOT_FOUND, before a pricing error, and no quote of it is stored', async () => {
  expect((await t.opFails(QuoteDocument, { accountId: UNKNOWN, generation: sdxl() })).extensions.code).toBe('NOT_FOUND');
  expect((await t.opFails(QuoteDocument, { accountId: UNKNOWN, generation: { action: 'video.generate' } })).extensions.code).toBe('NOT_FOUND');
  expect(await storedFor(UNKNOWN)).toEqual([]);
  const id = await t.createAccount('bad input');
  expect((await t.opFails(QuoteDocument, { accountId: id, generation: { action: 'video.generate' } })).extensions.code).toBe('BAD_USER_INPUT');
  expect(await storedFor(id)).toEqual([]);
});

test('quotes coalesced with one for an unknown account are stored and answered', async () => {
  const ids = await Promise.all(Array.from({ length: 5 }, (_, i) => t.createAccount(`batch ${i}`)));
  const answers = await Promise.all([UNKNOWN, ...ids, UNKNOWN].map((accountId) => t.gql(`query($id: ID!, $g: GenerationInput!) { quote(accountId: $id, generation: $g) { id } }`,
    { id: accountId, g: sdxl() })));
  expect(answers.map((a) => a.errors?.[0]?.extensions?.code ?? 'ok')).toEqual(['NOT_FOUND', 'ok', 'ok', 'ok', 'ok', 'ok', 'NOT_FOUND']);
  for (const [i, id] of ids.entries()) {
    const stored = await storedFor(id);
    expect(stored.map((q) => q.id)).toEqual([(answers[i + 1].data as { quote: { id: string } }).quote.id]);
  }
  expect(await storedFor(UNKNOWN)).toEqual([]);
});
