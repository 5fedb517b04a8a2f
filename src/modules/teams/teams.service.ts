/**
 * Teams: members of TEAM accounts with a role and a budget per period (README, Teams and member
 * budgets). Member changes of one team are serialized by a lock on the team's account row; every
 * refusal is checked before anything is written. The budgets themselves are counted by the ledger's
 * use rules (budget-rules.ts) in the database transaction of each charge.
 */
import type { Database, Executor } from '../../db/client';
import type { Config } from '../../config';
import type { Clock } from '../../shared/clock';
import type { Millis } from '../../shared/credits';
import { badInput, notFound } from '../../shared/errors';
import { isUuid } from '../../shared/validate';
import type { TeamRoleName } from '../../db/schema';
import * as repo from './teams.repo';
import { budgetPeriod, checkedBudget, checkedRole, usedIn } from './teams.rules';

export interface TeamMemberView {
  teamId: string;
  accountId: string;
  role: TeamRoleName;
  budgetMillis: Millis | null;
  budgetUsedMillis: Millis;
  budgetResetsAt: Date | null;
  createdAt: Date;
}

export interface AddMemberRequest {
  teamId: string;
  accountId: string;
  role: string;
  budgetMillis?: Millis | null;
}

export interface UpdateMemberRequest {
  teamId: string;
  accountId: string;
  role?: string | null;
  /** undefined: unchanged; null: no budget. */
  budgetMillis?: Millis | null;
}

/** A member row as seen now: the used count of another period reads 0 (reset by key). */
export function memberView(member: repo.TeamMemberRow, planRenewsAt: Date | null, now: Date): TeamMemberView {
  const period = budgetPeriod(planRenewsAt, now);
  return {
    teamId: member.teamId, accountId: member.accountId, role: member.role, budgetMillis: member.budgetMillis,
    budgetUsedMillis: usedIn({ periodKey: member.budgetPeriodKey, usedMillis: member.budgetUsedMillis }, period),
    budgetResetsAt: period.resetsAt, createdAt: member.createdAt,
  };
}

export class TeamsService {
  private settle: ((accountId: string) => Promise<unknown>) | null = null;

  constructor(private readonly database: Database, private readonly clock: Clock, private readonly config: Readonly<Config>) {}

  /** Reads of a team whose plan period ended renew it first (as wallet reads do), so budgetResetsAt is the new period's. */
  attachSettle(settle: (accountId: string) => Promise<unknown>): void {
    this.settle = settle;
  }

  private get db() {
    return this.database.db;
  }

  async add(request: AddMemberRequest): Promise<TeamMemberView> {
    const role = checkedRole(request.role);
    const budgetMillis = checkedBudget(request.budgetMillis);
    const { teamId, accountId } = request;
    if (!isUuid(teamId)) throw notFound('team');
    if (!isUuid(accountId)) throw notFound('account');
    return this.db.transaction(async (tx) => {
      const teamKind = await repo.lockTeam(tx, teamId);
      if (!teamKind) throw notFound('team');
      if (teamKind !== 'TEAM') throw badInput('teamId must be a TEAM account', 'teamId');
      const memberKind = await repo.accountKind(tx, accountId);
      if (!memberKind) throw notFound('account');
      if (memberKind !== 'USER') throw badInput('a team member must be a USER account', 'accountId');
      const membership = await repo.membershipOf(tx, accountId);
      if (membership) {
        throw badInput(membership.teamId === teamId ? 'the account is already a member of this team' : 'the account is a member of another team (an account belongs to at most one team)', 'accountId');
      }
      const seats = (await repo.planSeats(tx, teamId)) ?? this.config.teamSeatsWithoutPlan;
      const { members } = await repo.memberCounts(tx, teamId);
      if (members >= seats) throw badInput(`the team has no seat left: ${members} of ${seats} taken (seats come with the plan)`, 'accountId');
      const now = this.clock.now();
      const row: repo.TeamMemberRow = {
        teamId, accountId, role, budgetMillis, budgetPeriodKey: '', budgetUsedMillis: 0, budgetAlerted: [], createdAt: now, updatedAt: now,
      };
      // A concurrent add of the same account to another team lost the race: refused like the check above.
      if (!(await repo.insertMember(tx, row))) throw badInput('the account is a member of another team (an account belongs to at most one team)', 'accountId');
      const wallet = await repo.memberOf(tx, teamId, accountId);
      return memberView(row, wallet?.planRenewsAt ?? null, now);
    });
  }

