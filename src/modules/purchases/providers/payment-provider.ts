/**
 * A payment provider, as purchases see it: it takes a buyer to a checkout page, charges a saved
 * payment method off-session (auto top-up, plan periods), and reports every outcome by a signed
 * webhook to POST /webhooks/payments (never by a return value: the webhook is the one source of truth,
 * as it is with real providers).
 */
import type express from 'express';

/** What a provider needs to know of a purchase to take its payment. */
export interface PaymentRequest {
  purchaseId: string;
  accountId: string;
  /** Decimal text in the currency's units ("25.00"), and the ISO 4217 code. */
  amount: string;
  currency: string;
  description: string;
}

export interface PaymentProvider {
  readonly name: string;
  /** The page the buyer pays on. */
  checkoutUrl(request: PaymentRequest): string;
  /** Charges the account's saved payment method; the outcome arrives later by webhook. */
  chargeSaved(request: PaymentRequest): Promise<void>;
  /** Routes the provider serves on this server (the test provider's checkout pages). */
  mount?(app: express.Express): void;
  /** Stops pending work (deliveries in flight) when the server stops. */
  stop?(): Promise<void>;
}
