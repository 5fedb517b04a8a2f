/**
 * Member budgets as ledger use rules (ledger/use-rules.ts), inside the ledger's database transaction
 * and under the team wallet's lock: every use of one team wallet is serialized by that lock, so the
 * check "used + held + amount ≤ budget" and the count that follows are atomic with the charge.
 * A run costs one read (`load`: every member of its uses at once) and at most one write per table it
 * touches at `flush`; a run without a memberId costs nothing.
 */
import type { Tx } from '../../db/client';
import type { Millis } from '../../shared/credits';
import { AppError, badInput } from '../../shared/errors';
import { isUuid } from '../../shared/validate';
import type { AlertRow, AlertsService } from '../alerts';
import type { CreditUse, PlannedUse, UseRules, UseRulesRun, WalletSession, TransactionRow } from '../ledger';
import * as repo from './teams.repo';
import {
  alertedIn, budgetAlertKey, budgetAlertMessage, budgetPeriod, budgetRefusal, crossedLevels, levelMillis, usedIn, type BudgetPeriod,
} from './teams.rules';

interface MemberBudget {
  row: repo.BudgetRow;
  /** The period the counters below are of (set at the first use in the run). */
  period: BudgetPeriod | null;
  usedMillis: Millis;
  alerted: number[];
  /** Holds of this run (the loaded sum has the earlier ones). */
  heldInRunMillis: Millis;
  dirty: boolean;
  /** Levels reached in this run, raised at flush. */
  reached: { pct: number; usedMillis: Millis; availableMillis: Millis }[];
}

/** Ids as the database spells them (lowercase), however the request spelled them. */
const keyOf = (teamId: string, memberId: string) => `${teamId.toLowerCase()}\0${memberId.toLowerCase()}`;

/** Moves a member's counters into `period`: a new period starts from 0 used, no level fired. */
function rollTo(member: MemberBudget, period: BudgetPeriod): void {
  if (member.period?.key === period.key) return;
  const stored = member.period
    ? { periodKey: member.period.key, usedMillis: member.usedMillis, alerted: member.alerted }
    : { periodKey: member.row.periodKey, usedMillis: member.row.usedMillis, alerted: member.row.alerted };
  member.usedMillis = usedIn(stored, period);
  member.alerted = alertedIn(stored, period);
  member.period = period;
}

export class TeamBudgetRules implements UseRules {
  constructor(private readonly alerts: AlertsService) {}

  begin(tx: Tx, now: Date): UseRulesRun {
    return new TeamBudgetRun(tx, now, this.alerts);
  }
}

class TeamBudgetRun implements UseRulesRun {
  /** null: not a member of that team. */
  private readonly members = new Map<string, MemberBudget | null>();

  constructor(private readonly tx: Tx, private readonly now: Date, private readonly alerts: AlertsService) {}

  async load(uses: readonly PlannedUse[]): Promise<void> {
    const pairs = new Map<string, { teamId: string; memberId: string }>();
    for (const use of uses) {
      if (!use.memberId) continue;
      const key = keyOf(use.accountId, use.memberId);
      if (this.members.has(key) || pairs.has(key)) continue;
      if (!isUuid(use.memberId)) { this.members.set(key, null); continue; }
      pairs.set(key, { teamId: use.accountId, memberId: use.memberId });
    }
    if (pairs.size === 0) return;
    for (const row of await repo.loadBudgets(this.tx, [...pairs.values()], this.now)) {
      this.members.set(keyOf(row.teamId, row.memberId), row.role === null ? null : {
        row, period: null, usedMillis: row.usedMillis, alerted: row.alerted, heldInRunMillis: 0, dirty: false, reached: [],
      });
    }
  }

  /** The member's counters moved into the current period (a new period starts from 0, nothing fired). */
  private async member(session: WalletSession, memberId: string): Promise<MemberBudget | null> {
    const key = keyOf(session.accountId, memberId);
    if (!this.members.has(key)) await this.load([{ accountId: session.accountId, memberId }]);
    const member = this.members.get(key) ?? null;
    if (!member) return null;
    rollTo(member, budgetPeriod(session.wallet.planRenewsAt, session.now));
    return member;
  }

