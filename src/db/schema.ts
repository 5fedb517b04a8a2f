/**
 * Table definitions (drizzle). drizzle-kit generates the SQL migrations in drizzle/ from this file.
 * Credits columns are bigint millicredits (`*_millis`), read as JS numbers: every value is bounded
 * by the input limits (≤ 10^15 millis), far below 2^53.
 */
import { sql, type SQL } from 'drizzle-orm';
import {
  bigint, bigserial, boolean, check, index, integer, jsonb, numeric, pgTable, primaryKey, text, timestamp, uniqueIndex, uuid, type PgColumn,
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
export const BILLING_INTERVALS = ['DAY', 'WEEK', 'MONTH', 'YEAR'] as const;
export const ROLLOVER_POLICIES = ['NONE', 'CAPPED', 'FULL'] as const;
export const SUBSCRIPTION_STATUSES = ['ACTIVE', 'PAST_DUE', 'CANCELED'] as const;
/** Why a plan allowance was granted: a new subscription, a renewal, or an upgrade's prorated difference. */
export const PERIOD_GRANT_KINDS = ['START', 'RENEWAL', 'UPGRADE', 'RESTORED'] as const;
export const PURCHASE_STATUSES = ['PENDING', 'SUCCEEDED', 'FAILED', 'CANCELED'] as const;
/** What a purchase pays for: a pack, a custom amount, an auto top-up (either), or a plan period (no credits). */
export const PURCHASE_KINDS = ['PACK', 'CUSTOM', 'AUTO_TOP_UP', 'PLAN_PERIOD'] as const;
/** What a payment webhook event did: took effect, changed nothing (already so), or needs a person to look. */
export const PAYMENT_EVENT_OUTCOMES = ['APPLIED', 'IGNORED', 'REVIEW'] as const;
export const ALERT_KINDS = ['LOW_BALANCE', 'DEPLETED', 'RUN_OUT_SOON', 'CREDITS_EXPIRING', 'AUTO_TOP_UP_FAILED', 'PAYMENT_FAILED', 'PLAN_DOWNGRADED', 'MEMBER_BUDGET'] as const;
/** Which credits paid for usage: free (plan allowance, promo, rollover, refund, adjustment), purchased, or debt (overdraft). */
export const CREDIT_KINDS = ['FREE', 'PURCHASED', 'DEBT'] as const;
/** PENDING: to send (or waiting for SMTP_URL); SENT; FAILED: gave up after the last retry; NO_RECIPIENT: the account has no email. */
export const EMAIL_STATUSES = ['PENDING', 'SENT', 'FAILED', 'NO_RECIPIENT'] as const;
/** A team member's role: OWNER and ADMIN manage members and read the team wallet; MEMBER spends within its budget. */
export const TEAM_ROLES = ['OWNER', 'ADMIN', 'MEMBER'] as const;
/** A review hold: OPEN (the wallet is on hold), APPROVED (charges resume), REJECTED (the wallet stays frozen). */
export const REVIEW_STATUSES = ['OPEN', 'APPROVED', 'REJECTED'] as const;
/** What put a wallet on hold for review: credits per hour far above its baseline, or one generation repeated. */
export const REVIEW_RULES = ['VELOCITY', 'FINGERPRINT'] as const;

export type ApiKeyRoleName = (typeof API_KEY_ROLES)[number];
export type AccountKindName = (typeof ACCOUNT_KINDS)[number];
export type BucketSourceName = (typeof BUCKET_SOURCES)[number];
export type TransactionTypeName = (typeof TRANSACTION_TYPES)[number];
export type TransactionStatusName = (typeof TRANSACTION_STATUSES)[number];
export type EntryKind = (typeof ENTRY_KINDS)[number];
export type HoldStatus = (typeof HOLD_STATUSES)[number];
export type RateCardStatus = (typeof RATE_CARD_STATUSES)[number];
export type BillingIntervalName = (typeof BILLING_INTERVALS)[number];
export type RolloverPolicyName = (typeof ROLLOVER_POLICIES)[number];
export type SubscriptionStatusName = (typeof SUBSCRIPTION_STATUSES)[number];
export type PeriodGrantKind = (typeof PERIOD_GRANT_KINDS)[number];
export type PurchaseStatusName = (typeof PURCHASE_STATUSES)[number];
export type PurchaseKindName = (typeof PURCHASE_KINDS)[number];
export type PaymentEventOutcome = (typeof PAYMENT_EVENT_OUTCOMES)[number];
export type AlertKindName = (typeof ALERT_KINDS)[number];
export type CreditKindName = (typeof CREDIT_KINDS)[number];
export type EmailStatusName = (typeof EMAIL_STATUSES)[number];
export type TeamRoleName = (typeof TEAM_ROLES)[number];
export type ReviewStatusName = (typeof REVIEW_STATUSES)[number];
export type ReviewRuleName = (typeof REVIEW_RULES)[number];

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
  /** A partner's key sees and acts only on the accounts created with that partner's keys (null: every account). */
  partner: text('partner'),
  createdAt: ts('created_at').notNull(),
  revokedAt: ts('revoked_at'),
}, (t) => [check('api_keys_role_check', oneOf(t.role, API_KEY_ROLES))]);

