/**
 * The view of an API key: account search (any key), and for ADMIN keys the platform panels main.ts
 * adds and the newest refused operations. Opening an account shows its credits (AccountView).
 */
import { AccountSearchDocument, RecentFailedTransactionsDocument, type CreditsClient } from '../client';
import { guarded } from './api';
import { byId, h, replace, show, table } from './dom';
import { groupCredits, transactionDetail, words } from './format';
import { dateText } from './dates';

const SEARCH_PAGE_SIZE = 10;
const FAILURES_SHOWN = 20;

export interface AdminPanel {
  refresh(): Promise<void>;
}

export interface AdminViewOptions {
  client: CreditsClient;
  isAdmin: boolean;
  /** Platform-wide panels (ADMIN keys only). */
  panels?: AdminPanel[];
  openAccount(accountId: string): void;
  onUnauthenticated(): void;
  onNotice(message: string | null): void;
}

export class AdminView {
  private readonly listeners = new AbortController();
  private search = '';
  private searchNext: string | null = null;
  private stopped = false;

  constructor(private readonly options: AdminViewOptions) {}

  async start(): Promise<void> {
    const signal = this.listeners.signal;
    byId('search-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.search = byId<HTMLInputElement>('search-input').value.trim();
      void this.loadSearch(false);
    }, { signal });
    byId('failures-refresh').addEventListener('click', () => void this.loadFailures(), { signal });
    show(byId('failures'), this.options.isAdmin);
    show(byId('admin-view'), true);
    await Promise.all([
      this.loadSearch(false),
      this.options.isAdmin ? this.loadFailures() : null,
      ...(this.options.isAdmin ? this.options.panels ?? [] : []).map((panel) => this.guard(panel.refresh())),
    ]);
  }

  /** Hides the view while an account is open (its state stays for coming back). */
  hide(): void {
    show(byId('admin-view'), false);
  }

  reveal(): void {
    show(byId('admin-view'), true);
  }

  stop(): void {
    this.stopped = true;
    this.listeners.abort();
    for (const id of ['search-results', 'failures-body', 'platform-body']) replace(byId(id));
    byId<HTMLInputElement>('search-input').value = '';
    show(byId('platform'), false);
    show(byId('admin-view'), false);
  }

  private guard<T>(request: Promise<T>): Promise<T> {
    return guarded(request, { isStopped: () => this.stopped, onUnauthenticated: () => this.options.onUnauthenticated(), onNotice: (text) => this.options.onNotice(text) });
  }

  private async loadSearch(more: boolean): Promise<void> {
    const results = byId('search-results');
    let page;
    try {
      page = (await this.guard(this.options.client.request(AccountSearchDocument, {
        search: this.search || null, first: SEARCH_PAGE_SIZE, after: more ? this.searchNext : null,
      }))).accounts;
    } catch {
      return;
    }
    this.searchNext = page.pageInfo.hasNextPage ? page.pageInfo.endCursor ?? null : null;
    const rows = page.edges.map(({ node }) => ({
      cells: [
        node.name, node.email ?? '', node.externalId ?? '', words(node.kind), dateText(node.createdAt),
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Open ${node.name}`, 'data-account': node.id, onclick: () => this.options.openAccount(node.id) }, 'Open'),
      ],
    }));
    const caption = this.search ? `Accounts matching “${this.search}”` : 'All accounts, by name';
    if (more) {
      const body = results.querySelector('tbody');
      const built = table(caption, [], rows).querySelector('tbody');
      if (body && built) body.append(...built.children);
    } else {
      replace(results, page.edges.length === 0
        ? h('p', {}, this.search ? `No account matches “${this.search}”.` : 'There are no accounts yet.')
        : table(caption, [{ label: 'Name' }, { label: 'Email' }, { label: 'External id' }, { label: 'Kind' }, { label: 'Created' }, { label: 'Account' }], rows));
    }
    results.querySelector('.more')?.remove();
    if (this.searchNext) results.append(h('button', { type: 'button', class: 'secondary more', onclick: () => void this.loadSearch(true) }, 'More accounts'));
  }

  private async loadFailures(): Promise<void> {
    let failures;
    try {
      failures = (await this.guard(this.options.client.request(RecentFailedTransactionsDocument, { first: FAILURES_SHOWN }))).recentFailedTransactions;
    } catch {
      return;
    }
    replace(byId('failures-body'), failures.length === 0
      ? h('p', { class: 'muted' }, 'No refused operations.')
      : table('Newest first, every account', [
        { label: 'When' }, { label: 'Account' }, { label: 'Operation' }, { label: 'Credits', numeric: true }, { label: 'Refusal' }, { label: 'For' },
      ], failures.map((tx) => ({
        cells: [
          dateText(tx.createdAt),
          h('button', { type: 'button', class: 'secondary', 'aria-label': `Open ${tx.account.name}`, onclick: () => this.options.openAccount(tx.accountId) }, tx.account.name),
          words(tx.type),
          groupCredits(tx.requestedAmount ?? tx.amount),
          h('span', { title: tx.failureMessage ?? '' }, h('span', { class: 'tag failed' }, tx.failureCode ?? 'FAILED')),
          transactionDetail(tx),
        ],
      }))));
  }
}
