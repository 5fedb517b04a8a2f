/**
 * Live wallet events, in sequence order, with no gap and no duplicate. Committed transactions are
 * published here after commit (in-process fan-out). A subscriber that gives `afterSequence` first
 * gets what it missed from the ledger, then live events. Publishes may arrive out of order (two
 * commits on one wallet finish their publish in either order) or overflow a slow subscriber's
 * buffer: the subscriber then reads the missing range from the ledger, which is the source of truth.
 */
import type { TransactionRow } from '../ledger';
import type { AlertRow } from '../alerts';
import { AppError, ErrorCode } from '../../shared/errors';

export type ReadAfter = (accountId: string, afterSequence: number, limit: number) => Promise<TransactionRow[]>;
type Listener = (row: TransactionRow) => void;

const REPLAY_PAGE_SIZE = 100;
/** A subscriber that falls this far behind drops its buffer and catches up from the ledger. */
const BUFFER_SIZE_MAX = 1_000;

export class WalletEventHub {
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(private readonly readAfter: ReadAfter, private readonly subscriptionsPerAccountMax: number) {}

  /**
   * After commit: the posted rows, and the alerts raised in the same database transaction (those with a
   * transactionId belong to that transaction's event; every alert goes to lowCreditAlerts subscribers).
   */
  publish(rows: readonly TransactionRow[], _alerts: readonly AlertRow[] = []): void {
    for (const row of rows) {
      if (row.sequence === null) continue;
      const set = this.listeners.get(row.accountId);
      if (set) for (const listener of set) listener(row);
    }
  }

  subscriberCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  /**
   * `startAfter`: the last sequence the client saw (replay from there) or the wallet's current
   * sequence (live only). Refused with RATE_LIMITED when the account already has
   * `subscriptionsPerAccountMax` subscribers on this instance.
   */
  subscribe(accountId: string, startAfter: number): AsyncIterableIterator<TransactionRow> {
    if ((this.listeners.get(accountId)?.size ?? 0) >= this.subscriptionsPerAccountMax) {
      throw new AppError(ErrorCode.RATE_LIMITED, `at most ${this.subscriptionsPerAccountMax} live subscriptions per account; close one first`, {
        limit: 'subscriptionsPerAccount', subscriptionsMax: this.subscriptionsPerAccountMax,
      });
    }
    let last = startAfter;
    let buffer: TransactionRow[] = [];
    let overflowed = false;
    let wake: (() => void) | null = null;
    let done = false;
    const listener: Listener = (row) => {
      if (buffer.length >= BUFFER_SIZE_MAX) {
        buffer = [];
        overflowed = true;
      }
      buffer.push(row);
      wake?.();
    };
    this.addListener(accountId, listener);
    const stopListening = () => this.removeListener(accountId, listener);
    const pending: TransactionRow[] = [];
    /**
     * Catching up from the ledger, one page at a time (undefined: not catching up; null: to the end;
     * a number: up to that sequence). A page is read only when the client has taken the previous
     * one, so a slow reader of a long history never makes the server hold more than a page.
     */
    let catchUpTo: number | null | undefined;
    /** The live event that revealed a gap, taken again once the gap is filled from the ledger. */
    let afterGap: TransactionRow | null = null;

    /** Reads the next page from `last`; returns whether there may be more to read. */
    const readPage = async (upTo: number | null): Promise<boolean> => {
      const rows = await this.readAfter(accountId, last, REPLAY_PAGE_SIZE);
      for (const row of rows) {
        if (upTo !== null && row.sequence! > upTo) return false;
        pending.push(row);
        last = row.sequence!;
      }
      return rows.length === REPLAY_PAGE_SIZE && (upTo === null || last < upTo);
    };

    let replayed = false;
    const iterator: AsyncIterableIterator<TransactionRow> = {
      async next(): Promise<IteratorResult<TransactionRow>> {
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
          if (overflowed) {
            overflowed = false;
            buffer = [];
            catchUpTo = null;
            continue;
          }
          const gapRow = afterGap;
          afterGap = null;
          const row = gapRow ?? buffer.shift();
          if (row) {
            const seq = row.sequence!;
            if (seq <= last) continue; // already delivered (replay or gap fill)
            if (seq > last + 1 && !gapRow) {
              // fill the gap from the ledger, in order, then take this event again
              afterGap = row;
              catchUpTo = seq - 1;
              continue;
            }
            if (seq === last + 1) {
              pending.push(row);
              last = seq;
            }
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      },
      async return(): Promise<IteratorResult<TransactionRow>> {
        done = true;
        stopListening();
        wake?.();
        return { value: undefined, done: true };
      },
      async throw(error?: unknown): Promise<IteratorResult<TransactionRow>> {
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

  private addListener(accountId: string, listener: Listener): void {
    let set = this.listeners.get(accountId);
    if (!set) this.listeners.set(accountId, (set = new Set()));
    set.add(listener);
  }

  private removeListener(accountId: string, listener: Listener): void {
    const set = this.listeners.get(accountId);
    if (!set) return;
    set.delete(listener);
    if (set.size === 0) this.listeners.delete(accountId);
  }
}
