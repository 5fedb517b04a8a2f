/** Thin resolver of plan advice: authorize, call AdviceService, shape for GraphQL. */
import { Arg, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { access } from '../../auth/access';
import { dayStart } from '../../shared/utc-days';
import { moneyOf } from '../plans/plan.type';
import { ADVICE_DAYS_DEFAULT, type AdviceOption } from './advice.rules';
import type { PlanAdviceView } from './advice.service';
import { PlanAdvice, PlanOption, PlanOptionKind } from './advice.type';

function optionView(o: AdviceOption, currency: string): PlanOption {
  const r = o.replay;
  return {
    label: o.label, kind: o.kind as PlanOptionKind, planCode: o.plan?.code ?? null,
    cost: moneyOf(r.costMinor, currency), planCost: moneyOf(r.planCostMinor, currency), overageMillis: r.overageMillis,
    packs: r.packs.map((p) => ({ packCode: p.code, name: p.name, creditsMillis: p.creditsMillis, count: p.count, cost: moneyOf(p.costMinor, currency) })),
    customMillis: r.customMillis > 0 ? r.customMillis : null, customCost: r.customMillis > 0 ? moneyOf(r.customMinor, currency) : null,
    savings: moneyOf(o.savingsMinor, currency), covered: r.covered,
    periods: r.periods.map((p) => ({
      start: dayStart(p.startDay), end: dayStart(p.endDay), daysIn: p.daysIn, daysTotal: p.daysTotal, allowanceMillis: p.allowanceMillis,
      rolledInMillis: p.rolledInMillis, consumedMillis: p.consumedMillis, overageMillis: p.overageMillis,
      planCost: moneyOf(p.planCostMinor, currency), boughtCost: moneyOf(p.cover.costMinor, currency),
    })),
  };
}

export function planAdviceView(a: PlanAdviceView): PlanAdvice {
  const options = a.options.map((o) => optionView(o, a.currency));
  return {
    accountId: a.accountId, days: a.days, from: a.from, to: a.to, consumedMillis: a.consumedMillis, currentPlan: a.currentPlanCode,
    currency: a.currency, reason: a.reason, recommended: options[a.options.indexOf(a.recommended)], options, excluded: a.excluded, exactCovers: a.exactCovers,
  };
}

@Resolver(() => PlanAdvice)
export class AdviceResolver {
  @Query(() => PlanAdvice, {
    description: 'Replays the account\'s consumption over the last `days` UTC days (1–366, today included) under each active plan and pay as you go, '
      + 'and recommends the cheapest, with the reason (README, Plan advice). A user token reads only its own account.',
  })
  async planAdvice(
    @Ctx() ctx: Context,
    @Arg('accountId', () => ID) accountId: string,
    @Arg('days', () => Int, { nullable: true, defaultValue: ADVICE_DAYS_DEFAULT }) days: number,
    @Arg('currency', () => String, { nullable: true, description: 'Compare in this ISO 4217 currency (default: the current plan\'s, else the catalogue\'s main one).' }) currency: string | null,
  ): Promise<PlanAdvice> {
    await access.account(ctx, accountId, 'read');
    return planAdviceView(await ctx.services.advice.planAdvice(accountId, days ?? ADVICE_DAYS_DEFAULT, currency ?? null));
  }
}
