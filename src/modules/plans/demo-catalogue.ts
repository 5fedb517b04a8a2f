/**
 * The demo catalogue loaded on first start (LOAD_DEMO, default on): the plans real AI products sell.
 * Plans that exist already (by code) are left as they are.
 */
import { parseCredits } from '../../shared/credits';
import { AppError } from '../../shared/errors';
import type { PlanTerms } from './plan-rules';
import type { PlansService } from './plans.service';

const c = (credits: string) => parseCredits(credits);
/** Premium models are gated to Pro and above. */
const STANDARD_MODELS = ['sdxl', 'flux-schnell', 'gpt-4o-mini', 'whisper-1', 'tts-1'];

export const DEMO_PLANS: { code: string; terms: PlanTerms }[] = [
  { code: 'free', terms: {
    name: 'Free', priceMinor: 0n, currency: 'USD', interval: 'MONTH', intervalCount: 1, allowanceMillis: c('1500'), rollover: 'NONE',
    rolloverCapMillis: null, overdraftLimitMillis: 0, tier: 'free', models: STANDARD_MODELS, actions: null,
    lowCreditThresholds: [c('300'), c('75')], lowCreditThresholdPercents: [], seats: 1,
  } },
  { code: 'basic', terms: {
    name: 'Basic', priceMinor: 999n, currency: 'USD', interval: 'MONTH', intervalCount: 1, allowanceMillis: c('500'), rollover: 'NONE',
    rolloverCapMillis: null, overdraftLimitMillis: 0, tier: 'basic', models: STANDARD_MODELS, actions: null,
    lowCreditThresholds: [c('100'), c('25')], lowCreditThresholdPercents: [], seats: 1,
  } },
  { code: 'pro', terms: {
    name: 'Pro', priceMinor: 4900n, currency: 'USD', interval: 'MONTH', intervalCount: 1, allowanceMillis: c('5000'), rollover: 'CAPPED',
    rolloverCapMillis: c('2500'), overdraftLimitMillis: c('100'), tier: 'pro', models: null, actions: null,
    lowCreditThresholds: [c('1000'), c('250')], lowCreditThresholdPercents: [], seats: 3,
  } },
  { code: 'enterprise', terms: {
    name: 'Enterprise', priceMinor: 39900n, currency: 'USD', interval: 'MONTH', intervalCount: 1, allowanceMillis: c('50000'), rollover: 'FULL',
    rolloverCapMillis: null, overdraftLimitMillis: c('5000'), tier: 'enterprise', models: null, actions: null,
    lowCreditThresholds: [c('10000'), c('2500')], lowCreditThresholdPercents: [], seats: 25,
  } },
];

export async function loadDemoCatalogue(plans: PlansService): Promise<void> {
  for (const { code, terms } of DEMO_PLANS) {
    if (await plans.find(code)) continue;
    try {
      await plans.create(code, terms, true);
    } catch (error) {
      // Another instance starting at the same time created it first: that is the same catalogue.
      if (!(error instanceof AppError && error.details.field === 'code')) throw error;
    }
  }
}
