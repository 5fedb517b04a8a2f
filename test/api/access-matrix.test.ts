/**
 * The access matrix: one row per root field of the running schema (Query, Mutation, Subscription),
 * each saying what every kind of caller gets. A field without a row, or a row without a field, fails.
 *
 * Every cell runs a minimal valid operation against real state built for that caller (an account
 * with credits, and a fresh charge, hold, quote, draft or key where a success would consume one), so
 * "allowed" means the call succeeded with data, and a refusal is its `extensions.code`. A refused
 * mutation must also have written nothing to the account it targeted. Role refusals are then checked
 * once more against ids that name nothing, so a refusal never depends on the target existing.
 */
import { randomUUID } from 'node:crypto';
import { Kind, parse, type OperationDefinitionNode } from 'graphql';
import type { Client } from 'graphql-ws';
import type { ErrorCode } from '../../src/shared/errors';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { WEBHOOK_SECRET } from '../helpers/purchases';
import type { TestPaymentProvider } from '../../src/modules/purchases';

let t: TestApp;

/**
 * `partnerKey`: a SERVICE key of partner A on an account created by partner A's key (it acts as any
 * SERVICE key). `otherPartner`: a SERVICE key of partner B on that same account of partner A, which
 * must answer as an id naming nothing would (README, Partners).
 */
const CALLERS = ['anonymous', 'badToken', 'readonly', 'service', 'admin', 'ownUser', 'otherUser', 'partnerKey', 'otherPartner'] as const;
type Caller = (typeof CALLERS)[number];

/**
 * What a caller gets: success with data, a refusal code, or (graphql-ws only) the connection closed
 * with this code before any operation runs, which is how the server refuses a bad credential there.
 */
type Outcome = 'allowed' | ErrorCode | 'closed 4403';
const OK = 'allowed';
const UNAUTH = 'UNAUTHENTICATED';
const FORBID = 'FORBIDDEN';
const NOT_FOUND = 'NOT_FOUND';

/**
 * One row of the matrix, in the column order of the table below. The partner columns follow from the
 * SERVICE column: a partner key on its own account is any SERVICE key; another partner's key gets the
 * same refusal, and where SERVICE succeeds, NOT_FOUND (the account is not there for it). A row whose
 * field is not account-scoped (or answers another not-found code) overrides `otherPartner`.
 */
function who(anonymous: Outcome, badToken: Outcome, readonly: Outcome, service: Outcome, admin: Outcome, ownUser: Outcome, otherUser: Outcome): Record<Caller, Outcome> {
  return { anonymous, badToken, readonly, service, admin, ownUser, otherUser, partnerKey: service, otherPartner: service === OK ? NOT_FOUND : service };
}

const GENERATION = { action: 'matrix.generate' };
const RATES = [{ action: 'matrix.generate', components: [{ unit: 'REQUEST', pricePerUnit: '2' }] }];

/**
 * The state one caller's cells act on. `accountId` is the account the operations target; the
 * `ownUser` caller holds a token for it. Each method makes a fresh object through the admin key,
 * so a cell that consumes it (capture, refund, publish, revoke) never takes another cell's.
 * A ghost fixture names nothing that exists.
 */
interface Fixture {
  accountId: string;
  /** The key that created the account (a partner's), when not the admin key. */
  creator?: string;
  /** A posted transaction of the account (its first grant). */
  transactionId: string;
  charge(): Promise<string>;
  hold(): Promise<string>;
  quote(): Promise<string>;
  /** A draft rate card that prices GENERATION, so publishing it keeps quotes working. */
  draft(): Promise<string>;
  apiKeyId(): Promise<string>;
  /** A PENDING purchase of the account (made in the fixture). */
  purchaseId: string;
  /** A fresh credit pack on sale (its code). */
  pack(): Promise<string>;
  /** A fresh unread alert of the account. */
  alert(): Promise<string>;
}

/** `creator`: the key that creates the account (a partner's key makes it that partner's); default the admin key. */
async function realFixture(creator?: string): Promise<Fixture> {
  const accountId = creator
    ? (await t.ok<{ createAccount: { id: string } }>(`mutation { createAccount(input: { name: "access matrix, a partner's" }) { id } }`, {}, creator)).createAccount.id
    : await t.createAccount('access matrix');
  const grant = await t.grant(accountId, '1000');
  const purchase = await t.ok<{ purchaseCredits: { id: string } }>(`mutation($i: PurchaseCreditsInput!) { purchaseCredits(input: $i) { id } }`, {
    i: { accountId, packCode: sharedPack.code, idempotencyKey: uniqueKey('m-buy') },
  });
  return {
    accountId,
    creator,
    transactionId: grant.id,
    purchaseId: purchase.purchaseCredits.id,
    pack: newPack,
    async alert() {
      const services = t.app.services;
      await services.db.transaction((tx) => services.alerts.raise(tx, {
        accountId, kind: 'AUTO_TOP_UP_FAILED', thresholdMillis: 5000, availableMillis: 1000, message: 'access matrix',
      }, t.clock.now()));
      const data = await t.ok<{ alerts: { edges: { node: { id: string } }[] } }>(`query($id: ID!) { alerts(accountId: $id, unreadOnly: true, first: 1) { edges { node { id } } } }`, { id: accountId });
      return data.alerts.edges[0].node.id;
    },
    async charge() {
      const data = await t.ok<{ charge: { id: string } }>(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId, amount: '2', idempotencyKey: uniqueKey('m-charge') } });
      return data.charge.id;
    },
    async hold() {
      const data = await t.ok<{ reserveCredits: { id: string } }>(`mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`, { i: { accountId, amount: '3', idempotencyKey: uniqueKey('m-hold') } });
      return data.reserveCredits.id;
    },
    async quote() {
      const data = await t.ok<{ quote: { id: string } }>(`query($a: ID!, $g: GenerationInput!) { quote(accountId: $a, generation: $g) { id } }`, { a: accountId, g: GENERATION });
      return data.quote.id;
    },
    draft: newDraft,
    async apiKeyId() {
      return (await t.app.services.auth.createApiKey('access matrix target', 'READONLY')).id;
    },
  };
}

