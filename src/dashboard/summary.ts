/**
 * The Summary view's rules, pure (test/unit/dashboard.summary.test.ts): the months it covers in the
 * reader's time zone, the table rows of a usage report, the CSV links and the downloaded file's name.
 */

/** This month and the ones before it. */
export const SUMMARY_MONTHS = 6;

/** The reader's IANA time zone (the browser's), UTC when it says none. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  } catch {
    return 'UTC';
  }
}

/**
 * From the start of the month `months - 1` before this one to the start of the next, both at local
 * midnight: `Date`'s local fields are the browser's zone, the zone the report is asked for.
 */
export function recentMonths(now: Date, months = SUMMARY_MONTHS): { from: Date; to: Date } {
  return {
    from: new Date(now.getFullYear(), now.getMonth() - (months - 1), 1),
    to: new Date(now.getFullYear(), now.getMonth() + 1, 1),
  };
}

/** What the table shows of the report's totals (Credits are decimal strings). */
export interface SummaryTotals {
  allocated: string;
  purchased: string;
  granted: string;
  consumed: string;
  consumedFree: string;
  consumedPurchased: string;
  expired: string;
  refunded: string;
  carriedForward: string;
  debt: string;
  remaining: string;
}

export const SUMMARY_COLUMNS: readonly { key: keyof SummaryTotals; label: string }[] = [
  { key: 'allocated', label: 'Allocated' },
  { key: 'purchased', label: 'Purchased' },
  { key: 'granted', label: 'Granted' },
  { key: 'consumed', label: 'Consumed' },
  { key: 'consumedFree', label: 'of it free' },
  { key: 'consumedPurchased', label: 'of it purchased' },
  { key: 'expired', label: 'Expired' },
  { key: 'refunded', label: 'Refunded' },
  { key: 'carriedForward', label: 'Carried forward' },
  { key: 'debt', label: 'Debt' },
  { key: 'remaining', label: 'Remaining' },
];

/** "March 2025" in the report's zone (a month starts at local midnight there). */
export function monthLabel(startIso: string, timeZone: string): string {
  return new Intl.DateTimeFormat(undefined, { month: 'long', year: 'numeric', timeZone }).format(new Date(startIso));
}

/** The rows, newest month first, then the total over the range. */
export function summaryRows(report: { periods: readonly { start: string; totals: SummaryTotals }[]; totals: SummaryTotals }, timeZone: string): { label: string; totals: SummaryTotals; total: boolean }[] {
  return [
    ...[...report.periods].reverse().map((p) => ({ label: monthLabel(p.start, timeZone), totals: p.totals, total: false })),
    { label: 'All these months', totals: report.totals, total: true },
  ];
}

/** This origin's CSV export with its query (the browser fetches it with the Authorization header). */
export function csvPath(kind: 'transactions' | 'usage', params: Record<string, string>): string {
  return `/reports/${kind}.csv?${new URLSearchParams(params).toString()}`;
}

/** The file name from Content-Disposition (`attachment; filename="…"`), else the fallback; never a path. */
export function downloadName(contentDisposition: string | null, fallback: string): string {
  const match = /filename="([^"]+)"/.exec(contentDisposition ?? '');
  const name = match?.[1].replace(/[/\\]/g, '_').trim();
  return name || fallback;
}
