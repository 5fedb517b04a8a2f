/** Dates as the reader's browser writes them (its language and time zone). */
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function dateText(iso: string): string {
  return dateTime.format(new Date(iso));
}

export function dayText(iso: string): string {
  return dateOnly.format(new Date(iso));
}

const utcDay = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeZone: 'UTC' });

/** A UTC day (reports count whole UTC days), whatever the reader's time zone. */
export function utcDayText(iso: string): string {
  return utcDay.format(new Date(iso));
}
