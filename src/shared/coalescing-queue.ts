/**
 * Coalesces concurrent work per key (charges: a lane of wallets; quotes: their inserts). A hot wallet is limited by its
 * row lock to about one commit per commit latency, and every statement costs CPU; instead, while one
 * batch of a key is in its database transaction, later items wait here and then run together in the
 * next transaction (one commit, a few multi-row statements). An idle key's item runs at once: no
 * timer, no added latency. Per process only; across processes row locks still serialize batches.
 */
import { AppError, ErrorCode } from './errors';

interface Waiting<I, R> {
  item: I;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

export type BatchRunner<I, R> = (key: string, items: I[]) => Promise<(R | Error)[]>;

export class CoalescingQueue<I, R> {
  private readonly queues = new Map<string, Waiting<I, R>[]>();

  constructor(
    private readonly run: BatchRunner<I, R>,
    /** Items that must run in a batch of their own (e.g. charges with pricing hooks). */
    private readonly runsAlone: (item: I) => boolean = () => false,
    private readonly batchSizeMax = 100,
    private readonly waitingMax = 10_000,
  ) {}

  submit(key: string, item: I): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (queue && queue.length >= this.waitingMax) {
        reject(new AppError(ErrorCode.RATE_LIMITED, 'too many requests are waiting; retry shortly', { limit: 'waiting', retryAfterSeconds: 1 }));
        return;
      }
      const idle = !queue;
      if (!queue) this.queues.set(key, (queue = []));
      queue.push({ item, resolve, reject });
      if (idle) void this.drain(key, queue);
    });
  }

  private async drain(key: string, queue: Waiting<I, R>[]): Promise<void> {
    while (queue.length > 0) {
      const batch = this.runsAlone(queue[0].item) ? queue.splice(0, 1) : this.takeBatch(queue);
      try {
        const results = await this.run(key, batch.map((w) => w.item));
        batch.forEach((w, i) => (results[i] instanceof Error ? w.reject(results[i]) : w.resolve(results[i])));
      } catch (error) {
        for (const w of batch) w.reject(error);
      }
    }
    this.queues.delete(key);
  }

  private takeBatch(queue: Waiting<I, R>[]): Waiting<I, R>[] {
    let n = 0;
    while (n < queue.length && n < this.batchSizeMax && !this.runsAlone(queue[n].item)) n++;
    return queue.splice(0, n);
  }
}
