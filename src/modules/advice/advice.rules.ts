/**
 * Plan advice, pure (README, Reports → Plan advice; table-driven and property tests:
 * test/unit/advice.rules.test.ts). Replays an account's daily consumption over the last N UTC days
 * under each plan, covers what goes beyond the allowance at the cheapest price of packs and custom
 * credits, and says in words which option would have cost the least and why.
 *
 * - Window: the N whole UTC days up to today, today included: [today − (N − 1), tomorrow).
 * - Periods: each plan's own billing periods counted back from the window's end (tomorrow 00:00 UTC),
 *   with periods.ts's calendar arithmetic (a monthly plan: the 3rd to the 3rd). The oldest period may
 *   start before the window: it counts for the days inside it only; its price and allowance are
 *   prorated by days inside ÷ days of the period (price half up to the minor unit, allowance down to
 *   the millicredit).
 * - Rollover: nothing rolls into the first period. Each period uses what rolled in first (it expires
 *   at the period end), then the allowance; the allowance left unused rolls into the next period
 *   under the plan's policy (NONE, CAPPED up to the cap, FULL), as the renewals job does.
 * - Overage of a period: consumption − allowance − rolled in, when positive. It is covered by what
 *   was bought earlier in the window and left over (bought credits are taken not to expire), then
 *   by the cheapest cover of the rest (`CoverSolver`): packs, custom credits (one purchase at the
 *   volume price), or both.
 * - Pay as you go (PACKS_ONLY): no plan, every credit bought; its periods are the current plan's
 *   (one month without a plan).
 * Money is bigint minor units throughout; credits are integer millicredits.
 */
import type { BillingIntervalName, RolloverPolicyName } from '../../db/schema';
import { formatCredits, type Millis } from '../../shared/credits';
import { currencyDigits, formatMoney, parseUnitPrice, roundHalfUp } from '../../shared/money';
import { addDays, dayStart, MS_PER_DAY, utcDay } from '../../shared/utc-days';
import { periodBoundary } from '../plans/periods';
import { rolloverMillis } from '../plans/plan-rules';
import type { PriceTable } from '../purchases/purchase-rules';

export const ADVICE_DAYS_MAX = 366;
export const ADVICE_DAYS_DEFAULT = 90;
/** The pack-combination table is at most this many steps (gcd of the pack sizes each); beyond, the cover may be a little above the optimum. */
export const COVER_TABLE_STEPS_MAX = 20_000;
/** Cover candidates one advice may try (a bound on its time); beyond, a quick search (packs of the best value, custom credits). */
export const COVER_WORK_MAX = 2_000_000;
/** Overage of at least this share of the allowance in every period is "consistent overage"; use below it "under-use" (percent). */
export const HEAVY_OVERAGE_PERCENT = 50;
export const UNDER_USE_PERCENT = 50;

export type OptionKind = 'CURRENT' | 'UPGRADE' | 'DOWNGRADE' | 'SWITCH' | 'PACKS_ONLY';

export interface AdvicePlan {
  code: string;
  name: string;
  priceMinor: bigint;
  currency: string;
  interval: BillingIntervalName;
  intervalCount: number;
  allowanceMillis: Millis;
  rollover: RolloverPolicyName;
  rolloverCapMillis: Millis | null;
  models: string[] | null;
  actions: string[] | null;
}

export interface AdvicePack {
  code: string;
  name: string;
  creditsMillis: Millis;
  priceMinor: bigint;
  currency: string;
}

export function daysProblem(days: number): string | null {
  if (!Number.isInteger(days) || days < 1 || days > ADVICE_DAYS_MAX) return `days must be a whole number from 1 to ${ADVICE_DAYS_MAX}`;
  return null;
}

// ------------------------------------------------------------------ the cheapest cover

export interface PackCount {
  code: string;
  name: string;
  creditsMillis: Millis;
  count: number;
  costMinor: bigint;
}

export interface Cover {
  packs: PackCount[];
  customMillis: Millis;
  customMinor: bigint;
  costMinor: bigint;
  /** Credits bought (≥ the need). */
  creditsMillis: Millis;
}

