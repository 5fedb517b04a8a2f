/** Thin resolvers of teams: authorize, validate, call TeamsService. */
import DataLoader from 'dataloader';
import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { requireViewer } from '../../auth/viewer';
import { access } from '../../auth/access';
import { Account } from '../accounts/account.type';
import type { AccountRow } from '../accounts/accounts.repo';
import { AddTeamMemberInput, RemoveTeamMemberInput, TeamMember, UpdateTeamMemberInput } from './team.type';
import type { TeamMemberView } from './teams.service';

/** Account.members of a page of accounts in one statement (one loader per request). */
const membersLoaders = new WeakMap<Context, DataLoader<string, TeamMemberView[]>>();
function membersLoader(ctx: Context): DataLoader<string, TeamMemberView[]> {
  let loader = membersLoaders.get(ctx);
  if (!loader) membersLoaders.set(ctx, (loader = new DataLoader((ids: readonly string[]) => ctx.services.teams.membersOf(ids))));
  return loader;
}

@Resolver(() => TeamMember)
export class TeamsResolver {
  @Query(() => TeamMember, {
    nullable: true,
    description: 'A member of a team (null: not a member). Keys; the team\'s user token; or the member\'s own user token (its usage and budget).',
  })
  async teamMember(@Ctx() ctx: Context, @Arg('teamId', () => ID) teamId: string, @Arg('accountId', () => ID) accountId: string): Promise<TeamMemberView | null> {
    const viewer = requireViewer(ctx.viewer);
    if (!(viewer.kind === 'user' && viewer.accountId === accountId)) await access.account(ctx, teamId, 'read');
    return ctx.services.teams.member(teamId, accountId);
  }

  @Mutation(() => TeamMember, { description: 'Adds a USER account to a TEAM account (ADMIN or SERVICE key), within the plan\'s seats.' })
  async addTeamMember(@Ctx() ctx: Context, @Arg('input', () => AddTeamMemberInput) input: AddTeamMemberInput): Promise<TeamMemberView> {
    // A partner key manages only its own accounts: the team and the member.
    await access.accounts(ctx, [input.teamId, input.accountId], 'move');
    return ctx.services.teams.add({ teamId: input.teamId, accountId: input.accountId, role: input.role ?? 'MEMBER', budgetMillis: input.budget ?? null });
  }

  @Mutation(() => TeamMember, { description: 'Changes a member\'s role or budget (ADMIN or SERVICE key); budget: null removes it.' })
  async updateTeamMember(@Ctx() ctx: Context, @Arg('input', () => UpdateTeamMemberInput) input: UpdateTeamMemberInput): Promise<TeamMemberView> {
    await access.accounts(ctx, [input.teamId, input.accountId], 'move');
    return ctx.services.teams.update({ teamId: input.teamId, accountId: input.accountId, role: input.role, budgetMillis: input.budget });
  }

  @Mutation(() => Boolean, { description: 'Removes a member (ADMIN or SERVICE key); never the last OWNER.' })
  async removeTeamMember(@Ctx() ctx: Context, @Arg('input', () => RemoveTeamMemberInput) input: RemoveTeamMemberInput): Promise<boolean> {
    await access.accounts(ctx, [input.teamId, input.accountId], 'move');
    return ctx.services.teams.remove(input.teamId, input.accountId);
  }
}

@Resolver(() => Account)
export class TeamAccountResolver {
  @FieldResolver(() => [TeamMember], { description: 'A TEAM account\'s members, oldest first (ties by account id); [] for a USER account.' })
  async members(@Root() account: AccountRow, @Ctx() ctx: Context): Promise<TeamMemberView[]> {
    if (account.kind !== 'TEAM') return [];
    return membersLoader(ctx).load(account.id);
  }
}
