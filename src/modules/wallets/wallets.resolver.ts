import { Arg, Ctx, ID, Mutation, Query, Resolver } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { access } from '../../auth/access';
import { UpdateWalletInput, Wallet } from './wallet.type';
import type { WalletView } from './wallets.service';

@Resolver(() => Wallet)
export class WalletsResolver {
  @Query(() => Wallet, { nullable: true })
  async wallet(@Ctx() ctx: Context, @Arg('accountId', () => ID) accountId: string): Promise<WalletView | null> {
    await access.account(ctx, accountId, 'read');
    return ctx.services.wallets.get(accountId);
  }

  @Mutation(() => Wallet, { description: 'Admin: overdraft limit, freeze, low-credit levels (absolute and percent of the plan allowance).' })
  async updateWallet(@Ctx() ctx: Context, @Arg('input', () => UpdateWalletInput) input: UpdateWalletInput): Promise<WalletView> {
    await access.account(ctx, input.accountId, 'admin');
    return ctx.services.wallets.update(input.accountId, {
      overdraftLimitMillis: input.overdraftLimit, frozen: input.frozen, lowCreditThresholdsMillis: input.lowCreditThresholds,
      lowCreditThresholdPercents: input.lowCreditThresholdPercents,
    });
  }
}