const EMPTY_COVER: Cover = { packs: [], customMillis: 0, customMinor: 0n, costMinor: 0n, creditsMillis: 0 };

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Packs no other pack beats (another with at least the credits for at most the price), by size. */
export function usefulPacks(packs: readonly AdvicePack[]): AdvicePack[] {
  const sorted = [...packs].filter((p) => p.creditsMillis > 0 && p.priceMinor > 0n)
    .sort((a, b) => a.creditsMillis - b.creditsMillis || (a.priceMinor < b.priceMinor ? -1 : a.priceMinor > b.priceMinor ? 1 : 0) || (a.code < b.code ? -1 : 1));
  return sorted.filter((p, i) => !sorted.some((q, j) => j !== i && q.creditsMillis >= p.creditsMillis && q.priceMinor <= p.priceMinor
    && (q.creditsMillis > p.creditsMillis || q.priceMinor < p.priceMinor || j < i)));
}

/**
 * The cheapest way to buy at least `need` credits from packs (any counts) and at most one custom
 * purchase at the volume price. Exact: an optimal cover uses the best-value pack b (lowest price per
 * credit) plus fewer than size(b)/g other packs (g = gcd of the sizes; any sb of them contain a
 * subset worth a multiple of b, which b copies replace for no more), so a table of the cheapest
 * exact pack totals up to (size(b)/g − 1) × the largest other pack, plus copies of b, plus custom
 * credits, finds it. The custom price per amount is monotone inside a volume tier, so only the
 * amounts at tier edges need trying. When the table would exceed COVER_TABLE_STEPS_MAX steps it is cut there.
 */
export class CoverSolver {
  readonly packs: AdvicePack[];
  private readonly step: number;
  private readonly best: AdvicePack | null;
  /** Cheapest cost of exactly i steps of pack credits, and the pack that ends it. */
  private readonly cost: (bigint | null)[] = [];
  private readonly last: number[] = [];
  /**
   * Step counts worth trying: none larger is as cheap, and none smaller of the same residue modulo
   * size(b) is as cheap once the difference is made up with copies of b.
   */
  private readonly frontier: number[] = [];
  private readonly memo = new Map<Millis, Cover | null>();
  /** The volume tiers read once: unit price (micros), and the cheapest amount at or after each tier's start. */
  private readonly tierMicros: bigint[] = [];
  private readonly tierStartBest: ({ millis: Millis; minor: bigint } | null)[] = [];
  private readonly minorScale: bigint = 1n;
  /** Candidates tried so far; past COVER_WORK_MAX, covers are found by a quick search (then exact is false). */
  private work = 0;
  exact: boolean;

  constructor(packs: readonly AdvicePack[], private readonly table: PriceTable | null) {
    this.packs = usefulPacks(packs);
    this.step = this.packs.reduce((g, p) => gcd(g, p.creditsMillis), 0);
    this.best = this.packs.reduce<AdvicePack | null>((b, p) => {
      if (!b) return p;
      const left = p.priceMinor * BigInt(b.creditsMillis);
      const right = b.priceMinor * BigInt(p.creditsMillis);
      return left < right || (left === right && p.creditsMillis > b.creditsMillis) ? p : b;
    }, null);
    let steps = 0;
    let exact = true;
    if (this.best) {
      // Fewer than size(b)/g packs other than b, each at most the largest other one.
      const largestOther = Math.max(0, ...this.packs.filter((p) => p !== this.best).map((p) => p.creditsMillis)) / this.step;
      const bound = (this.best.creditsMillis / this.step - 1) * largestOther;
      exact = bound <= COVER_TABLE_STEPS_MAX;
      steps = Math.min(bound, COVER_TABLE_STEPS_MAX);
    }
    this.exact = exact;
    this.cost = new Array<bigint | null>(steps + 1).fill(null);
    this.last = new Array<number>(steps + 1).fill(-1);
    this.cost[0] = 0n;
    for (let i = 1; i <= steps; i += 1) {
      this.packs.forEach((p, k) => {
        const from = i - p.creditsMillis / this.step;
        const before = from >= 0 ? this.cost[from] : null;
        if (before === null) return;
        const total = before + p.priceMinor;
        if (this.cost[i] === null || total < this.cost[i]!) { this.cost[i] = total; this.last[i] = k; }
      });
    }
    const keep = new Array<boolean>(steps + 1).fill(false);
    let cheapestAbove: bigint | null = null;
    for (let i = steps; i >= 0; i -= 1) {
      const c = this.cost[i];
      if (c !== null && (cheapestAbove === null || c < cheapestAbove)) { keep[i] = true; cheapestAbove = c; }
    }
    if (this.best) {
      const sb = this.best.creditsMillis / this.step;
      const adjusted = new Map<number, bigint>();
      for (let i = 0; i <= steps; i += 1) {
        if (!keep[i]) continue;
        // cost × sb − i × price(b): comparable within a residue (the difference is whole copies of b).
        const value = this.cost[i]! * BigInt(sb) - BigInt(i) * this.best.priceMinor;
        const seen = adjusted.get(i % sb);
        if (seen !== undefined && seen <= value) continue;
        adjusted.set(i % sb, value);
        this.frontier.push(i);
      }
    }
    if (table) {
      // Exact money as priceOfCredits: millis × micros × 10^digits ÷ 10^9, half up.
      this.minorScale = 10n ** BigInt(currencyDigits(table.currency));
      this.tierMicros = table.tiers.map((t) => parseUnitPrice(t.unitPrice)!);
      let after: { millis: Millis; minor: bigint } | null = null;
      for (let i = table.tiers.length - 1; i >= 0; i -= 1) {
        const millis = table.tiers[i].fromMillis;
        const minor = this.price(millis, i);
        if (!after || minor < after.minor) after = { millis, minor };
        this.tierStartBest[i] = after;
      }
    }
  }

