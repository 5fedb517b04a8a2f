/** Helpers for live-update tests: a LiveStore for hub unit tests, a subscription collector, polling, metric samples. */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import type { CreditsClient, CreditsApiError, VariablesOf } from '../../src/client';
import type { LiveStore } from '../../src/modules/events';
import type { TransactionRow } from '../../src/modules/ledger';

/** A LiveStore for hub unit tests: the given ledger read, and no alerts. */
export function ledgerOnlyStore(readAfter: (accountId: string, afterSequence: number, limit: number) => Promise<TransactionRow[]>): LiveStore {
  return {
    transactionsAfter: readAfter,
    alertsOfTransactions: async () => [],
    walletSequences: async () => new Map(),
    lastAlertPos: async () => 0,
    recentAlerts: async () => [],
  };
}

export interface Stream<T> {
  /** Items as they arrived. */
  items: T[];
  /** Resolves once `n` items have arrived (rejects on an error, a completion or after `timeoutMs`). */
  until(n: number, timeoutMs?: number): Promise<void>;
  /** The refusal or failure, once there is one (rejects after `timeoutMs` without one). */
  failure(timeoutMs?: number): Promise<unknown>;
  stop(): void;
}

/** A running subscription whose items (picked from each result) are collected. */
export function stream<R, V, T>(client: CreditsClient, document: TypedDocumentNode<R, V>, variables: VariablesOf<V>, pick: (data: R) => T): Stream<T> {
  const items: T[] = [];
  let failure: unknown = null;
  let ended = false;
  const waiters = new Set<() => void>();
  const check = () => { for (const w of [...waiters]) w(); };
  const unsubscribe = client.subscribe(document, variables, {
    next: (data) => { items.push(pick(data)); check(); },
    error: (error) => { failure = error ?? new Error('subscription failed'); ended = true; check(); },
    complete: () => { ended = true; check(); },
  });
  const wait = (done: () => boolean, describe: () => string, timeoutMs: number) => new Promise<void>((resolve, reject) => {
    const waiter = () => {
      if (done()) finish(resolve);
      else if (ended) finish(() => reject(new Error(`subscription ended (${describe()}): ${JSON.stringify((failure as CreditsApiError | null)?.errors ?? String(failure))}`)));
    };
    const timer = setTimeout(() => finish(() => reject(new Error(`timed out: ${describe()}`))), timeoutMs);
    const finish = (then: () => void) => { clearTimeout(timer); waiters.delete(waiter); then(); };
    waiters.add(waiter);
    waiter();
  });
  return {
    items,
    until: (n, timeoutMs = 20_000) => wait(() => items.length >= n, () => `${items.length}/${n} items: ${JSON.stringify(items).slice(0, 500)}`, timeoutMs),
    failure: async (timeoutMs = 20_000) => {
      await wait(() => failure !== null, () => `no failure; ${items.length} items`, timeoutMs).catch((error) => { if (failure === null) throw error; });
      return failure;
    },
    stop: () => { ended = true; unsubscribe(); },
  };
}

/** Polls until `condition` holds (every 10 ms, at most `timeoutMs`). */
export async function eventually(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The value of one Prometheus sample (name and exactly these labels), or undefined. */
export function metricSample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.keys(found).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}
