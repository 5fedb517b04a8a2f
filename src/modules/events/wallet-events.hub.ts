/**
 * Live wallet events and alerts, after commit.
 *
 * Wallet events come in sequence order with no gap and no duplicate. A subscriber that gives
 * `afterSequence` first gets what it missed from the ledger, then live events. Live events may arrive
 * out of order (two commits on one wallet finish their publish in either order, or come through Redis
 * from two instances), late, or never (Redis down); a subscriber's buffer may overflow. In each case
 * the subscriber reads the missing range from the ledger, which is the source of truth: a gap is
 * filled when a later event reveals it, and when the transport says messages may have been lost
 * (`resync`: Redis reconnected, a peer lost messages, or the periodic catch-up) every subscriber
 * behind its wallet's current sequence re-reads from its last sequence. Each event carries the alert
 * its transaction raised (`alert`), from the publish or, on replay, from the alerts table (one query
 * per page).
 *
 * Alerts (`lowCreditAlerts`) are pushed live to subscribers of their account and to admin subscribers
 * of all accounts. They have no per-wallet sequence: on resync, alerts raised since the subscription
 * began (at most ALERT_CATCH_UP_WINDOW_SECONDS old) that a subscriber has not had are delivered then
 * (each alert once per subscriber); older ones are in the `alerts` list.
 *
 * Publishing, after commit (never throws, never waits):
 * - `publish(rows, alerts)`: the ledger's committed rows and the alerts raised in the same database
 *   transaction (those with a transactionId ride on that transaction's event; all go to lowCreditAlerts);
 * - `publishAlerts(alerts)`: alerts raised outside the ledger (billing, forecast and other jobs): call it
 *   with the inserted rows once their database transaction has committed.
 * With a Redis transport both also reach every other instance.
 */
import type { TransactionRow } from '../ledger';
import type { AlertRow } from '../alerts';
import { AppError, ErrorCode } from '../../shared/errors';
import { systemClock, type Clock } from '../../shared/clock';
import { logger } from '../../shared/logger';
import { InProcessTransport, type LiveTransport } from './live-transport';

/** What the hub reads from the database (main.ts wires the repos). */
export interface LiveStore {
  /** Committed transactions of the wallet after `afterSequence`, in sequence order, at most `limit`. */
  transactionsAfter(accountId: string, afterSequence: number, limit: number): Promise<TransactionRow[]>;
  /** Alerts raised by these transactions. */
  alertsOfTransactions(transactionIds: readonly string[]): Promise<AlertRow[]>;
  walletSequences(accountIds: readonly string[]): Promise<Map<string, number>>;
  /** The newest alert position of the account (null: of all accounts). */
  lastAlertPos(accountId: string | null): Promise<number>;
  /** Alerts after `afterPos` raised since `since`, of these accounts (null: all), the newest `limit`, oldest first. */
  recentAlerts(accountIds: readonly string[] | null, afterPos: number, since: Date, limit: number): Promise<AlertRow[]>;
}

/** The root value of a walletEvents result; `eventKey` names the event for shared execution (src/server/shared-execution.ts). */
export interface WalletEventPayload {
  readonly eventKey: string;
  readonly row: TransactionRow;
  readonly alert: AlertRow | null;
}

/** The root value of a lowCreditAlerts result. */
export interface AlertEventPayload {
  readonly eventKey: string;
  readonly alert: AlertRow;
}

export interface WalletEventHubOptions {
  store: LiveStore;
  /** Live subscriptions per account on this instance (walletEvents and lowCreditAlerts counted apart). */
  subscriptionsPerAccountMax: number;
  transport?: LiveTransport;
  clock?: Clock;
}

interface EventListener {
  push(event: WalletEventPayload): void;
  /** The wallet is ahead of what this subscriber has: read the rest from the ledger. */
  poke(): void;
  readonly last: number;
}

interface AlertListener {
  /** A live alert. */
  push(event: AlertEventPayload): void;
  /** An alert found by a catch-up: delivered unless it predates the subscription or was delivered already. */
  offer(event: AlertEventPayload): void;
  /** Alerts after this position are the subscription's (null until read). */
  readonly startPos: number | null;
}

const REPLAY_PAGE_SIZE = 100;
/** A subscriber that falls this far behind drops its buffer and catches up from the ledger. */
const BUFFER_SIZE_MAX = 1_000;
/** Wallets whose sequences one catch-up query reads. */
const CATCH_UP_CHUNK = 500;
/** Alerts one catch-up query reads (the newest), and how old they may be. */
const ALERT_CATCH_UP_MAX = 1_000;
const ALERT_CATCH_UP_WINDOW_SECONDS = 600;
/** Alert ids a subscriber remembers, so a catch-up never delivers one twice. */
const DELIVERED_IDS_MAX = 2_000;
/** The key of admin subscribers to every account's alerts. */
const ALL = '*';