  private price(millis: Millis, tier: number): bigint {
    return roundHalfUp(BigInt(millis) * this.tierMicros[tier] * this.minorScale, 1_000_000_000n);
  }

  /** At least `x` custom credits at the lowest price (a higher tier can cost less): null when not on sale for that many. */
  customAtLeast(x: Millis): { millis: Millis; minor: bigint } | null {
    const table = this.table;
    if (!table || x > table.maximumMillis) return null;
    const amount = Math.max(x, table.minimumMillis);
    let tier = 0;
    while (tier + 1 < table.tiers.length && table.tiers[tier + 1].fromMillis <= amount) tier += 1;
    const here = { millis: amount, minor: this.price(amount, tier) };
    const later = this.tierStartBest[tier + 1];
    return later && later.minor < here.minor ? later : here;
  }

  /** The cheapest cover of `needMillis`; null when nothing on sale covers it. */
  cover(needMillis: Millis): Cover | null {
    if (needMillis <= 0) return EMPTY_COVER;
    if (!this.memo.has(needMillis)) this.memo.set(needMillis, this.solve(needMillis));
    return this.memo.get(needMillis)!;
  }

  private solve(need: Millis): Cover | null {
    type Found = { cost: bigint; steps: number; bestCount: number; custom: { millis: Millis; minor: bigint } | null };
    let found = null as Found | null;
    const consider = (cost: bigint, steps: number, bestCount: number, custom: { millis: Millis; minor: bigint } | null) => {
      if (!found || cost < found.cost) found = { cost, steps, bestCount, custom };
    };
    const alone = this.customAtLeast(need);
    if (alone) consider(alone.minor, 0, 0, alone);
    const b = this.best;
    if (b) {
      const stepsMax = Math.ceil(need / this.step) + b.creditsMillis / this.step;
      const edges = this.table ? [1, this.table.minimumMillis, this.table.maximumMillis + 1, ...this.table.tiers.map((t) => t.fromMillis)] : [];
      for (const steps of this.frontier) {
        if (steps > stepsMax) break;
        if (this.work > COVER_WORK_MAX && steps > 0) { this.exact = false; break; }
        const base = this.cost[steps]!;
        const rest = need - steps * this.step;
        if (rest <= 0) { consider(base, steps, 0, null); continue; }
        const kMax = Math.ceil(rest / b.creditsMillis);
        const ks = new Set<number>([kMax]);
        if (this.table) {
          ks.add(0);
          for (const edge of edges) {
            const k = Math.floor((rest - edge) / b.creditsMillis);
            for (const d of [-1, 0, 1]) if (k + d >= 0 && k + d <= kMax) ks.add(k + d);
          }
        }
        this.work += ks.size;
        for (const k of ks) {
          const x = rest - k * b.creditsMillis;
          const custom = x > 0 ? this.customAtLeast(x) : null;
          if (x > 0 && !custom) continue;
          consider(base + BigInt(k) * b.priceMinor + (custom?.minor ?? 0n), steps, k, custom);
        }
      }
    }
    if (!found) return null;
    const chosen = found;
    const counts = new Map<number, number>();
    for (let i = chosen.steps; i > 0; i -= this.packs[this.last[i]].creditsMillis / this.step) counts.set(this.last[i], (counts.get(this.last[i]) ?? 0) + 1);
    if (chosen.bestCount > 0) {
      const k = this.packs.indexOf(b!);
      counts.set(k, (counts.get(k) ?? 0) + chosen.bestCount);
    }
    const packs = [...counts.entries()].sort((x, y) => this.packs[y[0]].creditsMillis - this.packs[x[0]].creditsMillis).map(([k, count]) => {
      const p = this.packs[k];
      return { code: p.code, name: p.name, creditsMillis: p.creditsMillis, count, costMinor: p.priceMinor * BigInt(count) };
    });
    const packMillis = packs.reduce((s, p) => s + p.creditsMillis * p.count, 0);
    return {
      packs, customMillis: chosen.custom?.millis ?? 0, customMinor: chosen.custom?.minor ?? 0n, costMinor: chosen.cost,
      creditsMillis: packMillis + (chosen.custom?.millis ?? 0),
    };
  }
}

