/**
 * The current published rate card, kept in memory so pricing never reads the card from the
 * database per request. Published versions are immutable, so any version read once is kept (up to
 * VERSIONS_CACHED). Publishing invalidates the current card here and, through LISTEN/NOTIFY, on
 * every other instance sharing the database; a periodic refresh bounds staleness if a notification
 * is ever lost (e.g. while a connection was re-established).
 */
import type { Database, Executor } from '../../db/client';
import { logger } from '../../shared/logger';
import * as repo from './pricing.repo';
import type { StoredRateCard } from './rate-card.content';
import { readStored } from './rate-card.content';

export const RATE_CARD_CHANNEL = 'rate_card_published';
const VERSIONS_CACHED = 50;

export interface CachedCard {
  version: number;
  card: StoredRateCard;
}

export class RateCardCache {
  private current: Promise<CachedCard | null> | null = null;
  /** The value `current` resolved to (undefined while unknown or loading). */
  private settled: CachedCard | null | undefined = undefined;
  private readonly versions = new Map<number, CachedCard>();
  private unlisten: (() => Promise<void>) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly database: Database, private readonly refreshSeconds = 30) {}

  async start(): Promise<void> {
    this.unlisten = await this.database.listen(RATE_CARD_CHANNEL, () => this.invalidate());
    this.timer = setInterval(() => this.invalidate(), this.refreshSeconds * 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.unlisten?.().catch(() => {});
  }

  invalidate(): void {
    this.current = null;
    this.settled = undefined;
  }

  /** The current published card, or null when none was published yet. */
  async getCurrent(): Promise<CachedCard | null> {
    if (!this.current) {
      const loading = repo.currentVersion(this.database.db).then((row) => {
        const card = row ? this.remember(row) : null;
        if (this.current === loading) this.settled = card;
        return card;
      });
      this.current = loading;
      loading.catch((error) => {
        if (this.current === loading) this.current = null;
        logger.warn('rate card load failed', { error: String(error) });
      });
    }
    return this.current;
  }

  async getVersion(version: number): Promise<CachedCard | null> {
    return this.getVersionIn(this.database.db, version);
  }

  /**
   * The current card for code running inside a database transaction: the cached card when it is
   * loaded, else read through `executor`. Never waits on a load through another connection: on
   * PGlite (one connection) a query outside the open transaction waits for it to end, so awaiting
   * one from inside it would deadlock.
   */
  async getCurrentIn(executor: Executor): Promise<CachedCard | null> {
    if (this.settled !== undefined) return this.settled;
    const row = await repo.currentVersion(executor);
    return row ? this.remember(row) : null;
  }

  /** A published version, read through `executor` when not cached (see getCurrentIn). */
  async getVersionIn(executor: Executor, version: number): Promise<CachedCard | null> {
    const cached = this.versions.get(version);
    if (cached) return cached;
    const row = await repo.findVersion(executor, version);
    return row && row.status === 'PUBLISHED' ? this.remember(row) : null;
  }

  private remember(row: repo.RateCardRow): CachedCard {
    const entry = { version: row.version!, card: readStored(row.content) };
    if (this.versions.size >= VERSIONS_CACHED) this.versions.delete(this.versions.keys().next().value!);
    this.versions.set(entry.version, entry);
    return entry;
  }
}
