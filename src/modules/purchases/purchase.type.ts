/** GraphQL types of credit packs, custom-amount prices, purchases and auto top-up (names binding per API.md). */
import { Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';
import { PageInfo } from '../../graphql/connection';
import { Money, MoneyInput } from '../plans/plan.type';

export enum PurchaseStatus { PENDING = 'PENDING', SUCCEEDED = 'SUCCEEDED', FAILED = 'FAILED', CANCELED = 'CANCELED' }
registerEnumType(PurchaseStatus, { name: 'PurchaseStatus' });

export enum PurchaseKind { PACK = 'PACK', CUSTOM = 'CUSTOM', AUTO_TOP_UP = 'AUTO_TOP_UP', PLAN_PERIOD = 'PLAN_PERIOD' }
registerEnumType(PurchaseKind, { name: 'PurchaseKind', description: 'A pack, a custom amount, an auto top-up, or a plan period\'s payment (no credits).' });

export enum PaymentEventType {
  PAYMENT_SUCCEEDED = 'payment.succeeded', PAYMENT_FAILED = 'payment.failed', PAYMENT_REFUNDED = 'payment.refunded', PAYMENT_DISPUTED = 'payment.disputed',
}
registerEnumType(PaymentEventType, { name: 'PaymentEventType' });

export enum PaymentEventOutcome { APPLIED = 'APPLIED', IGNORED = 'IGNORED', REVIEW = 'REVIEW' }
registerEnumType(PaymentEventOutcome, { name: 'PaymentEventOutcome', description: 'Took effect; changed nothing (a duplicate, or already so); or needs a person (unknown purchase, amount differs).' });

@ObjectType()
export class CreditPack {
  @Field(() => ID)
  id: string;

  @Field()
  code: string;

  @Field()
  name: string;

  @Field(() => CreditsScalar, { name: 'credits' })
  creditsMillis: number;

  @Field(() => Money)
  price: Money;

  @Field(() => Int, { nullable: true, description: 'The credits expire this many days after the payment; null: never.' })
  expiresAfterDays: number | null;

  @Field()
  active: boolean;

  @Field(() => GraphQLDateTime)
  updatedAt: Date;
}

@InputType()
export class CreditPackInput {
  @Field({ description: 'Unique: lowercase letters, digits, "-" and "_" (at most 64).' })
  code: string;

  @Field()
  name: string;

  @Field(() => CreditsScalar)
  credits: number;

  @Field(() => MoneyInput)
  price: MoneyInput;

  @Field(() => Int, { nullable: true, description: 'Days the granted credits last; null (default): they never expire.' })
  expiresAfterDays?: number | null;

  @Field({ defaultValue: true })
  active: boolean;
}

@InputType()
export class CreditPackUpdateInput {
  @Field({ nullable: true })
  name?: string;

  @Field(() => CreditsScalar, { nullable: true })
  credits?: number | null;

  @Field(() => MoneyInput, { nullable: true })
  price?: MoneyInput | null;

  @Field(() => Int, { nullable: true, description: '0 removes the expiry (the credits never expire).' })
  expiresAfterDays?: number | null;

  @Field(() => Boolean, { nullable: true, description: 'false archives the pack: no new purchases.' })
  active?: boolean | null;
}

@ObjectType()
export class CreditPriceTier {
  @Field(() => CreditsScalar, { name: 'from', description: 'Amounts from here (up to the next tier) cost unitPrice per credit, the whole amount.' })
  fromMillis: number;

  @Field({ description: 'Price per credit in the table\'s currency, exact decimal (≤ 6 fractional digits).' })
  unitPrice: string;
}

@ObjectType({ description: 'Volume pricing of custom amounts: the whole amount at the unit price of the highest tier it reaches; the price is rounded half up to the currency\'s minor unit, once.' })
export class CreditPriceTiers {
  @Field(() => Int)
  version: number;

  @Field()
  currency: string;

  @Field(() => CreditsScalar, { name: 'minimum' })
  minimumMillis: number;

  @Field(() => CreditsScalar, { name: 'maximum' })
  maximumMillis: number;

  @Field(() => [CreditPriceTier])
  tiers: CreditPriceTier[];

  @Field(() => GraphQLDateTime)
  createdAt: Date;
}

@InputType()
export class CreditPriceTierInput {
  @Field(() => CreditsScalar)
  from: number;

  @Field()
  unitPrice: string;
}

@InputType()
export class CreditPriceTiersInput {
  @Field()
  currency: string;

  @Field(() => CreditsScalar)
  minimum: number;

  @Field(() => CreditsScalar)
  maximum: number;

  @Field(() => [CreditPriceTierInput])
  tiers: CreditPriceTierInput[];
}

@ObjectType()
export class Purchase {
  @Field(() => ID)
  id: string;

  @Field(() => ID)
  accountId: string;

  @Field(() => PurchaseKind)
  kind: PurchaseKind;

  @Field(() => CreditsScalar, { name: 'credits' })
  creditsMillis: number;

  @Field(() => PurchaseStatus)
  status: PurchaseStatus;

  @Field()
  provider: string;

  @Field(() => String, { nullable: true, description: 'Where the buyer pays (null for off-session payments: auto top-up, plan periods).' })
  checkoutUrl: string | null;

  @Field(() => String, { nullable: true, description: 'Why it failed or was canceled.' })
  failureReason: string | null;

  @Field(() => GraphQLDateTime, { description: 'A PENDING purchase is CANCELED at this time.' })
  expiresAt: Date;

  @Field(() => GraphQLDateTime)
  createdAt: Date;

  @Field(() => GraphQLDateTime)
  updatedAt: Date;
}

@ObjectType()
export class PurchaseEdge {
  @Field()
  cursor: string;

  @Field(() => Purchase)
  node: Purchase;
}

@ObjectType()
export class PurchaseConnection {
  @Field(() => [PurchaseEdge])
  edges: PurchaseEdge[];

  @Field(() => PageInfo)
  pageInfo: PageInfo;
}

@InputType()
export class PurchaseCreditsInput {
  @Field(() => ID)
  accountId: string;

  @Field(() => String, { nullable: true, description: 'Buy this pack; or give credits.' })
  packCode?: string | null;

  @Field(() => CreditsScalar, { nullable: true, description: 'Buy this custom amount at the volume price (creditPrice).' })
  credits?: number | null;

  @Field()
  idempotencyKey: string;
}

@ObjectType()
export class PaymentEvent {
  @Field()
  provider: string;

  @Field()
  eventId: string;

  @Field()
  type: string;

  @Field(() => String, { nullable: true })
  purchaseId: string | null;

  @Field(() => PaymentEventOutcome)
  outcome: PaymentEventOutcome;

  @Field(() => String, { nullable: true })
  reason: string | null;

  @Field(() => GraphQLDateTime)
  receivedAt: Date;
}

@ObjectType()
export class AutoTopUp {
  @Field()
  enabled: boolean;

  @Field(() => CreditsScalar, { name: 'below', description: 'A committed charge leaving available below this buys credits.' })
  belowMillis: number;

  @Field(() => CreditsScalar, { name: 'targetBalance', nullable: true, description: 'Buy up to this available (custom amount), or else the pack.' })
  targetBalanceMillis: number | null;

  @Field(() => Int)
  maxPerMonth: number;

  @Field(() => Int, { description: 'Unpaid auto top-ups in a row; at 3 it turns itself off.' })
  consecutiveFailures: number;

  @Field(() => String, { nullable: true, description: 'Why it turned itself off.' })
  disabledReason: string | null;
}

@InputType()
export class AutoTopUpInput {
  @Field(() => ID)
  accountId: string;

  @Field()
  enabled: boolean;

  @Field(() => CreditsScalar)
  below: number;

  @Field(() => String, { nullable: true })
  packCode?: string | null;

  @Field(() => CreditsScalar, { nullable: true })
  targetBalance?: number | null;

  @Field(() => Int, { defaultValue: 5 })
  maxPerMonth: number;
}