// ------------------------------------------------------------------ the replay

export interface ReplayPeriod {
  /** First day and the day after the last ('YYYY-MM-DD', UTC), both clipped to the window. */
  startDay: string;
  endDay: string;
  daysIn: number;
  daysTotal: number;
  allowanceMillis: Millis;
  rolledInMillis: Millis;
  consumedMillis: Millis;
  overageMillis: Millis;
  planCostMinor: bigint;
  /** What was bought in the period (after using what was left over from earlier purchases). */
  cover: Cover;
}

export interface Replay {
  periods: ReplayPeriod[];
  planCostMinor: bigint;
  overageMillis: Millis;
  packs: PackCount[];
  customMillis: Millis;
  customMinor: bigint;
  costMinor: bigint;
  /** False when some overage could not be bought (nothing on sale covers it): the cost counts only what could. */
  covered: boolean;
}

export interface Schedule {
  interval: BillingIntervalName;
  intervalCount: number;
}

/** The periods of a schedule counted back from the window's end, oldest first, clipped to the window. */
export function periodsOf(schedule: Schedule, fromDay: string, toDay: string): { startDay: string; endDay: string; daysIn: number; daysTotal: number }[] {
  const end = dayStart(toDay);
  const from = dayStart(fromDay);
  const out: { startDay: string; endDay: string; daysIn: number; daysTotal: number }[] = [];
  for (let k = 0; ; k += 1) {
    const pEnd = periodBoundary(end, schedule.interval, schedule.intervalCount, -k);
    if (pEnd <= from) break;
    const pStart = periodBoundary(end, schedule.interval, schedule.intervalCount, -k - 1);
    const clipped = pStart < from ? from : pStart;
    out.push({
      startDay: utcDay(clipped), endDay: utcDay(pEnd),
      daysIn: Math.round((pEnd.getTime() - clipped.getTime()) / MS_PER_DAY), daysTotal: Math.round((pEnd.getTime() - pStart.getTime()) / MS_PER_DAY),
    });
  }
  return out.reverse();
}

/** A period's share of a price: price × daysIn ÷ daysTotal, half up to the minor unit. */
export function proratedPrice(priceMinor: bigint, daysIn: number, daysTotal: number): bigint {
  return daysIn >= daysTotal ? priceMinor : roundHalfUp(priceMinor * BigInt(daysIn), BigInt(daysTotal));
}

/** A period's share of an allowance, down to the millicredit. */
export function proratedAllowance(allowanceMillis: Millis, daysIn: number, daysTotal: number): Millis {
  return daysIn >= daysTotal ? allowanceMillis : Number((BigInt(allowanceMillis) * BigInt(daysIn)) / BigInt(daysTotal));
}

/** Consumption per day ('YYYY-MM-DD' → millis) summed into [startDay, endDay). */
function consumedIn(days: ReadonlyMap<string, Millis>, startDay: string, endDay: string): Millis {
  let sum = 0;
  for (let d = startDay; d < endDay; d = addDays(d, 1)) sum += days.get(d) ?? 0;
  return sum;
}

