/**
 * Live messages across instances through Redis pub/sub (REDIS_URL), with ioredis.
 *
 * Routing: ONE channel per deployment (LIVE_CHANNEL), which every instance subscribes to once at
 * start; each message names its accounts in a header, and an instance routes it to its local
 * subscribers by account (or drops it unparsed when it has none). So Redis sees one PUBLISH per commit
 * (not one per wallet or per subscriber), an instance holds one subscription whatever its number of
 * subscribers (no SUBSCRIBE/UNSUBSCRIBE churn as dashboards come and go, and no window where a new
 * subscriber's channel is not yet subscribed), at the price of every instance receiving every event
 * header (README, "Running several instances", has the measurements).
 *
 * Faults never reach a charge: `send` is fire-and-forget. While the publishing connection is not ready
 * a message is dropped at once (no offline queue: enableOfflineQueue false), and at most
 * PUBLISH_IN_FLIGHT_MAX publishes wait for Redis at a time (each for at most PUBLISH_TIMEOUT_MS), so a
 * slow or absent Redis costs neither memory nor latency. A dropped message is recovered from the
 * database: once the connection is back, this instance publishes `resync`, and every instance's
 * subscribers re-read what they missed. The subscribing connection resubscribes itself after each
 * reconnect and then signals `resync` locally (messages sent while it was away are gone). Every
 * `resyncIntervalSeconds` a resync also runs, which bounds how long a loss that no reconnect reveals
 * (an instance that died between its commit and its publish) stays unseen.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { logger } from '../../shared/logger';
import { decode, encode, encodeResync, openEnvelope, type LiveMessage, type LiveTransport, type ResyncReason } from './live-transport';

const CONNECT_TIMEOUT_MS = 2_000;
const PUBLISH_TIMEOUT_MS = 1_000;
/** Publishes awaiting Redis's answer; beyond this, messages are dropped (and recovered by a resync). */
const PUBLISH_IN_FLIGHT_MAX = 1_000;
const RECONNECT_INTERVAL_MAX_MS = 1_000;
const ERROR_LOG_INTERVAL_MS = 30_000;

export type PublishOutcome = 'ok' | 'down' | 'backlog' | 'failed';

/** Metrics hooks (src/server/metrics.ts). */
export interface LiveObserver {
  published?(outcome: PublishOutcome): void;
  /** A message from another instance: routed to local subscribers or skipped (none here), and how long after it was sent. */
  received?(routed: boolean, latencyMs: number): void;
  resynced?(reason: ResyncReason): void;
}

export interface RedisTransportOptions {
  url: string;
  channel: string;
  /** A resync runs this often as well (0: only on reconnects and peers' requests). */
  resyncIntervalSeconds: number;
  observer?: LiveObserver;
}

export class RedisTransport implements LiveTransport {
  readonly kind = 'redis' as const;
  /** This instance, so it drops its own messages (it delivered them locally already). */
  private readonly origin = randomBytes(8).toString('hex');
  private readonly messageHandlers = new Set<(message: LiveMessage) => void>();
  private readonly resyncHandlers = new Set<(reason: ResyncReason) => void>();
  private interested: (accountIds: readonly string[]) => boolean = () => true;
  private inFlight = 0;
  /** A message was dropped: the others are told to resync once the connection is back. */
  private lostSince = false;
  private subscribed = false;
  private closed = false;
  private lastErrorLogAt = 0;
  private readonly timer: NodeJS.Timeout | null;

  private constructor(private readonly pub: Redis, private readonly sub: Redis, private readonly options: RedisTransportOptions) {
    const observer = options.observer ?? {};
    pub.on('error', (error: Error) => this.logError('publish', error));
    sub.on('error', (error: Error) => this.logError('subscribe', error));
    pub.on('ready', () => {
      if (!this.lostSince) return;
      this.lostSince = false;
      this.publishRaw(encodeResync(this.origin, Date.now()));
    });
    sub.on('ready', () => void this.subscribe());
    sub.on('close', () => { this.subscribed = false; });
    sub.on('message', (_channel: string, data: string) => this.receive(data, observer));
    this.timer = options.resyncIntervalSeconds > 0 ? setInterval(() => this.resync('interval'), options.resyncIntervalSeconds * 1000) : null;
    this.timer?.unref();
  }

