/** Thin resolvers of usage: authorize, call UsageService. */
import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { access } from '../../auth/access';
import { Wallet } from '../wallets/wallet.type';
import type { WalletView } from '../wallets/wallets.service';
import type { Forecast } from './forecast-rules';
import { UsageDay, WalletForecast } from './usage.type';
import type { UsageDayView } from './usage.service';

@Resolver(() => UsageDay)
export class UsageResolver {
  @Query(() => [UsageDay], { description: 'Usage per UTC day, action and model over the last `days` days (1–366), today included; ordered by day, action, model.' })
  async usageByDay(
    @Ctx() ctx: Context,
    @Arg('accountId', () => ID) accountId: string,
    @Arg('days', () => Int, { nullable: true, defaultValue: 30 }) days: number,
  ): Promise<UsageDayView[]> {
    await access.account(ctx, accountId, 'read');
    return ctx.services.usage.usageByDay(accountId, days ?? 30);
  }
}

@Resolver(() => Wallet)
export class WalletForecastResolver {
  @FieldResolver(() => WalletForecast, { description: 'Burn rate, run-out and expiring credits, from the daily usage (README, Forecasts).' })
  async forecast(@Root() wallet: WalletView, @Ctx() ctx: Context): Promise<Forecast> {
    return ctx.services.usage.forecastOf(wallet, await ctx.loaders.usageWindow.load(wallet.accountId));
  }
}
