import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { assertAdmin, assertKeyRole, actorOf, requireViewer } from '../../auth/viewer';
import { access } from '../../auth/access';
import { badInput, forbidden } from '../../shared/errors';
import { connectionComplexity, PAGE_SIZE_DEFAULT, pageOf, pageSize } from '../../graphql/connection';
import { Account, AccountConnection, CreateAccountInput, UpdateAccountInput } from './account.type';
import { notFound } from '../../shared/errors';
import { Wallet } from '../wallets/wallet.type';
import type { AccountRow, FoundAccountRow } from './accounts.repo';

/** Cursor of a found account: its place in the name order, (lowercased name, id). */
function encodeAccountCursor(sortName: string, id: string): string {
  return Buffer.from(`s1:${id}:${sortName}`).toString('base64url');
}

function decodeAccountCursor(cursor: string): { sortName: string; id: string } {
  const m = /^s1:([0-9a-f-]{36}):(.*)$/s.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!m) throw badInput('after is not a valid cursor', 'after');
  return { id: m[1], sortName: m[2] };
}

@Resolver(() => Account)
export class AccountsResolver {
  @Query(() => Account, { nullable: true, description: 'By id or externalId (exactly one).' })
  async account(
    @Ctx() ctx: Context,
    @Arg('id', () => ID, { nullable: true }) id?: string | null,
    @Arg('externalId', () => String, { nullable: true }) externalId?: string | null,
  ): Promise<AccountRow | null> {
    requireViewer(ctx.viewer);
    if ((id ? 1 : 0) + (externalId ? 1 : 0) !== 1) throw badInput('give exactly one of id and externalId');
    const account = id ? await ctx.loaders.account.load(id) : (await ctx.services.accounts.findByExternalId(externalId!)) ?? null;
    if (!account) return access.absent(ctx, 'account');
    await access.account(ctx, account.id, 'read');
    return account;
  }

  @Query(() => AccountConnection, {
    description: 'API keys: accounts by exact id, exact externalId, email (ignoring case) or name prefix (ignoring case), ordered by name; every account without `search`.',
    complexity: connectionComplexity,
  })
  async accounts(
    @Ctx() ctx: Context,
    @Arg('search', () => String, { nullable: true }) search: string | null,
    @Arg('first', () => Int, { nullable: true, defaultValue: PAGE_SIZE_DEFAULT }) first: number,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<AccountConnection> {
    if (requireViewer(ctx.viewer).kind !== 'key') throw forbidden('searching accounts needs an API key');
    const limit = pageSize(first, ctx.services.config.pageSizeMax);
    // A partner key finds only its partner's accounts.
    const rows = await ctx.services.accounts.search(search ?? null, after ? decodeAccountCursor(after) : null, limit + 1, access.partnerOf(ctx.viewer));
    for (const row of rows.slice(0, limit)) ctx.loaders.account.prime(row.id, row);
    return pageOf<FoundAccountRow, Account>(rows, limit, (row) => encodeAccountCursor(row.sortName, row.id));
  }

  @Mutation(() => Account)
  async createAccount(@Ctx() ctx: Context, @Arg('input', () => CreateAccountInput) input: CreateAccountInput): Promise<AccountRow> {
    const viewer = assertKeyRole(ctx.viewer, ['ADMIN', 'SERVICE']);
    if (input.overdraftLimit !== undefined && input.overdraftLimit !== null) {
      assertAdmin(ctx.viewer);
      if (input.overdraftLimit < 0) throw badInput('overdraftLimit must be ≥ 0', 'overdraftLimit');
    }
    if (input.planId && input.planCode) throw badInput('give at most one of planId and planCode', 'planId');
    // The plan is checked before the account exists, so a wrong plan creates nothing.
    const plan = input.planId || input.planCode ? await ctx.services.plans.findForSubscribing(input.planId ?? null, input.planCode ?? null) : null;
    const account = await ctx.services.accounts.create({
      name: input.name, kind: input.kind, externalId: input.externalId, planTier: input.planTier,
      overdraftLimitMillis: input.overdraftLimit ?? null, email: input.email, partner: viewer.partner,
    }, actorOf(viewer).id);
    if (plan) await ctx.services.plans.subscribe(actorOf(viewer), { accountId: account.id, planCode: plan.plan.code, idempotencyKey: `createAccount:${account.id}` });
    return account;
  }

  @Mutation(() => Account, { description: 'Name and email: ADMIN or SERVICE keys, or a user token on its own account.' })
  async updateAccount(@Ctx() ctx: Context, @Arg('input', () => UpdateAccountInput) input: UpdateAccountInput): Promise<AccountRow> {
    await access.account(ctx, input.accountId, 'own');
    const account = await ctx.services.accounts.update(input.accountId, { name: input.name, email: input.email });
    if (!account) throw notFound('account');
    return account;
  }

  @FieldResolver(() => Wallet)
  async wallet(@Root() account: AccountRow, @Ctx() ctx: Context) {
    const wallet = await ctx.services.wallets.get(account.id);
    if (!wallet) throw new Error('every account has a wallet');
    return wallet;
  }
}
