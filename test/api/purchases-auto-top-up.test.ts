/**
 * Auto top-up through the API, with the test provider's saved card (it pays at once, or declines when an
 * admin says so): a committed charge that leaves `available` below the level makes one AUTO_TOP_UP purchase
 * after commit; never two pending; at most maxPerMonth a calendar month; three unpaid ones in a row turn
 * the rule off with an AUTO_TOP_UP_FAILED alert; the charge itself never waits for any of it.
 *
 * The clock lives in March–April 2157 (this file's own months: the payment jobs act on every due row of a
 * shared PostgreSQL, and the monthly cap counts by the clock).
 */
import {
  AlertsDocument, AutoTopUpDocument, ChargeDocument, PurchasesDocument, SetAutoTopUpDocument, SetCreditPriceTiersDocument,
  SetTestPaymentCardDocument, type AutoTopUpInput,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { purchaseSteps, WEBHOOK_SECRET } from '../helpers/purchases';
import type { TestPaymentProvider } from '../../src/modules/purchases';
import type { PaymentRequest } from '../../src/modules/purchases/providers/payment-provider';

let app: TestApp;
const steps = purchaseSteps(() => app);

beforeAll(async () => {
  app = await startTestApp({ paymentWebhookSecret: WEBHOOK_SECRET });
  app.clock.set(new Date('2157-03-10T12:00:00.000Z'));
});
afterAll(async () => app?.close());

const provider = () => app.app.services.purchases.paymentProvider as TestPaymentProvider;

/** Until nothing is left to do: auto top-up checks, payment requests, webhook deliveries (duplicates and retries too). */
async function idle(): Promise<void> {
  const purchases = app.app.services.purchases;
  const background = (purchases as unknown as { background: Set<unknown> }).background;
  do {
    await purchases.settled();
    await provider().drained();
  } while (background.size > 0);
}

async function charge(accountId: string, amount: string, token?: string) {
  return (await app.op(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('atu-charge') } }, token)).charge;
}

async function setRule(input: Partial<AutoTopUpInput> & { accountId: string }, token?: string) {
  return (await app.op(SetAutoTopUpDocument, { input: { enabled: true, below: '50', maxPerMonth: 3, ...input } }, token)).setAutoTopUp;
}

async function rule(accountId: string) {
  return (await app.op(AutoTopUpDocument, { accountId })).wallet!.autoTopUp;
}

/** The account's purchases, oldest first. */
async function purchasesOf(accountId: string) {
  return (await app.op(PurchasesDocument, { accountId, first: 100 })).purchases.edges.map((e) => e.node).reverse();
}

async function alertsOf(accountId: string) {
  return (await app.op(AlertsDocument, { accountId, first: 50 })).alerts.edges.map((e) => e.node);
}

/** An account with `credits` and an auto top-up buying a fresh pack of `packCredits` (for $`price`). */
async function accountWithRule(credits: string, packCredits: string, price: string, input: Omit<Partial<AutoTopUpInput>, 'accountId'> = {}) {
  const accountId = await app.createAccount('auto top-up');
  if (credits !== '0') await app.grant(accountId, credits, { source: 'PROMO' });
  const pack = await steps.createPack({ credits: packCredits, price: { amount: price, currency: 'USD' } });
  await setRule({ accountId, packCode: pack.code, ...input });
  await idle();
  return { accountId, pack };
}

/** While `during` runs, the provider is asked for off-session payments but does not answer (they stay PENDING). */
async function withSilentProvider<T>(during: (asked: PaymentRequest[]) => Promise<T>): Promise<T> {
  const p = provider();
  const real = p.chargeSaved.bind(p);
  const asked: PaymentRequest[] = [];
  p.chargeSaved = async (request) => { asked.push(request); };
  try {
    return await during(asked);
  } finally {
    p.chargeSaved = real;
  }
}

test('a charge that leaves available below the level buys the pack once, after the charge', async () => {
  const { accountId, pack } = await accountWithRule('60', '100', '10.00');
  expect(await purchasesOf(accountId)).toEqual([]); // 60 is not below 50

  const charged = await charge(accountId, '15');
  expect(charged).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '45', availableAfter: '45' });
  await idle();

  const made = await purchasesOf(accountId);
  expect(made).toEqual([expect.objectContaining({
    kind: 'AUTO_TOP_UP', status: 'SUCCEEDED', credits: '100', price: { amount: '10.00', currency: 'USD' }, checkoutUrl: null,
    pack: { code: pack.code, name: pack.name }, transaction: expect.objectContaining({ type: 'PURCHASE', amount: '100' }) as unknown,
  })]);
  const wallet = await app.wallet(accountId);
  expect({ balance: wallet.balance, available: wallet.available }).toEqual({ balance: '145', available: '145' });
  expect(wallet.buckets.map((b) => `${b.source} ${b.remaining}`)).toEqual(['PROMO 45', 'PURCHASE 100']);
  expect((await app.history(accountId)).map((tx) => tx.type)).toEqual(['PURCHASE', 'CHARGE', 'GRANT']);

  // Charges that stay at or above the level buy nothing more.
  await charge(accountId, '95');
  await idle();
  expect(await purchasesOf(accountId)).toHaveLength(1);
  expect((await rule(accountId))).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledReason: null });
  expect((await app.audit()).ok).toBe(true);
});

