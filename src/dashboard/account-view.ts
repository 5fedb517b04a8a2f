/**
 * One account's credits: balance, credits by source, buying, alerts, history (and the panels main.ts
 * adds: forecast, usage). The balance moves live from the `walletEvents` subscription; after an event
 * the rest is read again, once per burst of events. Alerts also arrive live from `lowCreditAlerts`
 * (those raised by jobs come with no wallet event).
 */
import {
  AccountDocument, AlertsDocument, CreditPacksDocument, CreditsApiError, LowCreditAlertsDocument, MarkAlertsReadDocument, PurchaseCreditsDocument,
  TransactionsDocument, WalletDocument, WalletEventsDocument,
  type AlertFieldsFragment, type CreditPackFieldsFragment, type CreditsClient, type TransactionFieldsFragment, type WalletFieldsFragment,
} from '../client';
import { guarded, isUnauthenticated, newIdempotencyKey, problem } from './api';
import { byId, h, replace, show, table } from './dom';
import { creditsText, groupCredits, signedCredits, sourceLabel, summarizeBuckets, transactionDetail, words } from './format';
import { dateText, dayText } from './dates';
import { LiveSubscription } from './live';

const HISTORY_PAGE_SIZE = 10;
const ALERTS_PAGE_SIZE = 10;
/** Events often come in bursts (a charge, then its alert): the rest of the page is read once per burst. */
const REFRESH_DELAY_MS = 300;

export interface AccountViewOptions {
  client: CreditsClient;
  accountId: string;
  /** The viewer's own account (a user token), or one an API key opened. */
  own: boolean;
  /** User tokens and ADMIN or SERVICE keys may buy; READONLY keys may not. */
  canBuy: boolean;
  canMarkRead: boolean;
  /** More panels for this account (forecast, usage…): each loads at start and again after changes. */
  panels?: AccountPanel[];
  onUnauthenticated(): void;
  onNotice(message: string | null): void;
}

export interface AccountPanel {
  refresh(): Promise<void>;
  stop?(): void;
}

interface Figures {
  balance: string;
  available: string;
  held: string;
  debt: string;
  overdraftLimit: string;
  frozen: boolean;
}

export class AccountView {
  private readonly listeners = new AbortController();
  private stopped = false;
  /** The wallet sequence already shown; events at or below it are replays of what the page has. */
  private lastSequence = -1;
  private figures: Figures | null = null;
  private readonly events: LiveSubscription;
  private readonly liveAlerts: LiveSubscription;
  private refreshTimer: ReturnType<typeof setTimeout> | null = null;
  /** Cursors of the history pages opened so far: [null (newest), after page 1, …]. */
  private historyCursors: (string | null)[] = [null];
  private historyNext: string | null = null;
  private alerts: AlertFieldsFragment[] = [];

  constructor(private readonly options: AccountViewOptions) {
    const { client, accountId } = options;
    const giveUp = (error: unknown) => this.giveUp(error);
    const catchUp = () => this.scheduleRefresh(); // what changed while the connection was down
    // From the last sequence shown, so nothing committed since is missed and nothing is shown twice.
    this.events = new LiveSubscription(({ alive, ended }) => client.subscribe(WalletEventsDocument, { accountId, afterSequence: this.lastSequence }, {
      next: ({ walletEvents: event }) => {
        alive();
        if (event.sequence <= this.lastSequence) return;
        this.lastSequence = event.sequence;
        if (this.figures) this.showFigures({ ...this.figures, balance: event.balance, available: event.available });
        this.scheduleRefresh();
      },
      error: ended,
      complete: () => ended(null),
    }), giveUp, catchUp);
    this.liveAlerts = new LiveSubscription(({ alive, ended }) => client.subscribe(LowCreditAlertsDocument, { accountId }, {
      next: ({ lowCreditAlerts: alert }) => {
        alive();
        this.addLiveAlert(alert);
      },
      error: ended,
      complete: () => ended(null),
    }), giveUp, catchUp);
  }

