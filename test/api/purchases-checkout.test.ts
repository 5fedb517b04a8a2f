/**
 * The test provider end to end over HTTP, as a buyer and the provider would: purchaseCredits gives a
 * checkout link; the checkout page pays or declines; the provider delivers the signed webhook to
 * /webhooks/payments by itself; the credits arrive once (or not at all).
 */
import { startTestApp, type TestApp } from '../helpers/harness';
import { purchaseSteps, WEBHOOK_SECRET } from '../helpers/purchases';
import type { TestPaymentProvider } from '../../src/modules/purchases';

let app: TestApp;
const steps = purchaseSteps(() => app);

beforeAll(async () => {
  app = await startTestApp({ paymentWebhookSecret: WEBHOOK_SECRET, testProviderDuplicatePercent: 100 });
});
afterAll(async () => app?.close());

async function checkout(url: string, choice?: 'pay' | 'decline'): Promise<{ status: number; html: string }> {
  const response = choice ? await fetch(`${url}/${choice}`, { method: 'POST' }) : await fetch(url);
  return { status: response.status, html: await response.text() };
}

test('pay on the checkout page: the webhook grants the pack once, even delivered twice', async () => {
  const accountId = await app.createAccount('buyer');
  const pack = await steps.createPack({ credits: '2500', price: { amount: '25.00', currency: 'USD' } });
  const token = await app.userToken(accountId);
  const purchase = await steps.buy(accountId, { packCode: pack.code }, token);
  expect(purchase).toMatchObject({ status: 'PENDING', credits: '2500', price: { amount: '25.00', currency: 'USD' }, provider: 'test', transaction: null });
  expect((await app.wallet(accountId)).balance).toBe('0');

  const page = await checkout(purchase.checkoutUrl!);
  expect(page.status).toBe(200);
  expect(page.html).toContain('25.00 USD');
  expect(page.html).toContain('id="pay"');
  const paid = await checkout(purchase.checkoutUrl!, 'pay');
  expect(paid.html).toContain('Payment accepted');

  const done = await steps.eventually(async () => {
    const p = await steps.purchase(purchase.id);
    return p.status === 'SUCCEEDED' ? p : null;
  });
  await (app.app.services.purchases.paymentProvider as TestPaymentProvider).drained(); // every event is delivered twice here
  expect(done.transaction).toMatchObject({ type: 'PURCHASE', amount: '2500' });
  expect((await steps.purchase(purchase.id)).events).toEqual([expect.objectContaining({ type: 'payment.succeeded', outcome: 'APPLIED' })]);
  const wallet = await app.wallet(accountId);
  expect(wallet.balance).toBe('2500');
  expect(wallet.buckets).toEqual([expect.objectContaining({ source: 'PURCHASE', amount: '2500', costPerCredit: '0.01', currency: 'USD', expiresAt: null })]);
  expect((await checkout(purchase.checkoutUrl!)).html).toContain('This purchase is succeeded');
  expect((await app.audit()).ok).toBe(true);
});

test('decline on the checkout page: the purchase fails and nothing is granted', async () => {
  const accountId = await app.createAccount('decliner');
  const pack = await steps.createPack();
  const purchase = await steps.buy(accountId, { packCode: pack.code });
  expect((await checkout(purchase.checkoutUrl!, 'decline')).html).toContain('Payment declined');
  const failed = await steps.eventually(async () => {
    const p = await steps.purchase(purchase.id);
    return p.status === 'FAILED' ? p : null;
  });
  expect(failed.transaction).toBeNull();
  expect((await app.wallet(accountId)).balance).toBe('0');
});

test('a checkout page for an unknown purchase is 404', async () => {
  expect((await checkout(`${app.url}/checkout/test/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
});

test('the webhook events of a page of purchases load in one statement, however many purchases', async () => {
  await (app.app.services.purchases.paymentProvider as TestPaymentProvider).drained(); // no delivery of an earlier test counts here
  const accountId = await app.createAccount('many purchases');
  const pack = await steps.createPack();
  for (let i = 0; i < 3; i += 1) await steps.buy(accountId, { packCode: pack.code });
  const page = `query Page($accountId: ID!, $first: Int) { purchases(accountId: $accountId, first: $first) { edges { node { id events { eventId } } } } }`;
  const one = await app.countQueries(() => app.ok(page, { accountId, first: 1 }));
  const three = await app.countQueries(() => app.ok(page, { accountId, first: 3 }));
  expect(three).toBe(one);
});
