/**
 * The demo's packs and volume price table (LOAD_DEMO): what real AI products sell. Packs that exist
 * already (by code) are left as they are; the price table is set only when there is none.
 */
import { parseCredits } from '../../shared/credits';
import { AppError } from '../../shared/errors';
import type { PackTerms, PriceTable } from './purchase-rules';
import type { PurchasesService } from './purchases.service';

const c = (credits: string) => parseCredits(credits);
const usd = (credits: string, cents: bigint, name: string): PackTerms => ({ name, creditsMillis: c(credits), priceMinor: cents, currency: 'USD', expiresAfterDays: null });

export const DEMO_PACKS: { code: string; terms: PackTerms }[] = [
  { code: 'pack-20', terms: usd('20', 999n, '20 credits') },
  { code: 'pack-50', terms: usd('50', 1999n, '50 credits') },
  { code: 'pack-100', terms: usd('100', 3499n, '100 credits') },
  { code: 'pack-200', terms: usd('200', 5999n, '200 credits') },
  { code: 'pack-2500', terms: usd('2500', 2500n, '2,500 credits') },
];

/** $0.10 a credit, down to $0.06 in bulk. */
export const DEMO_PRICE_TABLE: PriceTable = {
  currency: 'USD', minimumMillis: c('10'), maximumMillis: c('1000000'),
  tiers: [
    { fromMillis: c('10'), unitPrice: '0.10' },
    { fromMillis: c('1000'), unitPrice: '0.08' },
    { fromMillis: c('10000'), unitPrice: '0.07' },
    { fromMillis: c('100000'), unitPrice: '0.06' },
  ],
};

export async function loadDemoPacks(purchases: PurchasesService): Promise<void> {
  const existing = new Set((await purchases.listPacks(true)).map((p) => p.code));
  for (const { code, terms } of DEMO_PACKS) {
    if (existing.has(code)) continue;
    try {
      await purchases.createPack(code, terms, true);
    } catch (error) {
      // Another instance starting at the same time created it first: that is the same pack.
      if (!(error instanceof AppError && error.details.field === 'code')) throw error;
    }
  }
  if (!(await purchases.priceTable())) await purchases.setPriceTable(DEMO_PRICE_TABLE);
}
