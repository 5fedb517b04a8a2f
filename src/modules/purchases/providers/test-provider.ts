/**
 * The built-in test provider: no network beyond this server. Its checkout page (GET /checkout/test/:id)
 * lets the buyer pay or decline; its saved card pays at once unless an admin made the account's test
 * card decline (setTestPaymentCard). Either way it then behaves as a real provider does: it delivers a
 * signed webhook to /webhooks/payments asynchronously, retries with backoff while the answer is not 2xx,
 * and delivers some events twice.
 */
import { randomBytes, randomInt } from 'node:crypto';
import express from 'express';
import { logger } from '../../../shared/logger';
import { signatureHeader } from '../signature';
import type { PaymentProvider, PaymentRequest } from './payment-provider';

/** Delays before each retry of a delivery that did not get a 2xx (then it gives up, as providers do). */
export const DELIVERY_BACKOFF_MS = [200, 500, 1_000, 2_000, 5_000, 10_000, 30_000, 60_000];
const DELIVERY_TIMEOUT_MS = 10_000;

export interface TestProviderDeps {
  secret: string;
  /** The server's own base URL (known once it listens). */
  baseUrl: () => string;
  /** Seconds since the epoch, for the signature's timestamp (the server's clock). */
  nowSeconds: () => number;
  duplicatePercent: number;
  /** A purchase as the checkout page shows it; null when there is none. */
  describe: (purchaseId: string) => Promise<{ request: PaymentRequest; status: string } | null>;
  /** Whether the account's saved test card declines. */
  cardDeclines: (accountId: string) => Promise<boolean>;
}

export interface WebhookEvent {
  id: string;
  type: 'payment.succeeded' | 'payment.failed' | 'payment.refunded' | 'payment.disputed';
  data: { purchaseId: string; amount: string; currency: string };
}

export class TestPaymentProvider implements PaymentProvider {
  readonly name = 'test';
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: TestProviderDeps) {}

  checkoutUrl(request: PaymentRequest): string {
    return `${this.deps.baseUrl()}/checkout/test/${request.purchaseId}`;
  }

  async chargeSaved(request: PaymentRequest): Promise<void> {
    const declines = await this.deps.cardDeclines(request.accountId);
    this.send(event(declines ? 'payment.failed' : 'payment.succeeded', request));
  }

  /** Sends an event of the provider's own (also used for refunds and chargebacks an admin simulates). */
  send(webhook: WebhookEvent): void {
    this.deliver(webhook, 0);
    if (randomInt(100) < this.deps.duplicatePercent) this.later(() => this.deliver(webhook, 0), 20 + randomInt(200));
  }

  private later(fn: () => void, ms: number): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private deliver(webhook: WebhookEvent, attempt: number): void {
    if (this.stopped) return;
    const run = (async () => {
      const body = JSON.stringify(webhook);
      let status: number;
      try {
        const response = await fetch(`${this.deps.baseUrl()}/webhooks/payments`, {
          method: 'POST', body, signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS),
          headers: { 'content-type': 'application/json', 'credits-signature': signatureHeader(this.deps.secret, this.deps.nowSeconds(), body) },
        });
        status = response.status;
        await response.arrayBuffer();
      } catch {
        status = 0; // the server is away: retried like any other failure
      }
      if (status >= 200 && status < 300) return;
      if (attempt >= DELIVERY_BACKOFF_MS.length) {
        logger.warn('test provider gave up delivering a webhook', { eventId: webhook.id, status });
        return;
      }
      this.later(() => this.deliver(webhook, attempt + 1), DELIVERY_BACKOFF_MS[attempt]);
    })();
    this.inFlight.add(run);
    void run.finally(() => this.inFlight.delete(run));
  }

  mount(app: express.Express): void {
    const router = express.Router();
    router.get('/:id', async (req, res, next) => {
      try {
        const found = await this.deps.describe(req.params.id);
        if (!found) {
          res.status(404).type('html').send(page('Checkout not found', '<p>There is no purchase with this id.</p>'));
          return;
        }
        const { request, status } = found;
        const body = status === 'PENDING'
          ? `<p>${escapeHtml(request.description)}</p><p class="amount">${escapeHtml(request.amount)} ${escapeHtml(request.currency)}</p>
             <form method="post" action="${request.purchaseId}/pay"><button type="submit" id="pay">Pay</button></form>
             <form method="post" action="${request.purchaseId}/decline"><button type="submit" id="decline">Decline</button></form>`
          : `<p>${escapeHtml(request.description)}</p><p id="status">This purchase is ${escapeHtml(status.toLowerCase())}.</p>`;
        res.type('html').send(page('Test checkout', body));
      } catch (error) {
        next(error);
      }
    });
    router.post('/:id/:choice', async (req, res, next) => {
      try {
        const choice = req.params.choice;
        const found = await this.deps.describe(req.params.id);
        if (!found || (choice !== 'pay' && choice !== 'decline')) {
          res.status(404).type('html').send(page('Checkout not found', '<p>There is no such checkout.</p>'));
          return;
        }
        this.send(event(choice === 'pay' ? 'payment.succeeded' : 'payment.failed', found.request));
        const said = choice === 'pay' ? 'Payment accepted: the credits arrive in a moment.' : 'Payment declined: nothing was charged.';
        res.type('html').send(page('Test checkout', `<p id="result">${said}</p><p><a href="../${found.request.purchaseId}">Back to the purchase</a></p>`));
      } catch (error) {
        next(error);
      }
    });
    app.use('/checkout/test', router);
  }

  /** Waits until every delivery (retries and duplicates too) has ended. */
  async drained(): Promise<void> {
    while (this.timers.size > 0 || this.inFlight.size > 0) {
      await Promise.allSettled([...this.inFlight]);
      if (this.timers.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Stops retries and waits for deliveries in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.inFlight]);
  }
}

export function event(type: WebhookEvent['type'], request: PaymentRequest): WebhookEvent {
  return { id: `evt_test_${randomBytes(12).toString('hex')}`, type, data: { purchaseId: request.purchaseId, amount: request.amount, currency: request.currency } };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:3rem auto}.amount{font-size:2rem}button{font-size:1.1rem;margin:.3rem 0}</style>
</head><body><h1>${title}</h1><p><small>Built-in test payment provider: no money moves.</small></p>${body}</body></html>`;
}
