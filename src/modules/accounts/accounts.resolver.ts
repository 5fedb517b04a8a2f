import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { assertAdmin, assertCanRead, assertKeyRole, actorOf, requireViewer } from '../../auth/viewer';
import { badInput } from '../../shared/errors';
import { Account, CreateAccountInput, UpdateAccountInput } from './account.type';
import { notFound } from '../../shared/errors';
import { Wallet } from '../wallets/wallet.type';
import type { AccountRow } from './accounts.repo';

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
    if (!account) return null;
    assertCanRead(ctx.viewer, account.id);
    return account;
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
      overdraftLimitMillis: input.overdraftLimit ?? null, email: input.email,
    }, actorOf(viewer).id);
    if (plan) await ctx.services.plans.subscribe(actorOf(viewer), { accountId: account.id, planCode: plan.plan.code, idempotencyKey: `createAccount:${account.id}` });
    return account;
  }

  @Mutation(() => Account, { description: 'Name and email: ADMIN or SERVICE keys, or a user token on its own account.' })
  async updateAccount(@Ctx() ctx: Context, @Arg('input', () => UpdateAccountInput) input: UpdateAccountInput): Promise<AccountRow> {
    const viewer = assertCanRead(ctx.viewer, input.accountId);
    if (viewer.kind === 'key') assertKeyRole(viewer, ['ADMIN', 'SERVICE']);
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
