/**
 * The rules of vendor reconciliation, pure (test/unit/reconciliation.rules.test.ts): what an invoice
 * may be, and how its lines compare with the vendor costs the ledger recorded (model_costs_daily).
 *
 * - The range is whole UTC days (the aggregates are daily): from and to at UTC midnight, from < to,
 *   at most 366 days.
 * - One currency per invoice: a vendor bills in one, and a variance needs one unit (no FX rates here).
 *   Only ledger costs recorded in that currency are compared.
 * - Lines of the same model are summed (costs, and units where given).
 * - Per model: MATCHED when |ledger − invoice| ≤ tolerance% × invoice, compared exactly (a row within
 *   tolerance counts as matched even if the two are not equal); MISMATCH beyond it in either direction
 *   (with an invoice of 0, any ledger cost but 0 is beyond); INVOICE_ONLY when the ledger recorded no
 *   cost for the model (no charge with a vendor cost); LEDGER_ONLY when the invoice has no line for a
 *   model the ledger recorded costs for. Every row but MATCHED is flagged.
 * - variancePercent = (ledger − invoice) / invoice × 100, two decimals half up (away from zero);
 *   null when the invoice is 0 or either side is missing. Units are shown, never compared.
 */
import { parseDecimal, sumDecimals } from '../../shared/decimal';
import { compareDecimals, percentOf, subtractDecimals, withinPercent } from '../../shared/decimal-math';
import { badInput } from '../../shared/errors';
import { isCurrency } from '../../shared/money';
import { daysBetween, utcDay } from '../../shared/utc-days';
import type { ReconciliationStatusName } from '../../db/schema';

/** Whole UTC days an invoice may cover (a year, leap day included). */
export const INVOICE_DAYS_MAX = 366;
/** Lines of one invoice. */
export const INVOICE_LINES_MAX = 1_000;
export const VENDOR_LENGTH_MAX = 100;
export const MODEL_LENGTH_MAX = 500;
export const TOLERANCE_PERCENT_DEFAULT = '2';
/** Amounts as the ledger accepts vendor costs: up to 15 whole and 12 fractional digits. */
const AMOUNT = { wholeDigitsMax: 15, fractionDigitsMax: 12 };
const TOLERANCE = { wholeDigitsMax: 3, fractionDigitsMax: 6 };

export interface InvoiceLineInput {
  model: string;
  cost: string;
  currency: string;
  units?: string | null;
}

export interface InvoiceInput {
  vendor: string;
  from: Date;
  to: Date;
  lines: readonly InvoiceLineInput[];
  tolerancePercent?: string | null;
}

/** A model's invoice figures after summing its lines; units null when no line gave any. */
export interface InvoiceSide {
  cost: string;
  units: string | null;
}

export interface CheckedInvoice {
  vendor: string;
  from: Date;
  to: Date;
  /** First and last UTC day (inclusive). */
  fromDay: string;
  lastDay: string;
  currency: string;
  tolerancePercent: string;
  /** By model, in the order first seen. */
  lines: Map<string, InvoiceSide>;
}

const isMidnight = (at: Date) => at.getTime() % 86_400_000 === 0;

function amount(text: string | null | undefined, field: string): string {
  const parsed = typeof text === 'string' ? parseDecimal(text, AMOUNT) : undefined;
  if (!parsed) throw badInput(`${field} must be a decimal ≥ 0 such as "12.50" (at most 15 whole and 12 fractional digits)`, field);
  return text!;
}

