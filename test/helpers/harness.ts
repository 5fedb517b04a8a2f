/**
 * Test harness: a real server (HTTP + graphql-ws) on a real database — an in-memory PGlite per
 * test file by default, or the PostgreSQL named by DATABASE_URL (CI runs both). Each test creates
 * its own accounts, so files never see each other's wallets.
 */
import fs from 'node:fs';
import 'reflect-metadata';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { createApp, type App } from '../../src/main';
import { loadConfig, type Config } from '../../src/config';
import { openDatabase, type Database } from '../../src/db/client';
import { ManualClock } from '../../src/shared/clock';
import {
  AuditLedgerDocument, CreateAccountDocument, createCreditsClient, CreditsApiError, GrantCreditsDocument, TransactionsDocument, WalletDocument, type CreditsClient,
  type CreditsClientOptions, type GrantCreditsInput, type TransactionFieldsFragment, type TransactionFilter, type VariablesOf, type WalletFieldsFragment,
} from '../../src/client';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

process.env.LOG_LEVEL = process.env.LOG_LEVEL ?? 'silent';

/** A raw GraphQL answer; `T` is what the caller expects under `data` (its own assertions check it). */
export interface GqlResult<T = unknown> {
  data?: T;
  errors?: { message: string; extensions?: Record<string, unknown>; path?: (string | number)[] }[];
}