  async start(): Promise<void> {
    const { client, accountId, own } = this.options;
    const signal = this.listeners.signal;
    byId('history-older').addEventListener('click', () => void this.historyPage(+1), { signal });
    byId('history-newer').addEventListener('click', () => void this.historyPage(-1), { signal });
    byId('alerts-read-all').addEventListener('click', () => void this.markRead(this.alerts.filter((a) => !a.readAt).map((a) => a.id)), { signal });
    show(byId('buy'), this.options.canBuy);
    show(byId('account-view'), true);

    const { account } = await this.guard(client.request(AccountDocument, { id: accountId }));
    if (!account) {
      this.options.onNotice('There is no account with this id.');
      return;
    }
    byId('account-heading').textContent = own ? 'Your credits' : `Credits of ${account.name}`;
    this.showWallet(account.wallet);
    this.lastSequence = account.wallet.sequence;
    this.events.start();
    this.liveAlerts.start();
    await Promise.all([this.loadAlerts(), this.loadHistory(), this.options.canBuy ? this.loadPacks() : null, ...this.panels().map((p) => this.guard(p.refresh()))]);
  }

  stop(): void {
    this.stopped = true;
    this.listeners.abort();
    this.events.stop();
    this.liveAlerts.stop();
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    for (const panel of this.panels()) panel.stop?.();
    for (const id of ['balance', 'figures', 'buckets-body', 'packs', 'buy-status', 'alerts-body', 'alerts-announce', 'history-body']) replace(byId(id));
    show(byId('alerts-read-all'), false);
    show(byId('account-view'), false);
  }

  private panels(): AccountPanel[] {
    return this.options.panels ?? [];
  }

  /** Runs a request; an expired or revoked credential signs out, other failures show as a notice. */
  private guard<T>(request: Promise<T>): Promise<T> {
    return guarded(request, { isStopped: () => this.stopped, onUnauthenticated: () => this.options.onUnauthenticated(), onNotice: (text) => this.options.onNotice(text) });
  }

  // ---- live updates --------------------------------------------------------------------------

