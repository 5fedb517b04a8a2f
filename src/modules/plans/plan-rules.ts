/**
 * The rules of plans, pure: money, plan fields, which change is an upgrade, an upgrade's prorated
 * allowance, and how much unused allowance rolls over. Table-driven tests: test/unit/plans.rules.test.ts.
 */
import type { BillingIntervalName, RolloverPolicyName } from '../../db/schema';
import type { Millis } from '../../shared/credits';
import { badInput } from '../../shared/errors';
import { CATALOGUE_CODE_PATTERN, CATALOGUE_CODE_RULE } from '../../shared/validate';
import { levelsProblem, percentLevelsProblem } from '../alerts/levels';
import { FINGERPRINT_REPEATS_MAX, FINGERPRINT_REPEATS_MIN, FINGERPRINT_WINDOW_MINUTES_MAX, REQUESTS_PER_MINUTE_MAX, VELOCITY_MULTIPLIER_MAX } from '../reviews/review-rules';

export const PLAN_NAME_LENGTH_MAX = 200;
export const PLAN_TIER_LENGTH_MAX = 64;
export const GATING_LIST_MAX = 100;
export const GATING_ITEM_LENGTH_MAX = 100;
export const INTERVAL_COUNT_MAX = 120;
export const SEATS_MAX = 100_000;
/** A plan version's terms, as stored. */
export interface PlanTerms {
  name: string;
  priceMinor: bigint;
  currency: string;
  interval: BillingIntervalName;
  intervalCount: number;
  allowanceMillis: Millis;
  rollover: RolloverPolicyName;
  rolloverCapMillis: Millis | null;
  overdraftLimitMillis: Millis;
  tier: string | null;
  models: string[] | null;
  actions: string[] | null;
  lowCreditThresholds: Millis[];
  /** Levels in percent of the allowance (1–100). */
  lowCreditThresholdPercents: number[];
  seats: number;
  // Review-hold thresholds and the plan's requests per minute (absent or null: the server's defaults; see the reviews module).
  velocityMultiplier?: number | null;
  velocityFloorMillis?: Millis | null;
  fingerprintRepeats?: number | null;
  fingerprintWindowMinutes?: number | null;
  requestsPerMinute?: number | null;
}

/** Terms as stored: every optional threshold present (null: the default). */
export type StoredTerms = PlanTerms & { [K in 'velocityMultiplier' | 'velocityFloorMillis' | 'fingerprintRepeats' | 'fingerprintWindowMinutes' | 'requestsPerMinute']: number | null };

/** Checks a plan's terms as a whole; the first problem is BAD_USER_INPUT naming the field. Returns them normalized. */
export function validateTerms(terms: PlanTerms): StoredTerms {
  const name = terms.name.trim();
  if (!name || name.length > PLAN_NAME_LENGTH_MAX) throw badInput(`name must be 1 to ${PLAN_NAME_LENGTH_MAX} characters`, 'name');
  if (!Number.isSafeInteger(terms.intervalCount) || terms.intervalCount < 1 || terms.intervalCount > INTERVAL_COUNT_MAX) {
    throw badInput(`intervalCount must be 1 to ${INTERVAL_COUNT_MAX}`, 'intervalCount');
  }
  if (terms.allowanceMillis < 0) throw badInput('allowance must be ≥ 0', 'allowance');
  if (terms.overdraftLimitMillis < 0) throw badInput('overdraftLimit must be ≥ 0', 'overdraftLimit');
  if (terms.rollover === 'CAPPED' && terms.rolloverCapMillis === null) throw badInput('rolloverCap is required when rollover is CAPPED', 'rolloverCap');
  if (terms.rollover !== 'CAPPED' && terms.rolloverCapMillis !== null) throw badInput(`rolloverCap is only for rollover CAPPED (this plan's rollover is ${terms.rollover})`, 'rolloverCap');
  if (terms.rolloverCapMillis !== null && terms.rolloverCapMillis <= 0) throw badInput('rolloverCap must be > 0', 'rolloverCap');
  const tier = terms.tier === null ? null : terms.tier.trim();
  if (tier !== null && (!tier || tier.length > PLAN_TIER_LENGTH_MAX)) throw badInput(`tier must be 1 to ${PLAN_TIER_LENGTH_MAX} characters`, 'tier');
  const models = gatingList(terms.models, 'models');
  const actions = gatingList(terms.actions, 'actions');
  const levelProblem = levelsProblem(terms.lowCreditThresholds);
  if (levelProblem) throw badInput(`lowCreditThresholds: ${levelProblem}`, 'lowCreditThresholds');
  const percentProblem = percentLevelsProblem(terms.lowCreditThresholdPercents);
  if (percentProblem) throw badInput(`lowCreditThresholdPercents: ${percentProblem}`, 'lowCreditThresholdPercents');
  if (!Number.isSafeInteger(terms.seats) || terms.seats < 1 || terms.seats > SEATS_MAX) throw badInput(`seats must be 1 to ${SEATS_MAX}`, 'seats');
  optionalBetween(terms.velocityMultiplier, 'velocityMultiplier', 1, VELOCITY_MULTIPLIER_MAX);
  if (terms.velocityFloorMillis != null && (!Number.isSafeInteger(terms.velocityFloorMillis) || terms.velocityFloorMillis <= 0)) throw badInput('velocityFloor must be > 0 (null: the default)', 'velocityFloor');
  optionalBetween(terms.fingerprintRepeats, 'fingerprintRepeats', FINGERPRINT_REPEATS_MIN, FINGERPRINT_REPEATS_MAX);
  optionalBetween(terms.fingerprintWindowMinutes, 'fingerprintWindowMinutes', 1, FINGERPRINT_WINDOW_MINUTES_MAX);
  optionalBetween(terms.requestsPerMinute, 'requestsPerMinute', 1, REQUESTS_PER_MINUTE_MAX);
  return {
    ...terms, name, tier, models, actions,
    velocityMultiplier: terms.velocityMultiplier ?? null, velocityFloorMillis: terms.velocityFloorMillis ?? null,
    fingerprintRepeats: terms.fingerprintRepeats ?? null, fingerprintWindowMinutes: terms.fingerprintWindowMinutes ?? null,
    requestsPerMinute: terms.requestsPerMinute ?? null,
    lowCreditThresholds: [...new Set(terms.lowCreditThresholds)].sort((a, b) => b - a),
    lowCreditThresholdPercents: [...new Set(terms.lowCreditThresholdPercents)].sort((a, b) => b - a),
  };
}

