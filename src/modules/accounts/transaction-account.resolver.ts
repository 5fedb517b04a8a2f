import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { LedgerTransaction, type TransactionRow } from '../ledger';
import { Account } from './account.type';
import type { AccountRow } from './accounts.repo';

/** LedgerTransaction.account, batched through a DataLoader (one query for a whole page). */
@Resolver(() => LedgerTransaction)
export class TransactionAccountResolver {
  @FieldResolver(() => Account)
  async account(@Root() transaction: TransactionRow, @Ctx() ctx: Context): Promise<AccountRow> {
    const account = await ctx.loaders.account.load(transaction.accountId);
    if (!account) throw new Error('a transaction belongs to an account');
    return account;
  }
}
