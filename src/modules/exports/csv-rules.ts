/**
 * The rules of the CSV exports, pure (test/unit/exports.csv-rules.test.ts): query parameters, the
 * columns, one ledger transaction as a row, and the guard against spreadsheet formula injection.
 * Quoting (commas, quotes, line breaks) is csv-stringify's job, in the route.
 */
import { GraphQLDateTime } from 'graphql-scalars';
import { badInput } from '../../shared/errors';
import { formatCredits, type Millis } from '../../shared/credits';
import { isUuid } from '../../shared/validate';
import { MS_PER_DAY } from '../../shared/utc-days';
import type { BucketSourceName, TransactionStatusName, TransactionTypeName } from '../../db/schema';
import { creditKindOf } from '../ledger/flows';

/** An export covers at most this many days (a year, leap day included), like the reports. */
export const EXPORT_RANGE_DAYS_MAX = 366;
/** Ledger transactions read per query while streaming the transaction log. */
export const EXPORT_PAGE_ROWS = 1000;

export const TRANSACTION_COLUMNS = [
  'time', 'transaction_id', 'sequence', 'type', 'status', 'actor', 'action', 'model', 'credits', 'credit_kind', 'comment',
  'failure_code', 'failure_message',
] as const;

export type CreditKindCell = 'FREE' | 'PURCHASED' | 'DEBT' | 'MIXED' | '';

/** One ledger transaction as the export reads it. */
export interface ExportTransaction {
  pos: number;
  id: string;
  sequence: number | null;
  type: TransactionTypeName;
  status: TransactionStatusName;
  actor: string;
  action: string | null;
  model: string | null;
  amountMillis: Millis;
  comment: string | null;
  failureCode: string | null;
  failureMessage: string | null;
  createdAt: Date;
}

/** An entry of a transaction: the source of the bucket it moved, null for the debt. */
export interface ExportEntry {
  source: BucketSourceName | null;
}

/** The kind of credits a transaction's entries drew on: one kind, MIXED for several, empty for none (a refused attempt). */
export function creditKindOfEntries(entries: readonly ExportEntry[]): CreditKindCell {
  const kinds = new Set(entries.map((e) => creditKindOf(e.source)));
  if (kinds.size === 0) return '';
  if (kinds.size > 1) return 'MIXED';
  return [...kinds][0];
}

/**
 * Text a spreadsheet would run as a formula (OWASP "CSV injection"): a cell starting with =, +, -, @,
 * a tab or a carriage return. Such free text (comments, actions, models, actors, failure messages,
 * which callers choose) gets a leading apostrophe, so it shows as text. Figures the server writes
 * itself (credits such as "-2", times, ids) are never touched.
 */
export function neutraliseFormula(text: string | null): string {
  if (text === null) return '';
  return /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
}

/** The cells of one transaction, in TRANSACTION_COLUMNS order. */
export function transactionCells(t: ExportTransaction, entries: readonly ExportEntry[]): string[] {
  return [
    t.createdAt.toISOString(), t.id, t.sequence === null ? '' : String(t.sequence), t.type, t.status, neutraliseFormula(t.actor),
    neutraliseFormula(t.action), neutraliseFormula(t.model), formatCredits(t.amountMillis), creditKindOfEntries(entries),
    neutraliseFormula(t.comment), t.failureCode ?? '', neutraliseFormula(t.failureMessage),
  ];
}

export interface ExportRange {
  accountId: string;
  from: Date;
  to: Date;
}

/** A query parameter given once, as text (Express turns `?a=1&a=2` into an array). */
export function queryText(query: Record<string, unknown>, name: string, required: boolean): string | null {
  const value = query[name];
  if (value === undefined || value === '') {
    if (required) throw badInput(`${name} is required`, name);
    return null;
  }
  if (typeof value !== 'string') throw badInput(`${name} must be given once, as text`, name);
  if (value.length > 100) throw badInput(`${name} is too long`, name);
  return value;
}

/** An ISO 8601 instant with a zone, exactly as the GraphQL DateTime scalar reads it. */
export function parseInstant(text: string, name: string): Date {
  try {
    return GraphQLDateTime.parseValue(text);
  } catch {
    throw badInput(`${name} must be an ISO 8601 instant with a zone, e.g. 2025-01-01T00:00:00Z`, name);
  }
}

/** accountId, from and to: [from, to), from before to, at most EXPORT_RANGE_DAYS_MAX days. */
export function exportRange(query: Record<string, unknown>): ExportRange {
  const accountId = queryText(query, 'accountId', true) as string;
  if (!isUuid(accountId)) throw badInput('accountId must be an account id (a UUID)', 'accountId');
  const from = parseInstant(queryText(query, 'from', true) as string, 'from');
  const to = parseInstant(queryText(query, 'to', true) as string, 'to');
  if (!(from.getTime() < to.getTime())) throw badInput('from must be before to', 'to');
  if (to.getTime() - from.getTime() > EXPORT_RANGE_DAYS_MAX * MS_PER_DAY) throw badInput(`an export covers at most ${EXPORT_RANGE_DAYS_MAX} days`, 'to');
  return { accountId, from, to };
}

/** The file name a download is saved under: what, which account, which range (UTC days). */
export function exportFileName(what: string, range: ExportRange): string {
  const day = (at: Date) => at.toISOString().slice(0, 10);
  const lastDay = day(new Date(range.to.getTime() - 1));
  return `${what}-${range.accountId}-${day(range.from)}-to-${lastDay}.csv`;
}
