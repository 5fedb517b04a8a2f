/** SQL of teams and member budgets. Knows nothing about GraphQL. */
import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { at, rows } from '../../db/client';
import { accounts, teamMembers, wallets, type AccountKindName, type TeamRoleName } from '../../db/schema';

export type TeamMemberRow = typeof teamMembers.$inferSelect;

/**
 * Locks a team account's row against other member changes of that team (seats, last owner), and says
 * what kind of account it is (undefined: none). NO KEY UPDATE: charges and foreign keys are not blocked.
 */
export async function lockTeam(tx: Tx, teamId: string): Promise<AccountKindName | undefined> {
  const [row] = await tx.select({ kind: accounts.kind }).from(accounts).where(eq(accounts.id, teamId)).for('no key update');
  return row?.kind;
}

export async function accountKind(executor: Executor, id: string): Promise<AccountKindName | undefined> {
  const [row] = await executor.select({ kind: accounts.kind }).from(accounts).where(eq(accounts.id, id));
  return row?.kind;
}

/** The team an account is a member of (at most one, by a unique index). */
export async function membershipOf(executor: Executor, accountId: string): Promise<TeamMemberRow | undefined> {
  const [row] = await executor.select().from(teamMembers).where(eq(teamMembers.accountId, accountId));
  return row;
}

/** Members of some teams, oldest first, with each team wallet's period end (the budget period). */
export async function membersOf(executor: Executor, teamIds: readonly string[]): Promise<{ member: TeamMemberRow; planRenewsAt: Date | null }[]> {
  if (teamIds.length === 0) return [];
  return executor.select({ member: teamMembers, planRenewsAt: wallets.planRenewsAt })
    .from(teamMembers)
    .innerJoin(wallets, eq(wallets.accountId, teamMembers.teamId))
    .where(teamIds.length === 1 ? eq(teamMembers.teamId, teamIds[0]) : inArray(teamMembers.teamId, [...teamIds]))
    .orderBy(asc(teamMembers.createdAt), asc(teamMembers.accountId));
}

export async function memberOf(executor: Executor, teamId: string, accountId: string): Promise<{ member: TeamMemberRow; planRenewsAt: Date | null } | undefined> {
  const [row] = await executor.select({ member: teamMembers, planRenewsAt: wallets.planRenewsAt })
    .from(teamMembers)
    .innerJoin(wallets, eq(wallets.accountId, teamMembers.teamId))
    .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.accountId, accountId)));
  return row;
}

/** Members and owners of a team (its row locked by the caller). */
export async function memberCounts(tx: Tx, teamId: string): Promise<{ members: number; owners: number }> {
  const [row] = await rows<{ members: string; owners: string }>(tx, sql`
    select count(*)::text as members, count(*) filter (where role = 'OWNER')::text as owners from ${teamMembers} where team_id = ${teamId}`);
  return { members: Number(row?.members ?? 0), owners: Number(row?.owners ?? 0) };
}

/** The seats of the team's current plan version (its subscription that is not canceled); null without a plan. */
export async function planSeats(executor: Executor, teamId: string): Promise<number | null> {
  const [row] = await rows<{ seats: number }>(executor, sql`
    select pv.seats from subscriptions s join plan_versions pv on pv.id = s.plan_version_id
    where s.account_id = ${teamId} and s.status <> 'CANCELED' limit 1`);
  return row ? Number(row.seats) : null;
}

/** Inserts a member; false when the account is a member already (of this team or another: nothing written). */
export async function insertMember(tx: Tx, row: TeamMemberRow): Promise<boolean> {
  const inserted = await tx.insert(teamMembers).values(row).onConflictDoNothing().returning({ id: teamMembers.accountId });
  return inserted.length > 0;
}

export async function updateMember(tx: Tx, teamId: string, accountId: string, set: { role?: TeamRoleName; budgetMillis?: number | null; updatedAt: Date }): Promise<TeamMemberRow | undefined> {
  const [row] = await tx.update(teamMembers).set(set).where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.accountId, accountId))).returning();
  return row;
}

export async function deleteMember(tx: Tx, teamId: string, accountId: string): Promise<boolean> {
  const deleted = await tx.delete(teamMembers).where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.accountId, accountId))).returning({ id: teamMembers.accountId });
  return deleted.length > 0;
}

/** A member's budget row as the ledger's use rules read it, with its active holds and the team's period start. */
export interface BudgetRow {
  teamId: string;
  memberId: string;
  /** null: the account is not a member of that team. */
  role: TeamRoleName | null;
  budgetMillis: number | null;
  periodKey: string;
  usedMillis: number;
  alerted: number[];
  /** Active, unexpired holds of the member on the team wallet. */
  heldMillis: number;
  /** The team's live subscription's current period start (refunds in the same period give budget back). */
  periodStart: Date | null;
}

/**
 * ONE statement for every (team, member) pair of a run: the member rows, their active held sums (index
 * holds_member_active_idx) and the team's current period start. A pair that is no membership comes
 * back with role null.
 */
export async function loadBudgets(tx: Tx, pairs: readonly { teamId: string; memberId: string }[], now: Date): Promise<BudgetRow[]> {
  if (pairs.length === 0) return [];
  const json = JSON.stringify(pairs.map((p) => ({ team: p.teamId, member: p.memberId })));
  const found = await rows<{
    team: string; member: string; role: TeamRoleName | null; budget: string | null; period_key: string | null; used: string | null;
    alerted: number[] | string | null; held: string; period_start: string | Date | null;
  }>(tx, sql`
    select p.team::text as team, p.member::text as member, tm.role, tm.budget_millis::text as budget, tm.budget_period_key as period_key,
      tm.budget_used_millis::text as used, tm.budget_alerted as alerted,
      coalesce((select sum(h.amount_millis) from holds h where h.account_id = p.team and h.member_id = p.member
        and h.status = 'ACTIVE' and h.expires_at > ${at(now)}), 0)::text as held,
      (select s.current_period_start from subscriptions s where s.account_id = p.team and s.status <> 'CANCELED' limit 1) as period_start
    from jsonb_to_recordset(${json}::jsonb) as p(team uuid, member uuid)
    left join ${teamMembers} tm on tm.team_id = p.team and tm.account_id = p.member`);
  return found.map((r) => ({
    teamId: r.team, memberId: r.member, role: r.role, budgetMillis: r.budget === null ? null : Number(r.budget),
    periodKey: r.period_key ?? '', usedMillis: Number(r.used ?? 0),
    alerted: (typeof r.alerted === 'string' ? JSON.parse(r.alerted) as number[] : r.alerted) ?? [],
    heldMillis: Number(r.held), periodStart: r.period_start === null ? null : new Date(r.period_start),
  }));
}

/** Writes the budget counters of the members a run touched, in one statement. */
export async function saveBudgets(tx: Tx, updates: readonly { teamId: string; memberId: string; periodKey: string; usedMillis: number; alerted: number[] }[], now: Date): Promise<void> {
  if (updates.length === 0) return;
  const json = JSON.stringify(updates.map((u) => ({ team: u.teamId, member: u.memberId, key: u.periodKey, used: u.usedMillis, alerted: u.alerted })));
  await tx.execute(sql`update team_members set budget_period_key = v.key, budget_used_millis = v.used, budget_alerted = v.alerted,
      updated_at = ${at(now)}
    from jsonb_to_recordset(${json}::jsonb) as v(team uuid, member uuid, key text, used bigint, alerted jsonb)
    where team_members.team_id = v.team and team_members.account_id = v.member`);
}