function ghostFixture(): Fixture {
  const ghost = async () => randomUUID();
  return {
    accountId: randomUUID(), transactionId: randomUUID(), charge: ghost, hold: ghost, quote: ghost, draft: ghost, apiKeyId: ghost,
    purchaseId: randomUUID(), pack: async () => uniqueKey('no-such-pack').toLowerCase(), alert: ghost,
  };
}

async function newPack(): Promise<string> {
  const code = uniqueKey('matrix-pack').toLowerCase();
  await t.ok(`mutation($i: CreditPackInput!) { createCreditPack(input: $i) { id } }`, { i: { code, name: 'Matrix pack', credits: '10', price: { amount: '1.00', currency: 'USD' } } });
  return code;
}

async function newDraft(): Promise<string> {
  const draft = await t.ok<{ createRateCardDraft: { id: string } }>(`mutation { createRateCardDraft(input: { name: "access matrix", empty: true }) { id } }`);
  const draftId = draft.createRateCardDraft.id;
  await t.ok(`mutation($i: SetRatesInput!) { setRateCardRates(input: $i) { id } }`, { i: { draftId, rates: RATES } });
  return draftId;
}

type Variables = Record<string, unknown>;

interface Row {
  /** `Query.x`, `Mutation.x` or `Subscription.x`. */
  field: string;
  /** A minimal valid operation whose only root field is `field`. */
  operation: string;
  variables(f: Fixture): Variables | Promise<Variables>;
  expected: Record<Caller, Outcome>;
  /** Subscriptions whose events do not come by themselves: makes one (called until the first result). */
  trigger?(f: Fixture): Promise<void>;
}

