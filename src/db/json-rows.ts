/**
 * Multi-row writes as one JSON parameter: `insert … select … from jsonb_to_recordset($1)`. Building
 * a drizzle multi-row VALUES list costs CPU per cell (and PostgreSQL caps parameters at 65,535);
 * one JSON document costs a JSON.stringify. Column names and SQL types come from the drizzle table,
 * so the schema stays the one source of truth. Rows keep their order (the `ord` of each element).
 */
import { getTableColumns, getTableName, sql, type SQL } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Executor } from './client';

interface Plan {
  text: string;
}

const plans = new Map<string, Plan>();

function planFor(table: PgTable, keys: string[], suffix: string): Plan {
  const name = getTableName(table);
  const cacheKey = `${name}|${keys.join(',')}|${suffix}`;
  let plan = plans.get(cacheKey);
  if (!plan) {
    const columns = getTableColumns(table) as Record<string, { name: string; getSQLType(): string }>;
    const names = keys.map((k) => `"${columns[k].name}"`);
    const definitions = keys.map((k) => `"${columns[k].name}" ${columns[k].getSQLType()}`);
    plan = {
      text: `insert into "${name}" (${names.join(', ')}) select ${names.join(', ')} from jsonb_to_recordset($1::jsonb) as x(${definitions.join(', ')}, "ord" int) order by "ord" ${suffix}`,
    };
    plans.set(cacheKey, plan);
  }
  return plan;
}

/** The JSON document: rows as objects keyed by column name, in order. */
function document(table: PgTable, keys: string[], rows: readonly Record<string, unknown>[]): string {
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  return JSON.stringify(rows.map((row, ord) => {
    const out: Record<string, unknown> = { ord };
    for (const k of keys) {
      const value = row[k];
      out[columns[k].name] = value instanceof Date ? value.toISOString() : value ?? null;
    }
    return out;
  }));
}

/**
 * Inserts rows (all with the same keys: those of the first row, minus undefined ones). `suffix` is
 * appended verbatim (e.g. "on conflict do nothing returning …"); it must be a constant.
 */
export function jsonInsert(table: PgTable, rows: readonly Record<string, unknown>[], suffix = ''): SQL {
  const keys = Object.keys(rows[0]).filter((k) => rows[0][k] !== undefined);
  const [before, after] = planFor(table, keys, suffix).text.split('$1');
  return sql`${sql.raw(before)}${document(table, keys, rows)}${sql.raw(after)}`;
}

export async function executeJsonInsert(executor: Executor, table: PgTable, rows: readonly Record<string, unknown>[], suffix = ''): Promise<void> {
  if (rows.length > 0) await executor.execute(jsonInsert(table, rows, suffix));
}
