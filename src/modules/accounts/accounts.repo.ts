import { and, asc, eq, getTableColumns, inArray, or, sql } from 'drizzle-orm';
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

/** An account found by search, with the key it is ordered by (its lowercased name). */
export type FoundAccountRow = AccountRow & { sortName: string };

/**
 * Accounts ordered by lowercased name (byte order, the order of accounts_name_lower_idx's
 * text_pattern_ops, so the unfiltered list is read from that index in order), then id; keyset
 * after (sortName, id). With `search`: an exact id (when it is a UUID), an exact externalId, an email equal
 * ignoring case, or a name starting with it ignoring case (each arm has its own index).
 */
export async function searchAccounts(
  executor: Executor,
  search: { text: string; isId: boolean } | null,
  after: { sortName: string; id: string } | null,
  limit: number,
  /** Only this partner's accounts (a partner key's search); null: every account. */
  partner: string | null = null,
): Promise<FoundAccountRow[]> {
  const sortName = sql<string>`lower(${accounts.name})`;
  // LIKE's wildcards and its escape character in the search are literal characters.
  const prefix = search ? search.text.replace(/[\\%_]/g, (c) => `\\${c}`) + '%' : '';
  return executor.select({ ...getTableColumns(accounts), sortName }).from(accounts)
    .where(and(
      search ? or(
        search.isId ? eq(accounts.id, search.text) : undefined,
        eq(accounts.externalId, search.text),
        sql`lower(${accounts.email}) = lower(${search.text})`,
        sql`${sortName} like lower(${prefix})`,
      ) : undefined,
      // Written so the first half is an index condition (a bare OR would be a filter over the rows before the cursor).
      partner !== null ? eq(accounts.partner, partner) : undefined,
      after ? sql`${sortName} ~>=~ ${after.sortName} and (${sortName} ~>~ ${after.sortName} or ${accounts.id} > ${after.id})` : undefined,
    ))
    .orderBy(sql`${sortName} using ~<~`, asc(accounts.id))
    .limit(limit);
}