/** Replays the window under a plan (null: pay as you go, on `schedule`'s periods). */
export function replay(plan: AdvicePlan | null, schedule: Schedule, consumption: ReadonlyMap<string, Millis>, fromDay: string, toDay: string, solver: CoverSolver): Replay {
  const periods: ReplayPeriod[] = [];
  let rolledIn = 0;
  let leftover = 0;
  let covered = true;
  for (const p of periodsOf(plan ?? schedule, fromDay, toDay)) {
    const allowance = plan ? proratedAllowance(plan.allowanceMillis, p.daysIn, p.daysTotal) : 0;
    const consumed = consumedIn(consumption, p.startDay, p.endDay);
    const fromAllowance = Math.max(0, consumed - rolledIn);
    const overage = Math.max(0, fromAllowance - allowance);
    const fromLeftover = Math.min(leftover, overage);
    const cover = solver.cover(overage - fromLeftover);
    if (!cover) covered = false;
    const bought = cover ?? EMPTY_COVER;
    leftover = leftover - fromLeftover + Math.max(0, bought.creditsMillis - (overage - fromLeftover));
    periods.push({
      ...p, allowanceMillis: allowance, rolledInMillis: rolledIn, consumedMillis: consumed, overageMillis: overage,
      planCostMinor: plan ? proratedPrice(plan.priceMinor, p.daysIn, p.daysTotal) : 0n, cover: bought,
    });
    rolledIn = plan ? rolloverMillis(plan.rollover, plan.rolloverCapMillis, Math.max(0, allowance - fromAllowance)) : 0;
  }
  const packs = new Map<string, PackCount>();
  for (const p of periods) for (const pack of p.cover.packs) {
    const seen = packs.get(pack.code);
    packs.set(pack.code, seen ? { ...seen, count: seen.count + pack.count, costMinor: seen.costMinor + pack.costMinor } : { ...pack });
  }
  const planCostMinor = periods.reduce((s, p) => s + p.planCostMinor, 0n);
  const customMinor = periods.reduce((s, p) => s + p.cover.customMinor, 0n);
  const packMinor = [...packs.values()].reduce((s, p) => s + p.costMinor, 0n);
  return {
    periods, planCostMinor, overageMillis: periods.reduce((s, p) => s + p.overageMillis, 0),
    packs: [...packs.values()].sort((a, b) => b.creditsMillis - a.creditsMillis),
    customMillis: periods.reduce((s, p) => s + p.cover.customMillis, 0), customMinor,
    costMinor: planCostMinor + packMinor + customMinor, covered,
  };
}

// ------------------------------------------------------------------ options and the choice

export interface AdviceOption {
  label: string;
  kind: OptionKind;
  plan: AdvicePlan | null;
  replay: Replay;
  /** Baseline cost − this cost (positive: this saves; 0 on the baseline itself). */
  savingsMinor: bigint;
}

export interface ExcludedPlan {
  planCode: string;
  reason: string;
}

export interface AdviceInput {
  days: number;
  /** Today, 'YYYY-MM-DD' UTC (the clock's). */
  today: string;
  /** Net consumption (consumed − refunded) per UTC day. */
  consumption: ReadonlyMap<string, Millis>;
  /** The models and actions the account used in the window (gated plans that refuse one are left out). */
  modelsUsed: readonly string[];
  actionsUsed: readonly string[];
  currentPlan: AdvicePlan | null;
  /** Active plans of the catalogue. */
  plans: readonly AdvicePlan[];
  packs: readonly AdvicePack[];
  priceTable: PriceTable | null;
  currency: string;
}

export interface Advice {
  days: number;
  fromDay: string;
  toDay: string;
  currency: string;
  consumedMillis: Millis;
  currentPlanCode: string | null;
  options: AdviceOption[];
  recommended: AdviceOption;
  reason: string;
  excluded: ExcludedPlan[];
  /** False when the pack table was cut (COVER_TABLE_STEPS_MAX): costs may be a little above the optimum. */
  exactCovers: boolean;
}

const UNITS_PER_YEAR: Record<BillingIntervalName, bigint> = { DAY: 365n, WEEK: 52n, MONTH: 12n, YEAR: 1n };

