import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context';
import { badInput, notFound } from '../shared/errors';
import { assertAdmin, requireViewer } from './viewer';
import { access } from './access';
import { ApiKeyRole, CreateApiKeyInput, CreatedApiKey, CredentialKind, UserToken, Viewer } from './auth.type';
import { isUuid } from '../shared/validate';

@Resolver()
export class AuthResolver {
  @Query(() => Viewer, { description: 'Who the request\'s credential is (what a dashboard shows after signing in).' })
  viewer(@Ctx() ctx: Context): Viewer {
    const viewer = requireViewer(ctx.viewer);
    return viewer.kind === 'key'
      ? { kind: CredentialKind.API_KEY, role: viewer.role as ApiKeyRole, accountId: null, partner: viewer.partner }
      : { kind: CredentialKind.USER_TOKEN, role: null, accountId: viewer.accountId };
  }

  @Mutation(() => CreatedApiKey, { description: 'Admin: a new API key; its secret is returned once.' })
  async createApiKey(@Ctx() ctx: Context, @Arg('input', () => CreateApiKeyInput) input: CreateApiKeyInput) {
    assertAdmin(ctx.viewer);
    return ctx.services.auth.createApiKey(input.name, input.role, input.partner ?? null);
  }

  @Mutation(() => Boolean, { description: 'Admin: the key stops working at once.' })
  async revokeApiKey(@Ctx() ctx: Context, @Arg('id', () => ID) id: string): Promise<boolean> {
    assertAdmin(ctx.viewer);
    if (!isUuid(id)) throw notFound('API key');
    return ctx.services.auth.revokeApiKey(id);
  }

  @Mutation(() => UserToken, { description: 'Admin or service: a short-lived token for one account (front ends).' })
  async issueUserToken(
    @Ctx() ctx: Context,
    @Arg('accountId', () => ID) accountId: string,
    @Arg('ttlSeconds', () => Int, { nullable: true }) ttlSeconds?: number | null,
  ): Promise<UserToken> {
    await access.account(ctx, accountId, 'move'); // ADMIN or SERVICE keys; a partner's on its own accounts
    const { userTokenTtlSecondsDefault, userTokenTtlSecondsMax } = ctx.services.config;
    const ttl = ttlSeconds ?? userTokenTtlSecondsDefault;
    if (ttl < 1 || ttl > userTokenTtlSecondsMax) throw badInput(`ttlSeconds must be between 1 and ${userTokenTtlSecondsMax}`, 'ttlSeconds');
    if (!(await ctx.services.accounts.find(accountId))) throw notFound('account');
    return ctx.services.auth.issueUserToken(accountId, ttl);
  }
}
