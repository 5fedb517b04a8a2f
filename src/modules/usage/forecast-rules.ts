/**
 * Forecasts, pure (table-driven and property tests: test/unit/forecast.rules.test.ts). Every amount
 * is integer millicredits; divisions are done in BigInt and floored.
 *
 * Burn rate. The window is the `windowDays` whole UTC days before today plus today so far. Net use
 * is what charges and captures consumed minus what refunds and reversals gave back, in the window
 * (never below 0). It is divided by the time it covers: from the start of the window, or from the
 * start of the first day in the window with any usage when that is later (a wallet that started two
 * days ago is not diluted over a week), up to now, and at least one day (a burst in the first hour
 * is not extrapolated to 24×). Steady use gives the same rate at any hour: a partial today counts
 * its partial time.
 *
 * Run-out. `runOutAt = now + available ÷ (net ÷ elapsed)`: null when nothing burns (the floored rate
 * is 0) or the run-out is more than RUN_OUT_HORIZON_DAYS away; `now` when available is already ≤ 0
 * (the wallet is out). Expiries and plan renewals are not simulated: expiring credits are reported
 * beside it (expiringSoon, nextExpiryAt), and a renewal resets the allowance anyway.
 *
 * Expiring. The free credits (remaining − held by active holds) of live buckets that expire within
 * `expiringDays`; nextExpiryAt is the earliest expiry of a live bucket with free credits.
 */
import { formatCredits, type Millis } from '../../shared/credits';
import { addDays, dayStart, MS_PER_DAY, utcDay } from '../../shared/utc-days';

/** Beyond this, a run-out is "not in any useful future" (null), which also keeps the date valid. */
export const RUN_OUT_HORIZON_DAYS = 36_500;
/** RUN_OUT_SOON re-arms when the run-out moves beyond this many times its window (or nothing burns). */
export const RUN_OUT_REARM_FACTOR = 2;

/** One UTC day of an account's usage, summed over actions, models and credit kinds. */
export interface DayUsage {
  day: string;
  consumedMillis: Millis;
  refundedMillis: Millis;
  transactions: number;
}

export interface BurnRate {
  /** Net use in the window (≥ 0). */
  netMillis: Millis;
  /** The time it is divided by (≥ one day). */
  elapsedMs: number;
  /** netMillis per day, floored. */
  burnRatePerDayMillis: Millis;
}

/** The first day of the window read for `now`: usage on days from it to today counts. */
export function windowFirstDay(now: Date, windowDays: number): string {
  return addDays(utcDay(now), -windowDays);
}

export function burnRate(days: readonly DayUsage[], now: Date, windowDays: number): BurnRate {
  const today = utcDay(now);
  const first = windowFirstDay(now, windowDays);
  let net = 0;
  let firstUsed: string | null = null;
  for (const d of days) {
    if (d.day < first || d.day > today) continue; // a day outside the window (or dated ahead of the clock)
    net += d.consumedMillis - d.refundedMillis;
    if (firstUsed === null || d.day < firstUsed) firstUsed = d.day;
  }
  const netMillis = Math.max(0, net);
  const elapsedMs = Math.max(MS_PER_DAY, now.getTime() - dayStart(firstUsed ?? first).getTime());
  const burnRatePerDayMillis = Number((BigInt(netMillis) * BigInt(MS_PER_DAY)) / BigInt(elapsedMs));
  return { netMillis, elapsedMs, burnRatePerDayMillis };
}

export function runOutAt(availableMillis: Millis, rate: BurnRate, now: Date): Date | null {
  if (rate.burnRatePerDayMillis === 0) return null;
  if (availableMillis <= 0) return new Date(now.getTime());
  const ms = (BigInt(availableMillis) * BigInt(rate.elapsedMs)) / BigInt(rate.netMillis);
  if (ms > BigInt(RUN_OUT_HORIZON_DAYS) * BigInt(MS_PER_DAY)) return null;
  return new Date(now.getTime() + Number(ms));
}

/** What the forecast needs of a bucket (the wallet's buckets with what active holds secure). */
export interface ForecastBucket {
  id: string;
  remainingMillis: Millis;
  heldActiveMillis: Millis;
  expiresAt: Date | null;
  effectiveAt: Date;
}

export interface ExpiringBucket {
  bucketId: string;
  freeMillis: Millis;
  expiresAt: Date;
}

function live(b: ForecastBucket, now: Date): boolean {
  return (b.expiresAt === null || b.expiresAt > now) && b.effectiveAt <= now;
}