/** −1, 0, 1: a's amount per period compared with b's, both per year (amount × periods a year). */
function perYear(aAmount: bigint, a: Schedule, bAmount: bigint, b: Schedule): number {
  const left = aAmount * UNITS_PER_YEAR[a.interval] * BigInt(b.intervalCount);
  const right = bAmount * UNITS_PER_YEAR[b.interval] * BigInt(a.intervalCount);
  return left < right ? -1 : left > right ? 1 : 0;
}

/** UPGRADE: more allowance a year than the current plan (or the same for more money); DOWNGRADE the reverse; else SWITCH. */
export function kindOf(current: AdvicePlan | null, plan: AdvicePlan): OptionKind {
  if (!current) return 'SWITCH';
  if (current.code === plan.code) return 'CURRENT';
  const allowance = perYear(BigInt(plan.allowanceMillis), plan, BigInt(current.allowanceMillis), current);
  if (allowance !== 0) return allowance > 0 ? 'UPGRADE' : 'DOWNGRADE';
  const price = perYear(plan.priceMinor, plan, current.priceMinor, current);
  return price > 0 ? 'UPGRADE' : price < 0 ? 'DOWNGRADE' : 'SWITCH';
}

/** Why a plan cannot be compared (other currency, a model or action it refuses), or null. */
function exclusion(plan: AdvicePlan, input: AdviceInput): string | null {
  if (plan.currency !== input.currency) return `priced in ${plan.currency}; options are compared in ${input.currency} only`;
  const model = plan.models && input.modelsUsed.find((m) => !plan.models!.includes(m));
  if (model) return `does not include the model ${model}, which the account used`;
  const action = plan.actions && input.actionsUsed.find((a) => !plan.actions!.includes(a));
  if (action) return `does not include the action ${action}, which the account used`;
  return null;
}

export function advise(input: AdviceInput): Advice {
  const toDay = addDays(input.today, 1);
  const fromDay = addDays(toDay, -input.days);
  const table = input.priceTable && input.priceTable.currency === input.currency ? input.priceTable : null;
  const solver = new CoverSolver(input.packs.filter((p) => p.currency === input.currency), table);
  // A current plan in another currency than the one compared is left out: the comparison is then as without a plan.
  const current = input.currentPlan && input.currentPlan.currency === input.currency ? input.currentPlan : null;
  const schedule: Schedule = current ?? { interval: 'MONTH', intervalCount: 1 };
  const excluded: ExcludedPlan[] = [];
  if (input.currentPlan && !current) excluded.push({ planCode: input.currentPlan.code, reason: `the current plan, priced in ${input.currentPlan.currency}; options are compared in ${input.currency} only` });
  const options: AdviceOption[] = [];
  const candidates = current ? [current, ...input.plans.filter((p) => p.code !== current.code)] : [...input.plans];
  for (const plan of candidates) {
    if (plan.code === input.currentPlan?.code && !current) continue;
    const why = plan === current ? null : exclusion(plan, input);
    if (why) { excluded.push({ planCode: plan.code, reason: why }); continue; }
    options.push({ label: plan === current ? `${plan.name} (current)` : plan.name, kind: kindOf(current, plan), plan, replay: replay(plan, plan, input.consumption, fromDay, toDay, solver), savingsMinor: 0n });
  }
  options.push({ label: 'Pay as you go (no plan)', kind: 'PACKS_ONLY', plan: null, replay: replay(null, schedule, input.consumption, fromDay, toDay, solver), savingsMinor: 0n });
  const baseline = options.find((o) => o.kind === 'CURRENT') ?? options.find((o) => o.kind === 'PACKS_ONLY')!;
  for (const o of options) o.savingsMinor = baseline.replay.costMinor - o.replay.costMinor;
  // Baseline first, then the cheapest covered ones (ties: the smaller plan cost, then by code).
  const rank = (o: AdviceOption) => [o === baseline ? 0 : 1, o.replay.covered ? 0 : 1] as const;
  options.sort((a, b) => rank(a)[0] - rank(b)[0] || rank(a)[1] - rank(b)[1] || cmp(a.replay.costMinor, b.replay.costMinor)
    || cmp(a.replay.planCostMinor, b.replay.planCostMinor) || (a.plan?.code ?? '').localeCompare(b.plan?.code ?? ''));
  const consumedMillis = [...input.consumption.entries()].filter(([d]) => d >= fromDay && d < toDay).reduce((s, [, m]) => s + m, 0);
  let recommended = baseline;
  if (consumedMillis > 0) {
    for (const o of options) {
      const better = o.replay.covered && (!recommended.replay.covered || o.replay.costMinor < recommended.replay.costMinor);
      if (better) recommended = o;
    }
  }
  return {
    days: input.days, fromDay, toDay, currency: input.currency, consumedMillis, currentPlanCode: input.currentPlan?.code ?? null,
    options, recommended, excluded, exactCovers: solver.exact,
    reason: reasonFor({ baseline, recommended, options, current, consumedMillis, days: input.days, currency: input.currency }),
  };
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ------------------------------------------------------------------ the reason in words

/** 2500000 millis → "2,500". */
export function groupedCredits(millis: Millis): string {
  const [whole, fraction] = formatCredits(millis).split('.');
  return whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',') + (fraction ? `.${fraction}` : '');
}

