export { PricingService } from './pricing.service';
export { PricingResolver } from './pricing.resolver';
export { RateCardCache } from './rate-card.cache';