export interface TestApp {
  app: App;
  url: string;
  clock: ManualClock;
  database: Database;
  adminKey: string;
  gql<T = unknown>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<GqlResult<T>>;
  /** Like gql, but fails the test on any error and returns data. */
  ok<T = unknown>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<T>;
  /** Runs and expects exactly one error; returns it. */
  fails(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<{ message: string; extensions: Record<string, unknown> }>;
  /** Runs a typed operation through the client (no retries) and returns its data; token defaults to the admin key. */
  op<R, V>(document: TypedDocumentNode<R, V>, variables: VariablesOf<V>, token?: string | null): Promise<R>;
  /** Runs a typed operation and expects it to fail; returns the error. */
  opFails<R, V>(document: TypedDocumentNode<R, V>, variables: VariablesOf<V>, token?: string | null): Promise<CreditsApiError>;
  /** A typed client for this server (closed with the harness); token defaults to the admin key. */
  client(token?: string | null, options?: Partial<CreditsClientOptions>): CreditsClient;
  createAccount(name?: string, extra?: Record<string, unknown>): Promise<string>;
  grant(accountId: string, amount: string, extra?: Record<string, unknown>): Promise<TransactionFieldsFragment>;
  ws(token?: string | null): Client;
  key(role: 'ADMIN' | 'SERVICE' | 'READONLY'): Promise<string>;
  userToken(accountId: string): Promise<string>;
  audit(): Promise<{ ok: boolean; violations: string[] }>;
  /** The account's wallet (admin key); fails the test when there is none. */
  wallet(accountId: string): Promise<WalletFieldsFragment>;
  /** The account's newest 100 ledger transactions (admin key), newest first. */
  history(accountId: string, filter?: TransactionFilter): Promise<TransactionFieldsFragment[]>;
  /** Number of SQL statements the server ran while `fn` ran (authentication is cached after first use). */
  countQueries(fn: () => Promise<unknown>): Promise<number>;
  close(): Promise<void>;
}

let counter = 0;
export const uniqueKey = (prefix = 'k') => `${prefix}-${process.pid}-${Date.now()}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

export const isPostgres = () => Boolean(process.env.DATABASE_URL);

export interface TestAppOptions {
  /** An already open database, closed by close(); countQueries then counts nothing. Default: a new one per call. */
  database?: Database;
}

let template: Blob | undefined;
/** The migrated PGlite dump of test/helpers/pglite-template.ts (jest globalSetup), when there is one. */
function pgliteTemplate(): Blob | undefined {
  const file = process.env.CREDITS_PGLITE_TEMPLATE;
  if (!file || !fs.existsSync(file)) return undefined;
  template ??= new Blob([fs.readFileSync(file)]);
  return template;
}

export async function startTestApp(overrides: Partial<Config> = {}, options: TestAppOptions = {}): Promise<TestApp> {
  // Review holds (velocity, repeats) are tested where they are the subject (reviews.test.ts passes the real
  // defaults): elsewhere big charges and repeated generations on fresh accounts must not put wallets on hold.
  overrides = { velocityFloorMillisDefault: Number.MAX_SAFE_INTEGER, fingerprintRepeatsDefault: Number.MAX_SAFE_INTEGER, ...overrides };
  const config = loadConfig({ port: 0, host: '127.0.0.1', databaseUrl: process.env.DATABASE_URL || null, dataDir: '', loadDemo: false, ...overrides });
  const clock = new ManualClock(new Date());
  let queries = 0;
  const database = options.database
    ?? await openDatabase({
      databaseUrl: config.databaseUrl, dataDir: null, poolSize: config.databasePoolSize, onQuery: () => { queries += 1; },
      loadDataDir: config.databaseUrl ? undefined : pgliteTemplate(),
    });
  const app = await createApp({ config, clock, database, runJobs: false });
  const url = await app.listen(0);
  const adminKey = (await app.services.auth.createApiKey('test admin', 'ADMIN')).secret;
  const sockets: Client[] = [];
  const clients: CreditsClient[] = [];
  const clientsByToken = new Map<string | null, CreditsClient>();
  const client = (token: string | null | undefined = adminKey, options: Partial<CreditsClientOptions> = {}): CreditsClient => {
    const created = createCreditsClient({ url: `${url}/graphql`, token, webSocketImpl: WebSocket, webSocket: { retryAttempts: 0 }, ...options });
    clients.push(created);
    return created;
  };
  /** Tests see every error as it is: retrying is the client tests' subject, not the API tests'. */
  const clientFor = (token: string | null) => {
    let found = clientsByToken.get(token);
    if (!found) clientsByToken.set(token, (found = client(token, { retry: { maxAttempts: 1 } })));
    return found;
  };
  const op = <R, V>(document: TypedDocumentNode<R, V>, variables: VariablesOf<V>, token?: string | null): Promise<R> =>
    (clientFor(token === undefined ? adminKey : token).request as (d: typeof document, v: typeof variables) => Promise<R>)(document, variables);
  const opFails = async <R, V>(document: TypedDocumentNode<R, V>, variables: VariablesOf<V>, token?: string | null): Promise<CreditsApiError> => {
    try {
      const data = await op(document, variables, token);
      throw new Error(`expected an error, got ${JSON.stringify(data)}`);
    } catch (error) {
      if (!(error instanceof CreditsApiError)) throw error;
      if (error.errors.length !== 1) throw new Error(`expected one error, got ${JSON.stringify(error.errors)}`, { cause: error });
      return error;
    }
  };

  const gql = async <T,>(query: string, variables: Record<string, unknown> = {}, token: string | null | undefined = adminKey): Promise<GqlResult<T>> => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GqlResult<T>;
  };
  const ok = async <T,>(query: string, variables?: Record<string, unknown>, token?: string | null): Promise<T> => {
    const result = await gql<T>(query, variables, token === undefined ? adminKey : token);
    if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data as T;
  };
  const fails = async (query: string, variables?: Record<string, unknown>, token?: string | null) => {
    const result = await gql(query, variables, token === undefined ? adminKey : token);
    if (!result.errors || result.errors.length !== 1) throw new Error(`expected one error, got ${JSON.stringify(result)}`);
    return { message: result.errors[0].message, extensions: result.errors[0].extensions ?? {} };
  };

  const harness: TestApp = {
    app, url, clock, database, adminKey, gql, ok, fails, op, opFails, client,
    async createAccount(name = 'Test account', extra = {}) {
      const data = await op(CreateAccountDocument, { input: { name, kind: 'USER', ...extra } });
      return data.createAccount.id;
    },
    async grant(accountId, amount, extra = {}) {
      const input = { accountId, amount, source: 'PURCHASE', idempotencyKey: uniqueKey('grant'), ...extra } as GrantCreditsInput;
      return (await op(GrantCreditsDocument, { input })).grantCredits;
    },
    ws(token = adminKey) {
      const client = createClient({
        url: url.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, lazy: true, retryAttempts: 0,
        connectionParams: token ? { authorization: `Bearer ${token}` } : {},
      });
      sockets.push(client);
      return client;
    },
    async key(role) {
      return (await app.services.auth.createApiKey(`test ${role}`, role)).secret;
    },
    async userToken(accountId) {
      return app.services.auth.issueUserToken(accountId, 600).token;
    },
    async wallet(accountId) {
      const found = (await op(WalletDocument, { accountId })).wallet;
      if (!found) throw new Error(`no wallet ${accountId}`);
      return found;
    },
    async history(accountId, filter) {
      return (await op(TransactionsDocument, { accountId, first: 100, filter })).transactions.edges.map((e) => e.node);
    },
    async audit() {
      const { ok: passed, violations } = (await op(AuditLedgerDocument, {})).auditLedger;
      return { ok: passed, violations };
    },
    async countQueries(fn) {
      const before = queries;
      await fn();
      return queries - before;
    },
    async close() {
      await Promise.all(sockets.map(async (s) => s.dispose()));
      await Promise.all(clients.map((c) => c.close()));
      await app.stop();
      await database.close();
    },
  };
  return harness;
}
