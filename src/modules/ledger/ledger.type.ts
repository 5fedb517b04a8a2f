/** GraphQL types of the ledger: transactions, entries, holds, history, audit and the credit-moving inputs. */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime, GraphQLJSON } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';
import { PageInfo } from '../../graphql/connection';
import { GenerationInput } from '../pricing/pricing.type';

export enum TransactionType {
  GRANT = 'GRANT', PURCHASE = 'PURCHASE', CHARGE = 'CHARGE', HOLD = 'HOLD', CAPTURE = 'CAPTURE', RELEASE = 'RELEASE',
  REFUND = 'REFUND', EXPIRE = 'EXPIRE', ROLLOVER = 'ROLLOVER', DEBT_REPAYMENT = 'DEBT_REPAYMENT',
  ADJUSTMENT = 'ADJUSTMENT', REVERSAL = 'REVERSAL',
}
registerEnumType(TransactionType, { name: 'TransactionType' });

export enum TransactionStatus { SUCCEEDED = 'SUCCEEDED', FAILED = 'FAILED' }
registerEnumType(TransactionStatus, { name: 'TransactionStatus' });

export enum BucketSource {
  PLAN_ALLOWANCE = 'PLAN_ALLOWANCE', PURCHASE = 'PURCHASE', PROMO = 'PROMO', ROLLOVER = 'ROLLOVER', REFUND = 'REFUND', ADJUSTMENT = 'ADJUSTMENT',
}
registerEnumType(BucketSource, { name: 'BucketSource' });

@ObjectType({ description: 'How much one bucket gave (negative) or received (positive) in a transaction.' })
export class LedgerEntry {
  @Field(() => ID)
  bucketId: string;

  @Field(() => BucketSource)
  bucketSource: BucketSource;

  @Field(() => CreditsScalar)
  amount: number;

  @Field(() => ID, { nullable: true, description: 'Refunds: the bucket the credits were first taken from.' })
  originBucketId: string | null;
}

@ObjectType({ description: 'An immutable ledger record. `amount` is the signed change of the balance.' })
export class LedgerTransaction {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  accountId: string;

  @Field(() => ID, { nullable: true, description: 'A team wallet\'s member the charge, hold, capture or refund was for.' })
  memberId: string | null;

  @Field(() => Int, { nullable: true, description: 'Per-wallet gap-free sequence; null for FAILED attempts.' })
  sequence: number | null;

  @Field(() => TransactionType)
  type: TransactionType;

  @Field(() => TransactionStatus)
  status: TransactionStatus;

  @Field(() => CreditsScalar, { name: 'amount', description: 'Signed change of the balance (0 for holds, releases and refused attempts).' })
  amountMillis: number;

  @Field(() => CreditsScalar, { name: 'requestedAmount', nullable: true, description: 'What was asked for (a refused charge shows it here).' })
  requestedMillis: number | null;

  @Field(() => CreditsScalar, { name: 'heldChange', description: 'Change of the credits under holds (+ on HOLD, − on CAPTURE/RELEASE).' })
  heldChangeMillis: number;

  @Field(() => CreditsScalar, { name: 'debtChange', description: 'Change of the debt (+ when an overdraft charge adds debt, − when it is repaid).' })
  debtChangeMillis: number;

  @Field(() => CreditsScalar, { name: 'balanceAfter', nullable: true })
  balanceAfterMillis: number | null;

  @Field(() => CreditsScalar, { name: 'availableAfter', nullable: true })
  availableAfterMillis: number | null;

  @Field(() => String, { nullable: true })
  action: string | null;

  @Field(() => String, { nullable: true })
  model: string | null;

  @Field(() => GraphQLJSON, { nullable: true })
  params: unknown;

  @Field()
  actor: string;

  @Field(() => String, { nullable: true })
  comment: string | null;

  @Field(() => String, { nullable: true })
  idempotencyKey: string | null;

  @Field(() => ID, { nullable: true })
  quoteId: string | null;

  @Field(() => ID, { nullable: true })
  holdId: string | null;