/** A review threshold or rate: null (the server's default) or an integer within bounds. */
function optionalBetween(value: number | null | undefined, field: string, min: number, max: number): void {
  if (value === null || value === undefined) return;
  if (!Number.isSafeInteger(value) || value < min || value > max) throw badInput(`${field} must be ${min} to ${max} (null: the default)`, field);
}

function gatingList(list: string[] | null, field: string): string[] | null {
  if (list === null) return null;
  if (list.length > GATING_LIST_MAX) throw badInput(`${field} lists at most ${GATING_LIST_MAX} entries (null allows every one)`, field);
  const items = [...new Set(list.map((item) => item.trim()))];
  if (items.some((item) => !item || item.length > GATING_ITEM_LENGTH_MAX)) throw badInput(`each of ${field} must be 1 to ${GATING_ITEM_LENGTH_MAX} characters`, field);
  return items.sort();
}

export function validateCode(code: string): string {
  if (!CATALOGUE_CODE_PATTERN.test(code)) throw badInput(`code ${CATALOGUE_CODE_RULE}`, 'code');
  return code;
}

/**
 * A change to another plan takes effect at once when it is an upgrade: the same billing interval and
 * a larger allowance (or the same allowance at a higher price in the same currency). Anything else,
 * a downgrade or a change of billing interval, waits for the period end.
 */
export function isUpgrade(current: PlanTerms, target: PlanTerms): boolean {
  if (current.interval !== target.interval || current.intervalCount !== target.intervalCount) return false;
  if (target.allowanceMillis !== current.allowanceMillis) return target.allowanceMillis > current.allowanceMillis;
  return target.currency === current.currency && target.priceMinor > current.priceMinor;
}

/**
 * An upgrade's credits: the difference of the two allowances for the part of the period that is
 * left, rounded down to the millicredit (one rounding, exact integer arithmetic).
 */
export function upgradeProrationMillis(currentAllowance: Millis, targetAllowance: Millis, periodStart: Date, periodEnd: Date, now: Date): Millis {
  const difference = targetAllowance - currentAllowance;
  const length = periodEnd.getTime() - periodStart.getTime();
  const left = Math.min(length, Math.max(0, periodEnd.getTime() - now.getTime()));
  if (difference <= 0 || length <= 0 || left <= 0) return 0;
  return Number((BigInt(difference) * BigInt(left)) / BigInt(length));
}

/** How much of `unusedMillis` rolls over under a policy: none, up to the cap, or all. */
export function rolloverMillis(policy: RolloverPolicyName, capMillis: Millis | null, unusedMillis: Millis): Millis {
  if (unusedMillis <= 0 || policy === 'NONE') return 0;
  if (policy === 'FULL') return unusedMillis;
  return Math.min(unusedMillis, capMillis ?? 0);
}

/** "50.0%" of the period left, for ledger comments. */
export function percentLeft(periodStart: Date, periodEnd: Date, now: Date): string {
  const length = periodEnd.getTime() - periodStart.getTime();
  const left = Math.max(0, periodEnd.getTime() - now.getTime());
  return `${((1000 * left / length) | 0) / 10}%`;
}
