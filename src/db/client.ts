/**
 * One drizzle database for both drivers: PGlite (embedded, default) and PostgreSQL through
 * postgres.js (when DATABASE_URL is set). Everything above this file sees the same `Db` type.
 */
import path from 'node:path';
import fs from 'node:fs';
import { sql, type AnyColumn, type SQL } from 'drizzle-orm';
import type { ExtractTablesWithRelations } from 'drizzle-orm';
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from 'drizzle-orm/pg-core';
import * as schema from './schema';
import { lockDataDir, type DataDirLock } from './data-dir-lock';
import { loadPatchedPostgres } from './postgres-driver-patch';
import { preparePostgresStatements } from './prepared-statements';

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

const RECONNECT_DELAY_SECONDS_MAX = 1;

/** Any arbitrary number well away from others; serializes migrations when several instances start at once. */
const MIGRATION_LOCK_ID = 7_301_402;

export interface OpenOptions {
  databaseUrl: string | null;
  dataDir?: string | null; // null with no databaseUrl: an in-memory PGlite (tests)
  poolSize?: number;
  /** PostgreSQL only: give up opening a connection after this long (the database is down or unreachable). */
  connectTimeoutSeconds?: number;
  /** PostgreSQL only: the server cancels a statement that runs longer (and a session idle in a transaction 3× as long). */
  statementTimeoutMs?: number;
  /** Called for every statement run through drizzle (tests count queries with it). */
  onQuery?: (query: string) => void;
  /** The migrations to apply; default drizzle/ (a test applies the earlier ones to upgrade a database with data). */
  migrationsFolder?: string;
  /**
   * In-memory PGlite only: start from this dump of a data folder (PGlite's dumpDataDir) instead of an
   * empty one. Tests start each file from a migrated template: booting an empty PGlite and migrating
   * it costs seconds per file, loading the dump a fraction of that. Migrations still run (those the
   * dump has are skipped).
   */
  loadDataDir?: Blob;
}

function queryLogger(options: OpenOptions) {
  const onQuery = options.onQuery;
  return onQuery ? { logQuery: (query: string) => onQuery(query) } : false;
}

export async function openDatabase(options: OpenOptions): Promise<Database> {
  if (options.databaseUrl) {
    const postgres = loadPatchedPostgres();
    const { drizzle, PostgresJsSession } = await import('drizzle-orm/postgres-js');
    const { migrate } = await import('drizzle-orm/postgres-js/migrator');
    // Migrations run on one dedicated connection holding an advisory lock, so two instances
    // starting together do not apply the same migration twice.
    const migrator = postgres(options.databaseUrl, { max: 1, connect_timeout: options.connectTimeoutSeconds ?? 5, onnotice: () => {} });
    try {
      await migrator`select pg_advisory_lock(${MIGRATION_LOCK_ID})`;
      await migrate(drizzle(migrator), { migrationsFolder: options.migrationsFolder ?? migrationsFolder() });
      await migrator`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`;
    } finally {
      await migrator.end();
    }
    // From here on, fixed statements run prepared: one round trip, not two (prepared-statements.ts). After
    // the migrations, so their one-off statements take no place among the prepared texts.
    preparePostgresStatements(PostgresJsSession);
    // Bounded waits: while the database is away, requests fail within seconds (as SERVICE_UNAVAILABLE)
    // instead of queueing behind connection attempts; a statement stuck on a lock is cancelled.
    const statementTimeoutMs = options.statementTimeoutMs ?? 10_000;
    const client = postgres(options.databaseUrl, {
      max: options.poolSize ?? 20,
      connect_timeout: options.connectTimeoutSeconds ?? 5,
      // postgres.js waits up to 20 s (growing with each failed attempt, shared by the pool) before a
      // closed connection reconnects, and queries queue behind it: after a restart that is 20 s of
      // stalled requests. Reconnect within a second instead; on loopback or a LAN that costs nothing.
      backoff: (attempt: number) => Math.min(0.05 * 2 ** attempt, RECONNECT_DELAY_SECONDS_MAX),
      connection: { statement_timeout: statementTimeoutMs, idle_in_transaction_session_timeout: 3 * statementTimeoutMs },
      onnotice: () => {},
    });
    const db = drizzle(client, { schema, logger: queryLogger(options) }) as unknown as Db;
    return {
      db, driver: 'postgres',
      listen: async (channel, onPayload) => {
        const subscription = await client.listen(channel, onPayload);
        return () => subscription.unlisten();
      },
      notify: async (channel, payload) => { await client.notify(channel, payload); },
      close: () => client.end({ timeout: 5 }),
    };
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  let dataDir: string | undefined;
  let lock: DataDirLock | null = null;
  if (options.dataDir) {
    dataDir = path.resolve(options.dataDir);
    fs.mkdirSync(dataDir, { recursive: true });
    lock = lockDataDir(dataDir, options.dataDir); // one process per folder: a second opener is refused
  }
  const client = dataDir === undefined && options.loadDataDir ? new PGlite({ loadDataDir: options.loadDataDir }) : new PGlite(dataDir);
  const db = drizzle(client, { schema, logger: queryLogger(options) });
  try {
    await client.waitReady;
    await migrate(db, { migrationsFolder: options.migrationsFolder ?? migrationsFolder() });
  } catch (error) {
    lock?.release();
    throw error;
  }
  return {
    db: db as unknown as Db, driver: 'pglite',
    listen: (channel, onPayload) => client.listen(channel, onPayload),
    notify: async (channel, payload) => { await client.query(`select pg_notify($1, $2)`, [channel, payload]); },
    close: async () => {
      try {
        await client.close();
      } finally {
        lock?.release();
      }
    },
  };
}

/** Rows of a raw SQL statement, whichever driver ran it. */
export async function rows<T>(executor: Executor, query: ReturnType<typeof sql>): Promise<T[]> {
  const result: unknown = await executor.execute(query);
  if (Array.isArray(result)) return result as T[];
  return ((result as { rows?: T[] }).rows ?? []);
}

/** A timestamp parameter for raw SQL (postgres.js does not serialize Date inside sql``). */
export function at(date: Date): SQL {
  return sql`${date.toISOString()}::timestamptz`;
}

/**
 * `column = any($1::uuid[])`: one statement text whatever the number of ids (an `in ($1, $2, …)`
 * list has a text per count, which cannot be prepared: see prepared-statements.ts). The ids go as
 * one array literal, each element quoted, so a malformed id fails the cast as it would alone.
 */
export function anyUuid(column: AnyColumn, ids: readonly string[]): SQL {
  const literal = `{${ids.map((id) => `"${id.replace(/["\\]/g, '\\$&')}"`).join(',')}}`;
  return sql`${column} = any(${literal}::uuid[])`;
}
