/**
 * Buying credits through GraphQL, confirmed by signed webhooks over real HTTP: the pack catalogue
 * (admin), the volume price of custom amounts, purchases (PENDING until paid, idempotent, a user buys
 * for its own account only), the purchases connection, and every answer of POST /webhooks/payments:
 * refused without a valid signature (nothing written), recorded for review when it does not match a
 * purchase, exactly once per event id, failed payments, refunds and chargebacks that take the credits
 * back (spent ones become debt), and PENDING purchases canceled after their TTL.
 *
 * Webhooks are delivered here by the test itself (`deliver`), synchronously, so each answer is seen.
 */
import { randomUUID } from 'node:crypto';
import {
  ArchiveCreditPackDocument, CreateCreditPackDocument, CreditPacksDocument, CreditPriceDocument, CreditPriceTiersDocument,
  PaymentEventsForReviewDocument, PurchaseCreditsDocument, PurchasesDocument, SetCreditPriceTiersDocument, UpdateCreditPackDocument,
  UpdateWalletDocument, type CreditPriceTiersInput, type PurchasesQuery,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { planSteps } from '../helpers/plans';
import { purchaseSteps, WEBHOOK_SECRET } from '../helpers/purchases';
import { signatureHeader } from '../../src/modules/purchases/signature';

const TTL_SECONDS = 3600;
/**
 * The whole file runs in 1971 (no other file uses it; webhook timestamps must stay positive): on a
 * shared PostgreSQL database, the payments job this file runs reaches only purchases past their TTL
 * by then (this file's own), not other files' (dated later). Review events are read per purchase.
 */
const FILE_CLOCK = new Date('1971-03-01T00:00:00Z');
let app: TestApp;
const steps = purchaseSteps(() => app);
const plans = planSteps(() => app);

beforeAll(async () => {
  app = await startTestApp({ paymentWebhookSecret: WEBHOOK_SECRET, purchasePendingTtlSeconds: TTL_SECONDS });
  app.clock.set(FILE_CLOCK);
});
afterAll(async () => {
  await app?.app.services.purchases.settled();
  await app?.close();
});

const nowSeconds = () => Math.floor(app.clock.now().getTime() / 1000);
const reviewed = async (purchaseId: string) => (await app.op(PaymentEventsForReviewDocument, { purchaseId })).paymentEventsForReview;
const buyFails = (input: { accountId: string; packCode?: string; credits?: string; idempotencyKey?: string }, token?: string | null) =>
  app.opFails(PurchaseCreditsDocument, { input: { idempotencyKey: uniqueKey('buy'), ...input } }, token);

/** $0.10 a credit from 10, $0.08 from 1,000, $0.06 from 10,000; at most 100,000 credits. */
const TIERS: CreditPriceTiersInput = {
  currency: 'USD', minimum: '10', maximum: '100000',
  tiers: [{ from: '10', unitPrice: '0.10' }, { from: '1000', unitPrice: '0.08' }, { from: '10000', unitPrice: '0.06' }],
};
const setTiers = async (input: CreditPriceTiersInput = TIERS) => (await app.op(SetCreditPriceTiersDocument, { input })).setCreditPriceTiers;

/** A fresh account that bought a fresh pack and paid for it (the webhook applied). */
async function paidPurchase(credits = '100', extra: { expiresAfterDays?: number } = {}) {
  const accountId = await app.createAccount('buyer');
  const pack = await steps.createPack({ credits, ...extra });
  const purchase = await steps.buy(accountId, { packCode: pack.code });
  const answer = await steps.deliver(steps.event(purchase));
  expect(answer).toEqual({ status: 200, body: { received: true, outcome: 'APPLIED', reason: null } });
  return { accountId, pack, purchase };
}

describe('credit packs (admin)', () => {
  test('create, list the active ones, update, archive; an archived pack cannot be bought', async () => {
    // AED sorts first and 0.01 is the lowest price: listed even in a shared database full of packs.
    const code = `0${uniqueKey('pack').toLowerCase()}`;
    const created = (await app.op(CreateCreditPackDocument, {
      input: { code, name: '  Starter  ', credits: '20', price: { amount: '0.01', currency: 'AED' }, expiresAfterDays: 30 },
    })).createCreditPack;
    expect(created).toMatchObject({ code, name: 'Starter', credits: '20', price: { amount: '0.01', currency: 'AED' }, expiresAfterDays: 30, active: true });
    const listed = async (includeArchived?: boolean) => (await app.op(CreditPacksDocument, { includeArchived })).creditPacks.find((p) => p.code === code);
    expect(await listed()).toEqual(created);

    const updated = (await app.op(UpdateCreditPackDocument, { code, input: { name: 'Starter 25', credits: '25', expiresAfterDays: 0 } })).updateCreditPack;
    expect(updated).toMatchObject({ id: created.id, code, name: 'Starter 25', credits: '25', price: { amount: '0.01', currency: 'AED' }, expiresAfterDays: null, active: true });
    expect(await listed()).toEqual(updated);

    const accountId = await app.createAccount('archive buyer');
    const bought = await steps.buy(accountId, { packCode: code });
    expect(bought).toMatchObject({ credits: '25', price: { amount: '0.01', currency: 'AED' }, pack: { code } });

    const archived = (await app.op(ArchiveCreditPackDocument, { code })).archiveCreditPack;
    expect(archived).toMatchObject({ code, active: false });
    expect(await listed()).toBeUndefined();
    expect(await listed(true)).toMatchObject({ code, active: false });
    expect((await buyFails({ accountId, packCode: code })).code).toBe('NOT_FOUND');
    // A purchase made before keeps its pack and can still be paid.
    expect(await steps.deliver(steps.event(bought))).toMatchObject({ status: 200, body: { outcome: 'APPLIED' } });
    expect((await app.wallet(accountId)).balance).toBe('25');
    // Archiving again is allowed (still archived); updating an unknown pack is NOT_FOUND.
    expect((await app.op(ArchiveCreditPackDocument, { code })).archiveCreditPack.active).toBe(false);
    expect((await app.opFails(ArchiveCreditPackDocument, { code: uniqueKey('none').toLowerCase() })).code).toBe('NOT_FOUND');
  });

  test('a price change applies to purchases made from then on; one made before keeps its price', async () => {
    const accountId = await app.createAccount('repriced');
    const pack = await steps.createPack({ credits: '100', price: { amount: '10.00', currency: 'USD' } });
    const before = await steps.buy(accountId, { packCode: pack.code });
    await app.op(UpdateCreditPackDocument, { code: pack.code, input: { price: { amount: '12.50', currency: 'USD' } } });
    const after = await steps.buy(accountId, { packCode: pack.code });
    expect(after.price).toEqual({ amount: '12.50', currency: 'USD' });
    expect((await steps.purchase(before.id)).price).toEqual({ amount: '10.00', currency: 'USD' });
    expect((await steps.deliver(steps.event(before))).body).toMatchObject({ outcome: 'APPLIED' });
    expect((await app.wallet(accountId)).buckets).toEqual([expect.objectContaining({ source: 'PURCHASE', amount: '100', costPerCredit: '0.1', currency: 'USD' })]);
  });

  test('only an admin manages packs; anyone signed in lists them', async () => {
    const accountId = await app.createAccount('not admin');
    const pack = await steps.createPack();
    const input = { code: uniqueKey('pack').toLowerCase(), name: 'x', credits: '1', price: { amount: '1.00', currency: 'USD' } };
    for (const token of [await app.key('SERVICE'), await app.key('READONLY'), await app.userToken(accountId)]) {
      expect((await app.opFails(CreateCreditPackDocument, { input }, token)).code).toBe('FORBIDDEN');
      expect((await app.opFails(UpdateCreditPackDocument, { code: pack.code, input: { name: 'hijacked' } }, token)).code).toBe('FORBIDDEN');
      expect((await app.opFails(ArchiveCreditPackDocument, { code: pack.code }, token)).code).toBe('FORBIDDEN');
      expect((await app.opFails(CreditPacksDocument, { includeArchived: true }, token)).code).toBe('FORBIDDEN');
      expect((await app.op(CreditPacksDocument, {}, token)).creditPacks.length).toBeGreaterThan(0);
    }
    expect((await app.opFails(CreditPacksDocument, {}, null)).code).toBe('UNAUTHENTICATED');
    expect((await app.op(CreditPacksDocument, { includeArchived: true })).creditPacks.find((p) => p.code === input.code)).toBeUndefined();
    expect((await app.op(CreditPacksDocument, { includeArchived: true })).creditPacks.find((p) => p.code === pack.code)?.name).toBe(pack.name);
  });

  test('an invalid pack is BAD_USER_INPUT listing every problem, and nothing is created', async () => {
    const code = 'Not A Code';
    const error = await app.opFails(CreateCreditPackDocument, {
      input: { code, name: ' ', credits: '0', price: { amount: '0.00', currency: 'USD' }, expiresAfterDays: 0 },
    });
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.extensions.field).toBe('code');
    expect((error.extensions.problems as { field: string }[]).map((p) => p.field)).toEqual(['code', 'name', 'credits', 'price.amount', 'expiresAfterDays']);
    for (const field of ['code', 'name', 'credits', 'price.amount', 'expiresAfterDays']) expect(error.message).toContain(`${field}:`);
    expect((await app.op(CreditPacksDocument, { includeArchived: true })).creditPacks.find((p) => p.code === code)).toBeUndefined();

    // A price that is not one (too many decimals for the currency, an unknown currency) is listed with the rest.
    const badAmount = await app.opFails(CreateCreditPackDocument, { input: { code, name: '', credits: '1', price: { amount: '9.999', currency: 'USD' } } });
    expect((badAmount.extensions.problems as { field: string }[]).map((p) => p.field)).toEqual(['code', 'name', 'price.amount']);
    const badCurrency = await app.opFails(CreateCreditPackDocument, { input: { code, name: 'ok', credits: '0', price: { amount: '1', currency: 'XYZ' } } });
    expect((badCurrency.extensions.problems as { field: string }[]).map((p) => p.field)).toEqual(['code', 'credits', 'price.currency']);

    // An update is checked the same way and changes nothing.
    const pack = await steps.createPack();
    const refused = await app.opFails(UpdateCreditPackDocument, {
      code: pack.code, input: { name: '', credits: '-1', price: { amount: '1.5.0', currency: 'USD' }, expiresAfterDays: 100_000 },
    });
    expect(refused.code).toBe('BAD_USER_INPUT');
    expect((refused.extensions.problems as { field: string }[]).map((p) => p.field)).toEqual(['name', 'credits', 'price.amount', 'expiresAfterDays']);
    expect((await app.op(CreditPacksDocument, {})).creditPacks.find((p) => p.code === pack.code)).toEqual(pack);

    // A code already taken.
    const taken = await app.opFails(CreateCreditPackDocument, { input: { code: pack.code, name: 'again', credits: '1', price: { amount: '1.00', currency: 'USD' } } });
    expect([taken.code, taken.extensions.field]).toEqual(['BAD_USER_INPUT', 'code']);
  });
});

