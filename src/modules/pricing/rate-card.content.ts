/** How a rate card is stored (jsonb): its rates and the action × model pairs it must price. */
import type { RateCardContent, RateDefinition, RatePair } from './rate-card.model';

export interface StoredRateCard {
  rates: RateDefinition[];
  requiredPairs: RatePair[];
}

export function readStored(content: unknown): StoredRateCard {
  const c = (content ?? {}) as Partial<StoredRateCard>;
  return { rates: Array.isArray(c.rates) ? c.rates : [], requiredPairs: Array.isArray(c.requiredPairs) ? c.requiredPairs : [] };
}

export function pricingContent(card: StoredRateCard): RateCardContent {
  return { rates: card.rates };
}

export const RATES_MAX = 1_000;