test('target mode buys up to the target at the volume price', async () => {
  await app.op(SetCreditPriceTiersDocument, {
    input: { currency: 'USD', minimum: '10', maximum: '100000', tiers: [{ from: '10', unitPrice: '0.10' }, { from: '100', unitPrice: '0.08' }] },
  });
  const accountId = await app.createAccount('auto top-up to a target');
  await app.grant(accountId, '60', { source: 'PROMO' });
  const set = await setRule({ accountId, targetBalance: '200' });
  expect(set.autoTopUp).toMatchObject({ enabled: true, below: '50', targetBalance: '200', pack: null, maxPerMonth: 3 });

  await charge(accountId, '24.5'); // available 35.5: 164.5 credits up to 200, at the 100+ tier's $0.08
  await idle();
  expect(await purchasesOf(accountId)).toEqual([expect.objectContaining({
    kind: 'AUTO_TOP_UP', status: 'SUCCEEDED', credits: '164.5', price: { amount: '13.16', currency: 'USD' }, pack: null,
  })]);
  expect((await app.wallet(accountId)).available).toBe('200');

  // Only a little short of a nearer target: the table's minimum (10 credits at $0.10), not the 6 short.
  await setRule({ accountId, targetBalance: '55' });
  await charge(accountId, '151');
  await idle();
  const made = await purchasesOf(accountId);
  expect(made.map((p) => `${p.status} ${p.credits} ${p.price.amount}`)).toEqual(['SUCCEEDED 164.5 13.16', 'SUCCEEDED 10 1.00']);
  expect((await app.wallet(accountId)).available).toBe('59');
});

test('at most maxPerMonth top-ups in a calendar month; the next month may buy again', async () => {
  app.clock.set(new Date('2157-03-20T08:00:00.000Z'));
  const { accountId } = await accountWithRule('55', '10', '1.50', { maxPerMonth: 2 });
  const dip = async () => {
    await charge(accountId, '10');
    await idle();
    return (await purchasesOf(accountId)).length;
  };
  expect(await dip()).toBe(1); // 45 → 55
  expect(await dip()).toBe(2); // 45 → 55
  expect(await dip()).toBe(2); // 45: the cap
  expect(await dip()).toBe(2); // 35
  app.clock.set(new Date('2157-03-31T23:59:59.999Z'));
  expect(await dip()).toBe(2); // 25: still March
  app.clock.set(new Date('2157-04-01T00:00:00.000Z'));
  expect(await dip()).toBe(3); // 15 → 25: April's first
  expect((await purchasesOf(accountId)).every((p) => p.status === 'SUCCEEDED' && p.kind === 'AUTO_TOP_UP')).toBe(true);
  expect((await app.wallet(accountId)).available).toBe('25');
});

