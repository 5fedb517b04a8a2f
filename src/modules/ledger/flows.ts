/**
 * What each ledger transaction adds to the report figures: the one rule behind usage_daily,
 * usage_quarterly and every report (pure; test/unit/ledger.flows.test.ts). Every figure is a
 * non-negative amount of credits except the two changes, and on every transaction
 *
 *   balanceChange = allocated + purchased + granted + refunded − consumed − expired − reversed
 *
 * (a rollover, a debt repayment, a hold and a release move credits without changing the balance).
 * Credits in are classed by the source of the bucket they go to: PLAN_ALLOWANCE is allocated,
 * PURCHASE is purchased, any other source (PROMO, ADJUSTMENT, REFUND, ROLLOVER granted by an admin)
 * is granted. Consumption is classed by the bucket that paid: PURCHASE is purchased credits, any other
 * bucket is free, and the debt part (overdraft) is neither.
 */
import { assert } from '../../shared/assert';
import { sumDecimals } from '../../shared/decimal';
import { badInput } from '../../shared/errors';
import type { BucketSourceName, TransactionTypeName } from '../../db/schema';

export interface FlowFigures {
  consumedMillis: number;
  consumedFreeMillis: number;
  consumedPurchasedMillis: number;
  /** Charges and captures: 1 for one, else 0. */
  transactions: number;
  refundedMillis: number;
  allocatedMillis: number;
  purchasedMillis: number;
  grantedMillis: number;
  expiredMillis: number;
  reversedMillis: number;
  carriedForwardMillis: number;
  balanceChangeMillis: number;
  debtChangeMillis: number;
}

export const FLOW_KEYS = [
  'consumedMillis', 'consumedFreeMillis', 'consumedPurchasedMillis', 'transactions', 'refundedMillis', 'allocatedMillis',
  'purchasedMillis', 'grantedMillis', 'expiredMillis', 'reversedMillis', 'carriedForwardMillis', 'balanceChangeMillis', 'debtChangeMillis',
] as const satisfies readonly (keyof FlowFigures)[];

export function zeroFlows(): FlowFigures {
  return {
    consumedMillis: 0, consumedFreeMillis: 0, consumedPurchasedMillis: 0, transactions: 0, refundedMillis: 0, allocatedMillis: 0,
    purchasedMillis: 0, grantedMillis: 0, expiredMillis: 0, reversedMillis: 0, carriedForwardMillis: 0, balanceChangeMillis: 0, debtChangeMillis: 0,
  };
}

/** Adds `delta` into `into` (every key). */
export function addFlows(into: FlowFigures, delta: Readonly<FlowFigures>): FlowFigures {
  for (const key of FLOW_KEYS) into[key] += delta[key];
  return into;
}

export interface FlowEntry {
  millis: number;
  /** The source of the bucket the entry moves; null for the debt. */
  source: BucketSourceName | null;
}

export interface FlowTransaction {
  type: TransactionTypeName;
  /** Signed change of the balance (the sum of the entries). */
  amountMillis: number;
  debtChangeMillis: number;
  entries: readonly FlowEntry[];
}

/** The kind of credits a bucket source counts as (FREE: every source but PURCHASE). */
export function creditKindOf(source: BucketSourceName | null): 'FREE' | 'PURCHASED' | 'DEBT' {
  return source === null ? 'DEBT' : source === 'PURCHASE' ? 'PURCHASED' : 'FREE';
}