  /** Connects, waiting at most CONNECT_TIMEOUT_MS for the subscription (the server starts either way and catches up when Redis comes). */
  static async connect(options: RedisTransportOptions): Promise<RedisTransport> {
    const common = {
      connectTimeout: CONNECT_TIMEOUT_MS,
      retryStrategy: (attempt: number) => Math.min(attempt * 100, RECONNECT_INTERVAL_MAX_MS),
      enableOfflineQueue: false, // nothing waits for a connection: a publish while disconnected fails at once
    };
    const pub = new Redis(options.url, { ...common, maxRetriesPerRequest: 0, commandTimeout: PUBLISH_TIMEOUT_MS, enableAutoPipelining: true });
    const sub = new Redis(options.url, { ...common, maxRetriesPerRequest: 0, autoResubscribe: false }); // resubscribed on 'ready', then resync
    const transport = new RedisTransport(pub, sub, options);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, CONNECT_TIMEOUT_MS);
      transport.onReady = done;
      function done() {
        clearTimeout(timer);
        transport.onReady = null;
        resolve();
      }
    });
    return transport;
  }

  private onReady: (() => void) | null = null;

  send(message: LiveMessage): void {
    if (this.closed) return;
    this.publishRaw(encode(this.origin, Date.now(), message));
  }

  onMessage(handler: (message: LiveMessage) => void): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  onResync(handler: (reason: ResyncReason) => void): () => void {
    this.resyncHandlers.add(handler);
    return () => this.resyncHandlers.delete(handler);
  }

  setInterest(interested: (accountIds: readonly string[]) => boolean): void {
    this.interested = interested;
  }

  up(): number {
    return this.subscribed && this.pub.status === 'ready' ? 1 : 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.pub.disconnect();
    this.sub.disconnect();
  }

  private publishRaw(data: string): void {
    const observer = this.options.observer ?? {};
    if (this.pub.status !== 'ready') return this.lost('down');
    if (this.inFlight >= PUBLISH_IN_FLIGHT_MAX) return this.lost('backlog');
    this.inFlight += 1;
    this.pub.publish(this.options.channel, data).then(
      () => { this.inFlight -= 1; observer.published?.('ok'); },
      (error: Error) => { this.inFlight -= 1; this.logError('publish', error); this.lost('failed'); },
    );
  }

  private lost(outcome: Exclude<PublishOutcome, 'ok'>): void {
    this.lostSince = true;
    this.options.observer?.published?.(outcome);
    // Already connected again (a timeout, a full backlog): ask for the resync now rather than at the next reconnect.
    if (outcome !== 'down' && this.pub.status === 'ready' && this.inFlight < PUBLISH_IN_FLIGHT_MAX) {
      this.lostSince = false;
      this.inFlight += 1;
      this.pub.publish(this.options.channel, encodeResync(this.origin, Date.now())).then(
        () => { this.inFlight -= 1; },
        () => { this.inFlight -= 1; this.lostSince = true; },
      );
    }
  }

  private async subscribe(): Promise<void> {
    try {
      await this.sub.subscribe(this.options.channel);
    } catch (error) {
      this.logError('subscribe', error as Error); // the next 'ready' tries again
      return;
    }
    this.subscribed = true;
    this.onReady?.();
    // Whatever was published while this connection was away is gone: subscribers re-read it.
    this.resync('reconnect');
  }

  private receive(data: string, observer: LiveObserver): void {
    const envelope = openEnvelope(data);
    if (!envelope || envelope.origin === this.origin) return;
    if (envelope.type === 'resync') return this.resync('peer');
    if (envelope.type === 'events' && !this.interested(envelope.accountIds)) {
      observer.received?.(false, Date.now() - envelope.sentAtMs);
      return;
    }
    let message: LiveMessage;
    try {
      message = decode(envelope as typeof envelope & { type: LiveMessage['type'] });
    } catch (error) {
      logger.warn('live message dropped: malformed', { error: String(error) });
      return;
    }
    for (const handler of this.messageHandlers) handler(message);
    observer.received?.(true, Date.now() - envelope.sentAtMs);
  }

  private resync(reason: ResyncReason): void {
    if (this.closed) return;
    this.options.observer?.resynced?.(reason);
    for (const handler of this.resyncHandlers) handler(reason);
  }

  private logError(connection: string, error: Error): void {
    const now = Date.now();
    if (now - this.lastErrorLogAt < ERROR_LOG_INTERVAL_MS) return;
    this.lastErrorLogAt = now;
    logger.warn('live Redis unavailable; charges go on, subscribers catch up from the database when it is back', { connection, error: error.message });
  }
}
