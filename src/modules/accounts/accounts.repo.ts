import { eq, inArray } from 'drizzle-orm';
import type { Executor, Tx } from '../../db/client';
import { accounts, wallets } from '../../db/schema';

export type AccountRow = typeof accounts.$inferSelect;

/** An account and its wallet are created together. Returns false when the externalId is taken. */
export async function insertAccountWithWallet(tx: Tx, account: AccountRow, wallet: { overdraftLimitMillis: number; overdraftLimitOwn: boolean }): Promise<boolean> {
  const inserted = await tx.insert(accounts).values(account).onConflictDoNothing({ target: accounts.externalId }).returning({ id: accounts.id });
  if (inserted.length === 0) return false;
  await tx.insert(wallets).values({ accountId: account.id, ...wallet, updatedAt: account.createdAt });
  return true;
}

export async function updateAccount(executor: Executor, id: string, set: Partial<Pick<AccountRow, 'name' | 'email'>>): Promise<AccountRow | undefined> {
  const [row] = await executor.update(accounts).set(set).where(eq(accounts.id, id)).returning();
  return row;
}

export async function findAccount(executor: Executor, id: string): Promise<AccountRow | undefined> {
  const [row] = await executor.select().from(accounts).where(eq(accounts.id, id));
  return row;
}

export async function findAccountByExternalId(executor: Executor, externalId: string): Promise<AccountRow | undefined> {
  const [row] = await executor.select().from(accounts).where(eq(accounts.externalId, externalId));
  return row;
}

export async function accountsByIds(executor: Executor, ids: readonly string[]): Promise<AccountRow[]> {
  if (ids.length === 0) return [];
  return executor.select().from(accounts).where(inArray(accounts.id, [...ids]));
}
