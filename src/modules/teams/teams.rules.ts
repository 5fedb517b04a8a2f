/**
 * The rules of teams and member budgets, pure (table-driven tests: test/unit/teams.rules.test.ts).
 *
 * Budget period. A team with a plan counts budgets per billing period: the team wallet's
 * `planRenewsAt` is the current period's end, and its ISO text is the period key. Without a plan,
 * the UTC calendar month: key 'YYYY-MM', reset at the next month's first instant (UTC).
 *
 * A member row keeps what it used in the period named by its `budget_period_key`; a use (or a read)
 * in another period sees 0 used and no alert fired: budgets reset by key, never by a job.
 *
 * Check. A use of `amount` by a member with a budget passes when
 *   used (this period) + held (the member's active holds) + amount ≤ budget
 * and is otherwise BUDGET_EXCEEDED. Captures are never refused (the hold secured them); refunds and
 * reversals of a member's charge in the same period give their amount back (never below 0).
 *
 * Alerts. MEMBER_BUDGET fires when used reaches 80% and 100% of the budget, once per level per period.
 */
import type { Millis } from '../../shared/credits';
import { formatCredits } from '../../shared/credits';
import { AppError, ErrorCode, badInput } from '../../shared/errors';
import type { TeamRoleName } from '../../db/schema';

export const TEAM_ROLE_NAMES: readonly TeamRoleName[] = ['OWNER', 'ADMIN', 'MEMBER'];
/** Shares of a member's budget (percent) whose crossing raises a MEMBER_BUDGET alert, once per period each. */
export const BUDGET_ALERT_PERCENTS: readonly number[] = [80, 100];
/** The largest budget accepted (credits in millis; far above any real one, and a safe integer). */
export const BUDGET_MILLIS_MAX = 1e15;

export interface BudgetPeriod {
  key: string;
  /** When it ends (exclusive): the next period starts, and budgetUsed starts again from 0. */
  resetsAt: Date;
}

/** The calendar month key of an instant (UTC): 'YYYY-MM'. */
export function monthKey(at: Date): string {
  return at.toISOString().slice(0, 7);
}

/** The first instant of the UTC month after the one holding `at`. */
export function nextMonthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1));
}

/** The first instant of the UTC month holding `at`. */
export function monthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
}

/**
 * The budget period at `now` of a team whose wallet renews at `planRenewsAt` (null: no plan). A plan
 * period that ended and was not renewed yet (a read before the lazy renewal) counts as the month.
 */
export function budgetPeriod(planRenewsAt: Date | null, now: Date): BudgetPeriod {
  if (planRenewsAt && planRenewsAt.getTime() > now.getTime()) return { key: planRenewsAt.toISOString(), resetsAt: planRenewsAt };
  return { key: monthKey(now), resetsAt: nextMonthStart(now) };
}

/** What a member row used in `period`: its count when its key is the period's, else 0 (a new period). */
export function usedIn(stored: { periodKey: string; usedMillis: Millis }, period: BudgetPeriod): Millis {
  return stored.periodKey === period.key ? stored.usedMillis : 0;
}

/** The levels a member row fired in `period` (none in a new period). */
export function alertedIn(stored: { periodKey: string; alerted: readonly number[] }, period: BudgetPeriod): number[] {
  return stored.periodKey === period.key ? [...stored.alerted] : [];
}

/** What is left of a budget: budget − used − held, never below 0 (null: no budget). */
export function remainingOf(budgetMillis: Millis | null, usedMillis: Millis, heldMillis: Millis): Millis | null {
  if (budgetMillis === null) return null;
  return Math.max(0, budgetMillis - usedMillis - heldMillis);
}

export interface BudgetState {
  teamId: string;
  memberId: string;
  budgetMillis: Millis | null;
  usedMillis: Millis;
  heldMillis: Millis;
  period: BudgetPeriod;
}

/** The refusal of a use of `amountMillis`, or null when the budget allows it (or there is none). */
export function budgetRefusal(state: BudgetState, amountMillis: Millis): AppError | null {
  const { budgetMillis, usedMillis, heldMillis } = state;
  if (budgetMillis === null || usedMillis + heldMillis + amountMillis <= budgetMillis) return null;
  const remaining = remainingOf(budgetMillis, usedMillis, heldMillis)!;
  const resetsAt = state.period.resetsAt.toISOString();
  return new AppError(ErrorCode.BUDGET_EXCEEDED,
    `member ${state.memberId} would exceed their budget: ${formatCredits(amountMillis)} asked, ${formatCredits(remaining)} of ${formatCredits(budgetMillis)} left until ${resetsAt}`, {
      memberId: state.memberId, teamId: state.teamId, budget: formatCredits(budgetMillis), used: formatCredits(usedMillis), held: formatCredits(heldMillis),
      remaining: formatCredits(remaining), requested: formatCredits(amountMillis), resetsAt,
      remedy: `Ask a team OWNER or ADMIN to raise this member's budget (updateTeamMember), release unused holds, or wait until ${resetsAt} when the budget resets.`,
    });
}

/** The alert levels (percent) reached by going from `before` to `after` used, not yet fired. */
export function crossedLevels(budgetMillis: Millis | null, afterMillis: Millis, alerted: readonly number[]): number[] {
  if (budgetMillis === null || budgetMillis <= 0) return [];
  return BUDGET_ALERT_PERCENTS.filter((pct) => !alerted.includes(pct) && afterMillis * 100 >= pct * budgetMillis);
}

/** The level's threshold in credits (millis), rounded up: `pct` % of the budget. */
export function levelMillis(budgetMillis: Millis, pct: number): Millis {
  return Math.ceil((budgetMillis * pct) / 100);
}

/** A budget as given (credits, null: none): ≥ 0, at most BUDGET_MILLIS_MAX; BAD_USER_INPUT naming the field. */
export function checkedBudget(budgetMillis: Millis | null | undefined, field = 'budget'): Millis | null {
  if (budgetMillis === null || budgetMillis === undefined) return null;
  if (!Number.isSafeInteger(budgetMillis) || budgetMillis < 0) throw badInput('budget must be ≥ 0 (or null: no budget)', field);
  if (budgetMillis > BUDGET_MILLIS_MAX) throw badInput(`budget must be at most ${formatCredits(BUDGET_MILLIS_MAX)}`, field);
  return budgetMillis;
}

export function checkedRole(role: string, field = 'role'): TeamRoleName {
  if (!(TEAM_ROLE_NAMES as readonly string[]).includes(role)) throw badInput(`role must be one of ${TEAM_ROLE_NAMES.join(', ')}`, field);
  return role as TeamRoleName;
}

/** The dedupe key of a member budget alert: one per team × member × period × level. */
export function budgetAlertKey(teamId: string, memberId: string, periodKey: string, pct: number): string {
  return `member-budget:${teamId}:${memberId}:${periodKey}:${pct}`;
}

export function budgetAlertMessage(memberId: string, pct: number, usedMillis: Millis, budgetMillis: Millis, resetsAt: Date): string {
  return `Team member ${memberId} has used ${pct}% of their budget: ${formatCredits(usedMillis)} of ${formatCredits(budgetMillis)} credits (the budget resets at ${resetsAt.toISOString()}).`;
}
