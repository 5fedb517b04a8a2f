/**
 * Steps the purchase tests share: packs with unique codes (the PostgreSQL database is shared by every
 * test file), purchases, signed webhook deliveries, the test provider's checkout page, and waiting for
 * the asynchronous webhook to land.
 */
import { CreateCreditPackDocument, PurchaseCreditsDocument, PurchaseDocument, type CreditPackInput } from '../../src/client';
import { signatureHeader } from '../../src/modules/purchases/signature';
import { uniqueKey, type TestApp } from './harness';

export const WEBHOOK_SECRET = 'whsec_test_secret_for_purchase_tests';

export interface WebhookBody {
  id: string;
  type: string;
  data: { purchaseId: string; amount: string; currency: string };
}

export function purchaseSteps(app: () => TestApp) {
  const steps = {
    createPack: async (input: Partial<CreditPackInput> = {}) => {
      const code = uniqueKey('pack').toLowerCase();
      return (await app().op(CreateCreditPackDocument, {
        input: { code, name: `Pack ${code}`, credits: '100', price: { amount: '10.00', currency: 'USD' }, ...input },
      })).createCreditPack;
    },
    buy: async (accountId: string, what: { packCode?: string; credits?: string }, token?: string) => {
      return (await app().op(PurchaseCreditsDocument, { input: { accountId, ...what, idempotencyKey: uniqueKey('buy') } }, token)).purchaseCredits;
    },
    purchase: async (id: string) => {
      const found = (await app().op(PurchaseDocument, { id })).purchase;
      if (!found) throw new Error(`no purchase ${id}`);
      return found;
    },
    /** POSTs a webhook signed with `secret` at `timestampSeconds` (default: the server's clock now). */
    deliver: async (body: WebhookBody | string, options: { secret?: string; timestampSeconds?: number; header?: string | null } = {}) => {
      const raw = typeof body === 'string' ? body : JSON.stringify(body);
      const t = options.timestampSeconds ?? Math.floor(app().clock.now().getTime() / 1000);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      const header = options.header === undefined ? signatureHeader(options.secret ?? WEBHOOK_SECRET, t, raw) : options.header;
      if (header !== null) headers['credits-signature'] = header;
      const response = await fetch(`${app().url}/webhooks/payments`, { method: 'POST', body: raw, headers });
      return { status: response.status, body: await response.json() as Record<string, unknown> };
    },
    event: (purchase: { id: string; price: { amount: string; currency: string } }, type = 'payment.succeeded', id = uniqueKey('evt')): WebhookBody => ({
      id, type, data: { purchaseId: purchase.id, amount: purchase.price.amount, currency: purchase.price.currency },
    }),
    /** Polls until `check` returns a value (the provider delivers asynchronously); fails after ~15 s. */
    eventually: async <T>(check: () => Promise<T | null | undefined | false>): Promise<T> => {
      for (let i = 0; i < 300; i += 1) {
        const value = await check();
        if (value) return value;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('the condition did not come true in time');
    },
  };
  return steps;
}