  async update(request: UpdateMemberRequest): Promise<TeamMemberView> {
    const role = request.role === undefined || request.role === null ? undefined : checkedRole(request.role);
    const budgetMillis = request.budgetMillis === undefined ? undefined : checkedBudget(request.budgetMillis);
    const { teamId, accountId } = request;
    if (!isUuid(teamId) || !isUuid(accountId)) throw notFound('team member');
    return this.db.transaction(async (tx) => {
      if (!(await repo.lockTeam(tx, teamId))) throw notFound('team member');
      const found = await repo.memberOf(tx, teamId, accountId);
      if (!found) throw notFound('team member');
      if (found.member.role === 'OWNER' && role !== undefined && role !== 'OWNER' && (await repo.memberCounts(tx, teamId)).owners <= 1) {
        throw badInput('the last OWNER of a team cannot be demoted: make another member OWNER first', 'role');
      }
      const now = this.clock.now();
      const updated = await repo.updateMember(tx, teamId, accountId, {
        updatedAt: now, ...(role !== undefined ? { role } : {}), ...(budgetMillis !== undefined ? { budgetMillis } : {}),
      });
      return memberView(updated!, found.planRenewsAt, now);
    });
  }

  async remove(teamId: string, accountId: string): Promise<boolean> {
    if (!isUuid(teamId) || !isUuid(accountId)) throw notFound('team member');
    return this.db.transaction(async (tx) => {
      if (!(await repo.lockTeam(tx, teamId))) throw notFound('team member');
      const found = await repo.memberOf(tx, teamId, accountId);
      if (!found) throw notFound('team member');
      if (found.member.role === 'OWNER' && (await repo.memberCounts(tx, teamId)).owners <= 1) {
        throw badInput('the last OWNER of a team cannot be removed: make another member OWNER first', 'accountId');
      }
      return repo.deleteMember(tx, teamId, accountId);
    });
  }

  /** Members of each team (oldest first), for Account.members: one statement for a page of accounts. */
  async membersOf(teamIds: readonly string[]): Promise<TeamMemberView[][]> {
    const ids = teamIds.filter(isUuid);
    let found = await repo.membersOf(this.db, ids);
    let now = this.clock.now();
    const stale = [...new Set(found.filter((r) => r.planRenewsAt && r.planRenewsAt <= now).map((r) => r.member.teamId))];
    if (stale.length > 0 && this.settle) {
      for (const id of stale) await this.settle(id);
      found = await repo.membersOf(this.db, ids);
      now = this.clock.now();
    }
    const byTeam = new Map<string, TeamMemberView[]>(teamIds.map((id) => [id, []]));
    for (const r of found) byTeam.get(r.member.teamId)?.push(memberView(r.member, r.planRenewsAt, now));
    return teamIds.map((id) => byTeam.get(id) ?? []);
  }

  async member(teamId: string, accountId: string, executor: Executor = this.db): Promise<TeamMemberView | null> {
    if (!isUuid(teamId) || !isUuid(accountId)) return null;
    let found = await repo.memberOf(executor, teamId, accountId);
    if (!found) return null;
    if (found.planRenewsAt && found.planRenewsAt <= this.clock.now() && this.settle) {
      await this.settle(teamId);
      found = await repo.memberOf(executor, teamId, accountId);
      if (!found) return null;
    }
    return memberView(found.member, found.planRenewsAt, this.clock.now());
  }
}