describe('custom amounts at volume prices', () => {
  test('setCreditPriceTiers, then creditPrice at the tier boundaries; out-of-range amounts are refused', async () => {
    const set = await setTiers();
    expect(set).toMatchObject({ currency: 'USD', minimum: '10', maximum: '100000', tiers: TIERS.tiers });
    expect((await app.op(CreditPriceTiersDocument, {})).creditPriceTiers).toEqual(set);
    const accountId = await app.createAccount('price reader');
    const token = await app.userToken(accountId);
    const price = async (credits: string) => (await app.op(CreditPriceDocument, { credits }, token)).creditPrice;
    const cases: [string, string][] = [
      ['10', '1.00'], ['10.05', '1.01'], ['999.999', '100.00'], ['1000', '80.00'], ['1234.5', '98.76'],
      ['9999.999', '800.00'], ['10000', '600.00'], ['100000', '6000.00'],
    ];
    for (const [credits, amount] of cases) expect([credits, await price(credits)]).toEqual([credits, { amount, currency: 'USD' }]);

    for (const credits of ['9.999', '100000.001', '0', '-5']) {
      const error = await app.opFails(CreditPriceDocument, { credits });
      expect([credits, error.code, error.extensions.field]).toEqual([credits, 'BAD_USER_INPUT', 'credits']);
    }
    // More than 3 decimals is not an amount of credits at all.
    const tooPrecise = await app.opFails(CreditPriceDocument, { credits: '10.0001' });
    expect(tooPrecise.code).toBe('BAD_USER_INPUT');
    expect((await buyFails({ accountId, credits: '10.0001' })).code).toBe('BAD_USER_INPUT');
    expect((await buyFails({ accountId, credits: '100000.001' })).code).toBe('BAD_USER_INPUT');
    expect((await buyFails({ accountId, credits: '0' })).code).toBe('BAD_USER_INPUT');
  });

  test('an invalid tier table is BAD_USER_INPUT listing every problem, and the current table stays', async () => {
    const current = await setTiers();
    const error = await app.opFails(SetCreditPriceTiersDocument, {
      input: { currency: 'usd', minimum: '10', maximum: '5', tiers: [{ from: '20', unitPrice: '0.1234567' }, { from: '20', unitPrice: '0' }] },
    });
    expect(error.code).toBe('BAD_USER_INPUT');
    expect((error.extensions.problems as { field: string }[]).map((p) => p.field)).toEqual([
      'currency', 'maximum', 'tiers[0].unitPrice', 'tiers[0].from', 'tiers[0].from', 'tiers[1].unitPrice', 'tiers[1].from', 'tiers[1].from',
    ]);
    expect((await app.op(CreditPriceTiersDocument, {})).creditPriceTiers).toEqual(current);
    expect((await app.opFails(SetCreditPriceTiersDocument, { input: TIERS }, await app.key('SERVICE'))).code).toBe('FORBIDDEN');
  });

  test('a custom purchase is priced by the tiers and granted at its cost per credit', async () => {
    await setTiers();
    const accountId = await app.createAccount('custom buyer');
    const purchase = await steps.buy(accountId, { credits: '1234.5' });
    expect(purchase).toMatchObject({ kind: 'CUSTOM', credits: '1234.5', price: { amount: '98.76', currency: 'USD' }, pack: null, status: 'PENDING' });
    await steps.deliver(steps.event(purchase));
    expect((await app.wallet(accountId)).buckets).toEqual([
      expect.objectContaining({ source: 'PURCHASE', amount: '1234.5', costPerCredit: '0.08', currency: 'USD', expiresAt: null }),
    ]);
  });
});

