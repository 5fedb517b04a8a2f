/** Dates as the reader's browser writes them (its language and time zone). */
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });

export function dateText(iso: string): string {
  return dateTime.format(new Date(iso));
}

export function dayText(iso: string): string {
  return dateOnly.format(new Date(iso));
}
