/** The reads access decisions need (src/auth/access.ts): each one statement by primary key or unique index. */
import { and, eq, inArray } from 'drizzle-orm';
import type { Executor } from '../db/client';
import { accounts, alerts, holds, ledgerTransactions, purchases, quotes, teamMembers, type TeamRoleName } from '../db/schema';

/** Objects whose ids appear in inputs; each belongs to one account. */
export type OwnedKind = 'hold' | 'transaction' | 'quote' | 'purchase' | 'alert';

const TABLES = { hold: holds, transaction: ledgerTransactions, quote: quotes, purchase: purchases, alert: alerts } as const;

/** Account id → its partner (null: an operator's account); accounts that do not exist are absent. */
export async function partnersOf(executor: Executor, accountIds: readonly string[]): Promise<Map<string, string | null>> {
  if (accountIds.length === 0) return new Map();
  const rows = await executor.select({ id: accounts.id, partner: accounts.partner }).from(accounts).where(inArray(accounts.id, [...accountIds]));
  return new Map(rows.map((r) => [r.id, r.partner]));
}

/** Object id → the account it belongs to, with that account's partner (one statement); absent when there is no such object. */
export async function ownersOf(executor: Executor, kind: OwnedKind, ids: readonly string[]): Promise<Map<string, { accountId: string; partner: string | null }>> {
  if (ids.length === 0) return new Map();
  const table = TABLES[kind];
  const rows = await executor.select({ id: table.id, accountId: table.accountId, partner: accounts.partner })
    .from(table).innerJoin(accounts, eq(accounts.id, table.accountId)).where(inArray(table.id, [...ids]));
  return new Map(rows.map((r) => [r.id, { accountId: r.accountId, partner: r.partner }]));
}

/** The role of `accountId` in team `teamId`, if it is a member. */
export async function teamRoleOf(executor: Executor, teamId: string, accountId: string): Promise<TeamRoleName | undefined> {
  const [row] = await executor.select({ role: teamMembers.role }).from(teamMembers)
    .where(and(eq(teamMembers.teamId, teamId), eq(teamMembers.accountId, accountId)));
  return row?.role;
}
