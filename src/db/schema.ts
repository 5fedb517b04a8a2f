/**
 * Table definitions (drizzle). drizzle-kit generates the SQL migrations in drizzle/ from this file.
 * Credits columns are bigint millicredits (`*_millis`), read as JS numbers: every value is bounded
 * by the input limits (≤ 10^15 millis), far below 2^53.
 */
import { sql, type SQL } from 'drizzle-orm';
import {
  bigint, bigserial, boolean, check, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid, type PgColumn,
} from 'drizzle-orm/pg-core';

const millis = (name: string) => bigint(name, { mode: 'number' });
const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

// The closed sets of the text columns: typed in TypeScript (`text(..., { enum })`) and enforced by a CHECK
// in the database. The GraphQL enums of the modules must list the same values (test/unit/db-schema.test.ts).
export const API_KEY_ROLES = ['ADMIN', 'SERVICE', 'READONLY'] as const;
export const ACCOUNT_KINDS = ['USER', 'TEAM'] as const;
export const BUCKET_SOURCES = ['PLAN_ALLOWANCE', 'PURCHASE', 'PROMO', 'ROLLOVER', 'REFUND', 'ADJUSTMENT'] as const;
export const TRANSACTION_TYPES = [
  'GRANT', 'PURCHASE', 'CHARGE', 'HOLD', 'CAPTURE', 'RELEASE', 'REFUND', 'EXPIRE', 'ROLLOVER', 'DEBT_REPAYMENT', 'ADJUSTMENT', 'REVERSAL',
] as const;
export const TRANSACTION_STATUSES = ['SUCCEEDED', 'FAILED'] as const;
export const ENTRY_KINDS = ['BUCKET', 'DEBT'] as const;
export const HOLD_STATUSES = ['ACTIVE', 'CAPTURED', 'RELEASED', 'EXPIRED'] as const;
export const RATE_CARD_STATUSES = ['DRAFT', 'PUBLISHED'] as const;

export type ApiKeyRoleName = (typeof API_KEY_ROLES)[number];
export type AccountKindName = (typeof ACCOUNT_KINDS)[number];
export type BucketSourceName = (typeof BUCKET_SOURCES)[number];
export type TransactionTypeName = (typeof TRANSACTION_TYPES)[number];
export type TransactionStatusName = (typeof TRANSACTION_STATUSES)[number];
export type EntryKind = (typeof ENTRY_KINDS)[number];
export type HoldStatus = (typeof HOLD_STATUSES)[number];
export type RateCardStatus = (typeof RATE_CARD_STATUSES)[number];

/** `column in ('A', 'B')` as literal SQL: drizzle-kit writes a check's SQL into the migration, where parameters cannot go. */
function oneOf(column: PgColumn, values: readonly string[]): SQL {
  return sql`${column} in (${sql.raw(values.map((v) => `'${v}'`).join(', '))})`;
}

export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey(),
  name: text('name').notNull(),
  role: text('role', { enum: API_KEY_ROLES }).notNull(),
  secretHash: text('secret_hash').notNull().unique(),
  createdAt: ts('created_at').notNull(),
  revokedAt: ts('revoked_at'),
}, (t) => [check('api_keys_role_check', oneOf(t.role, API_KEY_ROLES))]);

export const accounts = pgTable('accounts', {
  id: uuid('id').primaryKey(),
  externalId: text('external_id').unique(),
  name: text('name').notNull(),
  kind: text('kind', { enum: ACCOUNT_KINDS }).notNull(),
  planTier: text('plan_tier'),
  createdBy: text('created_by').notNull(),
  createdAt: ts('created_at').notNull(),
}, (t) => [check('accounts_kind_check', oneOf(t.kind, ACCOUNT_KINDS))]);

export const wallets = pgTable('wallets', {
  accountId: uuid('account_id').primaryKey().references(() => accounts.id),
  debtMillis: millis('debt_millis').notNull().default(0),
  overdraftLimitMillis: millis('overdraft_limit_millis').notNull().default(0),
  frozen: boolean('frozen').notNull().default(false),
  sequence: integer('sequence').notNull().default(0),
  lowCreditThresholds: jsonb('low_credit_thresholds').$type<number[]>().notNull().default(sql`'[]'::jsonb`),
  updatedAt: ts('updated_at').notNull(),
}, (t) => [check('wallets_debt_check', sql`${t.debtMillis} >= 0`)]);

export const buckets = pgTable('buckets', {
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  source: text('source', { enum: BUCKET_SOURCES }).notNull(),
  amountMillis: millis('amount_millis').notNull(),
  remainingMillis: millis('remaining_millis').notNull(),
  priority: integer('priority').notNull(),
  effectiveAt: ts('effective_at').notNull(),
  expiresAt: ts('expires_at'),
  applicableActions: jsonb('applicable_actions').$type<string[] | null>(),
  applicableModels: jsonb('applicable_models').$type<string[] | null>(),
  costPerCredit: text('cost_per_credit'), // money paid per credit, decimal string, for revenue reports
  currency: text('currency'),
  createdAt: ts('created_at').notNull(),
}, (t) => [
  index('buckets_account_idx').on(t.accountId),
  // The expiry job looks for lapsed buckets that still hold credits.
  index('buckets_expiry_idx').on(t.expiresAt).where(sql`remaining_millis > 0 and expires_at is not null`),
  check('buckets_remaining_check', sql`${t.remainingMillis} between 0 and ${t.amountMillis}`),
  check('buckets_source_check', oneOf(t.source, BUCKET_SOURCES)),
]);