  async check(session: WalletSession, use: CreditUse): Promise<AppError | null> {
    if (!use.memberId || (use.kind !== 'CHARGE' && use.kind !== 'HOLD')) return null;
    const member = await this.member(session, use.memberId);
    if (!member) return badInput(`memberId ${use.memberId} is not a member of team ${session.accountId}`, 'memberId');
    return budgetRefusal({
      teamId: session.accountId, memberId: use.memberId, budgetMillis: member.row.budgetMillis, usedMillis: member.usedMillis,
      heldMillis: member.row.heldMillis + member.heldInRunMillis, period: member.period!,
    }, use.amountMillis);
  }

  record(session: WalletSession, use: CreditUse, posted: TransactionRow): void {
    if (!use.memberId) return;
    const key = keyOf(session.accountId, use.memberId);
    const member = this.members.get(key);
    // CHARGE / HOLD were checked (so loaded); CAPTURE / REFUND are loaded by the ledger before record.
    if (!member) return; // a capture or refund of someone no longer a member: nothing to count
    const period = budgetPeriod(session.wallet.planRenewsAt, session.now);
    rollTo(member, period);
    switch (use.kind) {
      case 'HOLD':
        member.heldInRunMillis += use.amountMillis;
        return;
      case 'CHARGE':
      case 'CAPTURE':
        member.usedMillis += use.amountMillis;
        member.dirty = true;
        for (const pct of crossedLevels(member.row.budgetMillis, member.usedMillis, member.alerted)) {
          member.alerted.push(pct);
          member.reached.push({ pct, usedMillis: member.usedMillis, availableMillis: posted.availableAfterMillis ?? 0 });
        }
        return;
      case 'REFUND': {
        // Only a charge of this period gives budget back: an earlier period's use was never counted here.
        if (!use.original || !this.inPeriod(use.original.createdAt, member, period)) return;
        member.usedMillis = Math.max(0, member.usedMillis - use.amountMillis);
        member.dirty = true;
        return;
      }
    }
  }

  /** Whether an instant lies in the member's current period (its start: the plan period's, or the month's). */
  private inPeriod(at: Date, member: MemberBudget, period: BudgetPeriod): boolean {
    if (/^\d{4}-\d{2}$/.test(period.key)) return at.toISOString().slice(0, 7) === period.key;
    const start = member.row.periodStart;
    return start !== null && at.getTime() >= start.getTime() && at.getTime() < period.resetsAt.getTime();
  }

  async flush(): Promise<readonly AlertRow[]> {
    const touched = [...this.members.values()].filter((m): m is MemberBudget => m !== null && m.dirty);
    if (touched.length === 0) return [];
    await repo.saveBudgets(this.tx, touched.map((m) => ({
      teamId: m.row.teamId, memberId: m.row.memberId, periodKey: m.period!.key, usedMillis: m.usedMillis, alerted: [...m.alerted].sort((a, b) => a - b),
    })), this.now);
    const raised: AlertRow[] = [];
    for (const m of touched) {
      const budget = m.row.budgetMillis;
      if (budget === null) continue;
      for (const reached of m.reached) {
        const alert = await this.alerts.raise(this.tx, {
          accountId: m.row.teamId, kind: 'MEMBER_BUDGET', memberId: m.row.memberId,
          thresholdMillis: levelMillis(budget, reached.pct),
          availableMillis: reached.availableMillis,
          message: budgetAlertMessage(m.row.memberId, reached.pct, reached.usedMillis, budget, m.period!.resetsAt),
          // Not on the charge's wallet event (that carries low-credit levels): pushed on lowCreditAlerts.
          transactionId: null,
          dedupeKey: budgetAlertKey(m.row.teamId, m.row.memberId, m.period!.key, reached.pct),
        }, this.now);
        if (alert) raised.push(alert);
      }
      m.reached = [];
      m.dirty = false;
    }
    return raised;
  }
}
