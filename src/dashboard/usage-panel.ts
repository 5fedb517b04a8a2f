/**
 * Usage over the last 30 days by action and model: a stacked bar chart drawn with Chart.js (bundled
 * into the page; only the parts a bar chart needs are registered), and the same numbers as a table
 * for screen readers and for reading exact figures.
 */
import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { UsageByDayDocument, type CreditsClient } from '../client';
import { formatCredits } from '../shared/credits';
import { byId, h, replace, show, table } from './dom';
import { groupCredits } from './format';
import { usageSeries, type UsageChartData } from './usage';
import type { AccountPanel } from './account-view';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const DAYS = 30;
/** Distinguishable colours with enough contrast on white and on the dark background. */
const COLOURS = ['#0b5cad', '#d1761c', '#1a7f37', '#a40e26', '#6639ba', '#57606a'];

export class UsagePanel implements AccountPanel {
  private chart: Chart<'bar', number[], string> | null = null;
  private data: UsageChartData | null = null;

  constructor(private readonly client: CreditsClient, private readonly accountId: string) {}

  async refresh(): Promise<void> {
    const { usageByDay } = await this.client.request(UsageByDayDocument, { accountId: this.accountId, days: DAYS });
    const today = new Date().toISOString().slice(0, 10);
    const lastDay = usageByDay.reduce((latest, row) => (row.day > latest ? row.day : latest), today);
    this.draw(usageSeries(usageByDay, lastDay, DAYS));
    show(byId('usage'), true);
  }

  stop(): void {
    this.chart?.destroy();
    this.chart = null;
    replace(byId('usage-body'));
    show(byId('usage'), false);
  }

  private draw(data: UsageChartData): void {
    this.data = data;
    const total = data.series.reduce((sum, s) => sum + s.totalMillis, 0);
    const summary = data.series.length === 0
      ? `No usage in the last ${DAYS} days.`
      : `${groupCredits(formatCredits(total))} credits used in the last ${DAYS} days: ${data.series.map((s) => `${s.label} ${groupCredits(formatCredits(s.totalMillis))}`).join(', ')}.`;
    const labels = data.days.map((day) => day.slice(5)); // MM-DD
    const datasets = data.series.map((s, i) => ({
      label: s.label,
      data: s.perDayMillis.map((millis) => millis / 1000), // for drawing only; the table shows exact figures
      backgroundColor: COLOURS[i % COLOURS.length],
      stack: 'usage',
    }));
    if (this.chart) {
      this.chart.data.labels = labels;
      this.chart.data.datasets = datasets;
      this.chart.update('none');
      byId('usage-chart').setAttribute('aria-label', summary);
      replace(byId('usage-table'), this.table(data));
      return;
    }
    const canvas = h('canvas', { id: 'usage-chart', role: 'img', 'aria-label': summary });
    replace(byId('usage-body'),
      h('div', { class: 'chart-box' }, canvas),
      h('details', {}, h('summary', {}, 'The numbers'), h('div', { id: 'usage-table' }, this.table(data))));
    const ink = getComputedStyle(document.documentElement).getPropertyValue('--muted').trim() || '#57606a';
    this.chart = new Chart(canvas, {
      type: 'bar',
      data: { labels, datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        scales: {
          x: { stacked: true, ticks: { color: ink, maxRotation: 0, autoSkipPadding: 8 }, grid: { display: false } },
          y: { stacked: true, beginAtZero: true, ticks: { color: ink }, title: { display: true, text: 'credits', color: ink } },
        },
        plugins: {
          legend: { position: 'bottom', labels: { color: ink } },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label ?? ''}: ${groupCredits(formatCredits(this.data?.series[item.datasetIndex]?.perDayMillis[item.dataIndex] ?? 0))} credits` } },
        },
      },
    });
  }

  private table(data: UsageChartData): HTMLElement {
    if (data.series.length === 0) return h('p', { class: 'muted' }, `No usage in the last ${DAYS} days.`);
    return table(`By action and model, ${data.days[0]} to ${data.days[data.days.length - 1]} (UTC)`, [
      { label: 'Action · model' }, { label: 'Credits used', numeric: true }, { label: 'Refunded', numeric: true }, { label: 'Charges', numeric: true },
    ], data.series.map((s) => ({ cells: [s.label, groupCredits(formatCredits(s.totalMillis)), groupCredits(formatCredits(s.refundedMillis)), String(s.count)] })));
  }
}