describe('purchaseCredits', () => {
  test('a PENDING purchase with its price and checkout link; the wallet does not change', async () => {
    const accountId = await app.createAccount('pending');
    await app.grant(accountId, '5');
    const before = await app.wallet(accountId);
    const pack = await steps.createPack({ credits: '50', price: { amount: '19.99', currency: 'USD' } });
    const purchase = await steps.buy(accountId, { packCode: pack.code }, await app.userToken(accountId));
    expect(purchase).toMatchObject({
      accountId, kind: 'PACK', credits: '50', price: { amount: '19.99', currency: 'USD' }, status: 'PENDING', provider: 'test',
      checkoutUrl: `${app.url}/checkout/test/${purchase.id}`, transaction: null, reversalTransaction: null, failureReason: null, pack: { code: pack.code },
    });
    expect(Date.parse(purchase.expiresAt) - Date.parse(purchase.createdAt)).toBe(TTL_SECONDS * 1000);
    expect(await app.wallet(accountId)).toEqual(before);
    expect((await steps.purchase(purchase.id)).events).toEqual([]);
  });

  test('exactly one of packCode and credits', async () => {
    await setTiers();
    const accountId = await app.createAccount('one of');
    const pack = await steps.createPack();
    expect((await buyFails({ accountId, packCode: pack.code, credits: '100' })).code).toBe('BAD_USER_INPUT');
    expect((await buyFails({ accountId })).code).toBe('BAD_USER_INPUT');
    expect((await buyFails({ accountId, packCode: pack.code, idempotencyKey: '' })).code).toBe('BAD_USER_INPUT');
    expect((await app.op(PurchasesDocument, { accountId })).purchases.edges).toEqual([]);
  });

  test('the same idempotency key returns the same purchase; with another request it is IDEMPOTENCY_KEY_REUSED', async () => {
    const accountId = await app.createAccount('idempotent');
    const pack = await steps.createPack();
    const other = await steps.createPack();
    const idempotencyKey = uniqueKey('buy');
    const first = (await app.op(PurchaseCreditsDocument, { input: { accountId, packCode: pack.code, idempotencyKey } })).purchaseCredits;
    const again = (await app.op(PurchaseCreditsDocument, { input: { accountId, packCode: pack.code, idempotencyKey } })).purchaseCredits;
    expect(again).toEqual(first);
    expect((await buyFails({ accountId, packCode: other.code, idempotencyKey })).code).toBe('IDEMPOTENCY_KEY_REUSED');
    await setTiers();
    expect((await buyFails({ accountId, credits: '100', idempotencyKey })).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect((await app.op(PurchasesDocument, { accountId })).purchases.edges.map((e) => e.node.id)).toEqual([first.id]);
    // A replay still answers after the pack was archived (the purchase stands as it was made).
    await app.op(ArchiveCreditPackDocument, { code: pack.code });
    expect((await app.op(PurchaseCreditsDocument, { input: { accountId, packCode: pack.code, idempotencyKey } })).purchaseCredits).toEqual(first);
  });

  test('who may buy: a user for its own account only, never a READONLY key; an unknown account is NOT_FOUND', async () => {
    const mine = await app.createAccount('mine');
    const theirs = await app.createAccount('theirs');
    const pack = await steps.createPack();
    const token = await app.userToken(mine);
    expect((await steps.buy(mine, { packCode: pack.code }, token)).accountId).toBe(mine);
    expect((await buyFails({ accountId: theirs, packCode: pack.code }, token)).code).toBe('FORBIDDEN');
    expect((await buyFails({ accountId: mine, packCode: pack.code }, await app.key('READONLY'))).code).toBe('FORBIDDEN');
    expect((await steps.buy(theirs, { packCode: pack.code }, await app.key('SERVICE'))).accountId).toBe(theirs);
    expect((await buyFails({ accountId: mine, packCode: pack.code }, null)).code).toBe('UNAUTHENTICATED');
    expect((await buyFails({ accountId: '00000000-0000-4000-8000-000000000000', packCode: pack.code })).code).toBe('NOT_FOUND');
    expect((await buyFails({ accountId: 'not-a-uuid', packCode: pack.code })).code).toBe('NOT_FOUND');
    expect((await buyFails({ accountId: mine, packCode: uniqueKey('none').toLowerCase() })).code).toBe('NOT_FOUND');
    // The user sees its own purchases only.
    expect((await app.op(PurchasesDocument, { accountId: mine }, token)).purchases.edges).toHaveLength(1);
    expect((await app.opFails(PurchasesDocument, { accountId: theirs }, token)).code).toBe('FORBIDDEN');
    expect((await app.op(PurchasesDocument, { accountId: theirs })).purchases.edges).toHaveLength(1);
  });

  test('purchases(accountId) is a connection, newest first', async () => {
    const accountId = await app.createAccount('pager');
    const pack = await steps.createPack();
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await steps.buy(accountId, { packCode: pack.code })).id);
    const newestFirst = [...ids].reverse();
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page += 1) {
      const { purchases }: PurchasesQuery = await app.op(PurchasesDocument, { accountId, first: 2, after });
      seen.push(...purchases.edges.map((e) => e.node.id));
      expect(purchases.pageInfo.hasNextPage).toBe(page < 2);
      expect(purchases.pageInfo.endCursor).toBe(purchases.edges.at(-1)!.cursor);
      after = purchases.pageInfo.endCursor ?? null;
    }
    expect(seen).toEqual(newestFirst);
    expect((await app.op(PurchasesDocument, { accountId, first: 10 })).purchases).toMatchObject({ pageInfo: { hasNextPage: false } });
    expect((await app.op(PurchasesDocument, { accountId: await app.createAccount('none') })).purchases).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
  });
});

