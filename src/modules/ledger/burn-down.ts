/**
 * The one burn-down rule, used by quotes, holds and charges alike:
 * buckets that apply to the action/model, then lower `priority` first, then soonest `expiresAt`
 * (never-expiring last), then oldest (`createdAt`, then id for a total order).
 */
import type { Millis } from '../../shared/credits';

/** What the burn-down order looks at. */
export interface BurnOrderKey {
  id: string;
  priority: number;
  expiresAt: Date | null;
  createdAt: Date;
}

export interface BurnBucket extends BurnOrderKey {
  applicableActions: string[] | null;
  applicableModels: string[] | null;
  remainingMillis: Millis;
  /** Secured by active holds: part of remaining that only those holds may take. */
  heldActiveMillis: Millis;
}

export interface UseTarget {
  action?: string | null;
  model?: string | null;
}

/** What a bucket can give now: its remaining minus what active holds have secured on it. */
export function freeMillis(bucket: Pick<BurnBucket, 'remainingMillis' | 'heldActiveMillis'>): Millis {
  return bucket.remainingMillis - bucket.heldActiveMillis;
}

/** A bucket with a filter pays only for listed actions/models; a request naming no action/model can't use a filtered bucket. */
export function applies(bucket: Pick<BurnBucket, 'applicableActions' | 'applicableModels'>, target: UseTarget): boolean {
  if (bucket.applicableActions && bucket.applicableActions.length > 0) {
    if (!target.action || !bucket.applicableActions.includes(target.action)) return false;
  }
  if (bucket.applicableModels && bucket.applicableModels.length > 0) {
    if (!target.model || !bucket.applicableModels.includes(target.model)) return false;
  }
  return true;
}

export function compareBurnOrder(a: BurnOrderKey, b: BurnOrderKey): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  const ae = a.expiresAt ? a.expiresAt.getTime() : Infinity;
  const be = b.expiresAt ? b.expiresAt.getTime() : Infinity;
  if (ae !== be) return ae < be ? -1 : 1;
  const ac = a.createdAt.getTime();
  const bc = b.createdAt.getTime();
  if (ac !== bc) return ac - bc;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface Allocation {
  bucketId: string;
  millis: Millis;
}

export interface AllocationResult {
  allocations: Allocation[];
  /** The part no bucket could cover. */
  shortMillis: Millis;
  /** All that the applicable buckets could give. */
  applicableFreeMillis: Millis;
}

/** Takes `amount` from the applicable buckets' free credits in burn-down order. Pure: does not change the buckets. */
export function allocate(buckets: Iterable<BurnBucket>, target: UseTarget, amount: Millis): AllocationResult {
  const usable = [...buckets].filter((b) => freeMillis(b) > 0 && applies(b, target)).sort(compareBurnOrder);
  const allocations: Allocation[] = [];
  let left = amount;
  let applicableFreeMillis = 0;
  for (const bucket of usable) {
    const free = freeMillis(bucket);
    applicableFreeMillis += free;
    if (left === 0) continue;
    const take = Math.min(left, free);
    allocations.push({ bucketId: bucket.id, millis: take });
    left -= take;
  }
  return { allocations, shortMillis: left, applicableFreeMillis };
}
