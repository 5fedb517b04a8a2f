/**
 * Shapes of the pricing JSON a transaction carries (`pricing` is a JSON scalar, so the generated
 * types say `unknown`). The tests assert the values; these only name them.
 */
export interface PricingLineItem {
  label: string;
  credits: string;
  kind: string;
}

export interface Pricing {
  rateCardVersion: number;
  quotedCredits: string | null;
  lineItems: PricingLineItem[];
}

export const pricingOf = (transaction: { pricing: unknown }): Pricing => transaction.pricing as Pricing;