  @Field(() => ID, { nullable: true, description: 'Refunds and reversals: the transaction they point at.' })
  relatedTransactionId: string | null;

  @Field(() => String, { nullable: true })
  failureCode: string | null;

  @Field(() => String, { nullable: true })
  failureMessage: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'Generation charges: rate-card version, line items, quoted price.' })
  pricing: unknown;

  @Field(() => GraphQLJSON, { nullable: true, description: "The vendor's usage record: name, request id, cost, raw units." })
  vendorUsage: unknown;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  // entries: resolved by a field resolver through a DataLoader
}

@ObjectType()
export class Hold {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  accountId: string;

  @Field(() => CreditsScalar, { name: 'amount' })
  amountMillis: number;

  @Field({ description: 'ACTIVE, CAPTURED, RELEASED or EXPIRED.' })
  status: string;

  @Field(() => String, { nullable: true })
  action: string | null;

  @Field(() => String, { nullable: true })
  model: string | null;

  @Field(() => ID, { nullable: true })
  quoteId: string | null;

  @Field(() => ID, { nullable: true, description: 'A team wallet\'s member the hold is for (it counts against their budget while active).' })
  memberId: string | null;

  @Field(() => GraphQLDateTime)
  expiresAt: Date;

  @Field(() => GraphQLDateTime)
  createdAt: Date;
}

@ObjectType()
export class LedgerTransactionEdge {
  @Field()
  cursor: string;

  @Field(() => LedgerTransaction)
  node: LedgerTransaction;
}

@ObjectType()
export class LedgerTransactionConnection {
  @Field(() => [LedgerTransactionEdge])
  edges: LedgerTransactionEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@InputType()
export class TransactionFilter {
  @Field(() => [TransactionType], { nullable: true })
  types?: TransactionType[] | null;

  @Field(() => [TransactionStatus], { nullable: true })
  statuses?: TransactionStatus[] | null;

  @Field(() => String, { nullable: true })
  action?: string | null;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'Inclusive.' })
  from?: Date | null;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'Exclusive.' })
  to?: Date | null;
}

@ObjectType()
export class LedgerAudit {
  @Field()
  ok: boolean;

  @Field(() => [String])
  violations: string[];

  @Field(() => Int)
  walletsChecked: number;

  @Field(() => Int)
  transactionsChecked: number;
}

@InputType()
export class GrantCreditsInput {
  @Field(() => ID)
  accountId: string;

  @Field(() => CreditsScalar)
  amount: number;

  @Field(() => BucketSource)
  source: BucketSource;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'null: never expires.' })
  expiresAt?: Date | null;

  @Field(() => Int, { nullable: true, description: 'Lower burns first. Default by source: PROMO 10, PLAN_ALLOWANCE 20, ROLLOVER 30, REFUND 40, ADJUSTMENT 50, PURCHASE 60.' })
  priority?: number | null;

  @Field(() => String, { nullable: true })
  comment?: string | null;

  @Field(() => [String], { nullable: true, description: 'Only these actions may draw on the bucket.' })
  applicableActions?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Only these models may draw on the bucket.' })
  applicableModels?: string[] | null;

  @Field(() => String, { nullable: true, description: 'Money paid per credit (decimal string), for revenue reports.' })
  costPerCredit?: string | null;

  @Field(() => String, { nullable: true })
  currency?: string | null;

  @Field()
  idempotencyKey: string;
}

@InputType()
export class ChargeInput {
  @Field(() => ID)
  accountId: string;

  @Field(() => CreditsScalar)
  amount: number;

  @Field()
  idempotencyKey: string;

  @Field(() => String, { nullable: true })
  action?: string | null;

  @Field(() => String, { nullable: true })
  model?: string | null;

  @Field(() => String, { nullable: true })
  comment?: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: "The vendor's usage record (vendor, requestId, cost, currency, units)." })
  vendorUsage?: unknown;

  @Field(() => ID, { nullable: true, description: 'A TEAM wallet\'s member this use is for: counted against their budget (BUDGET_EXCEEDED beyond it).' })
  memberId?: string | null;
  @Field(() => String, { nullable: true, description: 'The generation\'s fingerprint (at most 128 characters): identical ones repeated too often put the wallet on hold for review.' })
  fingerprint?: string | null;
}

