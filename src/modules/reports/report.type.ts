/** GraphQL types of reports (names binding per API.md). */
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';
import { Money } from '../plans/plan.type';

@ObjectType()
export class PlatformTotals {
  @Field(() => CreditsScalar, { name: 'consumed', description: 'Consumed by charges and captures.' })
  consumedMillis: number;

  @Field(() => CreditsScalar, {
    name: 'refunded',
    description: 'Given back by refunds and reversals of charges. Credits only: the aggregates keep no count of refunds.',
  })
  refundedMillis: number;

  @Field(() => Int, { description: 'Charges and captures.' })
  charges: number;

  @Field(() => Int, { description: 'Accounts with at least one charge or capture in the range.' })
  activeAccounts: number;

  @Field(() => CreditsScalar, { name: 'allocated', description: 'Plan allowances granted.' })
  allocatedMillis: number;

  @Field(() => CreditsScalar, { name: 'purchased', description: 'Credits bought (PURCHASE buckets).' })
  purchasedMillis: number;

  @Field(() => CreditsScalar, { name: 'granted', description: 'Other credits granted (promotions, adjustments, refunds as credit, rollover grants).' })
  grantedMillis: number;

  @Field(() => CreditsScalar, { name: 'expired' })
  expiredMillis: number;
}

@ObjectType()
export class TopConsumer {
  @Field(() => ID)
  accountId: string;

  @Field()
  name: string;

  @Field(() => CreditsScalar, { name: 'consumed' })
  consumedMillis: number;
}

@ObjectType({ description: 'Usage of the accounts on one plan (the wallet\'s plan when the credits moved).' })
export class PlanUsage {
  @Field(() => String, { nullable: true, description: 'The plan code; null: accounts without a plan.' })
  plan: string | null;

  @Field(() => CreditsScalar, { name: 'consumed' })
  consumedMillis: number;

  @Field(() => CreditsScalar, { name: 'refunded' })
  refundedMillis: number;

  @Field(() => Int)
  charges: number;

  @Field(() => Int, { description: 'Accounts that charged on this plan.' })
  accounts: number;
}

@ObjectType()
export class ActionUsage {
  @Field(() => String, { nullable: true, description: 'null: charges without an action.' })
  action: string | null;

  @Field(() => CreditsScalar, { name: 'consumed' })
  consumedMillis: number;

  @Field(() => CreditsScalar, { name: 'refunded' })
  refundedMillis: number;

  @Field(() => Int)
  charges: number;
}

@ObjectType({ description: 'Refused attempts (FAILED in the ledger) with one error code.' })
export class FailureCount {
  @Field()
  code: string;

  @Field(() => Int)
  attempts: number;
}

@ObjectType({ description: 'Credit revenue against vendor cost for one model and currency, over every vendor and account. Amounts exact (not rounded).' })
export class ModelMargin {
  @Field(() => String, { nullable: true, description: 'null: charges without a model.' })
  model: string | null;

  @Field()
  currency: string;

  @Field(() => Money, { description: 'Consumed credits at their bucket\'s cost per credit, less refunds.' })
  revenue: Money;

  @Field(() => Money, { description: 'Vendor costs recorded on charges and captures (vendorUsage.cost).' })
  vendorCost: Money;

  @Field(() => Money, { description: 'revenue − vendorCost.' })
  margin: Money;

  @Field(() => String, { nullable: true, description: 'margin / revenue × 100, two decimals rounded half up; null when revenue is 0.' })
  marginPercent: string | null;
}

@ObjectType({ description: 'Platform activity over whole UTC days, from the daily aggregates.' })
export class PlatformReport {
  @Field(() => GraphQLDateTime, { description: 'The start of the first UTC day covered.' })
  from: Date;

  @Field(() => GraphQLDateTime, { description: 'The end of the last UTC day covered (exclusive).' })
  to: Date;

  @Field(() => PlatformTotals)
  totals: PlatformTotals;

  @Field(() => [TopConsumer], { description: 'The 10 accounts that consumed most, most first.' })
  topConsumers: TopConsumer[];

  @Field(() => [PlanUsage], { description: 'Plans with charges or refunds, most consumed first; at most 100.' })
  byPlan: PlanUsage[];

  @Field(() => [ActionUsage], { description: 'Actions with charges or refunds, most consumed first; at most 100.' })
  byAction: ActionUsage[];

  @Field(() => [FailureCount], { description: 'Refused attempts by error code, most first; at most 100.' })
  failures: FailureCount[];

  @Field(() => [ModelMargin], { description: 'Models by revenue, most first; at most 100.' })
  marginByModel: ModelMargin[];
}
