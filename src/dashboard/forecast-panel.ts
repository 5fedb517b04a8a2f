/** The forecast (Wallet.forecast): how fast credits are used, when they run out at that rate, what expires soon. */
import { WalletForecastDocument, type CreditsClient } from '../client';
import { byId, h, replace, show } from './dom';
import { creditsText, daysUntil } from './format';
import { dayText } from './dates';
import type { AccountPanel } from './account-view';

/** Whole days left, rounded up: "1 day", "3 days". */
const daysText = (days: number) => (days === 1 ? 'under a day' : `${days} days`);

export class ForecastPanel implements AccountPanel {
  constructor(private readonly client: CreditsClient, private readonly accountId: string) {}

  async refresh(): Promise<void> {
    const { wallet } = await this.client.request(WalletForecastDocument, { accountId: this.accountId });
    if (!wallet) return;
    const { burnRatePerDay, runOutAt, expiringSoon, nextExpiryAt } = wallet.forecast;
    const now = Date.now();
    const runOut = runOutAt === null || runOutAt === undefined
      ? 'Nothing is being used, so the credits do not run out.'
      : daysUntil(runOutAt, now) === 0
        ? 'At this rate the credits are used up now.'
        : `At this rate the credits last until ${dayText(runOutAt)} (${daysText(daysUntil(runOutAt, now))}).`;
    replace(byId('forecast-body'), h('dl', { class: 'figures' },
      h('dt', {}, 'Used per day'), h('dd', { 'data-testid': 'burn-rate' }, creditsText(burnRatePerDay)),
      h('dt', {}, 'Expiring within 7 days'), h('dd', { 'data-testid': 'expiring-soon' }, creditsText(expiringSoon)),
      h('dt', {}, 'Next expiry'), h('dd', {}, nextExpiryAt ? dayText(nextExpiryAt) : 'None'),
    ), h('p', { 'data-testid': 'run-out' }, runOut));
    show(byId('forecast'), true);
  }

  stop(): void {
    replace(byId('forecast-body'));
    show(byId('forecast'), false);
  }
}
