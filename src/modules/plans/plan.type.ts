/** GraphQL types of plans, subscriptions and their periods (names binding per API.md). */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';
import { formatMoney } from '../../shared/money';

export enum BillingInterval { DAY = 'DAY', WEEK = 'WEEK', MONTH = 'MONTH', YEAR = 'YEAR' }
registerEnumType(BillingInterval, { name: 'BillingInterval' });

export enum RolloverPolicy { NONE = 'NONE', CAPPED = 'CAPPED', FULL = 'FULL' }
registerEnumType(RolloverPolicy, { name: 'RolloverPolicy', description: 'Unused allowance at period end: expires | rolls over up to rolloverCap | all rolls over (rolled-over credits last one more period).' });

export enum SubscriptionStatus { ACTIVE = 'ACTIVE', PAST_DUE = 'PAST_DUE', CANCELED = 'CANCELED' }
registerEnumType(SubscriptionStatus, { name: 'SubscriptionStatus' });

export enum PeriodGrantKind { START = 'START', RENEWAL = 'RENEWAL', UPGRADE = 'UPGRADE', RESTORED = 'RESTORED' }
registerEnumType(PeriodGrantKind, {
  name: 'PeriodGrantKind',
  description: 'Why a plan allowance was granted. RESTORED: plan credits withheld while the payment was past due, back once the period was paid.',
});

@ObjectType({ description: 'Exact money: a decimal string in the currency\'s units ("25.00") and an ISO 4217 code.' })
export class Money {
  @Field()
  amount: string;

  @Field()
  currency: string;
}

/** Money as GraphQL shows it: minor units → the currency's decimal text. */
export function moneyOf(minor: bigint, currency: string): Money {
  return { amount: formatMoney(minor, currency), currency };
}

@InputType()
export class MoneyInput {
  @Field({ description: 'Decimal string with at most the currency\'s minor digits, e.g. "25.00".' })
  amount: string;

  @Field({ description: 'ISO 4217 code, e.g. USD.' })
  currency: string;
}

@ObjectType({ description: 'A plan with the terms of one version (its current one, or the one a subscription is on).' })
export class Plan {
  @Field(() => ID)
  id: string;

  @Field()
  code: string;

  @Field()
  name: string;

  @Field(() => Money)
  price: Money;

  @Field(() => BillingInterval)
  interval: BillingInterval;

  @Field(() => Int)
  intervalCount: number;

  @Field(() => CreditsScalar, { name: 'allowance', description: 'Credits granted each period.' })
  allowanceMillis: number;

  @Field(() => RolloverPolicy)
  rollover: RolloverPolicy;

  @Field(() => CreditsScalar, { name: 'rolloverCap', nullable: true })
  rolloverCapMillis: number | null;

  @Field(() => CreditsScalar, { name: 'overdraftLimit', description: 'Applies to subscribers\' wallets that have no limit of their own.' })
  overdraftLimitMillis: number;

  @Field(() => String, { nullable: true, description: 'Drives rate-card plan-tier multipliers.' })
  tier: string | null;

  @Field(() => [String], { nullable: true, description: 'null = every model; a list refuses the rest (MODEL_NOT_IN_PLAN).' })
  models: string[] | null;

  @Field(() => [String], { nullable: true, description: 'null = every action; a list refuses the rest (MODEL_NOT_IN_PLAN).' })
  actions: string[] | null;

  @Field(() => [CreditsScalar], { name: 'lowCreditThresholds', description: 'Defaults for subscribers\' wallets that have none of their own.' })
  lowCreditThresholdsMillis: number[];

  @Field(() => [Int], { description: 'Default percent-of-allowance levels for subscribers\' wallets that have none of their own.' })
  lowCreditThresholdPercents: number[];

  @Field(() => Int)
  seats: number;

  @Field(() => Int, { nullable: true, description: 'Review hold: this hour\'s credits above this multiple of the baseline (null: the default, 10).' })
  velocityMultiplier: number | null;

  @Field(() => CreditsScalar, { name: 'velocityFloor', nullable: true, description: 'Review hold: credits per hour below which the velocity rule never trips (null: the default, 1000).' })
  velocityFloorMillis: number | null;

