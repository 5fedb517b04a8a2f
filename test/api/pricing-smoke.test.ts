import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

test('publish, quote, charge by quote', async () => {
  const draft = await t.ok(`mutation { createRateCardDraft(input: { name: "v1", empty: true }) { id } }`);
  const id = draft.createRateCardDraft.id;
  await t.ok(`mutation($i: SetRatesInput!) { setRateCardRates(input: $i) { id } }`, { i: { draftId: id, rates: [
    { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }] },
  ] } });
  const pub = await t.ok(`mutation($id: ID!) { publishRateCard(draftId: $id) { version status } }`, { id });
  expect(pub.publishRateCard.status).toBe('PUBLISHED');
  const version = pub.publishRateCard.version; // versions are global to the database
  const accountId = await t.createAccount();
  await t.grant(accountId, '100');
  const q = await t.ok(`query($a: ID!, $g: GenerationInput!) { quote(accountId: $a, generation: $g) { id credits affordable rateCardVersion lineItems { label credits kind } payingBuckets { credits } } }`,
    { a: accountId, g: { action: 'image.generate', model: 'sdxl', params: { count: 2 } } });
  expect(q.quote).toMatchObject({ credits: '10', affordable: true, rateCardVersion: version });
  const c = await t.ok(`mutation($i: ChargeGenerationInput!) { chargeGeneration(input: $i) { amount quoteId pricing } }`,
    { i: { accountId, quoteId: q.quote.id, idempotencyKey: uniqueKey() } });
  expect(c.chargeGeneration).toMatchObject({ amount: '-10', quoteId: q.quote.id });
  const again = await t.fails(`mutation($i: ChargeGenerationInput!) { chargeGeneration(input: $i) { amount } }`,
    { i: { accountId, quoteId: q.quote.id, idempotencyKey: uniqueKey() } });
  expect(again.extensions.code).toBe('QUOTE_EXPIRED');
  expect(await t.audit()).toEqual({ ok: true, violations: [] });
});
