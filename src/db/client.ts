/**
 * One drizzle database for both drivers: PGlite (embedded, default) and PostgreSQL through
 * postgres.js (when DATABASE_URL is set). Everything above this file sees the same `Db` type.
 */
import path from 'node:path';
import fs from 'node:fs';
import { sql, type SQL } from 'drizzle-orm';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import * as schema from './schema';

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;
/** Anything that runs queries: the database or an open transaction. */
export type Executor = Db | Tx;

export interface Database {
  db: Db;
  driver: 'pglite' | 'postgres';
  /** LISTEN on a channel (cross-instance signals such as cache invalidation); returns an unlisten. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /** NOTIFY outside any ledger transaction (it takes a cluster-wide lock at commit). */
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

function migrationsFolder(): string {
  // Compiled code runs from dist/src/db, ts-jest from src/db: find drizzle/ by walking up.
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'drizzle');
    if (fs.existsSync(path.join(candidate, 'meta', '_journal.json'))) return candidate;
  }
  throw new Error('drizzle/ migrations folder not found');
}

/** Any arbitrary number well away from others; serializes migrations when several instances start at once. */
const MIGRATION_LOCK_ID = 7_301_402;

export interface OpenOptions {
  databaseUrl: string | null;
  dataDir?: string | null; // null with no databaseUrl: an in-memory PGlite (tests)
  poolSize?: number;
  /** Called for every statement run through drizzle (tests count queries with it). */
  onQuery?: (query: string) => void;
}

function queryLogger(options: OpenOptions) {
  const onQuery = options.onQuery;
  return onQuery ? { logQuery: (query: string) => onQuery(query) } : false;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.databaseUrl) {
    const { default: postgres } = await import('postgres');
    const { drizzle } = await import('drizzle-orm/postgres-js');
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    // Migrations run on one dedicated connection holding an advisory lock, so two instances
    // starting together do not apply the same migration twice.
    const migrator = postgres(options.databaseUrl, { max: 1, onnotice: () => {} });
    try {
      await migrator`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
      await migrate(drizzle(migrator), { migrationsFolder: migrationsFolder() });
      await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    } finally {
      await migrator.end();
    }
    const client = postgres(options.databaseUrl, {
      max: options.poolSize ?? 20,
      onnotice: () => {},
    });
    const db = drizzle(client, { schema, logger: queryLogger(options) }) as unknown as Db;
    return {
      db, driver: 'postgres',
      listen: async (channel, onPayload) => {
        const { unlisten } = await client.listen(channel, onPayload);
        return unlisten;
      },
      notify: async (channel, payload) => { await client.notify(channel, payload); },
      close: () => client.end({ timeout: 5 }),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let dataDir: string | undefined;
  if (options.dataDir) {
    dataDir = path.resolve(options.dataDir);
    fs.mkdirSync(dataDir, { recursive: true });
  }
  const client = new PGlite(dataDir);
  await client.waitReady;
  const db = drizzle(client, { schema, logger: queryLogger(options) });
  await migrate(db, { migrationsFolder: migrationsFolder() });
  return {
    db: db as unknown as Db, driver: 'pglite',
    listen: (channel, onPayload) => client.listen(channel, onPayload),
    notify: async (channel, payload) => { await client.query(`select pg_notify($1, $2)`, [channel, payload]); },
    close: () => client.close(),
  };
}

/** Rows of a raw SQL statement, whichever driver ran it. */
export async function rows<T>(executor: Executor, query: ReturnType<typeof sql>): Promise<T[]> {
  const result = (await executor.execute(query)) as unknown;
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []) as T[];
}

/** A timestamp parameter for raw SQL (postgres.js does not serialize Date inside sql``). */
export function at(date: Date): SQL {
  return sql`${date.toISOString()}::timestamptz`;
}