@InputType()
export class ChargeBatchInput {
  @Field(() => [ChargeInput], { description: 'Up to CHARGE_BATCH_ITEMS_MAX (default 1,000) charges, each with its own idempotency key.' })
  charges: ChargeInput[];

  @Field(() => Boolean, { nullable: true, defaultValue: false, description: 'true: all charges succeed or none is written (the first failure aborts the others as BATCH_ABORTED).' })
  atomic?: boolean | null;
}

@ObjectType({ description: 'Why one item of a batch was not charged: the same code, message and details a single charge would have answered.' })
export class BatchItemError {
  @Field()
  code: string;

  @Field()
  message: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The refusal\'s details (e.g. required/available for INSUFFICIENT_CREDITS) and its remedy.' })
  details?: Record<string, unknown> | null;
}

@ObjectType({ description: 'One item of a batch, at the index of its input: the transaction it posted (or replayed), or its error.' })
export class ChargeBatchItem {
  @Field(() => LedgerTransaction, { nullable: true })
  transaction?: LedgerTransaction | null;

  @Field(() => BatchItemError, { nullable: true })
  error?: BatchItemError | null;
}

@ObjectType()
export class ChargeBatchResult {
  @Field(() => [ChargeBatchItem], { description: 'In input order.' })
  results: ChargeBatchItem[];
}

@InputType()
export class CaptureInput {
  @Field(() => ID)
  holdId: string;

  @Field(() => CreditsScalar, { nullable: true, description: 'At most the hold; omitted: the whole hold. The rest returns.' })
  amount?: number | null;

  @Field(() => GenerationInput, { nullable: true, description: "The actual usage, priced by the hold's rate card and capped at the hold." })
  generation?: GenerationInput | null;

  @Field()
  idempotencyKey: string;

  @Field(() => String, { nullable: true })
  comment?: string | null;

  @Field(() => GraphQLJSON, { nullable: true })
  vendorUsage?: unknown;
}

@InputType()
export class ReleaseInput {
  @Field(() => ID)
  holdId: string;

  @Field()
  idempotencyKey: string;

  @Field(() => String, { nullable: true })
  comment?: string | null;
}

@InputType()
export class RefundInput {
  @Field(() => ID)
  transactionId: string;

  @Field(() => CreditsScalar, { nullable: true, description: 'Omitted: everything still refundable.' })
  amount?: number | null;

  @Field()
  idempotencyKey: string;

  @Field(() => String, { nullable: true })
  comment?: string | null;
}

@InputType()
export class ReverseInput {
  @Field(() => ID)
  transactionId: string;

  @Field()
  idempotencyKey: string;

  @Field(() => String, { nullable: true })
  comment?: string | null;
}

@InputType()
export class ReserveInput {
  @Field(() => ID)
  accountId: string;

  @Field(() => CreditsScalar, { nullable: true, description: 'The amount to hold (or give quoteId / generation).' })
  amount?: number | null;

  @Field(() => ID, { nullable: true, description: 'Hold the locked price of this quote (uses the quote).' })
  quoteId?: string | null;

  @Field(() => GenerationInput, { nullable: true, description: 'Hold the price of this generation by the current rate card.' })
  generation?: GenerationInput | null;

  @Field()
  idempotencyKey: string;

  @Field(() => Int, { nullable: true, description: 'Hold lifetime; default 900 (15 min).' })
  ttlSeconds?: number | null;

  @Field(() => String, { nullable: true })
  action?: string | null;

  @Field(() => String, { nullable: true })
  model?: string | null;

  @Field(() => String, { nullable: true })
  comment?: string | null;

  @Field(() => ID, { nullable: true, description: 'A TEAM wallet\'s member this use is for: counted against their budget (BUDGET_EXCEEDED beyond it).' })
  memberId?: string | null;
  @Field(() => String, { nullable: true, description: 'The generation\'s fingerprint (at most 128 characters): identical ones repeated too often put the wallet on hold for review.' })
  fingerprint?: string | null;
}
