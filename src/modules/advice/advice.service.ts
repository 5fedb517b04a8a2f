/**
 * Plan advice (README, Reports → Plan advice): reads the account's daily consumption (usage_daily),
 * its plan, the active plans, packs and the volume price table, and hands them to the pure rules
 * (advice.rules.ts).
 */
import type { Database } from '../../db/client';
import type { Clock } from '../../shared/clock';
import { badInput, notFound } from '../../shared/errors';
import { isCurrency } from '../../shared/money';
import { isUuid } from '../../shared/validate';
import { addDays, dayStart, utcDay } from '../../shared/utc-days';
import type { AccountsService } from '../accounts';
import type { PlansService, PlanVersionRow } from '../plans';
import type { PurchasesService } from '../purchases';
import { advise, daysProblem, type Advice, type AdvicePlan } from './advice.rules';
import * as repo from './advice.repo';

export interface PlanAdviceView extends Advice {
  accountId: string;
  from: Date;
  to: Date;
}

function advicePlan(code: string, terms: PlanVersionRow): AdvicePlan {
  return {
    code, name: terms.name, priceMinor: terms.priceMinor, currency: terms.currency, interval: terms.interval, intervalCount: terms.intervalCount,
    allowanceMillis: terms.allowanceMillis, rollover: terms.rollover, rolloverCapMillis: terms.rolloverCapMillis, models: terms.models, actions: terms.actions,
  };
}

/**
 * The catalogue's main currency: the one most active plans are priced in (ties: the price table's,
 * then alphabetical); the price table's, or USD, when there are no plans.
 */
export function mainCurrency(planCurrencies: readonly string[], tableCurrency: string | null): string {
  const counts = new Map<string, number>();
  for (const c of planCurrencies) counts.set(c, (counts.get(c) ?? 0) + 1);
  if (counts.size === 0) return tableCurrency ?? 'USD';
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] === tableCurrency ? -1 : b[0] === tableCurrency ? 1 : a[0].localeCompare(b[0])))[0][0];
}

export class AdviceService {
  constructor(
    private readonly database: Database,
    private readonly clock: Clock,
    private readonly accounts: AccountsService,
    private readonly plans: PlansService,
    private readonly purchases: PurchasesService,
  ) {}

  async planAdvice(accountId: string, days: number, currency: string | null): Promise<PlanAdviceView> {
    const problem = daysProblem(days);
    if (problem) throw badInput(problem, 'days');
    if (currency !== null && !isCurrency(currency)) throw badInput('currency must be an ISO 4217 code such as USD', 'currency');
    if (!isUuid(accountId) || !(await this.accounts.find(accountId))) throw notFound('account');
    const today = utcDay(this.clock.now());
    const fromDay = addDays(today, -(days - 1));
    const db = this.database.db;
    const [subscription] = await this.plans.subscriptionsOf([accountId]);
    const live = subscription && subscription.status !== 'CANCELED' ? subscription : null;
    const [consumption, used, catalogue, packs, table, versions, currentPlans] = await Promise.all([
      repo.consumptionByDay(db, accountId, fromDay, today),
      repo.usedKeys(db, accountId, fromDay, today),
      this.plans.list(false),
      this.purchases.listPacks(false),
      this.purchases.priceTable(),
      live ? this.plans.versionsByIds([live.planVersionId]) : Promise.resolve([]),
      live ? this.plans.plansByIds([live.planId]) : Promise.resolve([]),
    ]);
    // The current plan on the terms of the version the account is on (which may differ from the plan's current one).
    const currentPlan = live && versions[0] && currentPlans[0] ? advicePlan(currentPlans[0].plan.code, versions[0]) : null;
    const priceTable = table && { currency: table.currency, minimumMillis: table.minimumMillis, maximumMillis: table.maximumMillis, tiers: table.tiers };
    const chosenCurrency = currency ?? currentPlan?.currency ?? mainCurrency(catalogue.map((p) => p.terms.currency), table?.currency ?? null);
    const advice = advise({
      days, today, consumption, modelsUsed: used.models, actionsUsed: used.actions, currentPlan,
      plans: catalogue.map((p) => advicePlan(p.plan.code, p.terms)),
      packs: packs.map((p) => ({ code: p.code, name: p.name, creditsMillis: p.creditsMillis, priceMinor: p.priceMinor, currency: p.currency })),
      priceTable, currency: chosenCurrency,
    });
    return { ...advice, accountId, from: dayStart(advice.fromDay), to: dayStart(advice.toDay) };
  }
}
