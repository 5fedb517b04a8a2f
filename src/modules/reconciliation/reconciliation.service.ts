/**
 * Vendor reconciliation: an imported invoice is checked (reconciliation.rules.ts), compared with the
 * vendor costs in model_costs_daily, and stored with its rows; when any row is flagged, an admin alert
 * (VENDOR_VARIANCE, once per reconciliation) is raised in the same database transaction.
 */
import type { Database } from '../../db/client';
import type { Clock } from '../../shared/clock';
import { newId } from '../../shared/ids';
import { exactMoneyText } from '../../shared/decimal-math';
import type { AdminAlertsService } from '../alerts';
import type { Money } from '../plans/plan.type';
import { checkInvoice, compareInvoice, type ComparedRow, type InvoiceInput } from './reconciliation.rules';
import * as repo from './reconciliation.repo';
import type { ReconciliationStatus } from './reconciliation.type';

/** Flagged models named in an alert's message; the rest are counted. */
const ALERT_MODELS_NAMED_MAX = 10;

export interface ReconciliationRowView {
  model: string;
  status: ReconciliationStatus;
  invoiceCost: Money | null;
  ledgerCost: Money | null;
  invoiceUnits: string | null;
  ledgerUnits: string | null;
  variancePercent: string | null;
  flagged: boolean;
}

export interface ReconciliationView {
  id: string;
  pos: number;
  vendor: string;
  from: Date;
  to: Date;
  currency: string;
  tolerancePercent: string;
  flaggedRows: number;
  createdAt: Date;
  /** Present when already loaded (an import); otherwise the rows field loads them. */
  rows?: ReconciliationRowView[];
}


function recordView(r: repo.ReconciliationRecord): ReconciliationView {
  return {
    id: r.id, pos: r.pos, vendor: r.vendor, from: r.periodFrom, to: r.periodTo, currency: r.currency,
    tolerancePercent: r.tolerancePercent, flaggedRows: r.flaggedRows, createdAt: r.createdAt,
  };
}

function rowView(r: Omit<repo.ReconciliationRowRecord, 'reconciliationId' | 'ord'>, currency: string): ReconciliationRowView {
  const money = (amount: string | null) => (amount === null ? null : { amount: exactMoneyText(amount, currency), currency });
  return {
    model: r.model, status: r.status as ReconciliationStatus, invoiceCost: money(r.invoiceCost), ledgerCost: money(r.ledgerCost),
    invoiceUnits: r.invoiceUnits, ledgerUnits: r.ledgerUnits, variancePercent: r.variancePercent, flagged: r.flagged,
  };
}

/** "Vendor acme, 2321-03-01 to 2321-03-31 (USD): 2 of 3 models flagged: a MISMATCH (+5.00%), b INVOICE_ONLY." */
export function varianceMessage(vendor: string, fromDay: string, lastDay: string, currency: string, rows: readonly ComparedRow[]): string {
  const flagged = rows.filter((r) => r.flagged);
  const named = flagged.slice(0, ALERT_MODELS_NAMED_MAX).map((r) => {
    const variance = r.variancePercent === null ? '' : ` (${r.variancePercent.startsWith('-') ? '' : '+'}${r.variancePercent}%)`;
    return `${r.model === '' ? '(no model)' : r.model} ${r.status}${variance}`;
  });
  const more = flagged.length > named.length ? `, and ${flagged.length - named.length} more` : '';
  return `Vendor ${vendor}, ${fromDay} to ${lastDay} (${currency}): ${flagged.length} of ${rows.length} models flagged: ${named.join(', ')}${more}.`;
}

export class ReconciliationService {
  constructor(private readonly database: Database, private readonly clock: Clock, private readonly adminAlerts: AdminAlertsService) {}

  /** Checks the invoice first (nothing is read or written for a bad one), then compares and stores in one transaction. */
  async importInvoice(actor: string, input: InvoiceInput): Promise<ReconciliationView> {
    const invoice = checkInvoice(input);
    return this.database.db.transaction(async (tx) => {
      const ledger = await repo.ledgerCosts(tx, invoice.vendor, invoice.currency, invoice.fromDay, invoice.lastDay);
      const compared = compareInvoice(invoice.lines, ledger, invoice.tolerancePercent);
      const id = newId();
      const flaggedRows = compared.filter((r) => r.flagged).length;
      const record = await repo.insertReconciliation(tx, {
        id, vendor: invoice.vendor, periodFrom: invoice.from, periodTo: invoice.to, currency: invoice.currency,
        tolerancePercent: invoice.tolerancePercent, flaggedRows, actor, createdAt: this.clock.now(),
      }, compared.map((r, ord) => ({ reconciliationId: id, ord, ...r })));
      if (flaggedRows > 0) {
        await this.adminAlerts.raise(tx, {
          kind: 'VENDOR_VARIANCE', subjectId: id, dedupeKey: `reconciliation:${id}`,
          message: varianceMessage(invoice.vendor, invoice.fromDay, invoice.lastDay, invoice.currency, compared),
        });
      }
      return { ...recordView(record), rows: compared.map((r) => rowView(r, invoice.currency)) };
    });
  }

  async find(id: string): Promise<ReconciliationView | null> {
    const found = await repo.findReconciliation(this.database.db, id);
    return found ? recordView(found) : null;
  }

  /** A page of reconciliations with their rows: two statements whatever the page's size (not one per reconciliation). */
  async list(vendor: string | null, beforePos: number | null, limit: number): Promise<ReconciliationView[]> {
    const records = await repo.listReconciliations(this.database.db, vendor, beforePos, limit);
    const rowsById = new Map<string, ReconciliationRowView[]>(records.map((r) => [r.id, []]));
    const currencyOf = new Map(records.map((r) => [r.id, r.currency]));
    for (const row of await repo.rowsOf(this.database.db, records.map((r) => r.id))) {
      rowsById.get(row.reconciliationId)!.push(rowView(row, currencyOf.get(row.reconciliationId)!));
    }
    return records.map((r) => ({ ...recordView(r), rows: rowsById.get(r.id)! }));
  }

  async rows(reconciliation: ReconciliationView): Promise<ReconciliationRowView[]> {
    if (reconciliation.rows) return reconciliation.rows;
    return (await repo.rowsOf(this.database.db, [reconciliation.id])).map((r) => rowView(r, reconciliation.currency));
  }
}

