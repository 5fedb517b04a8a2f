import { Arg, ID, Int, Resolver, Root, Subscription } from 'type-graphql';
import type { Context } from '../../graphql/context';
import { assertAdmin } from '../../auth/viewer';
import { access } from '../../auth/access';
import { badInput, notFound } from '../../shared/errors';
import { isUuid } from '../../shared/validate';
import { LowCreditAlert, type AlertRow } from '../alerts';
import { WalletEvent } from './wallet-event.type';
import type { AlertEventPayload, WalletEventPayload } from './wallet-events.hub';

@Resolver()
export class WalletEventsResolver {
  @Subscription(() => WalletEvent, {
    description: 'Each committed change of the wallet in sequence order; with afterSequence, first everything after it.',
    subscribe: async ({ args, context }) => {
      const ctx = context as Context;
      const { accountId, afterSequence } = args as { accountId: string; afterSequence?: number | null };
      await access.account(ctx, accountId, 'read');
      if (afterSequence !== null && afterSequence !== undefined && afterSequence < 0) throw badInput('afterSequence must be ≥ 0', 'afterSequence');
      const wallet = isUuid(accountId) ? await ctx.services.wallets.get(accountId) : null;
      if (!wallet) throw notFound('account');
      return ctx.services.events.subscribe(accountId, afterSequence ?? wallet.sequence);
    },
  })
  walletEvents(
    @Root() event: WalletEventPayload,
    @Arg('accountId', () => ID) _accountId: string,
    @Arg('afterSequence', () => Int, { nullable: true }) _afterSequence?: number | null,
  ): WalletEvent {
    const { row } = event;
    return {
      accountId: row.accountId, sequence: row.sequence!, kind: row.type,
      balanceMillis: row.balanceAfterMillis!, availableMillis: row.availableAfterMillis!,
      transaction: row as unknown as WalletEvent['transaction'],
      alert: event.alert as LowCreditAlert | null,
    };
  }

  @Subscription(() => LowCreditAlert, {
    description: 'Alerts as they are raised (every kind): of one account, or without accountId of every account (admin).',
    subscribe: async ({ args, context }) => {
      const ctx = context as Context;
      const { accountId } = args as { accountId?: string | null };
      if (accountId === null || accountId === undefined) {
        assertAdmin(ctx.viewer);
        return ctx.services.events.subscribeAlerts(null);
      }
      await access.account(ctx, accountId, 'read');
      const wallet = isUuid(accountId) ? await ctx.services.wallets.get(accountId) : null;
      if (!wallet) throw notFound('account');
      return ctx.services.events.subscribeAlerts(accountId);
    },
  })
  lowCreditAlerts(
    @Root() event: AlertEventPayload,
    @Arg('accountId', () => ID, { nullable: true }) _accountId?: string | null,
  ): AlertRow {
    return event.alert;
  }
}
