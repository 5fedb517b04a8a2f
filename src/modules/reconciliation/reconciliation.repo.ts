/** SQL of vendor reconciliation. Knows nothing about GraphQL. */
import { and, asc, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { rows } from '../../db/client';
import { modelCostsDaily, vendorReconciliationRows, vendorReconciliations } from '../../db/schema';
import type { LedgerSide } from './reconciliation.rules';

export type ReconciliationRecord = typeof vendorReconciliations.$inferSelect;
export type ReconciliationRowRecord = typeof vendorReconciliationRows.$inferSelect;

/** Rows per INSERT statement (10 parameters each, far below PostgreSQL's 65,535). */
const INSERT_CHUNK = 1_000;

/**
 * The vendor's recorded costs per model over UTC days [fromDay, lastDay] in one currency, every
 * account: only models with charges that recorded a cost (revenue-only rows carry the vendor too).
 */
export async function ledgerCosts(executor: Executor, vendor: string, currency: string, fromDay: string, lastDay: string): Promise<Map<string, LedgerSide>> {
  const found = await rows<{ model: string; cost: string; units: string }>(executor, sql`
    select model, sum(vendor_cost)::text as cost, sum(vendor_units)::text as units from ${modelCostsDaily}
    where vendor = ${vendor} and currency = ${currency} and day >= ${fromDay} and day <= ${lastDay}
    group by model having sum(vendor_charges) > 0`);
  return new Map(found.map((r) => [r.model, { cost: r.cost, units: r.units }]));
}

export async function insertReconciliation(tx: Tx, record: Omit<ReconciliationRecord, 'pos'>, rowRecords: ReconciliationRowRecord[]): Promise<ReconciliationRecord> {
  const [inserted] = await tx.insert(vendorReconciliations).values(record).returning();
  for (let i = 0; i < rowRecords.length; i += INSERT_CHUNK) await tx.insert(vendorReconciliationRows).values(rowRecords.slice(i, i + INSERT_CHUNK));
  return inserted;
}

export async function findReconciliation(executor: Executor, id: string): Promise<ReconciliationRecord | undefined> {
  const [found] = await executor.select().from(vendorReconciliations).where(eq(vendorReconciliations.id, id));
  return found;
}

/** Newest first; keyset on pos. */
export async function listReconciliations(executor: Executor, vendor: string | null, beforePos: number | null, limit: number): Promise<ReconciliationRecord[]> {
  return executor.select().from(vendorReconciliations)
    .where(and(vendor !== null ? eq(vendorReconciliations.vendor, vendor) : undefined, beforePos !== null ? lt(vendorReconciliations.pos, beforePos) : undefined))
    .orderBy(desc(vendorReconciliations.pos)).limit(limit);
}

/** The rows of these reconciliations, in their order. */
export async function rowsOf(executor: Executor, ids: readonly string[]): Promise<ReconciliationRowRecord[]> {
  if (ids.length === 0) return [];
  return executor.select().from(vendorReconciliationRows)
    .where(inArray(vendorReconciliationRows.reconciliationId, [...ids]))
    .orderBy(asc(vendorReconciliationRows.reconciliationId), asc(vendorReconciliationRows.ord));
}
