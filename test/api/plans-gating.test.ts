/**
 * How a plan shapes a wallet, through GraphQL (issue 8): the plan's overdraft limit and low-credit
 * thresholds for wallets without their own, its tier for rate-card multipliers, and its gating of
 * models and actions (MODEL_NOT_IN_PLAN on charges, generation charges and holds, a refusal on quotes).
 *
 * Every plan has its own code and the tier its own name (the PostgreSQL database is shared with other
 * test files, which may have plans of their own that include a model: lists are checked for
 * containment). Times are set far from today so that no other file's renewal job reaches these
 * subscriptions.
 */
import {
  AccountDocument, CancelSubscriptionDocument, ChangePlanDocument, ChargeGenerationDocument, CreateRateCardDraftDocument, PublishRateCardDocument, QuoteDocument, ReserveCreditsDocument, SetRateCardRatesDocument, UpdatePlanDocument, UpdateWalletDocument, type CreateAccountInput, type GenerationInput, } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { DAY, planSteps } from '../helpers/plans';
import { pricingOf } from '../helpers/pricing';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

// ------------------------------------------------------------------------------------------ helpers

const { createPlan, subscribe, charge, chargeFails, cleanAudit } = planSteps(() => t, { interval: 'DAY' });
const account = async (extra: Partial<CreateAccountInput> = {}) => t.createAccount('plan shape test', extra);
const quote = async (accountId: string, generation: GenerationInput) => (await t.op(QuoteDocument, { accountId, generation })).quote;


// ------------------------------------------------------------------------------------------ rate card

/** This file's tier: only its card gives it a multiplier. */
const TIER = uniqueKey('tier').toLowerCase();

/** The rates of the pricing tests' base card, with a multiplier for this file's tier on SDXL images. */
const RATES = [
  { action: 'image.generate', components: [{ unit: 'IMAGE', pricePerUnit: '8' }] },
  { action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }], planTierMultipliers: { [TIER]: '0.5' } },
  { action: 'image.generate', model: 'dall-e-3', components: [{ unit: 'IMAGE', pricePerUnit: '10' }], modifiers: { quality: { standard: '1', hd: '2.5' } } },
  {
    action: 'text.generate',
    model: 'gpt-4o',
    components: [{ unit: 'INPUT_TOKENS_1K', pricePerUnit: '2.5' }, { unit: 'OUTPUT_TOKENS_1K', pricePerUnit: '10' }],
    planTierMultipliers: { pro: '0.8' },
  },
  { action: 'image.erase', components: [{ unit: 'REQUEST', pricePerUnit: '7' }] },
];

let cardVersion = 0;
async function publishCard(): Promise<number> {
  const id = (await t.op(CreateRateCardDraftDocument, { input: { name: `plans card ${uniqueKey()}`, empty: true } })).createRateCardDraft.id;
  await t.op(SetRateCardRatesDocument, { input: { draftId: id, rates: RATES } });
  const version = (await t.op(PublishRateCardDocument, { draftId: id })).publishRateCard.version;
  if (version === null) throw new Error('published without a version');
  return (cardVersion = version);
}

/**
 * Quotes on this file's card. Another test file may publish a card of its own on a shared database
 * meanwhile: then this card is published again and the quote asked again.
 */
async function quoteOnCard(accountId: string, generation: GenerationInput) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const answer = await quote(accountId, generation);
    if (answer.rateCardVersion === cardVersion) return answer;
    await publishCard();
  }
  throw new Error('another card kept being published');
}

const sdxl: GenerationInput = { action: 'image.generate', model: 'sdxl', params: { count: 1 } };
const dalle: GenerationInput = { action: 'image.generate', model: 'dall-e-3', params: { count: 1 } };

beforeAll(async () => { await publishCard(); });

// ================================================================================================

