/** GraphQL types of plan advice (PlanAdvice, PlanOption and their fields are binding: the dashboard codes against them). */
import { Field, ID, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLDateTime } from 'graphql-scalars';
import { CreditsScalar } from '../../graphql/scalars';
import { Money } from '../plans/plan.type';

export enum PlanOptionKind { CURRENT = 'CURRENT', UPGRADE = 'UPGRADE', DOWNGRADE = 'DOWNGRADE', SWITCH = 'SWITCH', PACKS_ONLY = 'PACKS_ONLY' }
registerEnumType(PlanOptionKind, {
  name: 'PlanOptionKind',
  description: 'CURRENT: the plan the account is on. UPGRADE / DOWNGRADE: more / less allowance a year than it (same allowance: dearer / cheaper). '
    + 'SWITCH: the same allowance and price a year on other terms, or any plan when the account has none. PACKS_ONLY: no plan, every credit bought.',
  valuesConfig: {
    CURRENT: { description: 'The plan the account is on.' },
    UPGRADE: { description: 'More allowance a year than the current plan (or the same for more money).' },
    DOWNGRADE: { description: 'Less allowance a year than the current plan (or the same for less money).' },
    SWITCH: { description: 'Neither: the same allowance and price a year, or any plan when the account has none.' },
    PACKS_ONLY: { description: 'No plan: pay as you go, every credit bought as packs or custom credits.' },
  },
});

@ObjectType({ description: 'Packs of one kind bought in the replay.' })
export class PackPurchase {
  @Field({ description: 'The pack\'s code.' })
  packCode: string;

  @Field()
  name: string;

  @Field(() => CreditsScalar, { name: 'credits', description: 'Credits in one pack.' })
  creditsMillis: number;

  @Field(() => Int)
  count: number;

  @Field(() => Money, { description: 'count × the pack\'s price.' })
  cost: Money;
}

@ObjectType({ description: 'One billing period of an option\'s replay (clipped to the window).' })
export class PlanOptionPeriod {
  @Field(() => GraphQLDateTime)
  start: Date;

  @Field(() => GraphQLDateTime, { description: 'Exclusive.' })
  end: Date;

  @Field(() => Int, { description: 'Days of the period inside the window.' })
  daysIn: number;

  @Field(() => Int, { description: 'Days of the whole period: price and allowance are prorated by daysIn ÷ daysTotal.' })
  daysTotal: number;

  @Field(() => CreditsScalar, { name: 'allowance' })
  allowanceMillis: number;

  @Field(() => CreditsScalar, { name: 'rolledIn', description: 'Unused allowance of the previous period carried in under the plan\'s rollover policy.' })
  rolledInMillis: number;

  @Field(() => CreditsScalar, { name: 'consumed', description: 'Consumed − refunded.' })
  consumedMillis: number;

  @Field(() => CreditsScalar, { name: 'overage', description: 'Consumed beyond allowance + rolledIn.' })
  overageMillis: number;

  @Field(() => Money, { description: 'The plan\'s (prorated) price for the period.' })
  planCost: Money;

  @Field(() => Money, { description: 'What was bought in the period for the overage (after credits left over from earlier purchases).' })
  boughtCost: Money;
}

@ObjectType({ description: 'What the window would have cost on one option: the plan, plus what covers its overage at the cheapest.' })
export class PlanOption {
  @Field()
  label: string;

  @Field(() => PlanOptionKind)
  kind: PlanOptionKind;

  @Field(() => String, { nullable: true, description: 'Null for PACKS_ONLY.' })
  planCode: string | null;

  @Field(() => Money, { description: 'planCost + packs + customCost.' })
  cost: Money;

  @Field(() => Money, { description: 'The plan\'s price over the window\'s periods (the oldest prorated).' })
  planCost: Money;

  @Field(() => CreditsScalar, { name: 'overageCredits', description: 'Consumption beyond the allowance (and rollover), summed over the periods.' })
  overageMillis: number;

  @Field(() => [PackPurchase], { description: 'Packs bought for the overage, largest first.' })
  packs: PackPurchase[];

  @Field(() => CreditsScalar, { name: 'customCredits', nullable: true, description: 'Custom credits bought at the volume price; null when none.' })
  customMillis: number | null;

  @Field(() => Money, { nullable: true, description: 'Their price; null when none.' })
  customCost: Money | null;

  @Field(() => Money, { nullable: true, description: 'The current option\'s cost − this one\'s (negative: costs more). The current option is the current plan, else PACKS_ONLY.' })
  savings: Money | null;

  @Field({ description: 'False when part of the overage could not be bought (no pack or custom amount on sale covers it): cost counts only what could.' })
  covered: boolean;

  @Field(() => [PlanOptionPeriod])
  periods: PlanOptionPeriod[];
}

@ObjectType({ description: 'A plan left out of the comparison, and why.' })
export class ExcludedPlan {
  @Field()
  planCode: string;

  @Field()
  reason: string;
}

@ObjectType({ description: 'The account\'s real consumption over the last `days` UTC days replayed under each active plan and pay as you go (README, Plan advice).' })
export class PlanAdvice {
  @Field(() => ID)
  accountId: string;

  @Field(() => Int)
  days: number;

  @Field(() => GraphQLDateTime, { description: 'Start of the first day of the window (UTC).' })
  from: Date;

  @Field(() => GraphQLDateTime, { description: 'End of the window: the start of tomorrow (UTC); today is included so far.' })
  to: Date;

  @Field(() => CreditsScalar, { name: 'consumed', description: 'Consumed − refunded in the window.' })
  consumedMillis: number;

  @Field(() => String, { nullable: true, description: 'The code of the plan the account is on; null without one.' })
  currentPlan: string | null;

  @Field({ description: 'Options are compared in this currency only (the currency argument, else the current plan\'s, else the catalogue\'s main one).' })
  currency: string;

  @Field({ description: 'The recommendation and its evidence, in words.' })
  reason: string;

  @Field(() => PlanOption)
  recommended: PlanOption;

  @Field(() => [PlanOption], { description: 'The current option first, then the others cheapest first.' })
  options: PlanOption[];

  @Field(() => [ExcludedPlan], { description: 'Active plans not compared: another currency, or a model or action the account used that the plan refuses.' })
  excluded: ExcludedPlan[];

  @Field({ description: 'False when the pack catalogue was too irregular for an exact search: overage costs may be slightly above the optimum.' })
  exactCovers: boolean;
}
