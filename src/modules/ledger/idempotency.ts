/**
 * Idempotent execution of a credit-moving mutation. The key row is claimed first in the same
 * database transaction as the effect, so a concurrent request with the same key waits on the
 * unique key and then reads the first result; the effect and its stored result commit together.
 */
import { createHash } from 'node:crypto';
import type { Db, Executor, Tx } from '../../db/client';
import { AppError, ErrorCode, badInput, type SerializedAppError } from '../../shared/errors';
import type { Clock } from '../../shared/clock';
import * as repo from './ledger.repo';

export type StoredOutcome =
  | { kind: 'transaction'; id: string }
  | { kind: 'hold'; id: string; snapshot: Record<string, unknown> }
  | { kind: 'refusal'; error: SerializedAppError; transactionId: string | null }
  /** A record of another module changed on the wallet (a plan subscription), by id. */
  | { kind: 'record'; id: string };

export interface IdempotencyOptions {
  scope: string;
  key: string;
  operation: string;
  input: unknown;
  keyTtlSeconds: number;
  keyLengthMax: number;
}

/** Stable JSON: object keys sorted, so the same input always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function validateIdempotencyKey(key: unknown, lengthMax: number): string {
  if (typeof key !== 'string' || key.trim().length === 0) throw badInput('idempotencyKey must be a non-empty string', 'idempotencyKey');
  if (key.length > lengthMax) throw badInput(`idempotencyKey must be at most ${lengthMax} characters`, 'idempotencyKey');
  return key;
}

export function requestHash(operation: string, input: unknown): string {
  return createHash('sha256').update(operation).update('\0').update(canonicalJson(input)).digest('hex');
}

/** The stored result of a key claimed earlier: a replay, or IDEMPOTENCY_KEY_REUSED when the input differs. */
export async function storedOutcome(executor: Executor, scope: string, key: string, hash: string): Promise<StoredOutcome> {
  const existing = await repo.findIdempotencyKey(executor, scope, key);
  if (!existing || existing.response === null) throw new Error('idempotency key claimed without a stored result');
  if (existing.requestHash !== hash) {
    throw new AppError(ErrorCode.IDEMPOTENCY_KEY_REUSED, 'this idempotency key was already used with a different request');
  }
  return existing.response as StoredOutcome;
}

export interface IdempotentResult<T> {
  outcome: StoredOutcome;
  /** true when this call did the work; false when it returned a stored result. */
  fresh: boolean;
  value?: T;
}

/**
 * Runs `work` once per (scope, key). `work` returns the outcome to store; throwing an AppError or
 * any error rolls everything back (nothing is stored, the key stays free).
 */
export async function runIdempotent<T>(
  db: Db, clock: Clock, options: IdempotencyOptions,
  work: (tx: Tx) => Promise<{ outcome: StoredOutcome; value?: T }>,
): Promise<IdempotentResult<T>> {
  const key = validateIdempotencyKey(options.key, options.keyLengthMax);
  const hash = requestHash(options.operation, options.input);
  return db.transaction(async (tx) => {
    const now = clock.now();
    const claimed = await repo.claimIdempotencyKey(tx, {
      scope: options.scope, key, requestHash: hash, response: null, createdAt: now,
      expiresAt: new Date(now.getTime() + options.keyTtlSeconds * 1000),
    });
    if (!claimed) return { outcome: await storedOutcome(tx, options.scope, key, hash), fresh: false };
    const { outcome, value } = await work(tx);
    await repo.storeIdempotencyResponse(tx, options.scope, key, outcome);
    return { outcome, fresh: true, value };
  });
}
