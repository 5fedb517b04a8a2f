/** What other modules may use of plans. */
export { PlansService, type PeriodBilling, type PeriodPaymentRequest } from './plans.service';
export { PlansResolver, PlanSubscriptionResolver, SubscriptionPeriodResolver, AccountSubscriptionResolver } from './plans.resolver';
export type { PlanWithTerms, PlanVersionRow, SubscriptionRow } from './plans.repo';
export { loadDemoCatalogue } from './demo-catalogue';