// READONLY: reads only. SERVICE: accounts, charges, holds, refunds, quotes, user tokens, subscriptions, purchases,
// auto top-up, marking alerts read. ADMIN: everything. A user token: reads and quotes of its own account, its
// purchases and auto top-up, rate cards, plans and packs (README, Access).
//                                                anonymous badToken  READONLY SERVICE ADMIN ownUser otherUser
const ROWS: Row[] = [
  {
    field: 'Query.account', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID) { account(id: $id) { id wallet { balance } } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    field: 'Query.transactions', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID!) { transactions(accountId: $id, first: 5) { edges { node { id } } } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    field: 'Query.transaction', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID!) { transaction(id: $id) { id amount } }`,
    variables: (f) => ({ id: f.transactionId }),
  },
  {
    field: 'Query.auditLedger', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query { auditLedger { ok } }`,
    variables: () => ({}),
  },
  {
    field: 'Query.wallet', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID!) { wallet(accountId: $id) { balance available } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    field: 'Query.rateCard', expected: { ...who(UNAUTH, UNAUTH, OK, OK, OK, OK, OK), otherPartner: OK },
    operation: `query { rateCard { version rates } }`,
    variables: () => ({}),
  },
  {
    field: 'Query.rateCardDraft', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query($id: ID!) { rateCardDraft(id: $id) { id status } }`,
    variables: async (f) => ({ id: await f.draft() }),
  },
  {
    field: 'Query.quote', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($a: ID!, $g: GenerationInput!) { quote(accountId: $a, generation: $g) { id credits } }`,
    variables: (f) => ({ a: f.accountId, g: GENERATION }),
  },
  {
    field: 'Mutation.createApiKey', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { id secret } }`,
    variables: () => ({ i: { name: 'access matrix new', role: 'READONLY' } }),
  },
  {
    field: 'Mutation.revokeApiKey', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($id: ID!) { revokeApiKey(id: $id) }`,
    variables: async (f) => ({ id: await f.apiKeyId() }),
  },
  {
    field: 'Mutation.issueUserToken', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($id: ID!) { issueUserToken(accountId: $id) { token } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    field: 'Mutation.createAccount', expected: { ...who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID), otherPartner: OK },
    operation: `mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`,
    variables: () => ({ i: { name: 'access matrix new' } }),
  },
  {
    field: 'Mutation.grantCredits', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: GrantCreditsInput!) { grantCredits(input: $i) { id } }`,
    variables: (f) => ({ i: { accountId: f.accountId, amount: '1', source: 'PROMO', idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.charge', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: ChargeInput!) { charge(input: $i) { id status } }`,
    variables: (f) => ({ i: { accountId: f.accountId, amount: '1', idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.chargeBatch', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: ChargeBatchInput!) { chargeBatch(input: $i) { results { transaction { id } error { code message } } } }`,
    variables: (f) => ({ i: { charges: [{ accountId: f.accountId, amount: '1', idempotencyKey: uniqueKey('m') }] } }),
  },
  {
    field: 'Mutation.chargeGenerationBatch', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: ChargeGenerationBatchInput!) { chargeGenerationBatch(input: $i) { results { transaction { id } error { code message } } } }`,
    variables: async (f) => ({ i: { charges: [{ accountId: f.accountId, quoteId: await f.quote(), idempotencyKey: uniqueKey('m') }] } }),
  },
  {
    field: 'Mutation.reserveCredits', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: ReserveInput!) { reserveCredits(input: $i) { id status } }`,
    variables: (f) => ({ i: { accountId: f.accountId, amount: '1', idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.captureHold', expected: { ...who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID), otherPartner: 'HOLD_NOT_FOUND' },
    operation: `mutation($i: CaptureInput!) { captureHold(input: $i) { id type } }`,
    variables: async (f) => ({ i: { holdId: await f.hold(), amount: '1', idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.releaseHold', expected: { ...who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID), otherPartner: 'HOLD_NOT_FOUND' },
    operation: `mutation($i: ReleaseInput!) { releaseHold(input: $i) { id status } }`,
    variables: async (f) => ({ i: { holdId: await f.hold(), idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.refund', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: RefundInput!) { refund(input: $i) { id type } }`,
    variables: async (f) => ({ i: { transactionId: await f.charge(), idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.reverseTransaction', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: ReverseInput!) { reverseTransaction(input: $i) { id type } }`,
    variables: async (f) => ({ i: { transactionId: await f.charge(), idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.updateWallet', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: UpdateWalletInput!) { updateWallet(input: $i) { lowCreditThresholds } }`,
    variables: (f) => ({ i: { accountId: f.accountId, lowCreditThresholds: ['5'] } }),
  },
  {
    field: 'Mutation.updateAccount', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, OK, FORBID),
    operation: `mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { id email } }`,
    variables: (f) => ({ i: { accountId: f.accountId, email: 'owner@example.com' } }),
  },
  {
    field: 'Mutation.createRateCardDraft', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: CreateRateCardDraftInput!) { createRateCardDraft(input: $i) { id } }`,
    variables: () => ({ i: { name: 'access matrix', empty: true } }),
  },
  {
    field: 'Mutation.setRateCardRates', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: SetRatesInput!) { setRateCardRates(input: $i) { id } }`,
    variables: async (f) => ({ i: { draftId: await f.draft(), rates: RATES } }),
  },
  {
    field: 'Mutation.setRateCardRate', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: SetRateInput!) { setRateCardRate(input: $i) { id } }`,
    variables: async (f) => ({ i: { draftId: await f.draft(), rate: { action: 'matrix.other', components: [{ unit: 'REQUEST', pricePerUnit: '1' }] } } }),
  },
  {
    field: 'Mutation.publishRateCard', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($id: ID!) { publishRateCard(draftId: $id) { version } }`,
    variables: async (f) => ({ id: await f.draft() }),
  },
  {
    field: 'Mutation.chargeGeneration', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: ChargeGenerationInput!) { chargeGeneration(input: $i) { id amount } }`,
    variables: async (f) => ({ i: { accountId: f.accountId, quoteId: await f.quote(), idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Query.plans', expected: { ...who(UNAUTH, UNAUTH, OK, OK, OK, OK, OK), otherPartner: OK },
    operation: `query { plans { code } }`,
    variables: () => ({}),
  },
  {
    field: 'Query.plan', expected: { ...who(UNAUTH, UNAUTH, OK, OK, OK, OK, OK), otherPartner: OK },
    operation: `query($c: String!) { plan(code: $c) { code allowance } }`,
    variables: () => ({ c: plansUsed.basic }),
  },
  {
    field: 'Mutation.createPlan', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: PlanInput!) { createPlan(input: $i) { id } }`,
    variables: () => ({ i: { code: uniqueKey('matrix-plan').toLowerCase(), name: 'Matrix', price: { amount: '1.00', currency: 'USD' }, allowance: '1' } }),
  },
  {
    field: 'Mutation.updatePlan', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($c: String!, $i: PlanUpdateInput!) { updatePlan(code: $c, input: $i) { version } }`,
    variables: () => ({ c: plansUsed.basic, i: { name: 'Matrix basic' } }),
  },
  // The next three act on the fixture's account in this order: subscribe, upgrade, cancel.
  {
    field: 'Mutation.subscribe', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: SubscribeInput!) { subscribe(input: $i) { id status } }`,
    variables: (f) => ({ i: { accountId: f.accountId, planCode: plansUsed.basic, idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.changePlan', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: ChangePlanInput!) { changePlan(input: $i) { id status } }`,
    variables: (f) => ({ i: { accountId: f.accountId, planCode: plansUsed.pro, idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Mutation.cancelSubscription', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: CancelSubscriptionInput!) { cancelSubscription(input: $i) { id status } }`,
    variables: (f) => ({ i: { accountId: f.accountId, atPeriodEnd: false, idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Query.creditPacks', expected: { ...who(UNAUTH, UNAUTH, OK, OK, OK, OK, OK), otherPartner: OK },
    operation: `query { creditPacks { code price { amount } } }`,
    variables: () => ({}),
  },
  {
    field: 'Query.creditPriceTiers', expected: { ...who(UNAUTH, UNAUTH, OK, OK, OK, OK, OK), otherPartner: OK },
    operation: `query { creditPriceTiers { version tiers { from unitPrice } } }`,
    variables: () => ({}),
  },
  {
    field: 'Query.creditPrice', expected: { ...who(UNAUTH, UNAUTH, OK, OK, OK, OK, OK), otherPartner: OK },
    operation: `query($c: Credits!) { creditPrice(credits: $c) { amount currency } }`,
    variables: () => ({ c: '100' }),
  },
  {
    field: 'Mutation.createCreditPack', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: CreditPackInput!) { createCreditPack(input: $i) { id } }`,
    variables: () => ({ i: { code: uniqueKey('matrix-pack').toLowerCase(), name: 'Matrix pack', credits: '10', price: { amount: '1.00', currency: 'USD' } } }),
  },
  {
    field: 'Mutation.updateCreditPack', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($c: String!, $i: CreditPackUpdateInput!) { updateCreditPack(code: $c, input: $i) { code name } }`,
    variables: async (f) => ({ c: await f.pack(), i: { name: 'Matrix pack, renamed' } }),
  },
  {
    field: 'Mutation.archiveCreditPack', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($c: String!) { archiveCreditPack(code: $c) { code active } }`,
    variables: async (f) => ({ c: await f.pack() }),
  },
  {
    field: 'Mutation.setCreditPriceTiers', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: CreditPriceTiersInput!) { setCreditPriceTiers(input: $i) { version } }`,
    variables: () => ({ i: PRICE_TIERS }),
  },
  {
    field: 'Mutation.purchaseCredits', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, OK, FORBID),
    operation: `mutation($i: PurchaseCreditsInput!) { purchaseCredits(input: $i) { id status } }`,
    variables: (f) => ({ i: { accountId: f.accountId, packCode: sharedPack.code, idempotencyKey: uniqueKey('m') } }),
  },
  {
    field: 'Query.purchases', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID!) { purchases(accountId: $id, first: 5) { edges { node { id status } } } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    field: 'Query.purchase', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID!) { purchase(id: $id) { id status } }`,
    variables: (f) => ({ id: f.purchaseId }),
  },
  {
    field: 'Query.paymentEventsForReview', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query { paymentEventsForReview { eventId } }`,
    variables: () => ({}),
  },
  {
    field: 'Mutation.setAutoTopUp', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, OK, FORBID),
    operation: `mutation($i: AutoTopUpInput!) { setAutoTopUp(input: $i) { accountId autoTopUp { enabled } } }`,
    variables: (f) => ({ i: { accountId: f.accountId, enabled: true, below: '1', packCode: sharedPack.code, maxPerMonth: 1 } }),
  },
  {
    field: 'Mutation.setTestPaymentCard', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($id: ID!) { setTestPaymentCard(accountId: $id, declines: false) }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    // payment.failed: the provider's webhook changes a PENDING purchase, never the wallet.
    field: 'Mutation.sendTestPaymentEvent', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($id: ID!) { sendTestPaymentEvent(purchaseId: $id, type: PAYMENT_FAILED) }`,
    variables: (f) => ({ id: f.purchaseId }),
  },
  {
    field: 'Query.alerts', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID) { alerts(accountId: $id, first: 5) { edges { node { id kind } } } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    // A user token marks its own account's alerts only: another account's ids are refused and change nothing (see below).
    field: 'Mutation.markAlertsRead', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, OK, FORBID),
    operation: `mutation($ids: [ID!]!) { markAlertsRead(ids: $ids) }`,
    variables: async (f) => ({ ids: [await f.alert()] }),
  },
  {
    field: 'Query.emailOutbox', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query { emailOutbox(first: 5) { edges { node { id status } } } }`,
    variables: () => ({}),
  },
  {
    field: 'Query.usageByDay', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID!) { usageByDay(accountId: $id, days: 7) { day action model credits refunded count } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    field: 'Query.planAdvice', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID!) { planAdvice(accountId: $id, days: 7) { accountId reason recommended { label kind cost { amount } } } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    field: 'Query.platformReport', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query($from: DateTime!, $to: DateTime!) { platformReport(from: $from, to: $to) { from to totals { consumed charges } topConsumers { accountId } } }`,
    variables: () => ({ from: '2213-01-01T00:00:00Z', to: '2213-01-02T00:00:00Z' }),
  },
  {
    field: 'Query.usageReport', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($id: ID!, $from: DateTime!, $to: DateTime!) { usageReport(accountId: $id, from: $from, to: $to, granularity: DAY, timeZone: "Asia/Kolkata") { from to totals { consumed remaining } periods { start } } }`,
    variables: (f) => ({ id: f.accountId, from: '2213-01-01T00:00:00Z', to: '2213-01-02T00:00:00Z' }),
  },
  {
    // Vendor reconciliation and admin alerts are the operator's: ADMIN keys only (README, Platform report and vendor reconciliation).
    field: 'Mutation.importVendorInvoice', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($i: VendorInvoiceInput!) { importVendorInvoice(input: $i) { id flaggedRows } }`,
    variables: () => ({ i: { vendor: uniqueKey('matrix-vendor'), from: '2321-01-01T00:00:00Z', to: '2321-01-02T00:00:00Z', lines: [{ model: 'm', cost: '1', currency: 'USD' }] } }),
  },
  {
    field: 'Query.reconciliations', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query { reconciliations(first: 5) { edges { node { id vendor } } } }`,
    variables: () => ({}),
  },
  {
    field: 'Query.reconciliation', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query($id: ID!) { reconciliation(id: $id) { id } }`,
    variables: async () => ({ id: (await t.ok<{ importVendorInvoice: { id: string } }>(`mutation($i: VendorInvoiceInput!) { importVendorInvoice(input: $i) { id } }`, {
      i: { vendor: uniqueKey('matrix-vendor'), from: '2321-01-01T00:00:00Z', to: '2321-01-02T00:00:00Z', lines: [{ model: 'm', cost: '1', currency: 'USD' }] },
    })).importVendorInvoice.id }),
  },
  {
    field: 'Query.adminAlerts', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query { adminAlerts(first: 5) { edges { node { id kind } } } }`,
    variables: () => ({}),
  },
  {
    field: 'Mutation.markAdminAlertsRead', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `mutation($ids: [ID!]!) { markAdminAlertsRead(ids: $ids) }`,
    variables: () => ({ ids: [randomUUID()] }),
  },
  {
    field: 'Query.reviews', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query { reviews(status: OPEN, limit: 5) { id status rule } }`,
    variables: () => ({}),
  },
  {
    // An admin gets past the role check; the id names no review.
    field: 'Mutation.resolveReview', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, 'NOT_FOUND', FORBID, FORBID),
    operation: `mutation($input: ResolveReviewInput!) { resolveReview(input: $input) { id status } }`,
    variables: () => ({ input: { id: randomUUID(), approve: true, comment: 'access matrix' } }),
  },
  {
    field: 'Query.viewer', expected: { ...who(UNAUTH, UNAUTH, OK, OK, OK, OK, OK), otherPartner: OK },
    operation: `query { viewer { kind role accountId } }`,
    variables: () => ({}),
  },
  {
    // Any API key searches every account; a user token is refused even when the search names its own account.
    field: 'Query.accounts', expected: { ...who(UNAUTH, UNAUTH, OK, OK, OK, FORBID, FORBID), otherPartner: OK }, // OK, yet empty: another partner's account is not found (test/api/partners.test.ts)
    operation: `query($s: String) { accounts(search: $s, first: 5) { edges { node { id name } } } }`,
    variables: (f) => ({ s: f.accountId }),
  },
  {
    field: 'Query.recentFailedTransactions', expected: who(UNAUTH, UNAUTH, FORBID, FORBID, OK, FORBID, FORBID),
    operation: `query { recentFailedTransactions(first: 5) { id status failureCode } }`,
    variables: () => ({}),
  },
  {
    field: 'Subscription.walletEvents', expected: who(UNAUTH, 'closed 4403', OK, OK, OK, OK, FORBID),
    operation: `subscription($id: ID!) { walletEvents(accountId: $id, afterSequence: 0) { accountId sequence } }`,
    variables: (f) => ({ id: f.accountId }),
  },
  {
    // Without accountId: every account's alerts, admin only (test/api/live-alerts.test.ts).
    field: 'Subscription.lowCreditAlerts', expected: who(UNAUTH, 'closed 4403', OK, OK, OK, OK, FORBID),
    operation: `subscription($id: ID) { lowCreditAlerts(accountId: $id) { accountId kind } }`,
    variables: (f) => ({ id: f.accountId }),
    trigger: async (f) => {
      const services = t.app.services;
      await services.db.transaction((tx) => services.alerts.raise(tx, {
        accountId: f.accountId, kind: 'RUN_OUT_SOON', thresholdMillis: null, availableMillis: 1000, message: 'access matrix',
      }, t.clock.now()));
      services.events.publishAlerts(await services.alerts.list(f.accountId, true, null, 1)); // after commit, as jobs do
    },
  },
  // Teams: management by ADMIN or SERVICE keys; a member's own token reads its membership (README, Teams and member budgets).
  {
    field: 'Query.teamMember', expected: who(UNAUTH, UNAUTH, OK, OK, OK, OK, FORBID),
    operation: `query($t: ID!, $a: ID!) { teamMember(teamId: $t, accountId: $a) { accountId role budgetUsed } }`,
    variables: async (f) => ({ t: await teamOf(f), a: f.accountId }),
  },
  {
    field: 'Mutation.addTeamMember', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: AddTeamMemberInput!) { addTeamMember(input: $i) { accountId } }`,
    variables: async (f) => ({ i: { teamId: await createLike(f, 'matrix team', 'TEAM'), accountId: await createLike(f, 'matrix member', 'USER'), role: 'OWNER' } }),
  },
  {
    field: 'Mutation.updateTeamMember', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: UpdateTeamMemberInput!) { updateTeamMember(input: $i) { budget } }`,
    variables: async (f) => ({ i: { teamId: await teamOf(f), accountId: f.accountId, budget: '500' } }),
  },
  {
    field: 'Mutation.removeTeamMember', expected: who(UNAUTH, UNAUTH, FORBID, OK, OK, FORBID, FORBID),
    operation: `mutation($i: RemoveTeamMemberInput!) { removeTeamMember(input: $i) }`,
    variables: async (f) => {
      const teamId = await teamOf(f);
      const accountId = await createLike(f, 'matrix removable', 'USER');
      if (await accountExists(f.accountId)) await t.ok(`mutation($i: AddTeamMemberInput!) { addTeamMember(input: $i) { accountId } }`, { i: { teamId, accountId } });
      return { i: { teamId, accountId } };
    },
  },
];

/** An account created by the same key as the fixture's (so a partner's fixture gets its partner's accounts). */
async function createLike(f: Fixture, name: string, kind: 'USER' | 'TEAM'): Promise<string> {
  if (!f.creator) return t.createAccount(name, { kind });
  return (await t.ok<{ createAccount: { id: string } }>(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`, { i: { name, kind } }, f.creator)).createAccount.id;
}

/** The team a fixture's account is the OWNER of (made once; a ghost fixture's is an id naming nothing). */
const teams = new Map<string, string>();
async function accountExists(id: string): Promise<boolean> {
  return (await t.ok<{ account: { id: string } | null }>(`query($id: ID) { account(id: $id) { id } }`, { id })).account !== null;
}
async function teamOf(f: Fixture): Promise<string> {
  let teamId = teams.get(f.accountId);
  if (teamId) return teamId;
  if (!(await accountExists(f.accountId))) return randomUUID();
  teamId = await createLike(f, 'matrix team', 'TEAM');
  await t.ok(`mutation($i: AddTeamMemberInput!) { addTeamMember(input: $i) { accountId } }`, { i: { teamId, accountId: f.accountId, role: 'OWNER' } });
  teams.set(f.accountId, teamId);
  return teamId;
}

const BAD_TOKEN = 'garbage-bearer-token';
const MATRIX_PARTNER = uniqueKey('matrix-partner');
/** The volume price table (global: set in beforeAll so creditPrice has one, and again by its row). */
const PRICE_TIERS = { currency: 'USD', minimum: '10', maximum: '10000', tiers: [{ from: '10', unitPrice: '0.10' }, { from: '1000', unitPrice: '0.08' }] };
/** The pack purchases and auto top-ups name (created in beforeAll). */
const sharedPack = { code: '' };
/** Plans the subscription rows use (created in beforeAll). */
const plansUsed = { basic: '', pro: '' };
const tokens = {} as Record<'readonly' | 'service' | 'admin' | 'otherUser' | 'partnerKey' | 'otherPartner', string>;
const fixtures = {} as Record<Caller, Fixture>;

function tokenFor(caller: Caller, fixture: Fixture): Promise<string | null> | string | null {
  switch (caller) {
    case 'anonymous': return null;
    case 'badToken': return BAD_TOKEN;
    case 'ownUser': return t.userToken(fixture.accountId);
    default: return tokens[caller];
  }
}

function rootFieldOf(row: Row): { operation: OperationDefinitionNode; name: string } {
  const document = parse(row.operation);
  const [operation] = document.definitions as OperationDefinitionNode[];
  const [selection] = operation.selectionSet.selections;
  return { operation, name: selection.kind === Kind.FIELD ? selection.name.value : '' };
}

/** The refusal codes of a result, joined (one is expected). */
const codesOf = (errors: readonly { extensions?: Record<string, unknown> }[]) => errors.map((e) => {
  const code = e.extensions?.code;
  return typeof code === 'string' ? code : 'no code';
}).join(' + ');

async function overHttp(row: Row, variables: Variables, token: string | null): Promise<string> {
  const result = await t.gql<Record<string, unknown>>(row.operation, variables, token);
  if (result.errors?.length) return codesOf(result.errors);
  const value = result.data?.[rootFieldOf(row).name];
  // A batch answers its refusals per item (chargeBatch): those are the outcome.
  const itemErrors = (value as { results?: { error: { code: string } | null }[] } | null)?.results?.flatMap((r) => (r.error ? [{ extensions: { code: r.error.code } }] : []));
  if (itemErrors?.length) return codesOf(itemErrors);
  if (value === false) return 'false'; // a Boolean mutation that answers false did not do what was asked
  return value === null || value === undefined ? 'no data and no error' : OK;
}

/** What a subscription produces first: an event, its errors, or the socket being closed. */
async function overWs(row: Row, variables: Variables, token: string | null, fixture: Fixture): Promise<string> {
  const client: Client = t.ws(token);
  const field = rootFieldOf(row).name;
  let triggering: NodeJS.Timeout | undefined;
  let triggered: Promise<void> = Promise.resolve();
  try {
    return await new Promise<string>((resolve) => {
      const timer = setTimeout(() => resolve('nothing within 10 s'), 10_000);
      const done = (outcome: string) => { clearTimeout(timer); clearInterval(triggering); resolve(outcome); };
      if (row.trigger) triggering = setInterval(() => { triggered = row.trigger!(fixture).catch(() => {}); }, 200);
      client.subscribe<Record<string, { accountId: string } | undefined>>({ query: row.operation, variables }, {
        next: (value) => done(value.errors?.length ? codesOf(value.errors) : value.data?.[field]?.accountId === variables.id ? OK : 'an event of another account'),
        error: (error: unknown) => {
          if (Array.isArray(error)) done(codesOf(error));
          else if (error && typeof (error as { code?: unknown }).code === 'number') done(`closed ${(error as { code: number }).code}`);
          else done(`error: ${String(error)}`);
        },
        complete: () => done('completed without an event'),
      });
    });
  } finally {
    clearInterval(triggering);
    await triggered; // nothing written after the cell is over
    await client.dispose();
  }
}

async function outcomeOf(row: Row, caller: Caller, fixture: Fixture, variables: Variables): Promise<string> {
  const token = await tokenFor(caller, fixture);
  return row.field.startsWith('Subscription.') ? overWs(row, variables, token, fixture) : overHttp(row, variables, token);
}

/**
 * What a refused mutation must leave as it was: the targeted wallet (and its auto top-up), its newest
 * ledger record (FAILED included), purchase and alerts, and the current rate card.
 */
async function snapshot(accountId: string): Promise<string> {
  const data = await t.ok(`query($id: ID!) {
    wallet(accountId: $id) { balance held debt sequence overdraftLimit frozen lowCreditThresholds autoTopUp { enabled below maxPerMonth } }
    transactions(accountId: $id, first: 1) { edges { node { id } } }
    purchases(accountId: $id, first: 1) { edges { node { id status } } }
    alerts(accountId: $id, first: 5) { edges { node { id readAt } } }
    rateCard { version }
  }`, { id: accountId });
  return JSON.stringify(data);
}

beforeAll(async () => {
  t = await startTestApp({ paymentWebhookSecret: WEBHOOK_SECRET });
  // A current card pricing GENERATION, for rateCard and quotes.
  await t.ok(`mutation($id: ID!) { publishRateCard(draftId: $id) { version } }`, { id: await newDraft() });
  for (const [name, allowance] of [['basic', '10'], ['pro', '20']] as const) {
    plansUsed[name] = uniqueKey(`matrix-${name}`).toLowerCase();
    await t.ok(`mutation($i: PlanInput!) { createPlan(input: $i) { id } }`, { i: { code: plansUsed[name], name: `Matrix ${name}`, price: { amount: '1.00', currency: 'USD' }, allowance } });
  }
  await t.ok(`mutation($i: CreditPriceTiersInput!) { setCreditPriceTiers(input: $i) { version } }`, { i: PRICE_TIERS });
  sharedPack.code = await newPack();
  tokens.readonly = await t.key('READONLY');
  tokens.service = await t.key('SERVICE');
  tokens.admin = await t.key('ADMIN');
  tokens.otherUser = await t.userToken(await t.createAccount('access matrix, another account'));
  tokens.partnerKey = (await t.app.services.auth.createApiKey('access matrix, partner A', 'SERVICE', MATRIX_PARTNER)).secret;
  tokens.otherPartner = (await t.app.services.auth.createApiKey('access matrix, partner B', 'SERVICE', `${MATRIX_PARTNER}-other`)).secret;
  // Both partner callers act on accounts created by partner A's key.
  for (const caller of CALLERS) fixtures[caller] = await realFixture(caller === 'partnerKey' || caller === 'otherPartner' ? tokens.partnerKey : undefined);
});
afterAll(async () => { await t.close(); });

test('the matrix has exactly one row for every Query, Mutation and Subscription field of the running schema', async () => {
  // Introspection is open to anonymous callers (README), so this reads the schema exactly as served.
  type Fields = { fields: { name: string }[] } | null;
  const result = await t.gql<{ __schema: { queryType: Fields; mutationType: Fields; subscriptionType: Fields } }>(`{ __schema {
    queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } }
  } }`, {}, null);
  expect(result.errors).toBeUndefined();
  const schema = result.data!.__schema;
  const served = [
    ...(schema.queryType?.fields ?? []).map((f) => `Query.${f.name}`),
    ...(schema.mutationType?.fields ?? []).map((f) => `Mutation.${f.name}`),
    ...(schema.subscriptionType?.fields ?? []).map((f) => `Subscription.${f.name}`),
  ].sort();
  expect(ROWS.map((row) => row.field).sort()).toEqual(served);
});

test('each row exercises its own field, alone', () => {
  const mismatched = ROWS.filter((row) => {
    const { operation, name } = rootFieldOf(row);
    const type = { query: 'Query', mutation: 'Mutation', subscription: 'Subscription' }[operation.operation];
    return `${type}.${name}` !== row.field || operation.selectionSet.selections.length !== 1;
  });
  expect(mismatched.map((row) => row.field)).toEqual([]);
});

describe('who gets what', () => {
  test.each(ROWS.map((row) => [row.field, row] as const))('%s', async (_field, row) => {
    const actual = {} as Record<Caller, string>;
    for (const caller of CALLERS) {
      const fixture = fixtures[caller];
      const variables = await row.variables(fixture);
      const mutation = row.field.startsWith('Mutation.');
      const before = mutation && row.expected[caller] !== OK ? await snapshot(fixture.accountId) : null;
      let outcome = await outcomeOf(row, caller, fixture, variables);
      if (before !== null && (await snapshot(fixture.accountId)) !== before) outcome += ', yet something was written';
      actual[caller] = outcome;
    }
    expect(actual).toEqual(row.expected);
  });
});

/**
 * A role or credential refusal comes first, before any lookup: the same code when the ids name
 * nothing. (Not for a user token reading another account: with no such account there is nothing
 * to refuse, and reads answer null or NOT_FOUND.)
 */
describe('role refusals do not depend on the target existing', () => {
  const roleRefusal = (row: Row, caller: Caller) => {
    const expected = row.expected[caller];
    if (expected === UNAUTH || expected === 'closed 4403') return true;
    if (expected !== FORBID) return false;
    const readsAnAccount = row.expected.ownUser === OK && row.expected.otherUser === FORBID;
    return !(caller === 'otherUser' && readsAnAccount);
  };
  const cases = ROWS.filter((row) => CALLERS.some((caller) => roleRefusal(row, caller))).map((row) => [row.field, row] as const);

  test.each(cases)('%s', async (_field, row) => {
    const ghost = ghostFixture();
    const actual: Partial<Record<Caller, string>> = {};
    const expected: Partial<Record<Caller, Outcome>> = {};
    for (const caller of CALLERS.filter((c) => roleRefusal(row, c))) {
      actual[caller] = await outcomeOf(row, caller, ghost, await row.variables(ghost));
      expected[caller] = row.expected[caller];
    }
    expect(actual).toEqual(expected);
  });
});

/**
 * A partner key cannot tell another partner's account, or its holds, transactions, purchases and
 * alerts, from ids that name nothing: each not-found answer of `otherPartner` is exactly what the
 * same key gets for a ghost fixture (README, Partners).
 */
describe('another partner\'s ids answer as ids that name nothing', () => {
  const cases = ROWS.filter((row) => row.expected.otherPartner === NOT_FOUND || row.expected.otherPartner === 'HOLD_NOT_FOUND').map((row) => [row.field, row] as const);

  test.each(cases)('%s', async (_field, row) => {
    const ghost = ghostFixture();
    expect(await outcomeOf(row, 'otherPartner', ghost, await row.variables(ghost))).toBe(row.expected.otherPartner);
  });
});

test('a partner key using another partner\'s quote on its own account: NOT_FOUND, and nothing written (no FAILED row, no idempotency key)', async () => {
  const own = (await t.ok<{ createAccount: { id: string } }>(`mutation { createAccount(input: { name: "partner B's own" }) { id } }`, {}, tokens.otherPartner)).createAccount.id;
  await t.grant(own, '100');
  const quoteOfA = await fixtures.otherPartner.quote();
  const before = await snapshot(own);
  const keys = { charge: uniqueKey('p-charge'), hold: uniqueKey('p-hold') };
  const charge = `mutation($i: ChargeGenerationInput!) { chargeGeneration(input: $i) { id } }`;
  const reserve = `mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`;
  expect((await t.fails(charge, { i: { accountId: own, quoteId: quoteOfA, idempotencyKey: keys.charge } }, tokens.otherPartner)).extensions.code).toBe(NOT_FOUND);
  expect((await t.fails(reserve, { i: { accountId: own, quoteId: quoteOfA, idempotencyKey: keys.hold } }, tokens.otherPartner)).extensions.code).toBe(NOT_FOUND);
  expect(await snapshot(own)).toBe(before);
  expect(await t.history(own, { statuses: ['FAILED'] })).toEqual([]);
  // The idempotency keys were never stored: they serve a different, valid request now.
  await t.ok(charge, { i: { accountId: own, generation: GENERATION, idempotencyKey: keys.charge } }, tokens.otherPartner);
  await t.ok(reserve, { i: { accountId: own, amount: '1', idempotencyKey: keys.hold } }, tokens.otherPartner);
  // Partner A's quote is still unused: partner A's key charges with it.
  await t.ok(charge, { i: { accountId: fixtures.otherPartner.accountId, quoteId: quoteOfA, idempotencyKey: uniqueKey('p-a') } }, tokens.partnerKey);
});

test('alerts without an accountId (every account\'s) are for admins only', async () => {
  const query = `query { alerts(first: 1) { edges { node { id } } } }`;
  const actual = {} as Record<Caller, string>;
  for (const caller of CALLERS) {
    const result = await t.gql<{ alerts?: unknown }>(query, {}, await tokenFor(caller, fixtures[caller]));
    actual[caller] = result.errors?.length ? codesOf(result.errors) : result.data?.alerts ? OK : 'no data and no error';
  }
  expect(actual).toEqual({ anonymous: UNAUTH, badToken: UNAUTH, readonly: FORBID, service: FORBID, admin: OK, ownUser: FORBID, otherUser: FORBID, partnerKey: FORBID, otherPartner: FORBID });
});

test('markAlertsRead with a user token marks only its own account\'s alerts; another account\'s are refused and stay unread', async () => {
  const fixture = fixtures.ownUser;
  const alertId = await fixture.alert();
  const mark = `mutation($ids: [ID!]!) { markAlertsRead(ids: $ids) }`;
  const readAt = async () => (await t.ok<{ alerts: { edges: { node: { id: string; readAt: string | null } }[] } }>(
    `query($id: ID!) { alerts(accountId: $id, first: 50) { edges { node { id readAt } } } }`, { id: fixture.accountId },
  )).alerts.edges.find((e) => e.node.id === alertId)!.node.readAt;
  const otherOwn = await fixtures.otherUser.alert();
  const refused = await t.fails(mark, { ids: [otherOwn, alertId] }, tokens.otherUser);
  expect(refused.extensions.code).toBe('FORBIDDEN');
  expect(await readAt()).toBeNull();
  expect(await t.ok(mark, { ids: [alertId] }, await t.userToken(fixture.accountId))).toEqual({ markAlertsRead: 1 });
  expect(await readAt()).not.toBeNull();
  expect(await t.ok(mark, { ids: [alertId] }, tokens.service)).toEqual({ markAlertsRead: 0 }); // read already
});

test('after every cell the ledger audit is clean', async () => {
  await (t.app.services.purchases.paymentProvider as TestPaymentProvider).drained(); // the webhooks sendTestPaymentEvent asked for
  expect(await t.audit()).toEqual({ ok: true, violations: [] });
});
