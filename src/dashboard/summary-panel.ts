/**
 * The Summary view: this month and the ones before it (usageReport by month in the browser's time
 * zone), the CSV downloads of the transaction log and of the summary, and plan advice. It loads when
 * the reader opens it, and again after changes while it is open. The CSV routes need the
 * Authorization header, which a plain link cannot send: the file is fetched, then saved from a blob.
 */
import { DashboardPlanAdviceDocument, DashboardSummaryDocument, type CreditsClient } from '../client';
import { byId, h, replace, show, table } from './dom';
import { groupCredits } from './format';
import { browserTimeZone, csvPath, downloadName, recentMonths, summaryRows, SUMMARY_COLUMNS, SUMMARY_MONTHS } from './summary';
import type { AccountPanel } from './account-view';

const ADVICE_DAYS = 90;

export class SummaryPanel implements AccountPanel {
  private readonly listeners = new AbortController();
  private readonly timeZone = browserTimeZone();
  private range = recentMonths(new Date());

  /** `token`: the credential the CSV requests carry (the one the client signed in with). */
  constructor(private readonly client: CreditsClient, private readonly accountId: string, private readonly token: () => string | null) {
    const signal = this.listeners.signal;
    const details = byId<HTMLDetailsElement>('summary-details');
    details.addEventListener('toggle', () => { if (details.open) void this.load().catch(() => undefined); }, { signal });
    byId('download-transactions').addEventListener('click', () => void this.download('transactions'), { signal });
    byId('download-summary').addEventListener('click', () => void this.download('usage'), { signal });
    show(byId('summary'), true);
  }

  /** Only while open: a closed summary costs nothing. */
  async refresh(): Promise<void> {
    if (byId<HTMLDetailsElement>('summary-details').open) await this.load();
  }

  stop(): void {
    this.listeners.abort();
    byId<HTMLDetailsElement>('summary-details').open = false;
    for (const id of ['summary-body', 'advice-body', 'download-status']) replace(byId(id));
    show(byId('summary'), false);
  }

  private async load(): Promise<void> {
    this.range = recentMonths(new Date());
    await Promise.all([this.loadSummary(), this.loadAdvice()]);
  }

  private async loadSummary(): Promise<void> {
    const { usageReport } = await this.client.request(DashboardSummaryDocument, {
      accountId: this.accountId, from: this.range.from.toISOString(), to: this.range.to.toISOString(), timeZone: this.timeZone,
    });
    const rows = summaryRows(usageReport, this.timeZone);
    replace(byId('summary-body'), table(`Credits by month, newest first (${this.timeZone})`, [
      { label: 'Month' }, ...SUMMARY_COLUMNS.map((c) => ({ label: c.label, numeric: true })),
    ], rows.map((row) => ({
      className: row.total ? 'total' : undefined,
      cells: [row.total ? h('strong', {}, row.label) : row.label, ...SUMMARY_COLUMNS.map((c) => groupCredits(row.totals[c.key]))],
    }))));
  }

  /** Advice is a bonus: when it cannot be had, the panel says so and the rest stays. */
  private async loadAdvice(): Promise<void> {
    let advice;
    try {
      advice = (await this.client.request(DashboardPlanAdviceDocument, { accountId: this.accountId, days: ADVICE_DAYS })).planAdvice;
    } catch {
      replace(byId('advice-body'), h('p', { class: 'muted', 'data-testid': 'advice-unavailable' }, 'Plan advice is unavailable right now.'));
      return;
    }
    const money = (cost: { amount: string; currency: string }) => `${cost.amount} ${cost.currency}`;
    replace(byId('advice-body'),
      h('p', { 'data-testid': 'advice-reason' }, advice.reason),
      h('p', {}, h('strong', {}, `Recommended: ${advice.recommended.label}`), ` (${money(advice.recommended.cost)} for the last ${ADVICE_DAYS} days)`),
      advice.options.length > 0 && table(`What the last ${ADVICE_DAYS} days would have cost`, [{ label: 'Option' }, { label: 'Cost', numeric: true }],
        advice.options.map((option) => ({ cells: [option.label, money(option.cost)] }))),
    );
  }

  private async download(kind: 'transactions' | 'usage'): Promise<void> {
    const status = byId('download-status');
    const button = byId<HTMLButtonElement>(kind === 'transactions' ? 'download-transactions' : 'download-summary');
    const what = kind === 'transactions' ? 'transactions' : 'summary';
    const token = this.token();
    if (!token) {
      status.textContent = 'Sign in again to download.';
      return;
    }
    const params: Record<string, string> = { accountId: this.accountId, from: this.range.from.toISOString(), to: this.range.to.toISOString() };
    if (kind === 'usage') Object.assign(params, { granularity: 'MONTH', timeZone: this.timeZone });
    button.disabled = true;
    status.textContent = `Preparing the ${what} CSV…`;
    try {
      const response = await fetch(csvPath(kind, params), { headers: { authorization: `Bearer ${token}` } });
      if (!response.ok) {
        const body = await response.json().catch(() => null) as { errors?: { message?: string }[] } | null;
        status.textContent = `The ${what} CSV could not be made: ${body?.errors?.[0]?.message ?? `HTTP ${response.status}`}`;
        return;
      }
      const name = downloadName(response.headers.get('content-disposition'), `${kind}.csv`);
      const url = URL.createObjectURL(await response.blob());
      const link = h('a', { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000); // the browser has started saving by then
      status.textContent = `Saved ${name} (${SUMMARY_MONTHS} months).`;
    } catch (error) {
      status.textContent = `The ${what} CSV could not be downloaded: ${error instanceof Error ? error.message : String(error)}`;
    } finally {
      button.disabled = false;
    }
  }
}
