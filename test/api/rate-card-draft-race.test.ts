/**
 * A draft published between the moment setRateCardRates / setRateCardRate read it and the moment
 * they write it: the write stores nothing (a published version is immutable), so the mutation must
 * be refused rather than answer with rates that were never stored.
 *
 * The race is made deterministic by publishing from inside the service's draft read: the mutation
 * reads the draft (still a DRAFT), the draft is published, then the mutation writes.
 */
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const CARD_FIELDS = 'id version status rates';
/** What CARD_FIELDS selects (rates is JSON). */
interface RateCard { id: string; version: number | null; status: string; rates: unknown }
const CREATE_DRAFT = `mutation($i: CreateRateCardDraftInput!) { createRateCardDraft(input: $i) { id } }`;
const SET_RATES = `mutation($i: SetRatesInput!) { setRateCardRates(input: $i) { ${CARD_FIELDS} } }`;
const SET_RATE = `mutation($i: SetRateInput!) { setRateCardRate(input: $i) { ${CARD_FIELDS} } }`;
const RATE_CARD_DRAFT = `query($id: ID!) { rateCardDraft(id: $id) { ${CARD_FIELDS} } }`;

const STORED_RATES = [{ action: 'image.generate', components: [{ unit: 'IMAGE', pricePerUnit: '8' }] }];
const NEW_RATE = { action: 'image.generate', components: [{ unit: 'IMAGE', pricePerUnit: '9' }] };

async function completeDraft(): Promise<string> {
  const id = (await t.ok<{ createRateCardDraft: { id: string } }>(CREATE_DRAFT, { i: { name: `race ${uniqueKey()}`, empty: true } })).createRateCardDraft.id;
  await t.ok(SET_RATES, { i: { draftId: id, rates: STORED_RATES } });
  return id;
}

/** Runs `mutation` while the draft gets published right after the mutation has read it. */
async function withPublishAfterRead<T>(mutation: () => Promise<T>): Promise<T> {
  const pricing = t.app.services.pricing;
  const findDraft = pricing.findDraft.bind(pricing);
  const spy = jest.spyOn(pricing, 'findDraft').mockImplementationOnce(async (id: string) => {
    const read = await findDraft(id);
    await pricing.publish(id); // reads the draft again through the original method (the mock was used once)
    return read;
  });
  try {
    return await mutation();
  } finally {
    spy.mockRestore();
  }
}

test.each([
  ['setRateCardRates', SET_RATES, (draftId: string) => ({ draftId, rates: [NEW_RATE] })],
  ['setRateCardRate', SET_RATE, (draftId: string) => ({ draftId, rate: NEW_RATE })],
])('%s on a draft published meanwhile is refused and stores nothing', async (_name, mutation, input) => {
  const draftId = await completeDraft();
  const error = await withPublishAfterRead(() => t.fails(mutation, { i: input(draftId) }));
  expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'draftId' });
  expect(error.message).toMatch(/its rates were not changed/);
  const stored = (await t.ok<{ rateCardDraft: RateCard }>(RATE_CARD_DRAFT, { id: draftId })).rateCardDraft;
  expect(stored.status).toBe('PUBLISHED');
  expect(stored.rates).toEqual(STORED_RATES);
});

test('without the race setRateCardRate stores and returns the new rate', async () => {
  const draftId = await completeDraft();
  const set = (await t.ok<{ setRateCardRate: RateCard }>(SET_RATE, { i: { draftId, rate: NEW_RATE } })).setRateCardRate;
  expect(set.rates).toEqual([NEW_RATE]);
  expect((await t.ok<{ rateCardDraft: RateCard }>(RATE_CARD_DRAFT, { id: draftId })).rateCardDraft.rates).toEqual([NEW_RATE]);
});

test('without the race setRateCardRates stores and returns the new rates', async () => {
  const draftId = await completeDraft();
  const set = (await t.ok<{ setRateCardRates: RateCard }>(SET_RATES, { i: { draftId, rates: [NEW_RATE] } })).setRateCardRates;
  expect(set.rates).toEqual([NEW_RATE]);
  expect((await t.ok<{ rateCardDraft: RateCard }>(RATE_CARD_DRAFT, { id: draftId })).rateCardDraft.rates).toEqual([NEW_RATE]);
});