describe('POST /webhooks/payments', () => {
  test('a bad, missing or malformed signature answers 400 and writes nothing', async () => {
    const accountId = await app.createAccount('unsigned');
    const purchase = await steps.buy(accountId, { packCode: (await steps.createPack()).code });
    const event = steps.event(purchase);
    const refusals = [
      await steps.deliver(event, { secret: 'whsec_wrong' }),
      await steps.deliver(event, { header: null }),
      await steps.deliver(event, { header: 'garbage' }),
      await steps.deliver(event, { header: `t=${nowSeconds()}` }),
      await steps.deliver(event, { timestampSeconds: nowSeconds() - 301 }),
      await steps.deliver(event, { timestampSeconds: nowSeconds() + 301 }),
    ];
    expect(refusals.map((r) => r.status)).toEqual([400, 400, 400, 400, 400, 400]);
    expect(refusals.map((r) => r.body.error)).toEqual([
      'signature does not match', 'missing Credits-Signature header', expect.stringMatching(/^malformed/), expect.stringMatching(/^malformed/),
      expect.stringMatching(/^timestamp more than 300 s/), expect.stringMatching(/^timestamp more than 300 s/),
    ]);
    // A body altered after signing: the signature of the original on a body with a bigger amount.
    const raw = JSON.stringify(event);
    const signed = signatureHeader(WEBHOOK_SECRET, nowSeconds(), raw);
    expect((await steps.deliver(raw.replace('"10.00"', '"1.00"'), { header: signed })).status).toBe(400);

    const after = await steps.purchase(purchase.id);
    expect(after).toMatchObject({ status: 'PENDING', transaction: null, events: [] });
    expect((await app.wallet(accountId)).balance).toBe('0');
    expect((await reviewed(purchase.id)).some((e) => e.eventId === event.id)).toBe(false);
    // The same event, signed properly within the tolerance, still takes effect: nothing was claimed before.
    expect((await steps.deliver(event, { timestampSeconds: nowSeconds() - 299 })).body).toMatchObject({ outcome: 'APPLIED' });
    expect((await app.wallet(accountId)).balance).toBe('100');
  });

  test('a body that is not an event, with a valid signature, answers 400 and writes nothing', async () => {
    for (const body of ['not json', '[]', 'null', '{"type":"payment.succeeded"}', JSON.stringify({ id: 42, type: 'payment.succeeded' })]) {
      const answer = await steps.deliver(body);
      expect([body, answer.status]).toEqual([body, 400]);
    }
  });

  test('an event for an unknown purchase answers 200 and is recorded for review', async () => {
    const unknown = { id: randomUUID(), price: { amount: '10.00', currency: 'USD' } };
    const event = steps.event(unknown);
    const answer = await steps.deliver(event);
    expect(answer).toEqual({ status: 200, body: { received: true, outcome: 'REVIEW', reason: `no purchase with id ${unknown.id}` } });
    expect(await reviewed(unknown.id)).toContainEqual(expect.objectContaining({ eventId: event.id, provider: 'test', type: 'payment.succeeded', purchaseId: unknown.id, outcome: 'REVIEW' }));
    // Delivered again: the same event id is not recorded twice.
    expect((await steps.deliver(event)).body).toMatchObject({ outcome: 'IGNORED' });
    expect((await reviewed(unknown.id)).filter((e) => e.eventId === event.id)).toHaveLength(1);
    // An id that is not a purchase id at all, and an event naming no purchase.
    const garbled = { ...steps.event(unknown), data: { ...event.data, purchaseId: 'nope' } };
    expect((await steps.deliver(garbled)).body).toMatchObject({ outcome: 'REVIEW' });
    const nameless = { id: uniqueKey('evt'), type: 'payment.succeeded', data: {} } as unknown as typeof event;
    expect((await steps.deliver(nameless)).body).toMatchObject({ outcome: 'REVIEW', reason: 'the event names no purchase' });
    // Only an admin reads the review list.
    expect((await app.opFails(PaymentEventsForReviewDocument, {}, await app.key('SERVICE'))).code).toBe('FORBIDDEN');
  });

  test('an amount or currency that differs answers 200, goes to review, and grants nothing', async () => {
    const accountId = await app.createAccount('mismatch');
    const purchase = await steps.buy(accountId, { packCode: (await steps.createPack()).code });
    const cheaper = steps.event({ ...purchase, price: { amount: '1.00', currency: 'USD' } });
    const euros = steps.event({ ...purchase, price: { amount: '10.00', currency: 'EUR' } });
    const unformatted = steps.event({ ...purchase, price: { amount: '10', currency: 'USD' } });
    for (const event of [cheaper, euros, unformatted]) {
      const answer = await steps.deliver(event);
      expect(answer).toMatchObject({ status: 200, body: { outcome: 'REVIEW' } });
      expect(answer.body.reason).toContain('the purchase is 10.00 USD');
    }
    const after = await steps.purchase(purchase.id);
    expect(after).toMatchObject({ status: 'PENDING', transaction: null });
    expect(after.events.map((e) => [e.eventId, e.outcome])).toEqual([[cheaper.id, 'REVIEW'], [euros.id, 'REVIEW'], [unformatted.id, 'REVIEW']]);
    expect((await reviewed(purchase.id)).map((e) => e.eventId)).toEqual(expect.arrayContaining([cheaper.id, euros.id, unformatted.id]));
    expect((await app.wallet(accountId)).balance).toBe('0');
  });

  test('payment.succeeded grants a PURCHASE bucket with its cost basis, linked to the purchase, once per event id', async () => {
    const { accountId, purchase } = await paidPurchase('200');
    const paid = await steps.purchase(purchase.id);
    expect(paid).toMatchObject({ status: 'SUCCEEDED', failureReason: null, transaction: { type: 'PURCHASE', amount: '200' } });
    expect(paid.events).toEqual([expect.objectContaining({ type: 'payment.succeeded', outcome: 'APPLIED', reason: null })]);
    const wallet = await app.wallet(accountId);
    expect(wallet).toMatchObject({ balance: '200', available: '200', debt: '0' });
    expect(wallet.buckets).toEqual([expect.objectContaining({ source: 'PURCHASE', amount: '200', remaining: '200', costPerCredit: '0.05', currency: 'USD', expiresAt: null })]);
    const history = await app.history(accountId);
    expect(history.map((t) => t.type)).toEqual(['PURCHASE']);
    expect(history[0].id).toBe(paid.transaction!.id);

    // The same event id again (a provider's retry or duplicate): IGNORED, still one grant.
    const event = paid.events[0];
    const again = await steps.deliver({ id: event.eventId, type: 'payment.succeeded', data: { purchaseId: purchase.id, amount: '10.00', currency: 'USD' } });
    expect(again).toEqual({ status: 200, body: { received: true, outcome: 'IGNORED', reason: 'event already received' } });
    // Another event id saying the same: the purchase is already paid.
    const second = await steps.deliver(steps.event(purchase));
    expect(second.body).toMatchObject({ outcome: 'IGNORED', reason: 'the purchase is already paid' });
    expect((await app.wallet(accountId)).balance).toBe('200');
    expect((await app.history(accountId)).map((t) => t.type)).toEqual(['PURCHASE']);
    expect((await steps.purchase(purchase.id)).events.map((e) => e.outcome)).toEqual(['APPLIED', 'IGNORED']);
  });

  test('concurrent duplicate deliveries of one event grant once', async () => {
    const accountId = await app.createAccount('duplicates');
    const purchase = await steps.buy(accountId, { packCode: (await steps.createPack()).code });
    const event = steps.event(purchase);
    const answers = await Promise.all(Array.from({ length: 5 }, () => steps.deliver(event)));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
    expect(answers.map((a) => a.body.outcome).sort()).toEqual(['APPLIED', 'IGNORED', 'IGNORED', 'IGNORED', 'IGNORED']);
    expect((await app.wallet(accountId)).balance).toBe('100');
    expect((await app.history(accountId)).map((t) => t.type)).toEqual(['PURCHASE']);
  });

  test('a payment into debt repays the debt first (DEBT_REPAYMENT)', async () => {
    const accountId = await app.createAccount('indebted');
    await app.op(UpdateWalletDocument, { input: { accountId, overdraftLimit: '50' } });
    await plans.charge(accountId, '30');
    expect(await app.wallet(accountId)).toMatchObject({ balance: '-30', debt: '30' });
    const purchase = await steps.buy(accountId, { packCode: (await steps.createPack({ credits: '100' })).code });
    await steps.deliver(steps.event(purchase));
    const wallet = await app.wallet(accountId);
    expect(wallet).toMatchObject({ balance: '70', debt: '0' });
    expect(wallet.buckets).toEqual([expect.objectContaining({ source: 'PURCHASE', amount: '100', remaining: '70', costPerCredit: '0.1', currency: 'USD' })]);
    const history = await app.history(accountId);
    expect(history.map((t) => t.type)).toEqual(['DEBT_REPAYMENT', 'PURCHASE', 'CHARGE']);
    // The repayment moves 30 of the new credits onto the debt: the balance does not change, the debt does.
    expect(history[0]).toMatchObject({ amount: '0', debtChange: '-30', balanceAfter: '70', relatedTransactionId: history[1].id });
    expect(history[0].entries).toEqual(expect.arrayContaining([expect.objectContaining({ bucketSource: 'PURCHASE', amount: '-30' })]));
    expect((await steps.purchase(purchase.id)).transaction).toMatchObject({ id: history[1].id, type: 'PURCHASE', amount: '100' });
    expect((await app.audit()).ok).toBe(true);
  });

  test('payment.failed marks the purchase FAILED and grants nothing; a late failure of a paid purchase is ignored', async () => {
    const accountId = await app.createAccount('declined');
    const purchase = await steps.buy(accountId, { packCode: (await steps.createPack()).code });
    expect((await steps.deliver(steps.event(purchase, 'payment.failed'))).body).toMatchObject({ outcome: 'APPLIED' });
    expect(await steps.purchase(purchase.id)).toMatchObject({ status: 'FAILED', failureReason: 'the payment failed', transaction: null });
    expect((await app.wallet(accountId)).balance).toBe('0');
    expect((await steps.deliver(steps.event(purchase, 'payment.failed'))).body).toMatchObject({ outcome: 'IGNORED' });

    const { accountId: payer, purchase: paid } = await paidPurchase();
    expect((await steps.deliver(steps.event(paid, 'payment.failed'))).body).toMatchObject({ outcome: 'IGNORED', reason: 'the purchase is already succeeded' });
    expect(await steps.purchase(paid.id)).toMatchObject({ status: 'SUCCEEDED' });
    expect((await app.wallet(payer)).balance).toBe('100');
  });

  test.each([
    ['payment.refunded', 'refunded'],
    ['payment.disputed', 'charged back'],
  ])('%s of a paid purchase takes the unspent credits back and the spent ones become debt', async (type, how) => {
    const { accountId, purchase } = await paidPurchase('100');
    await plans.charge(accountId, '40');
    expect((await steps.deliver(steps.event(purchase, type))).body).toMatchObject({ outcome: 'APPLIED' });
    const after = await steps.purchase(purchase.id);
    expect(after).toMatchObject({ status: 'SUCCEEDED', reversalTransaction: { type: 'REVERSAL', debtChange: '40' } });
    const wallet = await app.wallet(accountId);
    expect(wallet).toMatchObject({ balance: '-40', debt: '40', available: '-40', buckets: [] });
    const history = await app.history(accountId);
    expect(history.map((t) => t.type)).toEqual(['REVERSAL', 'CHARGE', 'PURCHASE']);
    expect(history[0]).toMatchObject({ id: after.reversalTransaction!.id, relatedTransactionId: after.transaction!.id });
    expect(history[0].comment).toContain(`purchase ${purchase.id} ${how} by the provider: 60 unspent credits taken back, 40 already spent became debt`);
    // The same refund again, or the other kind after it: nothing more is taken.
    expect((await steps.deliver(steps.event(purchase, type))).body).toMatchObject({ outcome: 'IGNORED' });
    expect((await steps.deliver(steps.event(purchase, 'payment.disputed'))).body).toMatchObject({ outcome: 'IGNORED' });
    expect(await app.wallet(accountId)).toMatchObject({ balance: '-40', debt: '40' });
    expect(await app.audit()).toEqual({ ok: true, violations: [] });
  });

  test('a refund of an unspent purchase takes everything back and leaves no debt', async () => {
    const { accountId, purchase } = await paidPurchase('100');
    await steps.deliver(steps.event(purchase, 'payment.refunded'));
    expect(await app.wallet(accountId)).toMatchObject({ balance: '0', debt: '0', buckets: [] });
    expect((await steps.purchase(purchase.id)).reversalTransaction).toMatchObject({ type: 'REVERSAL', debtChange: '0' });
  });

  test('a refund or chargeback of an unpaid purchase goes to review and changes nothing', async () => {
    const accountId = await app.createAccount('unpaid refund');
    const purchase = await steps.buy(accountId, { packCode: (await steps.createPack()).code });
    for (const type of ['payment.refunded', 'payment.disputed']) {
      const event = steps.event(purchase, type);
      const answer = await steps.deliver(event);
      expect(answer.body).toMatchObject({ outcome: 'REVIEW' });
      expect(answer.body.reason).toContain('a purchase that is pending');
      expect((await reviewed(purchase.id)).map((e) => e.eventId)).toContain(event.id);
    }
    expect(await steps.purchase(purchase.id)).toMatchObject({ status: 'PENDING', reversalTransaction: null });
    expect(await app.wallet(accountId)).toMatchObject({ balance: '0', debt: '0' });
  });

  test('an event type the server does not act on is answered 200 and ignored', async () => {
    const accountId = await app.createAccount('other event');
    const purchase = await steps.buy(accountId, { packCode: (await steps.createPack()).code });
    expect((await steps.deliver(steps.event(purchase, 'payment.created'))).body).toMatchObject({ outcome: 'IGNORED' });
    expect(await steps.purchase(purchase.id)).toMatchObject({ status: 'PENDING' });
  });

  test('a pack with expiresAfterDays grants credits that expire that many days after the payment', async () => {
    const { accountId } = await paidPurchase('100', { expiresAfterDays: 30 });
    const paidAt = app.clock.now();
    const [bucket] = (await app.wallet(accountId)).buckets;
    expect(bucket).toMatchObject({ source: 'PURCHASE', amount: '100' });
    expect(Date.parse(bucket.expiresAt!)).toBe(paidAt.getTime() + 30 * 86_400_000);
  });
});

