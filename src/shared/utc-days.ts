/** UTC calendar days as 'YYYY-MM-DD' text, the key of the daily usage aggregates. */

export const MS_PER_DAY = 86_400_000;

/** The UTC day of an instant. */
export function utcDay(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The instant a UTC day starts. */
export function dayStart(day: string): Date {
  return new Date(`${day}T00:00:00.000Z`);
}

/** The day `n` days after (or before, when negative) `day`. */
export function addDays(day: string, n: number): string {
  return utcDay(new Date(dayStart(day).getTime() + n * MS_PER_DAY));
}

/** Whole days from `from` to `to` (both 'YYYY-MM-DD'): 0 for the same day. */
export function daysBetween(from: string, to: string): number {
  return Math.round((dayStart(to).getTime() - dayStart(from).getTime()) / MS_PER_DAY);
}