test('one top-up per dip: a paid top-up that leaves available still below the level does not buy again', async () => {
  const { accountId } = await accountWithRule('60', '10', '1.50', { maxPerMonth: 10 });
  await charge(accountId, '40'); // 20 → 30 after the top-up: still below 50
  await idle();
  expect((await purchasesOf(accountId)).map((p) => p.status)).toEqual(['SUCCEEDED']);
  expect((await app.wallet(accountId)).available).toBe('30');
  await charge(accountId, '1'); // the next dip buys the next one
  await idle();
  expect((await purchasesOf(accountId)).map((p) => p.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  expect((await app.wallet(accountId)).available).toBe('39');
});

test('no stacking: concurrent charges, and dips while one is pending, never make a second purchase', async () => {
  const { accountId } = await accountWithRule('100', '100', '10.00', { maxPerMonth: 10 });
  await withSilentProvider(async (asked) => {
    // 20 charges at once, most of them below the level.
    const charges = await Promise.all(Array.from({ length: 20 }, () => charge(accountId, '3')));
    expect(charges.every((c) => c.status === 'SUCCEEDED')).toBe(true);
    await idle();
    expect((await purchasesOf(accountId)).map((p) => p.status)).toEqual(['PENDING']);
    // More dips while it waits for its payment.
    await charge(accountId, '5');
    await charge(accountId, '5');
    await idle();
    // And checks at the same time, as several server instances would make them.
    const check = (app.app.services.purchases as unknown as { runAutoTopUp(id: string, hint: number | null): Promise<void> }).runAutoTopUp.bind(app.app.services.purchases);
    await Promise.all(Array.from({ length: 8 }, () => check(accountId, null)));
    await idle();
    const made = await purchasesOf(accountId);
    expect(made.map((p) => p.status)).toEqual(['PENDING']);
    expect(asked.filter((r) => r.accountId === accountId).map((r) => r.purchaseId)).toEqual([made[0].id]); // asked of the provider once
    expect((await app.wallet(accountId)).available).toBe('30');
    // The provider answers at last.
    expect((await steps.deliver(steps.event(made[0]))).status).toBe(200);
  });
  await idle();
  expect((await purchasesOf(accountId)).map((p) => p.status)).toEqual(['SUCCEEDED']);
  expect((await app.wallet(accountId)).available).toBe('130');
  await charge(accountId, '90'); // a new dip: a new purchase
  await idle();
  expect((await purchasesOf(accountId)).map((p) => p.status)).toEqual(['SUCCEEDED', 'SUCCEEDED']);
  expect((await app.wallet(accountId)).available).toBe('140');
  expect((await app.audit()).ok).toBe(true);
});

test('the charge never waits for the top-up: it returns while the provider has not answered', async () => {
  const { accountId } = await accountWithRule('60', '100', '10.00');
  let open!: () => void;
  const gate = new Promise<void>((resolve) => { open = resolve; });
  const p = provider();
  const real = p.chargeSaved.bind(p);
  p.chargeSaved = async (request) => { await gate; return real(request); };
  try {
    const charged = await charge(accountId, '20');
    expect(charged).toMatchObject({ status: 'SUCCEEDED', availableAfter: '40' });
    const pending = await steps.eventually(async () => (await purchasesOf(accountId)).find((x) => x.status === 'PENDING'));
    expect(pending.kind).toBe('AUTO_TOP_UP');
    expect((await charge(accountId, '1')).status).toBe('SUCCEEDED'); // and the next one neither
  } finally {
    open();
    p.chargeSaved = real;
  }
  await idle();
  expect((await purchasesOf(accountId)).map((x) => x.status)).toEqual(['SUCCEEDED']);
  expect((await app.wallet(accountId)).available).toBe('139');
});

test('the breaker: three unpaid top-ups in a row turn the rule off with an AUTO_TOP_UP_FAILED alert', async () => {
  const { accountId } = await accountWithRule('60', '100', '10.00', { maxPerMonth: 10 });
  await app.op(SetTestPaymentCardDocument, { accountId, declines: true });
  const dip = async (amount: string) => {
    // The charge succeeds however the card answers.
    expect(await charge(accountId, amount)).toMatchObject({ status: 'SUCCEEDED' });
    await idle();
    return { statuses: (await purchasesOf(accountId)).map((p) => p.status), rule: await rule(accountId) };
  };
  expect(await dip('15')).toMatchObject({ statuses: ['FAILED'], rule: { enabled: true, consecutiveFailures: 1 } });
  expect(await dip('1')).toMatchObject({ statuses: ['FAILED', 'FAILED'], rule: { enabled: true, consecutiveFailures: 2 } });
  // A paid one in between starts the count again.
  await app.op(SetTestPaymentCardDocument, { accountId, declines: false });
  expect(await dip('1')).toMatchObject({ statuses: ['FAILED', 'FAILED', 'SUCCEEDED'], rule: { enabled: true, consecutiveFailures: 0 } });
  await app.op(SetTestPaymentCardDocument, { accountId, declines: true });
  expect(await dip('100')).toMatchObject({ rule: { enabled: true, consecutiveFailures: 1 } }); // available 43
  expect(await dip('1')).toMatchObject({ rule: { enabled: true, consecutiveFailures: 2 } });
  expect(await alertsOf(accountId)).toEqual([]);
  const tripped = await dip('1');
  expect(tripped.statuses).toEqual(['FAILED', 'FAILED', 'SUCCEEDED', 'FAILED', 'FAILED', 'FAILED']);
  expect(tripped.rule).toMatchObject({ enabled: false, consecutiveFailures: 3, disabledReason: expect.stringContaining('3 auto top-ups in a row') as unknown });
  const alerts = await alertsOf(accountId);
  expect(alerts).toEqual([expect.objectContaining({ kind: 'AUTO_TOP_UP_FAILED', accountId, threshold: '50', available: '41', readAt: null })]);

  // Off: dips buy nothing any more.
  expect((await dip('1')).statuses).toHaveLength(6);
  expect((await dip('1')).statuses).toHaveLength(6);
  expect(await alertsOf(accountId)).toHaveLength(1);

  // Turned on again (the card fixed): the count starts over and the wallet, still below the level, is topped up.
  await app.op(SetTestPaymentCardDocument, { accountId, declines: false });
  const again = await setRule({ accountId, packCode: (await rule(accountId))!.pack!.code, maxPerMonth: 10 });
  expect(again.autoTopUp).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledReason: null });
  await idle();
  expect((await purchasesOf(accountId)).map((p) => p.status)).toEqual(['FAILED', 'FAILED', 'SUCCEEDED', 'FAILED', 'FAILED', 'FAILED', 'SUCCEEDED']);
  expect(await rule(accountId)).toMatchObject({ enabled: true, consecutiveFailures: 0 });
  expect((await app.wallet(accountId)).available).toBe('139');
  expect((await app.audit()).ok).toBe(true);
});

