/**
 * In-process caches of plan limits with a short TTL (config.planLimitsCacheSeconds; a plan change takes
 * effect within it): the review thresholds of a plan code (read on the charge path, so at most one
 * query per plan per TTL) and an account's plan requests per minute (read by the rate limiter before
 * the resolver runs: one indexed query per account per TTL, none for an account already cached — and
 * none at all while no plan version sets a rate, which one query per TTL for the whole process tells).
 * A plan created or changed to set requestsPerMinute therefore takes effect within the TTL too.
 */
import type { Config } from '../../config';
import type { Db, Executor } from '../../db/client';
import type { Clock } from '../../shared/clock';
import { isUuid } from '../../shared/validate';
import type { Thresholds } from './review-rules';
import * as repo from './reviews.repo';

/** Entries per cache; when full it starts over (a burst of distinct accounts costs one query each, as a miss does). */
const CACHE_ENTRIES_MAX = 10_000;

class TtlCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();

  constructor(private readonly clock: Clock, private readonly ttlMs: number) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until <= this.clock.now().getTime()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  set(key: string, value: V): void {
    if (this.entries.size >= CACHE_ENTRIES_MAX) this.entries.clear();
    this.entries.set(key, { value, until: this.clock.now().getTime() + this.ttlMs });
  }
}

export class PlanLimits {
  private readonly plans: TtlCache<repo.PlanLimitsRow | null>;
  private readonly accounts: TtlCache<number | null>;
  /**
   * Whether any plan version sets requestsPerMinute (commonly none: then no account needs a lookup).
   * The promise is cached, so concurrent requests after the TTL share one query.
   */
  private readonly anyRate: TtlCache<Promise<boolean>>;

  constructor(private readonly db: Db, clock: Clock, private readonly config: Readonly<Config>) {
    this.plans = new TtlCache(clock, config.planLimitsCacheSeconds * 1000);
    this.accounts = new TtlCache(clock, config.planLimitsCacheSeconds * 1000);
    this.anyRate = new TtlCache(clock, config.planLimitsCacheSeconds * 1000);
  }

  get defaults(): Thresholds {
    const c = this.config;
    return { multiplier: c.velocityMultiplierDefault, floorMillis: c.velocityFloorMillisDefault, repeats: c.fingerprintRepeatsDefault, windowMinutes: c.fingerprintWindowMinutesDefault };
  }

  /**
   * A wallet's review thresholds from its plan code (null: the defaults, no query). `executor` is the
   * caller's transaction: the charge path may not wait for another connection while it holds one.
   */
  async thresholdsOf(executor: Executor, planCode: string | null): Promise<Thresholds> {
    const defaults = this.defaults;
    if (!planCode) return defaults;
    let limits = this.plans.get(planCode);
    if (limits === undefined) {
      limits = await repo.planLimitsByCode(executor, planCode);
      this.plans.set(planCode, limits);
    }
    return {
      multiplier: limits?.velocityMultiplier ?? defaults.multiplier, floorMillis: limits?.velocityFloorMillis ?? defaults.floorMillis,
      repeats: limits?.fingerprintRepeats ?? defaults.repeats, windowMinutes: limits?.fingerprintWindowMinutes ?? defaults.windowMinutes,
    };
  }

  /** The requests per minute an account's plan allows (null: the plan sets none, no plan, or no such account). */
  async requestsPerMinuteOf(accountId: string): Promise<number | null> {
    if (!isUuid(accountId)) return null;
    if (!(await this.anyPlanSetsRate())) return null;
    let perMinute = this.accounts.get(accountId);
    if (perMinute === undefined) {
      perMinute = (await repo.accountPlanLimit(this.db, accountId))?.requestsPerMinute ?? null;
      this.accounts.set(accountId, perMinute);
    }
    return perMinute;
  }

  private anyPlanSetsRate(): Promise<boolean> {
    let anyRate = this.anyRate.get('');
    if (anyRate === undefined) {
      const asking = repo.anyPlanRequestsPerMinute(this.db);
      anyRate = asking;
      this.anyRate.set('', asking);
      asking.catch(() => { if (this.anyRate.get('') === asking) this.anyRate.delete(''); }); // a failed query is not cached
    }
    return anyRate;
  }
}
