import { ChargeGenerationDocument, CreateRateCardDraftDocument, PublishRateCardDocument, QuoteDocument, SetRateCardRatesDocument } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

test('publish, quote, charge by quote', async () => {
  const draft = await t.op(CreateRateCardDraftDocument, { input: { name: 'v1', empty: true } });
  const id = draft.createRateCardDraft.id;
  await t.op(SetRateCardRatesDocument, { input: { draftId: id, rates: [
    { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }] },
  ] } });
  const pub = await t.op(PublishRateCardDocument, { draftId: id });
  expect(pub.publishRateCard.status).toBe('PUBLISHED');
  const version = pub.publishRateCard.version; // versions are global to the database
  const accountId = await t.createAccount();
  await t.grant(accountId, '100');
  const q = await t.op(QuoteDocument, { accountId, generation: { action: 'image.generate', model: 'sdxl', params: { count: 2 } } });
  expect(q.quote).toMatchObject({ credits: '10', affordable: true, rateCardVersion: version });
  const c = await t.op(ChargeGenerationDocument, { input: { accountId, quoteId: q.quote.id, idempotencyKey: uniqueKey() } });
  expect(c.chargeGeneration).toMatchObject({ amount: '-10', quoteId: q.quote.id });
  const again = await t.opFails(ChargeGenerationDocument, { input: { accountId, quoteId: q.quote.id, idempotencyKey: uniqueKey() } });
  expect(again.code).toBe('QUOTE_EXPIRED');
  expect(await t.audit()).toEqual({ ok: true, violations: [] });
});