  @Field(() => Int, { nullable: true, description: 'Review hold: the N-th identical generation fingerprint within the window is refused (null: the default, 20).' })
  fingerprintRepeats: number | null;

  @Field(() => Int, { nullable: true, description: 'Review hold: the fingerprint window in minutes (null: the default, 10).' })
  fingerprintWindowMinutes: number | null;

  @Field(() => Int, { nullable: true, description: 'Requests per minute per subscribed account, on top of the other rate limits (null: none).' })
  requestsPerMinute: number | null;

  @Field()
  active: boolean;

  @Field(() => Int, { description: 'The version of the terms shown; a change makes a new version, which subscribers get from their next period.' })
  version: number;

  @Field(() => GraphQLDateTime)
  updatedAt: Date;
}

@InputType()
export class PlanInput {
  @Field({ description: 'Unique: lowercase letters, digits, "-" and "_" (at most 64).' })
  code: string;

  @Field()
  name: string;

  @Field(() => MoneyInput)
  price: MoneyInput;

  @Field(() => BillingInterval, { defaultValue: BillingInterval.MONTH })
  interval: BillingInterval;

  @Field(() => Int, { defaultValue: 1 })
  intervalCount: number;

  @Field(() => CreditsScalar)
  allowance: number;

  @Field(() => RolloverPolicy, { defaultValue: RolloverPolicy.NONE })
  rollover: RolloverPolicy;

  @Field(() => CreditsScalar, { nullable: true, description: 'Required exactly when rollover is CAPPED.' })
  rolloverCap?: number | null;

  @Field(() => CreditsScalar, { nullable: true, defaultValue: 0 })
  overdraftLimit?: number | null;

  @Field(() => String, { nullable: true })
  tier?: string | null;

  @Field(() => [String], { nullable: true })
  models?: string[] | null;

  @Field(() => [String], { nullable: true })
  actions?: string[] | null;

  @Field(() => [CreditsScalar], { nullable: true })
  lowCreditThresholds?: number[] | null;

  @Field(() => [Int], { nullable: true, description: 'Percent of the allowance, 1–100.' })
  lowCreditThresholdPercents?: number[] | null;

  @Field(() => Int, { defaultValue: 1 })
  seats: number;

  @Field(() => Int, { nullable: true, description: 'Review hold: velocity multiplier, 1–1000 (null: the default).' })
  velocityMultiplier?: number | null;

  @Field(() => CreditsScalar, { nullable: true, description: 'Review hold: credits per hour the velocity rule never trips below, > 0 (null: the default).' })
  velocityFloor?: number | null;

  @Field(() => Int, { nullable: true, description: 'Review hold: identical fingerprints refused at the N-th, 2–100 (null: the default).' })
  fingerprintRepeats?: number | null;

  @Field(() => Int, { nullable: true, description: 'Review hold: fingerprint window, 1–1440 minutes (null: the default).' })
  fingerprintWindowMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: 'Requests per minute per subscribed account, 1–1000000 (null: none).' })
  requestsPerMinute?: number | null;

  @Field({ defaultValue: true })
  active: boolean;
}

@InputType({ description: 'Only the fields given change. A change of terms makes a new version; `active: false` archives the plan.' })
export class PlanUpdateInput {
  @Field(() => String, { nullable: true })
  name?: string | null;

  @Field(() => MoneyInput, { nullable: true })
  price?: MoneyInput | null;

  @Field(() => BillingInterval, { nullable: true })
  interval?: BillingInterval | null;

  @Field(() => Int, { nullable: true })
  intervalCount?: number | null;

  @Field(() => CreditsScalar, { nullable: true })
  allowance?: number | null;

  @Field(() => RolloverPolicy, { nullable: true })
  rollover?: RolloverPolicy | null;

  @Field(() => CreditsScalar, { nullable: true })
  rolloverCap?: number | null;

  @Field(() => CreditsScalar, { nullable: true })
  overdraftLimit?: number | null;

  @Field(() => String, { nullable: true, description: 'An empty string removes the tier.' })
  tier?: string | null;

