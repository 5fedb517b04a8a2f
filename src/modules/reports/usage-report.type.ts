/** GraphQL types of the usage report (the names of API.md are binding; the fields marked "added" are ours). */
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';

export enum ReportGranularity { DAY = 'DAY', MONTH = 'MONTH' }
registerEnumType(ReportGranularity, { name: 'ReportGranularity', description: 'DAY: one period per local day. MONTH: one per local calendar month (the first and last may be partial).' });

@ObjectType({ description: 'Credits that moved in a period, and the stocks at its start and end (README, Reports).' })
export class UsageTotals {
  @Field(() => CreditsScalar, { name: 'allocated', description: 'Plan allowances granted.' })
  allocatedMillis: number;

  @Field(() => CreditsScalar, { name: 'purchased', description: 'Credits bought (packs, custom amounts, auto top-ups).' })
  purchasedMillis: number;

  @Field(() => CreditsScalar, { name: 'granted', description: 'Other credits given: promotions, adjustments, refund credits, admin rollovers.' })
  grantedMillis: number;

  @Field(() => CreditsScalar, { name: 'consumed', description: 'Consumed by charges and captures: consumedFree + consumedPurchased + consumedOnCredit.' })
  consumedMillis: number;

  @Field(() => CreditsScalar, { name: 'consumedFree', description: 'Consumed from free credits (every bucket source but PURCHASE).' })
  consumedFreeMillis: number;

  @Field(() => CreditsScalar, { name: 'consumedPurchased', description: 'Consumed from purchased credits.' })
  consumedPurchasedMillis: number;

  @Field(() => CreditsScalar, { name: 'consumedOnCredit', description: 'Consumed on credit (the overdraft, added to the debt).' })
  consumedOnCreditMillis: number;

  @Field(() => CreditsScalar, { name: 'expired', description: 'Credits that expired unused.' })
  expiredMillis: number;

  @Field(() => CreditsScalar, { name: 'refunded', description: 'Given back by refunds and reversals of charges.' })
  refundedMillis: number;

  @Field(() => CreditsScalar, { name: 'reversed', description: 'Taken back by reversals of grants, purchases and refunds (e.g. chargebacks).' })
  reversedMillis: number;

  @Field(() => CreditsScalar, { name: 'carriedForward', description: 'Unused allowance rolled over into the next plan period.' })
  carriedForwardMillis: number;

  @Field(() => Int, { description: 'Charges and captures.' })
  charges: number;

  @Field(() => CreditsScalar, { name: 'remainingAtStart', description: 'Credits in buckets at the start.' })
  remainingAtStartMillis: number;

  @Field(() => CreditsScalar, { name: 'debtAtStart', description: 'Debt at the start.' })
  debtAtStartMillis: number;

  @Field(() => CreditsScalar, { name: 'remaining', description: 'Credits in buckets at the end (the balance plus the debt).' })
  remainingMillis: number;

  @Field(() => CreditsScalar, { name: 'debt', description: 'Debt at the end.' })
  debtMillis: number;
}

@ObjectType({ description: 'One day or month of the report: [start, end).' })
export class UsagePeriod {
  @Field(() => GraphQLDateTime, { description: 'The local midnight it starts at (the first instant of that local date).' })
  start: Date;

  @Field(() => GraphQLDateTime, { description: 'The next period\'s start (exclusive).' })
  end: Date;

  @Field(() => UsageTotals)
  totals: UsageTotals;
}

@ObjectType({ description: 'Usage of one action or model over the whole range.' })
export class UsageSlice {
  @Field({ description: 'The action or model; "" for charges without one.' })
  key: string;

  @Field(() => CreditsScalar, { name: 'credits', description: 'Consumed by charges and captures.' })
  consumedMillis: number;

  @Field(() => CreditsScalar, { name: 'refunded', description: 'Given back by refunds and reversals of charges.' })
  refundedMillis: number;

  @Field(() => Int, { description: 'Charges and captures.' })
  count: number;
}

@ObjectType({ description: 'A team member\'s usage of the team wallet over the whole range.' })
export class MemberUsage {
  @Field(() => ID, { description: 'The member\'s account.' })
  accountId: string;

  @Field(() => CreditsScalar, { name: 'consumed', description: 'Consumed by the member\'s charges and captures.' })
  consumedMillis: number;

  @Field(() => CreditsScalar, { name: 'refunded', description: 'Given back by refunds and reversals of them.' })
  refundedMillis: number;

  @Field(() => Int, { description: 'Charges and captures.' })
  transactions: number;
}

@ObjectType({ description: 'An account\'s credits over whole local days, by day or month, from the usage aggregates (README, Reports).' })
export class UsageReport {
  @Field(() => ID)
  accountId: string;

  @Field(() => GraphQLDateTime, { description: 'The start of the first local day covered (the asked from, snapped back to its local midnight).' })
  from: Date;

  @Field(() => GraphQLDateTime, { description: 'The end of the last local day covered (exclusive; the asked to, snapped on to the next local midnight).' })
  to: Date;

  @Field({ description: 'The IANA time zone whose days and months the periods follow.' })
  timeZone: string;

  @Field(() => ReportGranularity)
  granularity: ReportGranularity;

  @Field(() => UsageTotals, { description: 'The whole range: flows summed over the periods, stocks at its start and end.' })
  totals: UsageTotals;

  @Field(() => [UsagePeriod], { description: 'In time order; they add up to totals.' })
  periods: UsagePeriod[];

  @Field(() => [UsageSlice], { description: 'Usage by action over the range, most consumed first (ties by key); at most 100.' })
  byAction: UsageSlice[];

  @Field(() => [UsageSlice], { description: 'Usage by model over the range, most consumed first (ties by key); at most 100.' })
  byModel: UsageSlice[];

  @Field(() => [MemberUsage], { description: 'A team wallet\'s usage by member over the range, most consumed first (ties by id); at most 100. Empty for other wallets.' })
  byMember: MemberUsage[];
}