export function money(minor: bigint, currency: string): string {
  return `${formatMoney(minor, currency)} ${currency}`;
}

/** part ÷ whole in percent, half up (whole > 0). */
export function percent(part: Millis, whole: Millis): number {
  return Number(roundHalfUp(BigInt(part) * 100n, BigInt(whole)));
}

function periodNoun(schedule: Schedule, plural: boolean): string {
  if (schedule.intervalCount !== 1) return plural ? 'billing periods' : 'billing period';
  const unit = { DAY: 'day', WEEK: 'week', MONTH: 'month', YEAR: 'year' }[schedule.interval];
  return plural ? `${unit}s` : unit;
}

/** "1 × 2,500-credit pack and 120 custom credits". */
export function describeCover(packs: readonly PackCount[], customMillis: Millis): string {
  const parts = packs.map((p) => `${p.count === 1 ? 'a' : `${p.count} ×`} ${groupedCredits(p.creditsMillis)}-credit pack${p.count === 1 ? '' : 's'}`);
  if (customMillis > 0) parts.push(`${groupedCredits(customMillis)} custom credits`);
  return parts.join(' and ') || 'nothing';
}

/** The periods that say something: at least half of their days inside the window (a sliver of a period is no evidence). */
function evidence(o: AdviceOption): ReplayPeriod[] {
  return o.replay.periods.filter((p) => p.daysIn * 2 >= p.daysTotal);
}

interface ReasonInput {
  baseline: AdviceOption;
  recommended: AdviceOption;
  options: AdviceOption[];
  current: AdvicePlan | null;
  consumedMillis: Millis;
  days: number;
  currency: string;
}

