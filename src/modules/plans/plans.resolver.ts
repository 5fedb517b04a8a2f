/** Thin resolvers of plans and subscriptions: authorize, map inputs, call PlansService. */
import { Arg, Ctx, FieldResolver, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { actorOf, assertAdmin, requireViewer } from '../../auth/viewer';
import { access } from '../../auth/access';
import { Account } from '../accounts/account.type';
import type { AccountRow } from '../accounts';
import { parseMoney } from '../../shared/money';
import type { PlanTerms } from './plan-rules';
import {
  CancelSubscriptionInput, ChangePlanInput, moneyOf, Plan, PlanInput, PlanSubscription, PlanUpdateInput, SubscribeInput, SubscriptionPeriod,
  type BillingInterval, type RolloverPolicy,
} from './plan.type';
import type { PeriodRow, PlanVersionRow, PlanWithTerms, SubscriptionRow } from './plans.repo';
import type { PlanChanges } from './plans.service';

/** A plan as GraphQL shows it, with the terms of one version. */
export function toPlan(plan: PlanWithTerms['plan'], terms: PlanVersionRow): Plan {
  return {
    id: plan.id, code: plan.code, name: terms.name, price: moneyOf(terms.priceMinor, terms.currency),
    interval: terms.interval as BillingInterval, intervalCount: terms.intervalCount, allowanceMillis: terms.allowanceMillis,
    rollover: terms.rollover as RolloverPolicy, rolloverCapMillis: terms.rolloverCapMillis, overdraftLimitMillis: terms.overdraftLimitMillis,
    tier: terms.tier, models: terms.models, actions: terms.actions, lowCreditThresholdsMillis: terms.lowCreditThresholds,
    lowCreditThresholdPercents: terms.lowCreditThresholdPercents, seats: terms.seats, active: plan.active, version: terms.version, updatedAt: plan.updatedAt,
    velocityMultiplier: terms.velocityMultiplier, velocityFloorMillis: terms.velocityFloorMillis, fingerprintRepeats: terms.fingerprintRepeats,
    fingerprintWindowMinutes: terms.fingerprintWindowMinutes, requestsPerMinute: terms.requestsPerMinute,
  };
}

const listOrNull = (list: string[] | null | undefined) => (list && list.length > 0 ? list : null);

function termsOf(input: PlanInput): PlanTerms {
  const price = parseMoney(input.price.amount, input.price.currency);
  return {
    name: input.name, priceMinor: price.minor, currency: price.currency, interval: input.interval, intervalCount: input.intervalCount,
    allowanceMillis: input.allowance, rollover: input.rollover, rolloverCapMillis: input.rolloverCap ?? null,
    overdraftLimitMillis: input.overdraftLimit ?? 0, tier: input.tier ?? null, models: listOrNull(input.models), actions: listOrNull(input.actions),
    lowCreditThresholds: input.lowCreditThresholds ?? [],
    lowCreditThresholdPercents: input.lowCreditThresholdPercents ?? [], seats: input.seats,
    velocityMultiplier: input.velocityMultiplier ?? null, velocityFloorMillis: input.velocityFloor ?? null, fingerprintRepeats: input.fingerprintRepeats ?? null,
    fingerprintWindowMinutes: input.fingerprintWindowMinutes ?? null, requestsPerMinute: input.requestsPerMinute ?? null,
  };
}

function changesOf(input: PlanUpdateInput): PlanChanges {
  const given = <T>(value: T | null | undefined): T | undefined => (value === null ? undefined : value);
  const price = input.price ? parseMoney(input.price.amount, input.price.currency) : undefined;
  return {
    name: given(input.name), priceMinor: price?.minor, currency: price?.currency, interval: given(input.interval),
    intervalCount: given(input.intervalCount), allowanceMillis: given(input.allowance), rollover: given(input.rollover),
    rolloverCapMillis: given(input.rolloverCap), overdraftLimitMillis: given(input.overdraftLimit),
    tier: input.tier === '' ? null : given(input.tier),
    models: input.models ? listOrNull(input.models) : undefined, actions: input.actions ? listOrNull(input.actions) : undefined,
    lowCreditThresholds: given(input.lowCreditThresholds),
    lowCreditThresholdPercents: given(input.lowCreditThresholdPercents), seats: given(input.seats), active: given(input.active),
    velocityMultiplier: given(input.velocityMultiplier), velocityFloorMillis: given(input.velocityFloor), fingerprintRepeats: given(input.fingerprintRepeats),
    fingerprintWindowMinutes: given(input.fingerprintWindowMinutes), requestsPerMinute: given(input.requestsPerMinute),
  };
}

@Resolver(() => Plan)
export class PlansResolver {
  @Query(() => [Plan], { description: 'The catalogue, cheapest first: active plans (admins may ask for archived ones too).' })
  async plans(@Ctx() ctx: Context, @Arg('includeArchived', () => Boolean, { defaultValue: false }) includeArchived: boolean): Promise<Plan[]> {
    requireViewer(ctx.viewer);
    if (includeArchived) assertAdmin(ctx.viewer);
    return (await ctx.services.plans.list(includeArchived)).map((p) => toPlan(p.plan, p.terms));
  }

  @Query(() => Plan, { nullable: true, description: 'One plan by code, archived or not, with its current terms.' })
  async plan(@Ctx() ctx: Context, @Arg('code') code: string): Promise<Plan | null> {
    requireViewer(ctx.viewer);
    const found = await ctx.services.plans.find(code);
    return found && toPlan(found.plan, found.terms);
  }

  @Mutation(() => Plan, { description: 'Admin: adds a plan to the catalogue; its code is unique.' })
  async createPlan(@Ctx() ctx: Context, @Arg('input', () => PlanInput) input: PlanInput): Promise<Plan> {
    assertAdmin(ctx.viewer);
    const created = await ctx.services.plans.create(input.code, termsOf(input), input.active);
    return toPlan(created.plan, created.terms);
  }

  @Mutation(() => Plan, { description: 'Admin: changes a plan (a new version: subscribers get it from their next period) or archives it (active: false).' })
  async updatePlan(@Ctx() ctx: Context, @Arg('code') code: string, @Arg('input', () => PlanUpdateInput) input: PlanUpdateInput): Promise<Plan> {
    assertAdmin(ctx.viewer);
    const updated = await ctx.services.plans.update(code, changesOf(input));
    return toPlan(updated.plan, updated.terms);
  }

  @Mutation(() => PlanSubscription, { description: 'Starts an ACTIVE subscription with a period anchored now; the allowance is granted at once.' })
  async subscribe(@Ctx() ctx: Context, @Arg('input', () => SubscribeInput) input: SubscribeInput): Promise<SubscriptionRow> {
    const viewer = await access.account(ctx, input.accountId, 'move');
    return ctx.services.plans.subscribe(actorOf(viewer), { accountId: input.accountId, planCode: input.planCode, idempotencyKey: input.idempotencyKey });
  }

  @Mutation(() => PlanSubscription, { description: 'Upgrade at once (prorated allowance now), downgrade at the period end (scheduledPlan).' })
  async changePlan(@Ctx() ctx: Context, @Arg('input', () => ChangePlanInput) input: ChangePlanInput): Promise<SubscriptionRow> {
    const viewer = await access.account(ctx, input.accountId, 'move');
    return ctx.services.plans.changePlan(actorOf(viewer), { accountId: input.accountId, planCode: input.planCode, idempotencyKey: input.idempotencyKey });
  }

  @Mutation(() => PlanSubscription, { description: 'At the period end (default) or at once.' })
  async cancelSubscription(@Ctx() ctx: Context, @Arg('input', () => CancelSubscriptionInput) input: CancelSubscriptionInput): Promise<SubscriptionRow> {
    const viewer = await access.account(ctx, input.accountId, 'move');
    return ctx.services.plans.cancel(actorOf(viewer), { accountId: input.accountId, atPeriodEnd: input.atPeriodEnd, idempotencyKey: input.idempotencyKey });
  }
}

@Resolver(() => PlanSubscription)
export class PlanSubscriptionResolver {
  @FieldResolver(() => Plan, { description: 'The plan with the terms of the version in effect now.' })
  async plan(@Root() subscription: SubscriptionRow, @Ctx() ctx: Context): Promise<Plan> {
    return planAt(ctx, subscription.planId, subscription.planVersionId);
  }

  @FieldResolver(() => Plan, { nullable: true, description: 'A downgrade (or change of billing interval) waiting for the period end.' })
  async scheduledPlan(@Root() subscription: SubscriptionRow, @Ctx() ctx: Context): Promise<Plan | null> {
    if (!subscription.scheduledPlanId) return null;
    const scheduled = await ctx.loaders.plan.load(subscription.scheduledPlanId);
    return scheduled && toPlan(scheduled.plan, scheduled.terms);
  }

  @FieldResolver(() => [SubscriptionPeriod], { description: 'Allowances granted, newest first (at most 100).' })
  async periods(@Root() subscription: SubscriptionRow, @Ctx() ctx: Context, @Arg('first', () => Int, { defaultValue: 12 }) first: number): Promise<PeriodRow[]> {
    return ctx.services.plans.periodsOf(subscription.id, Math.max(1, first));
  }
}

@Resolver(() => SubscriptionPeriod)
export class SubscriptionPeriodResolver {
  @FieldResolver(() => Plan, { description: 'The plan version this allowance was granted from.' })
  async plan(@Root() period: PeriodRow, @Ctx() ctx: Context): Promise<Plan> {
    const version = await ctx.loaders.planVersion.load(period.planVersionId);
    if (!version) throw new Error('a period records an existing plan version');
    return planAt(ctx, version.planId, version.id);
  }
}

/** Account.subscription: its live subscription, or else its latest (canceled) one; null when it never subscribed. */
@Resolver(() => Account)
export class AccountSubscriptionResolver {
  @FieldResolver(() => PlanSubscription, { nullable: true })
  async subscription(@Root() account: AccountRow, @Ctx() ctx: Context): Promise<SubscriptionRow | null> {
    await access.account(ctx, account.id, 'read');
    return ctx.loaders.subscription.load(account.id);
  }
}

async function planAt(ctx: Context, planId: string, versionId: string): Promise<Plan> {
  const [plan, version] = await Promise.all([ctx.loaders.plan.load(planId), ctx.loaders.planVersion.load(versionId)]);
  if (!plan || !version) throw new Error('a subscription refers to an existing plan version');
  return toPlan(plan.plan, version);
}