  /** A refusal ends live updates (signing out when the credential is no longer valid); anything else is retried. */
  private giveUp(error: unknown): boolean {
    if (this.stopped) return true;
    if (isUnauthenticated(error)) {
      this.options.onUnauthenticated();
      return true;
    }
    if (error instanceof CreditsApiError && error.code !== 'SERVICE_UNAVAILABLE' && error.code !== 'RATE_LIMITED') {
      this.options.onNotice(`Live updates stopped: ${error.message}`);
      return true;
    }
    return false;
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer || this.stopped) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = null;
      void this.refresh().catch(() => undefined); // guard() has shown the failure
    }, REFRESH_DELAY_MS);
  }

  private async refresh(): Promise<void> {
    const { client, accountId } = this.options;
    const [{ wallet }] = await Promise.all([
      this.guard(client.request(WalletDocument, { accountId })),
      this.loadAlerts(),
      this.historyCursors.length === 1 ? this.loadHistory() : null, // an older page stays as the reader left it
      ...this.panels().map((p) => this.guard(p.refresh())),
    ]);
    // A read never shows an older wallet than the events already did.
    if (wallet && wallet.sequence >= this.lastSequence) {
      this.lastSequence = wallet.sequence;
      this.showWallet(wallet);
    }
  }

  // ---- balance and buckets -----------------------------------------------------------------

  private showWallet(wallet: WalletFieldsFragment): void {
    this.showFigures({
      balance: wallet.balance, available: wallet.available, held: wallet.held, debt: wallet.debt,
      overdraftLimit: wallet.overdraftLimit, frozen: wallet.frozen,
    });
    const summary = summarizeBuckets(wallet.buckets);
    replace(byId('buckets-body'),
      h('dl', { class: 'figures' },
        h('dt', {}, 'Free'), h('dd', { 'data-testid': 'free-credits' }, creditsText(summary.free)),
        h('dt', {}, 'Purchased'), h('dd', { 'data-testid': 'purchased-credits' }, creditsText(summary.purchased))),
      summary.rows.length === 0
        ? h('p', { class: 'muted' }, 'No credits left in any bucket.')
        : table('Soonest expiry first', [{ label: 'Credits' }, { label: 'Left', numeric: true }, { label: 'Expires' }], summary.rows.map((bucket) => ({
          cells: [
            // Purchased credits all come from PURCHASE buckets; free ones say where they came from.
            h('span', {}, h('span', { class: `tag ${bucket.kind}` }, bucket.kind === 'free' ? 'Free' : 'Purchased'), bucket.kind === 'free' && ` ${sourceLabel(bucket.source)}`),
            `${groupCredits(bucket.remaining)} of ${groupCredits(bucket.amount)}`,
            bucket.expiresAt ? dayText(bucket.expiresAt) : 'Never',
          ],
        }))),
    );
  }

  private showFigures(figures: Figures): void {
    this.figures = figures;
    byId('balance').textContent = creditsText(figures.balance);
    const debt = figures.debt !== '0';
    replace(byId('figures'),
      h('dt', {}, 'Available'), h('dd', { 'data-testid': 'available' }, creditsText(figures.available)),
      h('dt', {}, 'Held'), h('dd', { 'data-testid': 'held' }, creditsText(figures.held)),
      h('dt', {}, 'Debt'), h('dd', { 'data-testid': 'debt', class: debt ? 'debt' : null }, creditsText(figures.debt)),
      figures.overdraftLimit !== '0' && h('dt', {}, 'Overdraft limit'),
      figures.overdraftLimit !== '0' && h('dd', {}, creditsText(figures.overdraftLimit)),
      figures.frozen && h('dt', {}, 'Status'),
      figures.frozen && h('dd', { class: 'debt' }, 'Frozen: charges are refused'),
    );
  }

  // ---- buying -------------------------------------------------------------------------------

  private async loadPacks(): Promise<void> {
    const { creditPacks } = await this.guard(this.options.client.request(CreditPacksDocument, {}));
    replace(byId('packs'), creditPacks.length === 0
      ? h('p', { class: 'muted' }, 'No credit packs are on sale.')
      : h('ul', { class: 'packs' }, ...creditPacks.map((pack) => h('li', {}, h('button', {
        type: 'button', 'data-pack': pack.code, onclick: (event: Event) => void this.buy(pack, event.currentTarget as HTMLButtonElement),
      }, h('span', {}, `Buy ${pack.name}: ${creditsText(pack.credits)}`), h('span', {}, `${pack.price.amount} ${pack.price.currency}`))))));
  }

  /**
   * A purchase through the provider's checkout, opened in a new tab; the credits arrive by the
   * provider's webhook and show here through the live balance.
   */
  private async buy(pack: CreditPackFieldsFragment, button: HTMLButtonElement): Promise<void> {
    const status = byId('buy-status');
    button.disabled = true;
    status.textContent = `Starting the purchase of ${pack.name}…`;
    try {
      const { purchaseCredits } = await this.guard(this.options.client.request(PurchaseCreditsDocument, {
        input: { accountId: this.options.accountId, packCode: pack.code, idempotencyKey: newIdempotencyKey() },
      }));
      const url = purchaseCredits.checkoutUrl;
      if (!url) {
        status.textContent = `Purchase ${purchaseCredits.status.toLowerCase()}.`;
        return;
      }
      const opened = window.open(url, '_blank');
      if (opened) opened.opener = null;
      replace(status,
        opened ? 'The checkout opened in a new tab. ' : 'Pay on the checkout page: ',
        h('a', { href: url, target: '_blank', rel: 'noopener' }, 'open the checkout'),
        '. The credits appear here as soon as the payment is confirmed.');
    } catch (error) {
      status.textContent = `The purchase could not be started: ${problem(error)}`;
    } finally {
      button.disabled = false;
    }
  }

  // ---- alerts ----------------------------------------------------------------------------------

  private async loadAlerts(): Promise<void> {
    const { alerts } = await this.guard(this.options.client.request(AlertsDocument, { accountId: this.options.accountId, first: ALERTS_PAGE_SIZE }));
    this.showAlerts(alerts.edges.map((edge) => edge.node));
  }

  /** Shows alerts, unread first (the order `alerts` gives). */
  private showAlerts(alerts: AlertFieldsFragment[]): void {
    this.alerts = alerts;
    const unread = alerts.filter((a) => !a.readAt).length;
    show(byId('alerts-read-all'), this.options.canMarkRead && unread > 0);
    replace(byId('alerts-body'), alerts.length === 0
      ? h('p', { class: 'muted' }, 'No alerts.')
      : h('ul', { class: 'alerts', 'aria-label': `${unread} unread of ${alerts.length} shown` }, ...alerts.map((alert) => h('li', { class: alert.readAt ? 'read' : null },
        h('div', {},
          !alert.readAt && h('span', { class: 'tag unread' }, 'New'), ' ',
          h('strong', {}, words(alert.kind)), ': ', alert.message,
          h('span', { class: 'when' }, `${dateText(alert.createdAt)} · available then: ${creditsText(alert.available)}`)),
        this.options.canMarkRead && !alert.readAt && h('button', {
          type: 'button', class: 'secondary', 'aria-label': `Mark the ${words(alert.kind).toLowerCase()} alert of ${dateText(alert.createdAt)} as read`,
          onclick: () => void this.markRead([alert.id]),
        }, 'Mark read')))));
  }

  /** An alert pushed live: shown at once in front of the list, and announced. */
  private addLiveAlert(alert: AlertFieldsFragment): void {
    if (this.stopped || this.alerts.some((a) => a.id === alert.id)) return;
    this.showAlerts([alert, ...this.alerts].slice(0, ALERTS_PAGE_SIZE));
    byId('alerts-announce').textContent = `New alert: ${alert.message}`;
  }

  private async markRead(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.guard(this.options.client.request(MarkAlertsReadDocument, { ids }));
    await this.loadAlerts();
    byId('alerts-heading').focus({ preventScroll: true });
  }

  // ---- history -------------------------------------------------------------------------------

  private async historyPage(direction: 1 | -1): Promise<void> {
    if (direction === 1 && this.historyNext) this.historyCursors.push(this.historyNext);
    else if (direction === -1 && this.historyCursors.length > 1) this.historyCursors.pop();
    else return;
    await this.loadHistory();
  }

  private async loadHistory(): Promise<void> {
    const after = this.historyCursors[this.historyCursors.length - 1];
    const { transactions } = await this.guard(this.options.client.request(TransactionsDocument, { accountId: this.options.accountId, first: HISTORY_PAGE_SIZE, after }));
    this.historyNext = transactions.pageInfo.hasNextPage ? transactions.pageInfo.endCursor ?? null : null;
    byId<HTMLButtonElement>('history-older').disabled = !this.historyNext;
    byId<HTMLButtonElement>('history-newer').disabled = this.historyCursors.length === 1;
    const page = this.historyCursors.length;
    replace(byId('history-body'), transactions.edges.length === 0
      ? h('p', { class: 'muted' }, 'Nothing has happened on this wallet yet.')
      : table(page === 1 ? 'Newest first' : `Page ${page}, newest first`, [
        { label: 'When' }, { label: 'What' }, { label: 'For' }, { label: 'Change', numeric: true }, { label: 'Balance after', numeric: true },
      ], transactions.edges.map(({ node }) => historyRow(node))));
  }
}

function historyRow(tx: TransactionFieldsFragment): { cells: (Node | string)[]; className?: string } {
  const failed = tx.status === 'FAILED';
  return {
    className: failed ? 'failed' : undefined,
    cells: [
      dateText(tx.createdAt),
      failed ? h('span', {}, h('span', { class: 'tag failed' }, 'Refused'), ` ${words(tx.type)}`) : words(tx.type),
      failed ? `${transactionDetail(tx)}${transactionDetail(tx) ? ' — ' : ''}${tx.failureCode ?? ''}` : transactionDetail(tx),
      failed ? `(${groupCredits(tx.requestedAmount ?? tx.amount)})` : signedCredits(tx.amount),
      tx.balanceAfter !== null && tx.balanceAfter !== undefined ? groupCredits(tx.balanceAfter) : '',
    ],
  };
}
