/**
 * The rules of low-credit levels, pure (table-driven tests: test/unit/alerts.levels.test.ts).
 *
 * A wallet's levels are its absolute ones plus its percent ones taken of the plan allowance, and
 * always 0 (DEPLETED). A level fires once when an operation lowers `available` to it or below; one
 * operation crossing several levels gives one alert, for the lowest. A fired level re-arms only when
 * `available` rises above the level plus a hysteresis of 10% of the level (at least 1 credit), so a
 * balance hovering around a level does not alert on every charge.
 */
import type { Millis } from '../../shared/credits';

/** At most this many absolute levels, and this many percent levels, per wallet or plan. */
export const LEVELS_MAX = 10;
export const HYSTERESIS_PERCENT = 10;
export const HYSTERESIS_MIN_MILLIS = 1_000;
/** The level of DEPLETED. */
export const DEPLETED_LEVEL = 0;

export function levelsProblem(levels: readonly Millis[]): string | null {
  if (levels.length > LEVELS_MAX) return `at most ${LEVELS_MAX} levels`;
  if (levels.some((l) => !Number.isSafeInteger(l) || l <= 0)) return 'each level must be positive';
  return null;
}

export function percentLevelsProblem(percents: readonly number[]): string | null {
  if (percents.length > LEVELS_MAX) return `at most ${LEVELS_MAX} percent levels`;
  if (percents.some((p) => !Number.isInteger(p) || p < 1 || p > 100)) return 'each percent level must be a whole number from 1 to 100';
  return null;
}

/** The positive levels in effect, highest first: absolute ones and percents of the allowance (none without a plan). */
export function effectiveLevels(absolute: readonly Millis[], percents: readonly number[], allowanceMillis: Millis | null): Millis[] {
  const levels = new Set<Millis>(absolute.filter((l) => l > 0));
  if (allowanceMillis !== null && allowanceMillis > 0) {
    for (const p of percents) {
      const level = Math.floor((allowanceMillis * p) / 100);
      if (level > 0) levels.add(level);
    }
  }
  return [...levels].sort((a, b) => b - a);
}

/** `available` must rise above this for a fired level to re-arm. */
export function rearmAbove(levelMillis: Millis): Millis {
  return levelMillis + Math.max(Math.floor((levelMillis * HYSTERESIS_PERCENT) / 100), HYSTERESIS_MIN_MILLIS);
}

export interface LevelAlert {
  kind: 'LOW_BALANCE' | 'DEPLETED';
  levelMillis: Millis;
}

export interface LevelCheck {
  /** The one alert to raise, or null. */
  alert: LevelAlert | null;
  /** The fired levels after this operation (sorted, highest first). */
  fired: Millis[];
  /** Whether `fired` differs from what the wallet stored (then it is written). */
  changed: boolean;
}

/**
 * What an operation that moved `available` from `beforeMillis` to `afterMillis` does to the levels.
 * `fired`: the levels that fired and have not re-armed (as stored; levels no longer configured are
 * dropped when the state is written anyway). Only a decrease fires; any change may re-arm.
 */
export function checkLevels(levels: readonly Millis[], fired: readonly Millis[], beforeMillis: Millis, afterMillis: Millis): LevelCheck {
  const all = [...levels.filter((l) => l > 0), DEPLETED_LEVEL];
  const configured = new Set(all);
  const next = new Set(fired.filter((l) => configured.has(l)));
  let changed = next.size !== fired.length;
  for (const level of [...next]) {
    if (afterMillis > rearmAbove(level)) {
      next.delete(level);
      changed = true;
    }
  }
  let alert: LevelAlert | null = null;
  if (afterMillis < beforeMillis) {
    const crossed = all.filter((level) => !next.has(level) && afterMillis <= level);
    if (crossed.length > 0) {
      const lowest = Math.min(...crossed);
      alert = { kind: lowest === DEPLETED_LEVEL ? 'DEPLETED' : 'LOW_BALANCE', levelMillis: lowest };
      for (const level of crossed) next.add(level);
      changed = true;
    }
  }
  return { alert, fired: [...next].sort((a, b) => b - a), changed };
}
