/** The platform's last 30 days (platformReport, ADMIN keys): totals and the top consumers, each of which opens. */
import { PlatformReportDocument, type CreditsClient } from '../client';
import { byId, h, replace, show, table } from './dom';
import { creditsText, groupCredits } from './format';
import { utcDayText } from './dates';
import type { AdminPanel } from './admin-view';

const DAY_MS = 86_400_000;

export class PlatformPanel implements AdminPanel {
  constructor(private readonly client: CreditsClient, private readonly openAccount: (accountId: string) => void) {}

  async refresh(): Promise<void> {
    const to = new Date();
    const from = new Date(to.getTime() - 30 * DAY_MS);
    const { platformReport: report } = await this.client.request(PlatformReportDocument, { from: from.toISOString(), to: to.toISOString() });
    replace(byId('platform-body'),
      // `to` is the end of the last day, exclusive: the day shown is the one before it.
      h('p', { class: 'muted' }, `${utcDayText(report.from)} to ${utcDayText(new Date(Date.parse(report.to) - 1).toISOString())} (whole UTC days)`),
      h('dl', { class: 'figures' },
        h('dt', {}, 'Credits consumed'), h('dd', { 'data-testid': 'platform-consumed' }, creditsText(report.totals.consumed)),
        h('dt', {}, 'Refunded'), h('dd', {}, creditsText(report.totals.refunded)),
        h('dt', {}, 'Charges'), h('dd', {}, groupCredits(String(report.totals.charges))),
        h('dt', {}, 'Active accounts'), h('dd', {}, groupCredits(String(report.totals.activeAccounts)))),
      report.topConsumers.length === 0
        ? h('p', { class: 'muted' }, 'No usage in this period.')
        : table('Top consumers, most first', [{ label: 'Account' }, { label: 'Consumed', numeric: true }], report.topConsumers.map((consumer) => ({
          cells: [
            h('button', { type: 'button', class: 'secondary', 'aria-label': `Open ${consumer.name}`, onclick: () => this.openAccount(consumer.accountId) }, consumer.name),
            groupCredits(consumer.consumed),
          ],
        }))));
    show(byId('platform'), true);
  }
}