  @Field(() => [String], { nullable: true, description: 'An empty list allows every model again.' })
  models?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'An empty list allows every action again.' })
  actions?: string[] | null;

  @Field(() => [CreditsScalar], { nullable: true })
  lowCreditThresholds?: number[] | null;

  @Field(() => [Int], { nullable: true, description: 'Percent of the allowance, 1–100; an empty list removes them.' })
  lowCreditThresholdPercents?: number[] | null;

  @Field(() => Int, { nullable: true })
  seats?: number | null;

  @Field(() => Int, { nullable: true, description: 'Review hold: velocity multiplier, 1–1000 (null: the default).' })
  velocityMultiplier?: number | null;

  @Field(() => CreditsScalar, { nullable: true, description: 'Review hold: credits per hour the velocity rule never trips below, > 0 (null: the default).' })
  velocityFloor?: number | null;

  @Field(() => Int, { nullable: true, description: 'Review hold: identical fingerprints refused at the N-th, 2–100 (null: the default).' })
  fingerprintRepeats?: number | null;

  @Field(() => Int, { nullable: true, description: 'Review hold: fingerprint window, 1–1440 minutes (null: the default).' })
  fingerprintWindowMinutes?: number | null;

  @Field(() => Int, { nullable: true, description: 'Requests per minute per subscribed account, 1–1000000 (null: none).' })
  requestsPerMinute?: number | null;

  @Field(() => Boolean, { nullable: true })
  active?: boolean | null;
}

@ObjectType({ description: 'A plan allowance granted to a subscription, with the plan version it came from.' })
export class SubscriptionPeriod {
  @Field(() => ID)
  id: string;

  @Field(() => PeriodGrantKind)
  kind: PeriodGrantKind;

  @Field(() => GraphQLDateTime, { name: 'start' })
  periodStart: Date;

  @Field(() => GraphQLDateTime, { name: 'end' })
  periodEnd: Date;

  @Field(() => CreditsScalar, { name: 'allowance' })
  allowanceMillis: number;

  @Field(() => ID, { nullable: true, description: 'The GRANT ledger transaction (null when the allowance was 0).' })
  transactionId: string | null;

  @Field(() => ID, { nullable: true, description: 'RENEWAL: the ROLLOVER bucket the previous period\'s unused allowance moved into.' })
  rolloverBucketId: string | null;

  // plan: resolved by PlanSubscriptionResolver (the version granted from)
}

@ObjectType('PlanSubscription', { description: 'An account\'s subscription to a plan (Account.subscription).' })
export class PlanSubscription {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  accountId: string;

  @Field(() => SubscriptionStatus)
  status: SubscriptionStatus;

  @Field(() => GraphQLDateTime)
  currentPeriodStart: Date;

  @Field(() => GraphQLDateTime)
  currentPeriodEnd: Date;

  @Field()
  cancelAtPeriodEnd: boolean;

  @Field(() => GraphQLDateTime, { nullable: true })
  canceledAt: Date | null;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'PAST_DUE: when the current period\'s payment first failed.' })
  pastDueSince: Date | null;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'PAST_DUE: unless paid by then, the subscription moves to the fallback plan (or ends).' })
  graceEndsAt: Date | null;

  @Field(() => GraphQLDateTime, { nullable: true, description: 'PAST_DUE: the next payment attempt.' })
  nextPaymentRetryAt: Date | null;

  @Field(() => Int, { description: 'Payment attempts retried in the current PAST_DUE spell.' })
  paymentRetries: number;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  // plan, scheduledPlan, periods: resolved by PlanSubscriptionResolver
}

@InputType()
export class SubscribeInput {
  @Field(() => ID)
  accountId: string;

  @Field()
  planCode: string;

  @Field()
  idempotencyKey: string;
}

@InputType()
export class ChangePlanInput {
  @Field(() => ID)
  accountId: string;

  @Field({ description: 'An upgrade takes effect at once; a downgrade (or another billing interval) at the period end. The current plan undoes a scheduled change or cancellation.' })
  planCode: string;

  @Field()
  idempotencyKey: string;
}

@InputType()
export class CancelSubscriptionInput {
  @Field(() => ID)
  accountId: string;

  @Field({ defaultValue: true, description: 'true: ends at the period end; false: ends now and the period\'s unused plan credits expire now.' })
  atPeriodEnd: boolean;

  @Field()
  idempotencyKey: string;
}