/** The figures one succeeded ledger transaction adds (refused attempts add nothing). */
export function flowsOf(t: FlowTransaction): FlowFigures {
  const f = zeroFlows();
  f.balanceChangeMillis = t.amountMillis;
  f.debtChangeMillis = t.debtChangeMillis;
  switch (t.type) {
    case 'CHARGE':
    case 'CAPTURE':
      f.transactions = 1;
      f.consumedMillis = -t.amountMillis;
      for (const e of t.entries) {
        const kind = creditKindOf(e.source);
        if (kind === 'FREE') f.consumedFreeMillis -= e.millis;
        else if (kind === 'PURCHASED') f.consumedPurchasedMillis -= e.millis;
      }
      break;
    case 'REFUND':
      f.refundedMillis = t.amountMillis;
      break;
    case 'REVERSAL':
      // Of a charge: credits come back (a refund). Of a grant, purchase or refund: credits go back out.
      // Of a rollover: a move back (nothing).
      if (t.amountMillis > 0) f.refundedMillis = t.amountMillis;
      else f.reversedMillis = -t.amountMillis;
      break;
    case 'GRANT':
    case 'PURCHASE':
    case 'ADJUSTMENT':
      for (const e of t.entries) {
        if (e.millis <= 0) continue;
        if (e.source === 'PLAN_ALLOWANCE') f.allocatedMillis += e.millis;
        else if (e.source === 'PURCHASE') f.purchasedMillis += e.millis;
        else f.grantedMillis += e.millis;
      }
      break;
    case 'ROLLOVER':
      // The plan's rollover moves unused allowance into a ROLLOVER bucket (entries net to zero); a
      // ROLLOVER grant by an admin brings new credits (granted).
      for (const e of t.entries) if (e.millis > 0 && e.source === 'ROLLOVER') f.carriedForwardMillis += e.millis;
      if (t.amountMillis > 0) f.grantedMillis = t.amountMillis;
      break;
    case 'EXPIRE':
      f.expiredMillis = -t.amountMillis;
      break;
    case 'DEBT_REPAYMENT':
    case 'HOLD':
    case 'RELEASE':
      break;
  }
  const identity = f.allocatedMillis + f.purchasedMillis + f.grantedMillis + f.refundedMillis - f.consumedMillis - f.expiredMillis - f.reversedMillis;
  assert(identity === f.balanceChangeMillis, `report flows of a ${t.type} add up to its balance change`);
  return f;
}

/** A vendor's cost as recorded on a charge or capture (`vendorUsage`), in exact decimals. */
export interface VendorCost {
  vendor: string;
  /** Decimal text, ≥ 0. */
  cost: string;
  currency: string;
  /** Decimal text: `units` when a number, or the sum of its numeric values when an object (tokens in + out). */
  units: string;
}

const VENDOR_TEXT_MAX = 100;

/**
 * The vendor cost a `vendorUsage` record carries: present when it has a `cost`, which then needs a
 * `vendor` and an ISO `currency`. Throws (BAD_USER_INPUT, via `refuse`) on a malformed one, so every
 * recorded cost is one reconciliation can add up; a record without `cost` is kept as given and costs nothing.
 */
export function vendorCostOf(vendorUsage: unknown, refuse: (message: string) => Error): VendorCost | null {
  if (vendorUsage === null || typeof vendorUsage !== 'object' || Array.isArray(vendorUsage)) return null;
  const record = vendorUsage as Record<string, unknown>;
  if (record.cost === undefined || record.cost === null) return null;
  const cost = decimalText(record.cost);
  if (cost === null) throw refuse('vendorUsage.cost must be a non-negative decimal (a string like "0.0125" or a number)');
  const vendor = record.vendor;
  if (typeof vendor !== 'string' || vendor.trim() === '' || vendor.length > VENDOR_TEXT_MAX) throw refuse('vendorUsage.vendor (a name of at most 100 characters) is required with a cost');
  const currency = record.currency;
  if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) throw refuse('vendorUsage.currency (an ISO 4217 code like "USD") is required with a cost');
  const unitValues = record.units !== null && typeof record.units === 'object' && !Array.isArray(record.units) ? Object.values(record.units) : [record.units];
  const unitsText = sumDecimals(unitValues.map(decimalText).filter((t): t is string => t !== null));
  return { vendor: vendor.trim(), cost, currency, units: unitsText };
}

/** A non-negative finite number or plain decimal string as decimal text; null otherwise. */
function decimalText(value: unknown): string | null {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return null;
    const text = String(value);
    return /^\d+(\.\d+)?$/.test(text) ? text : value.toFixed(20).replace(/\.?0+$/, '');
  }
  if (typeof value === 'string' && /^\d{1,15}(\.\d{1,12})?$/.test(value)) return value;
  return null;
}

/** `vendorUsage` as given, once its cost (if any) is one reports can add up; BAD_USER_INPUT otherwise. */
export function checkedVendorUsage(vendorUsage: unknown): unknown {
  vendorCostOf(vendorUsage, (message) => badInput(message, 'vendorUsage'));
  return vendorUsage ?? null;
}