function freeOf(b: ForecastBucket): Millis {
  return Math.max(0, b.remainingMillis - b.heldActiveMillis);
}

/** Live buckets with free credits that expire within `days` of now, soonest first: one CREDITS_EXPIRING each. */
export function expiringBuckets(buckets: readonly ForecastBucket[], now: Date, days: number): ExpiringBucket[] {
  const until = now.getTime() + days * MS_PER_DAY;
  return buckets
    .filter((b) => live(b, now) && b.expiresAt !== null && b.expiresAt.getTime() <= until && freeOf(b) > 0)
    .map((b) => ({ bucketId: b.id, freeMillis: freeOf(b), expiresAt: b.expiresAt! }))
    .sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime() || (a.bucketId < b.bucketId ? -1 : 1));
}

export interface Forecast {
  windowDays: number;
  burnRatePerDayMillis: Millis;
  runOutAt: Date | null;
  expiringSoonDays: number;
  expiringSoonMillis: Millis;
  nextExpiryAt: Date | null;
}

export interface ForecastInput {
  days: readonly DayUsage[];
  availableMillis: Millis;
  buckets: readonly ForecastBucket[];
  now: Date;
  windowDays: number;
  expiringDays: number;
}

export function forecast(input: ForecastInput): Forecast {
  const rate = burnRate(input.days, input.now, input.windowDays);
  let next: Date | null = null;
  for (const b of input.buckets) {
    if (live(b, input.now) && b.expiresAt !== null && freeOf(b) > 0 && (next === null || b.expiresAt < next)) next = b.expiresAt;
  }
  return {
    windowDays: input.windowDays,
    burnRatePerDayMillis: rate.burnRatePerDayMillis,
    runOutAt: runOutAt(input.availableMillis, rate, input.now),
    expiringSoonDays: input.expiringDays,
    expiringSoonMillis: expiringBuckets(input.buckets, input.now, input.expiringDays).reduce((sum, b) => sum + b.freeMillis, 0),
    nextExpiryAt: next && new Date(next.getTime()),
  };
}

export type RunOutSoonDecision = 'FIRE' | 'REARM' | null;

/**
 * RUN_OUT_SOON, with hysteresis. Armed (not fired): fires when the wallet still has credits
 * (available > 0) and the run-out is within `soonDays` (a wallet already out got DEPLETED instead).
 * Fired: re-arms when nothing burns any more, or the run-out moves beyond RUN_OUT_REARM_FACTOR ×
 * `soonDays` (less burning, or credits added). Between the two it stays as it is, so a forecast
 * hovering around the line does not alert every day.
 */
export function decideRunOutSoon(state: { fired: boolean; availableMillis: Millis; runOutAt: Date | null; now: Date; soonDays: number }): RunOutSoonDecision {
  const inMs = state.runOutAt === null ? Infinity : state.runOutAt.getTime() - state.now.getTime();
  if (!state.fired) return state.availableMillis > 0 && inMs <= state.soonDays * MS_PER_DAY ? 'FIRE' : null;
  return inMs > RUN_OUT_REARM_FACTOR * state.soonDays * MS_PER_DAY ? 'REARM' : null;
}

/** usageByDay reads at most this many days (a year, leap day included). */
export const USAGE_DAYS_MAX = 366;

export function usageDaysProblem(days: number): string | null {
  if (!Number.isInteger(days) || days < 1 || days > USAGE_DAYS_MAX) return `days must be a whole number from 1 to ${USAGE_DAYS_MAX}`;
  return null;
}

export function runOutSoonMessage(burnRatePerDayMillis: Millis, runOut: Date, now: Date): string {
  const untilMs = Math.max(0, runOut.getTime() - now.getTime());
  // Rounded up: 1.6 hours away is "within 2 hours", never "within 1 hour".
  const hours = Math.ceil(untilMs / 3_600_000);
  const when = untilMs < 3_600_000 ? 'within the hour' : hours < 24 ? `within ${hours} hours` : `in about ${Math.floor(hours / 24)} day${hours < 48 ? '' : 's'}`;
  return `At the current burn rate (${formatCredits(burnRatePerDayMillis)} credits a day) your credits run out ${when}, around ${runOut.toISOString()}.`;
}

export function creditsExpiringMessage(freeMillis: Millis, expiresAt: Date): string {
  return `${formatCredits(freeMillis)} credit${freeMillis === 1000 ? '' : 's'} expire${freeMillis === 1000 ? 's' : ''} at ${expiresAt.toISOString()}; use them before then.`;
}
