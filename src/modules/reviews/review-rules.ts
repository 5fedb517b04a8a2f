/**
 * The review-hold rules, pure (README, "Review holds"): the velocity counter of the current UTC hour
 * against a baseline, and the bounded list of recent generation fingerprints. The state lives on the
 * wallet row (written by the ledger's wallet UPDATE); these functions only compute. Table-driven
 * tests: test/unit/review-rules.test.ts.
 */
import { createHash } from 'node:crypto';
import type { Millis } from '../../shared/credits';

const HOUR_MS = 3600_000;

/** Fingerprints kept per wallet at most (the newest win): bounds the row (~30 bytes each) and so the cost of every charge's UPDATE. */
export const FINGERPRINTS_MAX = 128;
/** A plan's repeats may not exceed what the list can hold. */
export const FINGERPRINT_REPEATS_MIN = 2;
export const FINGERPRINT_REPEATS_MAX = 100;
export const FINGERPRINT_WINDOW_MINUTES_MAX = 1440;
export const VELOCITY_MULTIPLIER_MAX = 1000;
export const REQUESTS_PER_MINUTE_MAX = 1_000_000;
export const FINGERPRINT_LENGTH_MAX = 128;
/** Hex characters of sha256 kept: 64 bits, collisions are negligible at 128 entries. */
const SHORT_HASH_LENGTH = 16;

export interface Thresholds {
  multiplier: number;
  floorMillis: Millis;
  repeats: number;
  windowMinutes: number;
}

export interface VelocityState {
  velocityHourStart: Date | null;
  velocityHourMillis: Millis;
  velocityBaselineMillis: Millis | null;
  velocityBaselineHour: Date | null;
}

export const hourStartOf = (now: Date): Date => new Date(Math.floor(now.getTime() / HOUR_MS) * HOUR_MS);

const sameHour = (hour: Date | null, now: Date): boolean => hour !== null && hour.getTime() === hourStartOf(now).getTime();

/** What the wallet consumed in the current UTC hour (0 when the counter is of an earlier hour). */
export function hourMillisNow(state: VelocityState, now: Date): Millis {
  return sameHour(state.velocityHourStart, now) ? state.velocityHourMillis : 0;
}

/** Whether the stored baseline is of this hour (else it is read again, once per hour at most). */
export function baselineFresh(state: VelocityState, now: Date): boolean {
  return state.velocityBaselineMillis !== null && sameHour(state.velocityBaselineHour, now);
}

/** Credits per hour over the window (millis, rounded down). */
export function baselinePerHour(consumedMillis: Millis, windowHours: number): Millis {
  return Math.floor(Math.max(0, consumedMillis) / windowHours);
}

/** The UTC days the baseline reads: the whole days before today within the window, [from, to). */
export function baselineDays(now: Date, windowHours: number): { from: string; to: string } {
  const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const days = Math.max(1, Math.floor(windowHours / 24));
  return { from: new Date(today - days * 24 * HOUR_MS).toISOString().slice(0, 10), to: new Date(today).toISOString().slice(0, 10) };
}

/** Over the floor: the only case the baseline is needed (so a normal wallet never reads it). */
export const overFloor = (hourMillis: Millis, t: Thresholds): boolean => hourMillis > t.floorMillis;

/** The velocity rule: this hour's consumption including the use is above the floor and above multiplier × baseline. */
export function velocityTrips(hourMillis: Millis, baselineMillis: Millis, t: Thresholds): boolean {
  return hourMillis > t.floorMillis && hourMillis > t.multiplier * baselineMillis;
}

/** The state after counting a use (the counter restarts when the hour changed). */
export function countUse(state: VelocityState, now: Date, millis: Millis): Pick<VelocityState, 'velocityHourStart' | 'velocityHourMillis'> {
  return { velocityHourStart: hourStartOf(now), velocityHourMillis: hourMillisNow(state, now) + millis };
}

// ---------------------------------------------------------------- fingerprints

/** [short hash, epoch seconds], oldest first. */
export type FingerprintEntry = [string, number];

const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, SHORT_HASH_LENGTH);

/** JSON with object keys sorted (so equal params hash equally whatever their order). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The fingerprint a use is counted under: the client's, or one derived from action + model + canonical
 * params when an action is named; null (not counted) for a plain amount without either.
 */
export function fingerprintOf(use: { fingerprint: string | null; action: string | null; model: string | null; params: unknown }): string | null {
  if (use.fingerprint) return shortHash(`client\0${use.fingerprint}`);
  if (!use.action) return null;
  return shortHash(`derived\0${use.action}\0${use.model ?? ''}\0${canonicalJson(use.params ?? null)}`);
}

/** The stored list, read defensively (anything malformed is dropped). */
export function parseFingerprints(stored: unknown): FingerprintEntry[] {
  if (!Array.isArray(stored)) return [];
  return stored.filter((e): e is FingerprintEntry => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && Number.isSafeInteger(e[1]));
}

/** Entries within the window ending now (newer than now − window), at most `max`, the newest kept. */
export function pruneFingerprints(list: readonly FingerprintEntry[], nowSeconds: number, windowMinutes: number, max = FINGERPRINTS_MAX): FingerprintEntry[] {
  const kept = list.filter(([, at]) => at > nowSeconds - windowMinutes * 60);
  return kept.length > max ? kept.slice(kept.length - max) : kept;
}

/** How many times `hash` was seen in the window, counting this use: the rule trips at `repeats`. */
export function repeatsWith(list: readonly FingerprintEntry[], hash: string, nowSeconds: number, windowMinutes: number): number {
  return pruneFingerprints(list, nowSeconds, windowMinutes, Number.MAX_SAFE_INTEGER).filter(([h]) => h === hash).length + 1;
}

/** The list after counting a use. */
export function addFingerprint(list: readonly FingerprintEntry[], hash: string, nowSeconds: number, windowMinutes: number, max = FINGERPRINTS_MAX): FingerprintEntry[] {
  return pruneFingerprints([...list, [hash, nowSeconds]], nowSeconds, windowMinutes, max);
}

export const epochSeconds = (now: Date): number => Math.floor(now.getTime() / 1000);