export class WalletEventHub {
  private readonly listeners = new Map<string, Set<EventListener>>();
  private readonly alertListeners = new Map<string, Set<AlertListener>>();
  /** Ledger reads in flight, shared by subscribers of one wallet that need the same page. */
  private readonly reads = new Map<string, Promise<WalletEventPayload[]>>();
  private readonly store: LiveStore;
  private readonly subscriptionsPerAccountMax: number;
  private readonly clock: Clock;
  readonly transport: LiveTransport;
  private catchingUp: Promise<void> | null = null;
  private catchUpAgain = false;
  private readonly stopTransport: (() => void)[];

  constructor(options: WalletEventHubOptions) {
    this.store = options.store;
    this.subscriptionsPerAccountMax = options.subscriptionsPerAccountMax;
    this.clock = options.clock ?? systemClock;
    this.transport = options.transport ?? new InProcessTransport();
    this.transport.setInterest((accountIds) => this.isWatching(accountIds));
    this.stopTransport = [
      this.transport.onMessage((message) => { if (message.type === 'events') this.deliver(message.rows, message.alerts); }),
      this.transport.onResync(() => void this.catchUp()),
    ];
  }

  /**
   * After commit: the posted rows, and the alerts raised in the same database transaction (those with a
   * transactionId belong to that transaction's event; every alert goes to lowCreditAlerts subscribers).
   */
  publish(rows: readonly TransactionRow[] = [], alerts: readonly AlertRow[] = []): void {
    try {
      const sequenced = rows.filter((row) => row.sequence !== null);
      if (sequenced.length === 0 && alerts.length === 0) return;
      this.deliver(sequenced, alerts);
      this.transport.send({ type: 'events', rows: sequenced, alerts });
    } catch (error) {
      // After commit: a fault here must never turn a committed charge into an error; subscribers catch up.
      logger.error('live publish failed', { error: error instanceof Error ? error.stack : String(error) });
    }
  }

  /** After commit: alerts raised outside the ledger (billing, forecasts, jobs). */
  publishAlerts(alerts: readonly AlertRow[]): void {
    this.publish([], alerts);
  }

  /** walletEvents subscriptions on this instance. */
  subscriberCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  /** lowCreditAlerts subscriptions on this instance. */
  alertSubscriberCount(): number {
    let n = 0;
    for (const set of this.alertListeners.values()) n += set.size;
    return n;
  }

  /** Stops listening to the transport (which its owner closes). */
  close(): void {
    for (const stop of this.stopTransport) stop();
  }

  /**
   * Brings every subscriber up to date from the database: walletEvents subscribers behind their wallet's
   * sequence re-read from their last sequence; lowCreditAlerts subscribers get recent alerts they missed.
   * Concurrent calls run one catch-up, and one more after it.
   */
  catchUp(): Promise<void> {
    if (this.catchingUp) {
      this.catchUpAgain = true;
      return this.catchingUp;
    }
    const run = async () => {
      do {
        this.catchUpAgain = false;
        try {
          await this.catchUpWallets();
          await this.catchUpAlerts();
        } catch (error) {
          logger.warn('live catch-up failed; the next one retries', { error: String(error) });
        }
      } while (this.catchUpAgain);
      this.catchingUp = null;
    };
    return (this.catchingUp = run());
  }