describe('the plan shapes the wallet', () => {
  test('the plan\'s overdraft limit applies to a wallet without its own; one of its own (createAccount or updateWallet) wins', async () => {
    const start = new Date('2093-01-01T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ overdraftLimit: '40' });

    const plain = await account();
    expect((await t.wallet(plain)).overdraftLimit).toBe('0');
    await subscribe(plain, plan.code);
    expect(await t.wallet(plain)).toMatchObject({ overdraftLimit: '40', balance: '100', available: '140' });
    expect(await charge(plain, '120')).toMatchObject({ status: 'SUCCEEDED', debtChange: '20', balanceAfter: '-20' });
    expect((await chargeFails(plain, '20.001')).extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', available: '20' });

    const ownAtCreation = await account({ overdraftLimit: '5' });
    await subscribe(ownAtCreation, plan.code);
    expect(await t.wallet(ownAtCreation)).toMatchObject({ overdraftLimit: '5', available: '105' });

    const ownBefore = await account();
    await t.op(UpdateWalletDocument, { input: { accountId: ownBefore, overdraftLimit: '7' } });
    await subscribe(ownBefore, plan.code);
    expect((await t.wallet(ownBefore)).overdraftLimit).toBe('7');

    const ownAfter = await account();
    await subscribe(ownAfter, plan.code);
    expect((await t.wallet(ownAfter)).overdraftLimit).toBe('40');
    await t.op(UpdateWalletDocument, { input: { accountId: ownAfter, overdraftLimit: '7' } });
    expect((await t.wallet(ownAfter)).overdraftLimit).toBe('7');

    // a renewal reshapes the wallet: the plan's limit again where the wallet has none of its own
    t.clock.set(new Date(start.getTime() + DAY * 1000));
    expect(await t.wallet(plain)).toMatchObject({ overdraftLimit: '40', debt: '0', balance: '80' });
    expect((await t.wallet(ownAtCreation)).overdraftLimit).toBe('5');
    expect((await t.wallet(ownBefore)).overdraftLimit).toBe('7');
    expect((await t.wallet(ownAfter)).overdraftLimit).toBe('7');
    // canceled at once: a wallet without its own limit goes back to 0, an own one stays
    for (const id of [plain, ownAfter]) await t.op(CancelSubscriptionDocument, { input: { accountId: id, atPeriodEnd: false, idempotencyKey: uniqueKey() } });
    expect((await t.wallet(plain)).overdraftLimit).toBe('0');
    expect((await t.wallet(ownAfter)).overdraftLimit).toBe('7');
    await cleanAudit();
  });

  test('the plan\'s low-credit thresholds become the wallet\'s when it has none', async () => {
    t.clock.set(new Date('2093-01-10T00:00:00Z'));
    const plan = await createPlan({ lowCreditThresholds: ['20', '50'] });
    expect(plan.lowCreditThresholds).toEqual(['50', '20']);
    const plain = await account();
    await subscribe(plain, plan.code);
    expect((await t.wallet(plain)).lowCreditThresholds).toEqual(['50', '20']);
    const own = await account();
    await t.op(UpdateWalletDocument, { input: { accountId: own, lowCreditThresholds: ['5'] } });
    await subscribe(own, plan.code);
    expect((await t.wallet(own)).lowCreditThresholds).toEqual(['5']);
    await cleanAudit();
  });

  test('the plan\'s tier drives the rate card\'s plan-tier multipliers while subscribed; an account\'s own planTier counts only without a plan', async () => {
    t.clock.set(new Date('2093-01-20T00:00:00Z'));
    const tiered = await createPlan({ tier: TIER });
    const untiered = await createPlan({ allowance: '50' });

    const id = await account();
    expect(await quoteOnCard(id, sdxl)).toMatchObject({ credits: '5', rateCardVersion: cardVersion });
    await subscribe(id, tiered.code);
    const discounted = await quoteOnCard(id, sdxl);
    expect(discounted).toMatchObject({ credits: '2.5', affordable: true, refusal: null });
    expect(discounted.lineItems).toEqual([
      expect.objectContaining({ kind: 'BASE', credits: '5' }),
      { kind: 'PLAN_MULTIPLIER', credits: '-2.5', label: expect.stringContaining(TIER) as unknown },
    ]);
    const charged = (await t.op(ChargeGenerationDocument, { input: { accountId: id, quoteId: discounted.id, idempotencyKey: uniqueKey('gen') } })).chargeGeneration;
    expect(charged).toMatchObject({ status: 'SUCCEEDED', amount: '-2.5', quoteId: discounted.id });
    expect(pricingOf(charged).rateCardVersion).toBe(discounted.rateCardVersion);
    // the plan's tier ends with the subscription
    await t.op(CancelSubscriptionDocument, { input: { accountId: id, atPeriodEnd: false, idempotencyKey: uniqueKey() } });
    expect((await quoteOnCard(id, sdxl)).credits).toBe('5');

    // the account's own tier, without a plan
    const ownTier = await account({ planTier: TIER });
    expect((await quoteOnCard(ownTier, sdxl)).credits).toBe('2.5');
    expect((await t.op(AccountDocument, { id: ownTier })).account?.planTier).toBe(TIER);
    // a plan without a tier replaces it while subscribed
    await subscribe(ownTier, untiered.code);
    expect((await quoteOnCard(ownTier, sdxl)).credits).toBe('5');
    expect((await t.op(AccountDocument, { id: ownTier })).account?.planTier).toBe(TIER);
    await cleanAudit();
  });
});

// ================================================================================================

describe('gating', () => {
  /**
   * A plan that allows SDXL only; an active plan that includes DALL-E 3 (free, its code first in
   * order, so it is among the plans a refusal names however many other files' plans include it);
   * an archived one that includes it too.
   */
  async function gatedPlans() {
    const gated = await createPlan({ models: ['sdxl'], actions: null });
    const including = await createPlan({ allowance: '1000', price: { amount: '0.00', currency: 'USD' }, models: ['sdxl', 'dall-e-3'] }, '0incl');
    const archived = await createPlan({ allowance: '1000', price: { amount: '0.00', currency: 'USD' }, models: ['dall-e-3'] }, '0arch');
    await t.op(UpdatePlanDocument, { code: archived.code, input: { active: false } });
    return { gated, including, archived };
  }

  test('a model outside the plan is MODEL_NOT_IN_PLAN on charge, chargeGeneration and reserveCredits, naming plans that include it; each refusal is recorded', async () => {
    t.clock.set(new Date('2093-02-01T00:00:00Z'));
    const { gated, including, archived } = await gatedPlans();
    const id = await account();
    await subscribe(id, gated.code);

    const refused = await chargeFails(id, '3', { action: 'image.generate', model: 'dall-e-3' });
    expect(refused.code).toBe('MODEL_NOT_IN_PLAN');
    expect(refused.extensions.model).toBe('dall-e-3');
    const plansIncluding = refused.extensions.plansIncluding as string[];
    expect(plansIncluding).toContain(including.code);
    expect(plansIncluding).not.toContain(archived.code);
    expect(plansIncluding).not.toContain(gated.code);
    expect(refused.extensions.remedy).toEqual(expect.stringContaining(including.code));
    const [failed] = await t.history(id);
    expect(failed).toMatchObject({
      type: 'CHARGE', status: 'FAILED', amount: '0', requestedAmount: '3', failureCode: 'MODEL_NOT_IN_PLAN', model: 'dall-e-3', action: 'image.generate',
    });
    expect(failed.entries).toEqual([]);

    const generation = await t.opFails(ChargeGenerationDocument, { input: { accountId: id, generation: dalle, idempotencyKey: uniqueKey('gen') } });
    expect(generation.code).toBe('MODEL_NOT_IN_PLAN');
    expect(generation.extensions.plansIncluding).toContain(including.code);
    expect((await t.history(id))[0]).toMatchObject({ status: 'FAILED', failureCode: 'MODEL_NOT_IN_PLAN', model: 'dall-e-3' });

    const hold = await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '3', model: 'dall-e-3', idempotencyKey: uniqueKey('hold') } });
    expect(hold.code).toBe('MODEL_NOT_IN_PLAN');
    expect(hold.extensions.plansIncluding).toContain(including.code);
    expect((await t.history(id))[0]).toMatchObject({ type: 'HOLD', status: 'FAILED', failureCode: 'MODEL_NOT_IN_PLAN', model: 'dall-e-3' });
    expect(await t.wallet(id)).toMatchObject({ balance: '100', held: '0' });

    // what the plan includes, and a charge naming no model, go through
    expect(await charge(id, '2', { model: 'sdxl' })).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '98' });
    expect(await charge(id, '3')).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '95' });
    expect(await charge(id, '1', { action: 'text.generate' })).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '94' });
    await cleanAudit();
  });

  test('a quote of a gated model is not affordable, with the refusal (no error); an allowed model is', async () => {
    t.clock.set(new Date('2093-02-05T00:00:00Z'));
    const { gated, including } = await gatedPlans();
    const id = await account();
    await subscribe(id, gated.code);
    const refused = await quote(id, dalle);
    expect(refused).toMatchObject({ credits: '10', affordable: false, refusal: { code: 'MODEL_NOT_IN_PLAN' } });
    expect(refused.refusal?.plansIncluding).toContain(including.code);
    expect(refused.refusal?.remedy).toEqual(expect.stringContaining(including.code));
    expect(refused.refusal?.message).toEqual(expect.stringContaining('dall-e-3'));
    expect(await quote(id, sdxl)).toMatchObject({ affordable: true, refusal: null });
    await cleanAudit();
  });

  test('an action outside the plan is MODEL_NOT_IN_PLAN likewise, naming plans whose actions include it', async () => {
    t.clock.set(new Date('2093-02-10T00:00:00Z'));
    const gated = await createPlan({ actions: ['image.generate'] });
    const including = await createPlan({ price: { amount: '0.00', currency: 'USD' }, actions: ['image.generate', 'text.generate'] }, '0incl');
    const id = await account();
    await subscribe(id, gated.code);

    const refused = await chargeFails(id, '2', { action: 'text.generate', model: 'gpt-4o' });
    expect(refused.code).toBe('MODEL_NOT_IN_PLAN');
    expect(refused.extensions.action).toBe('text.generate');
    expect(refused.extensions.plansIncluding).toContain(including.code);
    expect(refused.extensions.remedy).toEqual(expect.stringContaining(including.code));
    expect((await t.history(id))[0]).toMatchObject({ type: 'CHARGE', status: 'FAILED', failureCode: 'MODEL_NOT_IN_PLAN', action: 'text.generate' });
    const held = await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '2', action: 'text.generate', idempotencyKey: uniqueKey('hold') } });
    expect(held.code).toBe('MODEL_NOT_IN_PLAN');
    const quoted = await quote(id, { action: 'text.generate', model: 'gpt-4o', params: { inputTokens: 1000, outputTokens: 1000 } });
    expect(quoted).toMatchObject({ affordable: false, refusal: { code: 'MODEL_NOT_IN_PLAN' } });

    expect(await charge(id, '2', { action: 'image.generate', model: 'dall-e-3' })).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '98' });
    expect(await charge(id, '1')).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '97' });
    await cleanAudit();
  });

  test('after an upgrade to a plan without gating, the same charge and quote succeed', async () => {
    t.clock.set(new Date('2093-02-15T00:00:00Z'));
    const { gated } = await gatedPlans();
    const open = await createPlan({ allowance: '300', price: { amount: '30.00', currency: 'USD' } });
    const id = await account();
    await subscribe(id, gated.code);
    const input = { action: 'image.generate', model: 'dall-e-3' };
    expect((await chargeFails(id, '3', input)).code).toBe('MODEL_NOT_IN_PLAN');
    expect((await quote(id, dalle)).affordable).toBe(false);

    t.clock.advanceSeconds(DAY / 2);
    const upgraded = (await t.op(ChangePlanDocument, { input: { accountId: id, planCode: open.code, idempotencyKey: uniqueKey('change') } })).changePlan;
    expect(upgraded).toMatchObject({ plan: { code: open.code, models: null }, scheduledPlan: null });
    expect(await t.wallet(id)).toMatchObject({ balance: '200' }); // 100 + 200 × ½
    expect(await charge(id, '3', input)).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '197' });
    expect(await quote(id, dalle)).toMatchObject({ affordable: true, refusal: null });
    await cleanAudit();
  });
});