export const accounts = pgTable('accounts', {
  id: uuid('id').primaryKey(),
  externalId: text('external_id').unique(),
  name: text('name').notNull(),
  kind: text('kind', { enum: ACCOUNT_KINDS }).notNull(),
  planTier: text('plan_tier'),
  /** Where alert emails go (none: they are kept in the outbox as NO_RECIPIENT). */
  email: text('email'),
  createdBy: text('created_by').notNull(),
  /** The partner whose key created the account (null: created by an operator key); fixed for life. */
  partner: text('partner'),
  createdAt: ts('created_at').notNull(),
}, (t) => [
  check('accounts_kind_check', oneOf(t.kind, ACCOUNT_KINDS)),
  index('accounts_partner_idx').on(t.partner).where(sql`partner is not null`),
  // Account search (admin dashboard): name prefix, case-insensitive; email exact, case-insensitive.
  index('accounts_name_lower_idx').using('btree', sql`lower(${t.name}) text_pattern_ops`),
  index('accounts_email_lower_idx').using('btree', sql`lower(${t.email})`),
]);

export const wallets = pgTable('wallets', {
  accountId: uuid('account_id').primaryKey().references(() => accounts.id),
  debtMillis: millis('debt_millis').notNull().default(0),
  overdraftLimitMillis: millis('overdraft_limit_millis').notNull().default(0),
  frozen: boolean('frozen').notNull().default(false),
  sequence: integer('sequence').notNull().default(0),
  lowCreditThresholds: jsonb('low_credit_thresholds').$type<number[]>().notNull().default(sql`'[]'::jsonb`),
  // Set on the wallet itself (admin): then the plan's value does not replace it.
  overdraftLimitOwn: boolean('overdraft_limit_own').notNull().default(false),
  lowCreditThresholdsOwn: boolean('low_credit_thresholds_own').notNull().default(false),
  /** Levels in percent of the plan allowance (1–100); the plan's when not set on the wallet itself. */
  lowCreditThresholdPercents: jsonb('low_credit_threshold_percents').$type<number[]>().notNull().default(sql`'[]'::jsonb`),
  lowCreditThresholdPercentsOwn: boolean('low_credit_threshold_percents_own').notNull().default(false),
  /**
   * The low-credit levels (millicredits; 0 = DEPLETED) that fired and have not re-armed yet. On the wallet
   * row so a charge checks them with the row it already locks, and changes them in its own database transaction.
   */
  lowCreditFired: jsonb('low_credit_fired').$type<number[]>().notNull().default(sql`'[]'::jsonb`),
  /** RUN_OUT_SOON fired and has not re-armed yet (see the forecasts). */
  runOutSoonFired: boolean('run_out_soon_fired').notNull().default(false),
  // What the subscribed plan's current period makes of the wallet (null plan code: pay as you go). Kept on the
  // wallet row so a charge reads them with the row it locks, and a renewal changes them under the same lock.
  planCode: text('plan_code'),
  planTier: text('plan_tier'),
  planModels: jsonb('plan_models').$type<string[] | null>(),
  planActions: jsonb('plan_actions').$type<string[] | null>(),
  /** The current period's allowance (percent levels are of this); null without a plan. */
  planAllowanceMillis: millis('plan_allowance_millis'),
  /** The current period's end: the first operation on the wallet at or after it renews (lazily, like expiry). */
  planRenewsAt: ts('plan_renews_at'),
  /** The OPEN review that holds the wallet (charges and holds refused with WALLET_FROZEN, reason REVIEW); null: none. */
  reviewId: uuid('review_id'),
  // Velocity counters (reviews module), on the row every charge already locks and writes: the UTC hour
  // being counted, the credits consumed in it, and the baseline credits per hour computed for that hour.
  velocityHourStart: ts('velocity_hour_start'),
  velocityHourMillis: millis('velocity_hour_millis').notNull().default(0),
  velocityBaselineMillis: millis('velocity_baseline_millis'),
  velocityBaselineHour: ts('velocity_baseline_hour'),
  /** Recent generation fingerprints with when they were seen (bounded; the fingerprint rule counts repeats here). */
  recentFingerprints: jsonb('recent_fingerprints').$type<unknown>().notNull().default(sql`'[]'::jsonb`),
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
  /** A team wallet's charge, hold or capture: the member it was for (their budget counted it). */
  memberId: uuid('member_id'),
  createdAt: ts('created_at').notNull(),
}, (t) => [
  uniqueIndex('ledger_transactions_account_sequence_uq').on(t.accountId, t.sequence),
  index('ledger_transactions_account_pos_idx').on(t.accountId, t.pos),
  index('ledger_transactions_related_idx').on(t.relatedTransactionId),
  // The admin dashboard's recent refusals, newest first.
  index('ledger_transactions_failed_pos_idx').on(t.pos).where(sql`status = 'FAILED'`),
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
  /** A team wallet's hold for a member: it counts against the member's budget while active. */
  memberId: uuid('member_id'),
  expiresAt: ts('expires_at').notNull(),
  createdAt: ts('created_at').notNull(),
  closedAt: ts('closed_at'),
}, (t) => [
  index('holds_account_status_idx').on(t.accountId, t.status),
  index('holds_member_active_idx').on(t.accountId, t.memberId).where(sql`status = 'ACTIVE' and member_id is not null`),
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

export const plans = pgTable('plans', {
  id: uuid('id').primaryKey(),
  code: text('code').notNull().unique(),
  active: boolean('active').notNull(),
  /** The current version (plan_versions.version); subscribers get it from their next period. */
  version: integer('version').notNull(),
  createdAt: ts('created_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
});

/** Every version of a plan's terms, immutable; a period records the version it was granted from. */
export const planVersions = pgTable('plan_versions', {
  id: uuid('id').primaryKey(),
  planId: uuid('plan_id').notNull().references(() => plans.id),
  version: integer('version').notNull(),
  name: text('name').notNull(),
  priceMinor: bigint('price_minor', { mode: 'bigint' }).notNull(), // in the currency's minor units (cents)
  currency: text('currency').notNull(),
  interval: text('interval', { enum: BILLING_INTERVALS }).notNull(),
  intervalCount: integer('interval_count').notNull(),
  allowanceMillis: millis('allowance_millis').notNull(),
  rollover: text('rollover', { enum: ROLLOVER_POLICIES }).notNull(),
  rolloverCapMillis: millis('rollover_cap_millis'),
  overdraftLimitMillis: millis('overdraft_limit_millis').notNull(),
  tier: text('tier'),
  models: jsonb('models').$type<string[] | null>(),
  actions: jsonb('actions').$type<string[] | null>(),
  lowCreditThresholds: jsonb('low_credit_thresholds').$type<number[]>().notNull(),
  lowCreditThresholdPercents: jsonb('low_credit_threshold_percents').$type<number[]>().notNull().default(sql`'[]'::jsonb`),
  seats: integer('seats').notNull(),
  // Review-hold thresholds and the plan's rate limit; null: the server's defaults (configuration).
  velocityMultiplier: integer('velocity_multiplier'),
  velocityFloorMillis: millis('velocity_floor_millis'),
  fingerprintRepeats: integer('fingerprint_repeats'),
  fingerprintWindowMinutes: integer('fingerprint_window_minutes'),
  requestsPerMinute: integer('requests_per_minute'),
  createdAt: ts('created_at').notNull(),
}, (t) => [
  uniqueIndex('plan_versions_plan_version_uq').on(t.planId, t.version),
  check('plan_versions_interval_check', oneOf(t.interval, BILLING_INTERVALS)),
  check('plan_versions_rollover_check', oneOf(t.rollover, ROLLOVER_POLICIES)),
  check('plan_versions_amounts_check', sql`${t.allowanceMillis} >= 0 and ${t.overdraftLimitMillis} >= 0 and ${t.priceMinor} >= 0 and ${t.intervalCount} >= 1 and ${t.seats} >= 1`),
  check('plan_versions_cap_check', sql`(${t.rollover} = 'CAPPED') = (${t.rolloverCapMillis} is not null)`),
]);

export const subscriptions = pgTable('subscriptions', {
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  planId: uuid('plan_id').notNull().references(() => plans.id),
  /** The plan version in effect now (the current period's, or the one an upgrade switched to). */
  planVersionId: uuid('plan_version_id').notNull().references(() => planVersions.id),
  status: text('status', { enum: SUBSCRIPTION_STATUSES }).notNull(),
  // Periods are counted from an anchor (see modules/plans/periods.ts): period n starts at anchor + n intervals.
  anchorAt: ts('anchor_at').notNull(),
  periodIndex: integer('period_index').notNull(),
  currentPeriodStart: ts('current_period_start').notNull(),
  currentPeriodEnd: ts('current_period_end').notNull(),
  cancelAtPeriodEnd: boolean('cancel_at_period_end').notNull().default(false),
  /** A downgrade (or a change of billing interval) waiting for the period end. */
  scheduledPlanId: uuid('scheduled_plan_id').references(() => plans.id),
  canceledAt: ts('canceled_at'),
  // Dunning (PAST_DUE): when the current period's payment first failed, when the grace period ends
  // (then the plan moves to the fallback plan or ends), the next retry, and how many retries were made.
  pastDueSince: ts('past_due_since'),
  graceEndsAt: ts('grace_ends_at'),
  nextPaymentRetryAt: ts('next_payment_retry_at'),
  paymentRetries: integer('payment_retries').notNull().default(0),
  /** Plan credits taken out while PAST_DUE with the allowance withheld (given back when the period is paid). */
  withheldMillis: millis('withheld_millis').notNull().default(0),
  createdAt: ts('created_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
}, (t) => [
  // At most one subscription per account that is not canceled.
  uniqueIndex('subscriptions_account_live_uq').on(t.accountId).where(sql`status <> 'CANCELED'`),
  // The renewal job looks for live subscriptions whose period ended.
  index('subscriptions_due_idx').on(t.currentPeriodEnd).where(sql`status <> 'CANCELED'`),
  // ... and for PAST_DUE ones whose grace period ended, and those due for a payment retry.
  index('subscriptions_grace_idx').on(t.graceEndsAt).where(sql`status = 'PAST_DUE'`),
  index('subscriptions_retry_idx').on(t.nextPaymentRetryAt).where(sql`status = 'PAST_DUE'`),
  check('subscriptions_status_check', oneOf(t.status, SUBSCRIPTION_STATUSES)),
]);

/** Each plan allowance granted to a subscription, with the plan version it came from. */
export const subscriptionPeriods = pgTable('subscription_periods', {
  id: uuid('id').primaryKey(),
  subscriptionId: uuid('subscription_id').notNull().references(() => subscriptions.id),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  kind: text('kind', { enum: PERIOD_GRANT_KINDS }).notNull(),
  periodStart: ts('period_start').notNull(),
  periodEnd: ts('period_end').notNull(),
  planVersionId: uuid('plan_version_id').notNull().references(() => planVersions.id),
  allowanceMillis: millis('allowance_millis').notNull(),
  bucketId: uuid('bucket_id').references(() => buckets.id),
  // No foreign key: the ledger writes its transactions at the end of the database transaction (buffered).
  transactionId: uuid('transaction_id'),
  /** RENEWAL: the bucket the previous period's unused allowance rolled into (it expires with this period). */
  rolloverBucketId: uuid('rollover_bucket_id').references(() => buckets.id),
  createdAt: ts('created_at').notNull(),
}, (t) => [
  // A period is granted once: a second START/RENEWAL grant for the same period start is impossible.
  uniqueIndex('subscription_periods_once_uq').on(t.subscriptionId, t.periodStart).where(sql`kind in ('START', 'RENEWAL')`),
  index('subscription_periods_subscription_idx').on(t.subscriptionId, t.periodEnd),
  check('subscription_periods_kind_check', oneOf(t.kind, PERIOD_GRANT_KINDS)),
]);

/** Credit packs on sale. A purchase copies what it sells (credits, price, expiry), so a change never alters one made. */
export const creditPacks = pgTable('credit_packs', {
  id: uuid('id').primaryKey(),
  code: text('code').notNull().unique(),
  name: text('name').notNull(),
  creditsMillis: millis('credits_millis').notNull(),
  priceMinor: bigint('price_minor', { mode: 'bigint' }).notNull(),
  currency: text('currency').notNull(),
  /** The credits a purchase grants expire this many days after it succeeds (null: never). */
  expiresAfterDays: integer('expires_after_days'),
  active: boolean('active').notNull(),
  createdAt: ts('created_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
}, (t) => [check('credit_packs_amounts_check', sql`${t.creditsMillis} > 0 and ${t.priceMinor} >= 0`)]);

/** The volume price table of custom amounts; every change is a new row, the newest is in effect. */
export const creditPriceTables = pgTable('credit_price_tables', {
  id: uuid('id').primaryKey(),
  version: integer('version').notNull().unique(),
  currency: text('currency').notNull(),
  minimumMillis: millis('minimum_millis').notNull(),
  maximumMillis: millis('maximum_millis').notNull(),
  /** [{ fromMillis, unitPrice }] ascending by fromMillis, the first from the minimum. */
  tiers: jsonb('tiers').$type<{ fromMillis: number; unitPrice: string }[]>().notNull(),
  createdAt: ts('created_at').notNull(),
});

export const purchases = pgTable('purchases', {
  pos: bigserial('pos', { mode: 'number' }).notNull().unique(), // keyset order of an account's purchases
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  kind: text('kind', { enum: PURCHASE_KINDS }).notNull(),
  packId: uuid('pack_id').references(() => creditPacks.id),
  creditsMillis: millis('credits_millis').notNull(),
  priceMinor: bigint('price_minor', { mode: 'bigint' }).notNull(),
  currency: text('currency').notNull(),
  /** Copied from the pack: the granted credits expire this many days after the payment (null: never). */
  expiresAfterDays: integer('expires_after_days'),
  status: text('status', { enum: PURCHASE_STATUSES }).notNull(),
  provider: text('provider').notNull(),
  checkoutUrl: text('checkout_url'),
  /** PLAN_PERIOD: the subscription and period this payment is for. */
  subscriptionId: uuid('subscription_id').references(() => subscriptions.id),
  periodStart: ts('period_start'),
  /** Off-session payments (auto top-up, plan periods): when the provider was asked (null: not yet). */
  requestedAt: ts('requested_at'),
  /** The grant (no foreign key: ledger rows are written at the end of the database transaction). */
  transactionId: uuid('transaction_id'),
  /** A refund or chargeback that took the credits back. */
  reversalTransactionId: uuid('reversal_transaction_id'),
  failureReason: text('failure_reason'),
  idempotencyScope: text('idempotency_scope').notNull(),
  idempotencyKey: text('idempotency_key').notNull(),
  requestHash: text('request_hash').notNull(),
  /** A PENDING purchase is CANCELED at this time. */
  expiresAt: ts('expires_at').notNull(),
  createdAt: ts('created_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
}, (t) => [
  uniqueIndex('purchases_idempotency_uq').on(t.idempotencyScope, t.idempotencyKey),
  index('purchases_account_pos_idx').on(t.accountId, t.pos),
  index('purchases_pending_idx').on(t.expiresAt).where(sql`status = 'PENDING'`),
  // At most one auto top-up waiting for its payment per account.
  uniqueIndex('purchases_auto_top_up_pending_uq').on(t.accountId).where(sql`status = 'PENDING' and kind = 'AUTO_TOP_UP'`),
  check('purchases_status_check', oneOf(t.status, PURCHASE_STATUSES)),
  check('purchases_kind_check', oneOf(t.kind, PURCHASE_KINDS)),
  check('purchases_amounts_check', sql`${t.creditsMillis} >= 0 and ${t.priceMinor} >= 0`),
]);

/** Every payment webhook event received, once per (provider, event id): the table that makes delivery exactly once. */
export const paymentEvents = pgTable('payment_events', {
  /** Arrival order (events of one purchase can share a receivedAt). */
  seq: bigserial('seq', { mode: 'number' }).notNull().unique(),
  provider: text('provider').notNull(),
  eventId: text('event_id').notNull(),
  type: text('type').notNull(),
  purchaseId: text('purchase_id'),
  outcome: text('outcome', { enum: PAYMENT_EVENT_OUTCOMES }).notNull(),
  /** Why it was ignored or needs review (unknown purchase, amount differs, ...). */
  reason: text('reason'),
  payload: jsonb('payload').notNull(),
  receivedAt: ts('received_at').notNull(),
}, (t) => [
  primaryKey({ columns: [t.provider, t.eventId] }),
  index('payment_events_review_idx').on(t.receivedAt).where(sql`outcome = 'REVIEW'`),
  check('payment_events_outcome_check', oneOf(t.outcome, PAYMENT_EVENT_OUTCOMES)),
]);

/** An account's auto top-up rule: below `below` available, buy a pack or up to a target balance. */
export const autoTopUps = pgTable('auto_top_ups', {
  accountId: uuid('account_id').primaryKey().references(() => accounts.id),
  enabled: boolean('enabled').notNull(),
  belowMillis: millis('below_millis').notNull(),
  packId: uuid('pack_id').references(() => creditPacks.id),
  targetBalanceMillis: millis('target_balance_millis'),
  maxPerMonth: integer('max_per_month').notNull(),
  consecutiveFailures: integer('consecutive_failures').notNull().default(0),
  /** Why it turned itself off (after repeated failed payments); null while enabled or turned off by hand. */
  disabledReason: text('disabled_reason'),
  updatedAt: ts('updated_at').notNull(),
}, (t) => [check('auto_top_ups_target_check', sql`(${t.packId} is null) <> (${t.targetBalanceMillis} is null)`)]);

/** Alerts raised for an account (this issue: billing ones; low-credit levels come with alerts). */
export const alerts = pgTable('alerts', {
  pos: bigserial('pos', { mode: 'number' }).notNull().unique(),
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  kind: text('kind', { enum: ALERT_KINDS }).notNull(),
  thresholdMillis: millis('threshold_millis'),
  availableMillis: millis('available_millis').notNull(),
  message: text('message').notNull(),
  /** The ledger transaction that crossed the level (LOW_BALANCE, DEPLETED); it carries the alert on walletEvents. */
  transactionId: uuid('transaction_id'),
  /** MEMBER_BUDGET: the team member whose budget reached the level. */
  memberId: uuid('member_id'),
  /** At most one alert per key (CREDITS_EXPIRING: one per bucket). */
  dedupeKey: text('dedupe_key').unique(),
  createdAt: ts('created_at').notNull(),
  readAt: ts('read_at'),
}, (t) => [
  index('alerts_account_pos_idx').on(t.accountId, t.pos),
  index('alerts_transaction_idx').on(t.transactionId).where(sql`transaction_id is not null`),
  check('alerts_kind_check', oneOf(t.kind, ALERT_KINDS)),
]);

/** The tier that prices an account's generations: its plan's (even none) when subscribed, else the account's own (reads join wallets and accounts). */
export const effectivePlanTier = sql<string | null>`case when ${wallets.planCode} is null then ${accounts.planTier} else ${wallets.planTier} end`;

/**
 * The flows of a wallet's credits that reports add up (ledger module, `flows.ts`, says what each ledger
 * transaction contributes). Every column is additive, so a period's figure is a sum of rows; the
 * identity balanceChange = allocated + purchased + granted + refunded − consumed − expired − reversed
 * holds on every row. Consumption is split by the kind of credits that paid: free (every bucket source
 * but PURCHASE), purchased, and on credit (overdraft: consumed − free − purchased).
 */
const flowColumns = () => ({
  consumedMillis: millis('consumed_millis').notNull().default(0),
  consumedFreeMillis: millis('consumed_free_millis').notNull().default(0),
  consumedPurchasedMillis: millis('consumed_purchased_millis').notNull().default(0),
  /** Charges and captures (each counted once). */
  transactions: integer('transactions').notNull().default(0),
  refundedMillis: millis('refunded_millis').notNull().default(0),
  allocatedMillis: millis('allocated_millis').notNull().default(0),
  purchasedMillis: millis('purchased_millis').notNull().default(0),
  grantedMillis: millis('granted_millis').notNull().default(0),
  expiredMillis: millis('expired_millis').notNull().default(0),
  reversedMillis: millis('reversed_millis').notNull().default(0),
  carriedForwardMillis: millis('carried_forward_millis').notNull().default(0),
  balanceChangeMillis: millis('balance_change_millis').notNull().default(0),
  debtChangeMillis: millis('debt_change_millis').notNull().default(0),
});

/**
 * Flows per wallet × UTC day × plan × action × model, written in the database transaction of the
 * ledger transactions they add up. Forecasts and reports read these, never the ledger.
 */
export const usageDaily = pgTable('usage_daily', {
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  day: text('day').notNull(), // YYYY-MM-DD, UTC
  /** The wallet's plan when the credits moved ('' without a plan). */
  planCode: text('plan_code').notNull().default(''),
  action: text('action').notNull().default(''),
  model: text('model').notNull().default(''),
  ...flowColumns(),
}, (t) => [
  primaryKey({ columns: [t.accountId, t.day, t.planCode, t.action, t.model] }),
  // Platform reports read a range of days over every account (the key starts with the account).
  index('usage_daily_day_idx').on(t.day),
]);

/**
 * The same flows per UTC quarter-hour (0–95 of the day), so a report cuts days and months at any time
 * zone's midnight (every zone's offset is a multiple of 15 minutes): only the days a period boundary
 * falls inside are read at this resolution.
 */
export const usageQuarterly = pgTable('usage_quarterly', {
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  day: text('day').notNull(),
  quarter: integer('quarter').notNull(),
  action: text('action').notNull().default(''),
  model: text('model').notNull().default(''),
  ...flowColumns(),
}, (t) => [
  primaryKey({ columns: [t.accountId, t.day, t.quarter, t.action, t.model] }),
  check('usage_quarterly_quarter_check', sql`${t.quarter} between 0 and 95`),
]);

/** A wallet's balance and debt after its last ledger transaction of each UTC day: a report's opening figures. */
export const balanceDaily = pgTable('balance_daily', {
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  day: text('day').notNull(),
  /** The wallet sequence of that transaction (a later one of the same day replaces it). */
  sequence: integer('sequence').notNull(),
  balanceAfterMillis: millis('balance_after_millis').notNull(),
  debtAfterMillis: millis('debt_after_millis').notNull(),
}, (t) => [primaryKey({ columns: [t.accountId, t.day] })]);

/**
 * Money per wallet × UTC day × vendor × model × currency: credit revenue (consumed credits at their
 * bucket's cost basis, less refunds) and the vendor's cost and units recorded on charges and captures.
 * Exact decimals (numeric). Margin by model and vendor reconciliation read these.
 */
export const modelCostsDaily = pgTable('model_costs_daily', {
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  day: text('day').notNull(),
  vendor: text('vendor').notNull().default(''),
  model: text('model').notNull().default(''),
  currency: text('currency').notNull(),
  revenue: numeric('revenue').notNull().default('0'),
  vendorCost: numeric('vendor_cost').notNull().default('0'),
  vendorUnits: numeric('vendor_units').notNull().default('0'),
  /** Charges and captures that recorded a vendor cost. */
  vendorCharges: integer('vendor_charges').notNull().default(0),
}, (t) => [
  primaryKey({ columns: [t.accountId, t.day, t.vendor, t.model, t.currency] }),
  // Margin by model and reconciliation read a range of days over every account.
  index('model_costs_daily_day_idx').on(t.day),
]);

/** Refused attempts per wallet × UTC day × failure code (the ledger records each as a FAILED transaction). */
export const failuresDaily = pgTable('failures_daily', {
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  day: text('day').notNull(),
  failureCode: text('failure_code').notNull(),
  attempts: integer('attempts').notNull().default(0),
}, (t) => [primaryKey({ columns: [t.accountId, t.day, t.failureCode] }), index('failures_daily_day_idx').on(t.day)]);

/** An imported vendor invoice and its comparison with the ledger (rows in `vendor_reconciliation_rows`). */
export const vendorReconciliations = pgTable('vendor_reconciliations', {
  pos: bigserial('pos', { mode: 'number' }).notNull().unique(),
  id: uuid('id').primaryKey(),
  vendor: text('vendor').notNull(),
  periodFrom: ts('period_from').notNull(),
  periodTo: ts('period_to').notNull(),
  currency: text('currency').notNull(),
  tolerancePercent: numeric('tolerance_percent').notNull(),
  flaggedRows: integer('flagged_rows').notNull(),
  actor: text('actor').notNull(),
  createdAt: ts('created_at').notNull(),
});

export const RECONCILIATION_STATUSES = ['MATCHED', 'MISMATCH', 'INVOICE_ONLY', 'LEDGER_ONLY'] as const;
export type ReconciliationStatusName = (typeof RECONCILIATION_STATUSES)[number];

export const vendorReconciliationRows = pgTable('vendor_reconciliation_rows', {
  reconciliationId: uuid('reconciliation_id').notNull().references(() => vendorReconciliations.id),
  ord: integer('ord').notNull(),
  model: text('model').notNull(),
  status: text('status', { enum: RECONCILIATION_STATUSES }).notNull(),
  invoiceCost: numeric('invoice_cost'),
  ledgerCost: numeric('ledger_cost'),
  invoiceUnits: numeric('invoice_units'),
  ledgerUnits: numeric('ledger_units'),
  /** (ledger − invoice) / invoice × 100, rounded to 2 decimals; null when either side is missing or the invoice is 0. */
  variancePercent: numeric('variance_percent'),
  flagged: boolean('flagged').notNull(),
}, (t) => [
  primaryKey({ columns: [t.reconciliationId, t.ord] }),
  check('vendor_reconciliation_rows_status_check', oneOf(t.status, RECONCILIATION_STATUSES)),
]);

/** Alerts for the operator's admins (not an account's): a flagged reconciliation, later review holds. */
export const ADMIN_ALERT_KINDS = ['VENDOR_VARIANCE', 'REVIEW_HOLD'] as const;
export type AdminAlertKindName = (typeof ADMIN_ALERT_KINDS)[number];

export const adminAlerts = pgTable('admin_alerts', {
  pos: bigserial('pos', { mode: 'number' }).notNull().unique(),
  id: uuid('id').primaryKey(),
  kind: text('kind', { enum: ADMIN_ALERT_KINDS }).notNull(),
  message: text('message').notNull(),
  /** What it is about (a reconciliation id, a review id). */
  subjectId: uuid('subject_id'),
  dedupeKey: text('dedupe_key').unique(),
  createdAt: ts('created_at').notNull(),
  readAt: ts('read_at'),
}, (t) => [check('admin_alerts_kind_check', oneOf(t.kind, ADMIN_ALERT_KINDS))]);

/**
 * Emails waiting to be sent, written in the database transaction of what they announce (an alert).
 * Workers on every instance claim due rows with FOR UPDATE SKIP LOCKED; `dedupeKey` (e.g. alert:<id>)
 * makes one email per alert, and is also the Message-ID so a resend after a crash is recognisable.
 */
export const emailOutbox = pgTable('email_outbox', {
  pos: bigserial('pos', { mode: 'number' }).notNull().unique(),
  id: uuid('id').primaryKey(),
  dedupeKey: text('dedupe_key').notNull().unique(),
  accountId: uuid('account_id').references(() => accounts.id),
  toAddress: text('to_address'),
  subject: text('subject').notNull(),
  textBody: text('text_body').notNull(),
  htmlBody: text('html_body').notNull(),
  status: text('status', { enum: EMAIL_STATUSES }).notNull(),
  attempts: integer('attempts').notNull().default(0),
  nextAttemptAt: ts('next_attempt_at').notNull(),
  lastError: text('last_error'),
  createdAt: ts('created_at').notNull(),
  sentAt: ts('sent_at'),
}, (t) => [
  index('email_outbox_due_idx').on(t.nextAttemptAt).where(sql`status = 'PENDING'`),
  check('email_outbox_status_check', oneOf(t.status, EMAIL_STATUSES)),
]);

/**
 * Members of TEAM accounts (one team per member account). A budget is credits per period (the team's
 * billing period, or a UTC calendar month without a plan); `budgetUsed` counts the period named by
 * `budgetPeriodKey` only: a use in a later period starts from 0, so budgets reset by key, never by a job.
 */
export const teamMembers = pgTable('team_members', {
  teamId: uuid('team_id').notNull().references(() => accounts.id),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  role: text('role', { enum: TEAM_ROLES }).notNull(),
  /** null: no budget (the team wallet's own limits only). */
  budgetMillis: millis('budget_millis'),
  budgetPeriodKey: text('budget_period_key').notNull().default(''),
  budgetUsedMillis: millis('budget_used_millis').notNull().default(0),
  /** The share levels (percent of the budget) already alerted in `budgetPeriodKey`. */
  budgetAlerted: jsonb('budget_alerted').$type<number[]>().notNull().default(sql`'[]'::jsonb`),
  createdAt: ts('created_at').notNull(),
  updatedAt: ts('updated_at').notNull(),
}, (t) => [
  primaryKey({ columns: [t.teamId, t.accountId] }),
  uniqueIndex('team_members_account_uq').on(t.accountId),
  check('team_members_role_check', oneOf(t.role, TEAM_ROLES)),
  check('team_members_budget_check', sql`(${t.budgetMillis} is null or ${t.budgetMillis} >= 0) and ${t.budgetUsedMillis} >= 0`),
]);

/** Consumption per team wallet × UTC day × member (charges and captures less refunds), for reports' byMember. */
export const memberUsageDaily = pgTable('member_usage_daily', {
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  day: text('day').notNull(),
  memberId: uuid('member_id').notNull(),
  consumedMillis: millis('consumed_millis').notNull().default(0),
  refundedMillis: millis('refunded_millis').notNull().default(0),
  transactions: integer('transactions').notNull().default(0),
}, (t) => [primaryKey({ columns: [t.accountId, t.day, t.memberId] })]);

/** The same per UTC quarter-hour (0–95), so byMember cuts at any time zone's midnight like the other breakdowns. */
export const memberUsageQuarterly = pgTable('member_usage_quarterly', {
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  day: text('day').notNull(),
  quarter: integer('quarter').notNull(),
  memberId: uuid('member_id').notNull(),
  consumedMillis: millis('consumed_millis').notNull().default(0),
  refundedMillis: millis('refunded_millis').notNull().default(0),
  transactions: integer('transactions').notNull().default(0),
}, (t) => [
  primaryKey({ columns: [t.accountId, t.day, t.quarter, t.memberId] }),
  check('member_usage_quarterly_quarter_check', sql`${t.quarter} between 0 and 95`),
]);

/**
 * Review holds: a velocity or fingerprint rule put the wallet on hold (wallets.review_id); an admin
 * approves (charges resume) or rejects (the wallet stays frozen) with a comment. `details` keeps the
 * numbers that triggered it (observed, baseline, multiplier, floor / fingerprint, repeats, window).
 */
export const reviews = pgTable('reviews', {
  pos: bigserial('pos', { mode: 'number' }).notNull().unique(),
  id: uuid('id').primaryKey(),
  accountId: uuid('account_id').notNull().references(() => accounts.id),
  status: text('status', { enum: REVIEW_STATUSES }).notNull(),
  rule: text('rule', { enum: REVIEW_RULES }).notNull(),
  details: jsonb('details').$type<Record<string, unknown>>().notNull(),
  /** The refused attempt that triggered it (no foreign key: ledger rows are written at flush). */
  transactionId: uuid('transaction_id'),
  createdAt: ts('created_at').notNull(),
  resolvedAt: ts('resolved_at'),
  resolvedBy: text('resolved_by'),
  comment: text('comment'),
}, (t) => [
  // At most one OPEN review per wallet.
  uniqueIndex('reviews_account_open_uq').on(t.accountId).where(sql`status = 'OPEN'`),
  index('reviews_status_pos_idx').on(t.status, t.pos),
  check('reviews_status_check', oneOf(t.status, REVIEW_STATUSES)),
  check('reviews_rule_check', oneOf(t.rule, REVIEW_RULES)),
]);