  /**
   * `startAfter`: the last sequence the client saw (replay from there) or the wallet's current
   * sequence (live only). Refused with RATE_LIMITED when the account already has
   * `subscriptionsPerAccountMax` subscribers on this instance.
   */
  subscribe(accountId: string, startAfter: number): AsyncIterableIterator<WalletEventPayload> {
    this.assertRoom(this.listeners, accountId);
    const readShared = (after: number) => this.readShared(accountId, after);
    let last = startAfter;
    let buffer: WalletEventPayload[] = [];
    let overflowed = false;
    let behind = false;
    let wake: (() => void) | null = null;
    let done = false;
    const listener: EventListener = {
      push(event) {
        if (buffer.length >= BUFFER_SIZE_MAX) {
          buffer = [];
          overflowed = true;
        }
        buffer.push(event);
        wake?.();
      },
      poke() {
        behind = true;
        wake?.();
      },
      get last() { return last; },
    };
    addTo(this.listeners, accountId, listener);
    const stopListening = () => removeFrom(this.listeners, accountId, listener);
    const pending: WalletEventPayload[] = [];
    /**
     * Catching up from the ledger, one page at a time (undefined: not catching up; null: to the end;
     * a number: up to that sequence). A page is read only when the client has taken the previous
     * one, so a slow reader of a long history never makes the server hold more than a page.
     */
    let catchUpTo: number | null | undefined;
    /** The live event that revealed a gap, taken again once the gap is filled from the ledger. */
    let afterGap: WalletEventPayload | null = null;

    /** Reads the next page from `last`; returns whether there may be more to read. */
    const readPage = async (upTo: number | null): Promise<boolean> => {
      const events = await readShared(last);
      for (const event of events) {
        if (event.row.sequence! <= last) continue;
        if (upTo !== null && event.row.sequence! > upTo) return false;
        pending.push(event);
        last = event.row.sequence!;
      }
      return events.length === REPLAY_PAGE_SIZE && (upTo === null || last < upTo);
    };

    let replayed = false;
    const iterator: AsyncIterableIterator<WalletEventPayload> = {
      async next(): Promise<IteratorResult<WalletEventPayload>> {
        for (;;) {
          if (done) return { value: undefined, done: true };
          if (pending.length > 0) return { value: pending.shift()!, done: false };
          if (catchUpTo !== undefined) {
            if (!(await readPage(catchUpTo))) catchUpTo = undefined;
            continue;
          }
          if (!replayed) {
            replayed = true;
            catchUpTo = null;
            continue;
          }
          if (overflowed || behind) {
            if (overflowed) buffer = [];
            overflowed = false;
            behind = false;
            catchUpTo = null;
            continue;
          }
          const gapEvent = afterGap;
          afterGap = null;
          const event = gapEvent ?? buffer.shift();
          if (event) {
            const seq = event.row.sequence!;
            if (seq <= last) continue; // already delivered (replay or gap fill)
            if (seq > last + 1 && !gapEvent) {
              // fill the gap from the ledger, in order, then take this event again
              afterGap = event;
              catchUpTo = seq - 1;
              continue;
            }
            if (seq === last + 1) {
              pending.push(event);
              last = seq;
            }
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      async return(): Promise<IteratorResult<WalletEventPayload>> {
        done = true;
        stopListening();
        wake?.();
        return { value: undefined, done: true };
      },
      async throw(error?: unknown): Promise<IteratorResult<WalletEventPayload>> {
        done = true;
        stopListening();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /**
   * Live alerts of one account, or of every account (null: admin). Refused with RATE_LIMITED beyond
   * `subscriptionsPerAccountMax` such subscriptions per account (and for all accounts) on this instance.
   */
  subscribeAlerts(accountId: string | null): AsyncIterableIterator<AlertEventPayload> {
    const key = accountId ?? ALL;
    this.assertRoom(this.alertListeners, key);
    const lastAlertPos = () => this.store.lastAlertPos(accountId);
    let startPos: number | null = null;
    const delivered = new Set<string>();
    let buffer: AlertEventPayload[] = [];
    let wake: (() => void) | null = null;
    let done = false;
    const take = (event: AlertEventPayload) => {
      if (delivered.has(event.alert.id)) return;
      delivered.add(event.alert.id);
      if (delivered.size > DELIVERED_IDS_MAX) delivered.delete(delivered.values().next().value!);
      // A subscriber that does not read: the oldest alerts go (they stay in the alerts list).
      if (buffer.length >= BUFFER_SIZE_MAX) buffer = buffer.slice(buffer.length - BUFFER_SIZE_MAX + 1);
      buffer.push(event);
      wake?.();
    };
    const listener: AlertListener = {
      push: take,
      offer(event) {
        if (startPos !== null && event.alert.pos > startPos) take(event);
      },
      get startPos() { return startPos; },
    };
    addTo(this.alertListeners, key, listener);
    const stopListening = () => removeFrom(this.alertListeners, key, listener);
    let started = false;
    const iterator: AsyncIterableIterator<AlertEventPayload> = {
      async next(): Promise<IteratorResult<AlertEventPayload>> {
        for (;;) {
          if (done) return { value: undefined, done: true };
          if (!started) {
            started = true;
            startPos = await lastAlertPos();
            continue;
          }
          const event = buffer.shift();
          if (event) return { value: event, done: false };
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      async return(): Promise<IteratorResult<AlertEventPayload>> {
        done = true;
        stopListening();
        wake?.();
        buffer = [];
        return { value: undefined, done: true };
      },
      async throw(error?: unknown): Promise<IteratorResult<AlertEventPayload>> {
        done = true;
        stopListening();
        throw error;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** Delivers committed rows and alerts (published here, or received from another instance) to this instance's subscribers. */
  private deliver(rows: readonly TransactionRow[], alerts: readonly AlertRow[]): void {
    const alertOf = new Map<string, AlertRow>();
    for (const alert of alerts) if (alert.transactionId !== null && !alertOf.has(alert.transactionId)) alertOf.set(alert.transactionId, alert);
    for (const row of rows) {
      const set = this.listeners.get(row.accountId);
      if (!set) continue;
      const event: WalletEventPayload = { eventKey: `tx:${row.id}`, row, alert: alertOf.get(row.id) ?? null };
      for (const listener of set) listener.push(event);
    }
    this.deliverAlerts(alerts, false);
  }

  private deliverAlerts(alerts: readonly AlertRow[], caughtUp: boolean): void {
    const all = this.alertListeners.get(ALL);
    for (const alert of alerts) {
      const own = this.alertListeners.get(alert.accountId);
      if (!own && !all) continue;
      const event: AlertEventPayload = { eventKey: `alert:${alert.id}`, alert };
      for (const set of [own, all]) {
        for (const listener of set ?? []) {
          if (caughtUp) listener.offer(event);
          else listener.push(event);
        }
      }
    }
  }

  private isWatching(accountIds: readonly string[]): boolean {
    if (this.alertListeners.has(ALL)) return true;
    return accountIds.some((id) => this.listeners.has(id) || this.alertListeners.has(id));
  }

  /** A page of the wallet's ledger after `after`, with the alerts of its transactions; one read for every subscriber asking at once. */
  private readShared(accountId: string, after: number): Promise<WalletEventPayload[]> {
    const key = `${accountId}:${after}`;
    let read = this.reads.get(key);
    if (!read) {
      read = (async () => {
        const rows = await this.store.transactionsAfter(accountId, after, REPLAY_PAGE_SIZE);
        const alerts = rows.length > 0 ? await this.store.alertsOfTransactions(rows.map((r) => r.id)) : [];
        const alertOf = new Map<string, AlertRow>();
        for (const alert of alerts) if (alert.transactionId !== null && !alertOf.has(alert.transactionId)) alertOf.set(alert.transactionId, alert);
        return rows.map((row) => ({ eventKey: `tx:${row.id}`, row, alert: alertOf.get(row.id) ?? null }));
      })().finally(() => this.reads.delete(key));
      this.reads.set(key, read);
    }
    return read;
  }

  private async catchUpWallets(): Promise<void> {
    const accountIds = [...this.listeners.keys()];
    for (let i = 0; i < accountIds.length; i += CATCH_UP_CHUNK) {
      const chunk = accountIds.slice(i, i + CATCH_UP_CHUNK);
      const sequences = await this.store.walletSequences(chunk);
      for (const accountId of chunk) {
        const sequence = sequences.get(accountId);
        if (sequence === undefined) continue;
        for (const listener of this.listeners.get(accountId) ?? []) if (listener.last < sequence) listener.poke();
      }
    }
  }

  private async catchUpAlerts(): Promise<void> {
    let floor: number | null = null;
    for (const set of this.alertListeners.values()) {
      for (const listener of set) if (listener.startPos !== null) floor = floor === null ? listener.startPos : Math.min(floor, listener.startPos);
    }
    if (floor === null) return;
    const since = new Date(this.clock.now().getTime() - ALERT_CATCH_UP_WINDOW_SECONDS * 1000);
    if (this.alertListeners.has(ALL)) {
      this.deliverAlerts(await this.store.recentAlerts(null, floor, since, ALERT_CATCH_UP_MAX), true);
      return;
    }
    const accountIds = [...this.alertListeners.keys()];
    for (let i = 0; i < accountIds.length; i += CATCH_UP_CHUNK) {
      this.deliverAlerts(await this.store.recentAlerts(accountIds.slice(i, i + CATCH_UP_CHUNK), floor, since, ALERT_CATCH_UP_MAX), true);
    }
  }

  private assertRoom(map: Map<string, Set<unknown>>, key: string): void {
    if ((map.get(key)?.size ?? 0) >= this.subscriptionsPerAccountMax) {
      throw new AppError(ErrorCode.RATE_LIMITED, `at most ${this.subscriptionsPerAccountMax} live subscriptions per account; close one first`, {
        limit: 'subscriptionsPerAccount', subscriptionsMax: this.subscriptionsPerAccountMax,
      });
    }
  }
}

function addTo<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function removeFrom<T>(map: Map<string, Set<T>>, key: string, value: T): void {
  const set = map.get(key);
  if (!set) return;
  set.delete(value);
  if (set.size === 0) map.delete(key);
}
