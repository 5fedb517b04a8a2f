export { PricingService, type QuoteView } from './pricing.service';
export { PricingResolver } from './pricing.resolver';
export { RateCardCache } from './rate-card.cache';
export { priceGeneration, validateRateCard, PricingInputError } from './pricing.engine';
export type { RateCardContent, RateDefinition } from './rate-card.model';