describe('the pending TTL', () => {
  // Last in the file: the clock moves on.
  test('a PENDING purchase is CANCELED once its TTL has passed; a payment arriving later is still honored', async () => {
    const accountId = await app.createAccount('slow payer');
    const pack = await steps.createPack();
    const slow = await steps.buy(accountId, { packCode: pack.code });
    const late = await steps.buy(accountId, { packCode: pack.code });
    expect(slow.expiresAt).toBe(new Date(app.clock.now().getTime() + TTL_SECONDS * 1000).toISOString());

    app.clock.advanceSeconds(TTL_SECONDS - 1);
    await app.app.services.purchases.runPayments();
    expect((await steps.purchase(slow.id)).status).toBe('PENDING');

    app.clock.advanceSeconds(1);
    // Earlier runs' PENDING purchases are past their TTL too (a shared database): run until ours are reached.
    const pending = async () => (await Promise.all([slow.id, late.id].map(steps.purchase))).some((p) => p.status === 'PENDING');
    for (let i = 0; i < 20 && await pending(); i += 1) await app.app.services.purchases.runPayments();
    expect(await steps.purchase(slow.id)).toMatchObject({ status: 'CANCELED', failureReason: `no payment within ${TTL_SECONDS} s`, transaction: null });
    expect((await app.wallet(accountId)).balance).toBe('0');

    // The money was taken after all: the payment is honored and said so.
    const answer = await steps.deliver(steps.event(late));
    expect(answer.body).toMatchObject({ outcome: 'APPLIED', reason: 'paid after it was canceled: honored' });
    expect(await steps.purchase(late.id)).toMatchObject({ status: 'SUCCEEDED', failureReason: null });
    expect((await app.wallet(accountId)).balance).toBe('100');
  });
});