/** Checks an invoice (BAD_USER_INPUT naming the field, before anything is read or written) and sums its lines by model. */
export function checkInvoice(input: InvoiceInput): CheckedInvoice {
  const vendor = input.vendor.trim();
  if (vendor === '' || vendor.length > VENDOR_LENGTH_MAX) throw badInput(`vendor must be a name of 1 to ${VENDOR_LENGTH_MAX} characters`, 'vendor');
  if (!(input.from.getTime() < input.to.getTime())) throw badInput('from must be before to', 'to');
  if (!isMidnight(input.from)) throw badInput('from must be a UTC midnight (an invoice covers whole UTC days, as the daily costs do)', 'from');
  if (!isMidnight(input.to)) throw badInput('to must be a UTC midnight (an invoice covers whole UTC days, as the daily costs do)', 'to');
  const fromDay = utcDay(input.from);
  const lastDay = utcDay(new Date(input.to.getTime() - 1));
  const days = daysBetween(fromDay, lastDay) + 1;
  if (days > INVOICE_DAYS_MAX) throw badInput(`an invoice covers at most ${INVOICE_DAYS_MAX} days; this one covers ${days}`, 'to');
  const toleranceText = input.tolerancePercent ?? TOLERANCE_PERCENT_DEFAULT;
  const tolerance = parseDecimal(toleranceText, TOLERANCE);
  if (!tolerance || compareDecimals(toleranceText, '100') > 0) throw badInput('tolerancePercent must be a decimal from 0 to 100, e.g. "2" or "0.5"', 'tolerancePercent');
  if (input.lines.length === 0) throw badInput('an invoice needs at least one line', 'lines');
  if (input.lines.length > INVOICE_LINES_MAX) throw badInput(`an invoice has at most ${INVOICE_LINES_MAX} lines`, 'lines');

  const currency = input.lines[0].currency;
  const costs = new Map<string, string[]>();
  const units = new Map<string, string[]>();
  input.lines.forEach((line, i) => {
    const field = `lines[${i}]`;
    if (line.model.trim() === '' || line.model.length > MODEL_LENGTH_MAX) throw badInput(`${field}.model must be 1 to ${MODEL_LENGTH_MAX} characters`, `${field}.model`);
    if (!isCurrency(line.currency)) throw badInput(`${field}.currency must be an ISO 4217 code such as USD`, `${field}.currency`);
    if (line.currency !== currency) {
      throw badInput(`${field}.currency: every line of an invoice must be in one currency (${currency}); import one invoice per currency`, `${field}.currency`);
    }
    const cost = amount(line.cost, `${field}.cost`);
    costs.set(line.model, [...(costs.get(line.model) ?? []), cost]);
    if (line.units !== null && line.units !== undefined) units.set(line.model, [...(units.get(line.model) ?? []), amount(line.units, `${field}.units`)]);
  });
  const lines = new Map<string, InvoiceSide>();
  for (const [model, texts] of costs) {
    const given = units.get(model);
    lines.set(model, { cost: sumDecimals(texts), units: given ? sumDecimals(given) : null });
  }
  return { vendor, from: input.from, to: input.to, fromDay, lastDay, currency, tolerancePercent: toleranceText, lines };
}

/** What the ledger recorded for one model (sums over the range, in the invoice's currency). */
export interface LedgerSide {
  cost: string;
  units: string;
}

export interface ComparedRow {
  model: string;
  status: ReconciliationStatusName;
  invoiceCost: string | null;
  ledgerCost: string | null;
  invoiceUnits: string | null;
  ledgerUnits: string | null;
  variancePercent: string | null;
  flagged: boolean;
}

/** One model: its invoice side, its ledger side (either may be missing, not both). */
export function compareModel(model: string, invoice: InvoiceSide | null, ledger: LedgerSide | null, tolerancePercent: string): ComparedRow {
  const sides = {
    invoiceCost: invoice?.cost ?? null, ledgerCost: ledger?.cost ?? null,
    invoiceUnits: invoice?.units ?? null, ledgerUnits: ledger?.units ?? null,
  };
  if (!invoice && !ledger) throw new Error(`model ${model} has neither side`);
  if (!ledger) return { model, status: 'INVOICE_ONLY', ...sides, variancePercent: null, flagged: true };
  if (!invoice) return { model, status: 'LEDGER_ONLY', ...sides, variancePercent: null, flagged: true };
  const matched = withinPercent(ledger.cost, invoice.cost, tolerancePercent);
  const variancePercent = percentOf(subtractDecimals(ledger.cost, invoice.cost), invoice.cost);
  return { model, status: matched ? 'MATCHED' : 'MISMATCH', ...sides, variancePercent, flagged: !matched };
}

/** Every model of either side, by model name (code point order). */
export function compareInvoice(invoice: ReadonlyMap<string, InvoiceSide>, ledger: ReadonlyMap<string, LedgerSide>, tolerancePercent: string): ComparedRow[] {
  const models = [...new Set([...invoice.keys(), ...ledger.keys()])].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return models.map((model) => compareModel(model, invoice.get(model) ?? null, ledger.get(model) ?? null, tolerancePercent));
}