test('turning it on while already below the level tops up at once; turning it off stops it', async () => {
  const accountId = await app.createAccount('auto top-up, switched');
  await app.grant(accountId, '20', { source: 'PROMO' });
  const pack = await steps.createPack({ credits: '10', price: { amount: '1.00', currency: 'USD' } });
  await setRule({ accountId, packCode: pack.code, enabled: false });
  await charge(accountId, '1');
  await idle();
  expect(await purchasesOf(accountId)).toEqual([]);
  await setRule({ accountId, packCode: pack.code });
  await idle();
  expect((await purchasesOf(accountId)).map((p) => p.status)).toEqual(['SUCCEEDED']);
  await setRule({ accountId, packCode: pack.code, enabled: false });
  await charge(accountId, '1');
  await idle();
  expect(await purchasesOf(accountId)).toHaveLength(1);
});

describe('bad input and access', () => {
  let accountId: string;
  let packCode: string;
  beforeAll(async () => {
    accountId = await app.createAccount('auto top-up input');
    packCode = (await steps.createPack()).code;
  });

  const refused = async (input: Partial<AutoTopUpInput>, token?: string) => {
    const error = await app.opFails(SetAutoTopUpDocument, { input: { accountId, enabled: true, below: '50', maxPerMonth: 3, ...input } }, token);
    return error.errors[0].extensions as { code: string; problems?: { field: string }[] };
  };

  test('both or neither of packCode and targetBalance, maxPerMonth out of range: every problem listed', async () => {
    expect(await refused({ packCode, targetBalance: '100' })).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'packCode' }] });
    expect(await refused({})).toMatchObject({ code: 'BAD_USER_INPUT', problems: [{ field: 'packCode' }] });
    const all = await refused({ maxPerMonth: 0, targetBalance: '40' });
    expect(all.code).toBe('BAD_USER_INPUT');
    expect(all.problems!.map((p) => p.field).sort()).toEqual(['maxPerMonth', 'targetBalance']);
    const three = await refused({ maxPerMonth: 101, packCode, targetBalance: '10' });
    expect(three.problems!.map((p) => p.field).sort()).toEqual(['maxPerMonth', 'packCode', 'targetBalance']);
    expect((await refused({ packCode, maxPerMonth: -1 })).problems!.map((p) => p.field)).toEqual(['maxPerMonth']);
    expect((await refused({ packCode, below: '-1' })).code).toBe('BAD_USER_INPUT');
    expect(await rule(accountId)).toBeNull();
  });

  test('an unknown or archived pack is NOT_FOUND', async () => {
    expect((await refused({ packCode: 'no-such-pack-' + Date.now() })).code).toBe('NOT_FOUND');
    const archived = await steps.createPack({ active: false });
    expect((await refused({ packCode: archived.code })).code).toBe('NOT_FOUND');
    expect((await app.opFails(SetAutoTopUpDocument, { input: { accountId: '00000000-0000-4000-8000-000000000000', enabled: true, below: '5', packCode } })).errors[0].extensions?.code).toBe('NOT_FOUND');
    expect(await rule(accountId)).toBeNull();
  });

  test('a user token sets its own account\'s rule only; a READONLY key none', async () => {
    const own = await app.userToken(accountId);
    const other = await app.userToken(await app.createAccount('someone else'));
    expect((await refused({ packCode }, other)).code).toBe('FORBIDDEN');
    expect((await refused({ packCode }, await app.key('READONLY'))).code).toBe('FORBIDDEN');
    expect(await rule(accountId)).toBeNull();
    expect((await setRule({ accountId, packCode, enabled: false }, own)).autoTopUp).toMatchObject({ enabled: false, below: '50', pack: { code: packCode } });
    expect((await setRule({ accountId, packCode, below: '7', enabled: false }, await app.key('SERVICE'))).autoTopUp).toMatchObject({ below: '7' });
  });
});