function reasonFor(r: ReasonInput): string {
  const { baseline, recommended, current, currency } = r;
  const m = (minor: bigint) => money(minor, currency);
  if (r.consumedMillis <= 0) {
    return `No credits were used in the last ${r.days} days, so there is nothing to compare: ${current ? `keep ${current.name}` : 'keep paying as you go'}.`;
  }
  const used = `You used ${groupedCredits(r.consumedMillis)} credits in the last ${r.days} days`;
  const notCovered = recommended.replay.covered ? '' : ' (part of the overage could not be bought: no pack or custom amount on sale covers it)';
  const instead = (o: AdviceOption) => `${m(o.replay.costMinor)} instead of ${m(baseline.replay.costMinor)}`;
  const withCover = (o: AdviceOption) => (o.replay.overageMillis > 0 ? `, with ${describeCover(o.replay.packs, o.replay.customMillis)} for the ${groupedCredits(o.replay.overageMillis)} credits beyond its allowance` : '');

  if (!current) {
    if (recommended.kind === 'PACKS_ONLY') {
      const plans = r.options.filter((o) => o.plan);
      const next = plans.find((o) => o.replay.covered);
      return `${used} and have no plan: paying as you go is the cheapest, ${describeCover(recommended.replay.packs, recommended.replay.customMillis)} for ${m(recommended.replay.costMinor)}`
        + `${next ? `; the cheapest plan, ${next.label}, would have cost ${m(next.replay.costMinor)}` : ''}.${notCovered}`;
    }
    return `${used} and have no plan: ${recommended.label} would have cost ${m(-recommended.savingsMinor + baseline.replay.costMinor)} instead of ${m(baseline.replay.costMinor)} paying as you go, ${m(recommended.savingsMinor)} less${withCover(recommended)}.`;
  }

  const periods = evidence(baseline);
  const noun = periodNoun(current, periods.length !== 1);
  const over = periods.filter((p) => p.overageMillis > 0);
  const ratio = (p: ReplayPeriod) => (p.allowanceMillis > 0 ? percent(p.overageMillis, p.allowanceMillis) : null);
  const heavy = periods.length > 0 && periods.every((p) => p.overageMillis > 0 && (p.allowanceMillis === 0 || p.overageMillis * 100 >= p.allowanceMillis * HEAVY_OVERAGE_PERCENT));
  const allowanceTotal = baseline.replay.periods.reduce((s, p) => s + p.allowanceMillis, 0);
  const usedPercent = allowanceTotal > 0 ? percent(r.consumedMillis, allowanceTotal) : null;
  const underUsed = periods.length > 0 && allowanceTotal > 0 && periods.every((p) => p.consumedMillis * 100 < p.allowanceMillis * UNDER_USE_PERCENT);
  const last = `the last ${periods.length === 1 ? '' : `${periods.length} `}${noun}`;

  if (recommended === baseline) {
    if (over.length === 0) {
      const cheaper = r.options.filter((o) => o !== baseline && o.replay.covered).sort((a, b) => cmp(a.replay.costMinor, b.replay.costMinor))[0];
      return `${used}${usedPercent === null ? '' : `, ${usedPercent}% of your allowance`}, and stayed within it: keep ${current.name}`
        + `${cheaper ? `; the next cheapest option, ${cheaper.label}, would have cost ${m(-cheaper.savingsMinor)} more` : ''}.`;
    }
    const worst = over.reduce((a, b) => (b.overageMillis > a.overageMillis ? b : a));
    const worstPct = ratio(worst);
    const upTo = over.length === 1 ? '' : 'up to ';
    const by = worstPct === null ? `by ${upTo}${groupedCredits(worst.overageMillis)} credits` : `by ${upTo}${worstPct}%`;
    const spike = over.length === 1 && periods.length > 1 && (worstPct === null || worstPct >= HEAVY_OVERAGE_PERCENT) ? 'a one-off spike: ' : '';
    const items = baseline.replay.packs.reduce((s, p) => s + p.count, 0) + (baseline.replay.customMillis > 0 ? 1 : 0);
    const upgrade = r.options.filter((o) => o.kind === 'UPGRADE' && o.replay.covered).sort((a, b) => cmp(a.replay.costMinor, b.replay.costMinor))[0];
    const coverMinor = baseline.replay.costMinor - baseline.replay.planCostMinor;
    return `Keep ${current.name} and buy credits when you run out — ${spike}you went over your allowance in ${over.length} of ${last}, ${by}: `
      + `${describeCover(baseline.replay.packs, baseline.replay.customMillis)} cover${items === 1 ? 's' : ''} it for ${m(coverMinor)}`
      + `${upgrade ? `; ${upgrade.label} would have cost ${m(-upgrade.savingsMinor)} more` : ''}.${notCovered}`;
  }

  const saves = `${recommended.label} would have cost ${m(recommended.savingsMinor)} less (${instead(recommended)})${withCover(recommended)}`;
  if (recommended.kind === 'UPGRADE') {
    if (heavy) return `You exceeded your allowance by more than ${HEAVY_OVERAGE_PERCENT}% in each of ${last}: ${saves}.`;
    return `You went over your allowance in ${over.length} of ${last}: ${saves}.`;
  }
  if (underUsed) return `You used ${usedPercent}% of your allowance, less than ${UNDER_USE_PERCENT}% in each of ${last}: ${saves}.`;
  if (recommended.kind === 'PACKS_ONLY') return `${used}${usedPercent === null ? '' : ` (${usedPercent}% of your allowance)`}: paying as you go would have cost ${m(recommended.savingsMinor)} less than ${current.name} (${instead(recommended)}), buying ${describeCover(recommended.replay.packs, recommended.replay.customMillis)}.`;
  return `${used}${usedPercent === null ? '' : ` (${usedPercent}% of your allowance)`}: ${saves}.`;
}