export const ledgerTransactions = pgTable('ledger_transactions', {
  // pos orders the whole ledger (newest first in history); sequence is the per-wallet gap-free counter.
  pos: bigserial('pos', { mode: 'number' }).notNull().unique(),
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  sequence: integer('sequence'),
  type: text('type', { enum: TRANSACTION_TYPES }).notNull(),
  status: text('status', { enum: TRANSACTION_STATUSES }).notNull(),
  amountMillis: millis('amount_millis').notNull(), // signed change of balance
  heldChangeMillis: millis('held_change_millis').notNull().default(0),
  debtChangeMillis: millis('debt_change_millis').notNull().default(0),
  balanceAfterMillis: millis('balance_after_millis'),
  availableAfterMillis: millis('available_after_millis'),
  requestedMillis: millis('requested_millis'),
  action: text('action'),
  model: text('model'),
  params: jsonb('params'),
  actor: text('actor').notNull(),
  comment: text('comment'),
  idempotencyKey: text('idempotency_key'),
  quoteId: uuid('quote_id'),
  holdId: uuid('hold_id'),
  relatedTransactionId: uuid('related_transaction_id'),
  failureCode: text('failure_code'),
  failureMessage: text('failure_message'),
  pricing: jsonb('pricing'),
  vendorUsage: jsonb('vendor_usage'),
  createdAt: ts('created_at').notNull(),
}, (t) => [
  uniqueIndex('ledger_transactions_account_sequence_uq').on(t.accountId, t.sequence),
  index('ledger_transactions_account_pos_idx').on(t.accountId, t.pos),
  index('ledger_transactions_related_idx').on(t.relatedTransactionId),
  check('ledger_transactions_type_check', oneOf(t.type, TRANSACTION_TYPES)),
  check('ledger_transactions_status_check', oneOf(t.status, TRANSACTION_STATUSES)),
]);

export const ledgerEntries = pgTable('ledger_entries', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  transactionId: uuid('transaction_id').notNull().references(() => ledgerTransactions.id),
  accountId: uuid('account_id').notNull(),
  kind: text('kind', { enum: ENTRY_KINDS }).notNull(),
  bucketId: uuid('bucket_id'),
  originBucketId: uuid('origin_bucket_id'), // refunds: the bucket the credits were first taken from
  amountMillis: millis('amount_millis').notNull(),
}, (t) => [
  index('ledger_entries_transaction_idx').on(t.transactionId),
  index('ledger_entries_bucket_idx').on(t.bucketId),
  check('ledger_entries_kind_check', oneOf(t.kind, ENTRY_KINDS)),
]);

export const holds = pgTable('holds', {
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  amountMillis: millis('amount_millis').notNull(),
  status: text('status', { enum: HOLD_STATUSES }).notNull(),
  action: text('action'),
  model: text('model'),
  quoteId: uuid('quote_id'),
  pricing: jsonb('pricing'),
  expiresAt: ts('expires_at').notNull(),
  createdAt: ts('created_at').notNull(),
  closedAt: ts('closed_at'),
}, (t) => [
  index('holds_account_status_idx').on(t.accountId, t.status),
  index('holds_active_expiry_idx').on(t.expiresAt).where(sql`status = 'ACTIVE'`),
  check('holds_status_check', oneOf(t.status, HOLD_STATUSES)),
]);

export const holdAllocations = pgTable('hold_allocations', {
  holdId: uuid('hold_id').notNull().references(() => holds.id),
  bucketId: uuid('bucket_id').notNull().references(() => buckets.id),
  amountMillis: millis('amount_millis').notNull(),
}, (t) => [primaryKey({ columns: [t.holdId, t.bucketId] }), index('hold_allocations_bucket_idx').on(t.bucketId)]);

export const idempotencyKeys = pgTable('idempotency_keys', {
  scope: text('scope').notNull(),
  key: text('key').notNull(),
  requestHash: text('request_hash').notNull(),
  response: jsonb('response'),
  createdAt: ts('created_at').notNull(),
  expiresAt: ts('expires_at').notNull(),
}, (t) => [primaryKey({ columns: [t.scope, t.key] }), index('idempotency_keys_expiry_idx').on(t.expiresAt)]);

export const rateCards = pgTable('rate_cards', {
  id: uuid('id').primaryKey(),
  version: integer('version').unique(), // null while a draft
  status: text('status', { enum: RATE_CARD_STATUSES }).notNull(),
  name: text('name').notNull(),
  content: jsonb('content').notNull(),
  createdAt: ts('created_at').notNull(),
  publishedAt: ts('published_at'),
}, (t) => [check('rate_cards_status_check', oneOf(t.status, RATE_CARD_STATUSES))]);

export const quotes = pgTable('quotes', {
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  rateCardVersion: integer('rate_card_version').notNull(),
  action: text('action').notNull(),
  model: text('model'),
  params: jsonb('params'),
  creditsMillis: millis('credits_millis').notNull(),
  lineItems: jsonb('line_items').notNull(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
  usedBy: uuid('used_by'),
  createdAt: ts('created_at').notNull(),
}, (t) => [
  index('quotes_expires_at_idx').on(t.expiresAt), // the job purges expired quotes
]);
