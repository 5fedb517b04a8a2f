/**
 * The only place that wires things: config → database → services → schema → HTTP + WebSocket server.
 * `createApp` is what tests use; running this file starts the server.
 */
import 'reflect-metadata';
import { sql } from 'drizzle-orm';
import http from 'node:http';
import express from 'express';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { GraphQLError, execute, subscribe, type GraphQLSchema } from 'graphql';
import { loadConfig, type Config } from './config';
import { openDatabase, type Database } from './db/client';
import { systemClock, type Clock } from './shared/clock';
import { logger } from './shared/logger';
import { withTimeout } from './shared/timeout';
import { AppError, ErrorCode, serviceUnavailable } from './shared/errors';
import { AuthService } from './auth/auth.service';
import type { Viewer } from './auth/viewer';
import { AccountsService } from './modules/accounts';
import { WalletsService } from './modules/wallets';
import { AuditService, LedgerService, transactionsAfterSequence, type LedgerObserver } from './modules/ledger';
import { WalletEventHub } from './modules/events';
import { PricingService, RateCardCache } from './modules/pricing';
import { buildAppSchema } from './graphql/schema';
import { createContext, type Context } from './graphql/context';
import { loadersFor, type Services } from './graphql/services';
import { formatError, formatGraphQLError, serviceUnavailableStatus } from './graphql/errors';
import { isDatabaseUnavailable } from './db/faults';
import { checkedOperation, limitRules, queryCostPlugin } from './graphql/limits';
import { loadDemo } from './cli/demo';
import { Metrics } from './server/metrics';
import { RateLimits } from './server/rate-limit';

export interface App {
  services: Services;
  schema: GraphQLSchema;
  httpServer: http.Server;
  /** Starts listening; resolves to the base URL. */
  listen(port?: number): Promise<string>;
  /** Graceful: stops jobs and new work, lets in-flight requests finish, closes the database. */
  stop(): Promise<void>;
}

export interface AppOptions {
  config?: Readonly<Config>;
  clock?: Clock;
  /** An already open database (tests share one); otherwise opened from config. */
  database?: Database;
  /** Run the expiry job on a timer (off in tests, which call it directly). */
  runJobs?: boolean;
}

export async function createServices(config: Readonly<Config>, database: Database, clock: Clock, ledgerObserver: LedgerObserver = {}): Promise<Services> {
  const db = database.db;
  const accounts = new AccountsService(db, clock);
  const events = new WalletEventHub((accountId, after, limit) => transactionsAfterSequence(db, accountId, after, limit), config.subscriptionsPerAccountMax);
  const ledger = new LedgerService(database, clock, config, (rows) => events.publish(rows), ledgerObserver);
  const wallets = new WalletsService(db, clock);
  const rateCards = new RateCardCache(database);
  await rateCards.start();
  return {
    config, clock, database, db, accounts, events, ledger, wallets,
    auth: await AuthService.create(db, clock, config.tokenSecret),
    pricing: new PricingService(database, clock, config, accounts, wallets, rateCards, ledger),
    audit: new AuditService(database),
    createLoaders: loadersFor(db, accounts),
  };
}

export async function createApp(options: AppOptions = {}): Promise<App> {
  const config = options.config ?? loadConfig();
  const clock = options.clock ?? systemClock;
  const ownsDatabase = !options.database;
  const database = options.database ?? (await openDatabase({
    databaseUrl: config.databaseUrl, dataDir: config.dataDir, poolSize: config.databasePoolSize,
    connectTimeoutSeconds: config.databaseConnectTimeoutSeconds, statementTimeoutMs: config.databaseStatementTimeoutMs,
  }));
  const metrics = new Metrics();
  const services = await createServices(config, database, clock, metrics.ledgerObserver);
  const rateLimits = await RateLimits.create(config, { onLimited: metrics.onLimited });
  const schema = await buildAppSchema();
  const validationRules = limitRules(config);

  const app = express();
  app.disable('x-powered-by');
  app.use(metrics.httpMiddleware);
  const httpServer = http.createServer(app);
  let ready = true;

  const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: config.bodySizeLimitBytes });
  metrics.observe({
    webSocketConnections: () => wsServer.clients.size, subscriptions: () => services.events.subscriberCount(),
    database: { driver: database.driver, poolSize: config.databasePoolSize }, rateLimitStoreUp: rateLimits.storeUp,
  });
  // Connections opened with an API key, so revoking the key closes them (4403) and ends their subscriptions.
  const socketsByKey = new Map<string, Set<WebSocket>>();
  const stopClosingRevoked = services.auth.onRevoke((keyId) => {
    for (const socket of socketsByKey.get(keyId) ?? []) socket.close(4403, 'Forbidden: the API key was revoked');
    socketsByKey.delete(keyId);
  });
  const wsCleanup = useServer<Record<string, unknown>, { viewer?: Viewer; authorization?: string | null }>({
    schema,
    execute, subscribe,
    onConnect: async (ctx) => {
      try {
        const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        ctx.extra.authorization = typeof authorization === 'string' ? authorization : null;
        const viewer = await services.auth.authenticate(ctx.extra.authorization);
        ctx.extra.viewer = viewer;
        if (viewer.kind === 'key') {
          const socket = ctx.extra.socket;
          let sockets = socketsByKey.get(viewer.keyId);
          if (!sockets) socketsByKey.set(viewer.keyId, (sockets = new Set()));
          sockets.add(socket);
          socket.once('close', () => {
            sockets!.delete(socket);
            if (sockets!.size === 0 && socketsByKey.get(viewer.keyId) === sockets) socketsByKey.delete(viewer.keyId);
          });
        }
        return true;
      } catch (error) {
        // The database is away: 1013 "try again later" (graphql-ws clients reconnect), not a refusal.
        if (isDatabaseUnavailable(error)) ctx.extra.socket.close(1013, 'Service unavailable: retry later');
        return false; // closes with 4403 Forbidden
      }
    },
    // Each new subscription re-checks the credential, so a revoked key or an expired token opens nothing new.
    onSubscribe: async (ctx, _id, payload) => {
      // ctx.subscriptions holds this connection's operations, this one included.
      if (Object.keys(ctx.subscriptions).length > config.subscriptionsPerConnectionMax) {
        return [new AppError(ErrorCode.RATE_LIMITED, `at most ${config.subscriptionsPerConnectionMax} subscriptions per connection; complete one first`, {
          limit: 'subscriptionsPerConnection', subscriptionsMax: config.subscriptionsPerConnectionMax,
        }).toGraphQL()];
      }
      try {
        ctx.extra.viewer = await services.auth.authenticate(ctx.extra.authorization);
      } catch (error) {
        return [error instanceof AppError ? error.toGraphQL() : new GraphQLError('authentication failed', { originalError: error as Error })]; // formatted by onError
      }
      const limited = await rateLimits.admitWsOperation(ctx.extra.viewer, ctx.extra.request.socket.remoteAddress, payload);
      if (limited) return [limited];
      // Parsed, validated (graphql's rules and the limits) and costed here, with the variables, as over HTTP.
      return checkedOperation(schema, validationRules, config, payload);
    },
    context: (ctx): Context => createContext(ctx.extra.viewer ?? { kind: 'anonymous' }, services),
    onError: (_ctx, _id, _payload, errors) => errors.map(formatGraphQLError),
    onNext: (_ctx, _id, _payload, _args, result) => result.errors ? { ...result, errors: result.errors.map(formatGraphQLError) } : undefined,
  }, wsServer);

  const apollo = new ApolloServer<Context>({
    schema,
    formatError,
    validationRules,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // main() handles SIGTERM/SIGINT itself (drain, close the database, exit 0); Apollo's own handler would stop the server a second time.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      queryCostPlugin(config),
      serviceUnavailableStatus,
      rateLimits.plugin,
      metrics.plugin,
      { async serverWillStart() { return { async drainServer() { await wsCleanup.dispose(); } }; } },
      // Subscriptions run over graphql-ws only; over HTTP their resolvers would get no event and fail as internal errors.
      {
        async requestDidStart() {
          return {
            async didResolveOperation({ operation }) {
              if (operation?.operation === 'subscription') {
                throw new GraphQLError('subscriptions need the graphql-ws WebSocket protocol on the /graphql endpoint', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
              }
            },
          };
        },
      },
    ],
  });
  await apollo.start();

  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/metrics', metrics.handler(config.metricsToken));
  app.get('/readyz', async (_req, res) => {
    try {
      if (!ready) throw new Error('shutting down');
      await withTimeout(services.db.execute(sql`select 1`), config.readinessTimeoutMs);
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'not ready' });
    }
  });
  // Once stop() has begun, a request that still arrives on an open keep-alive connection is not run:
  // the drain may already have half-closed that connection, so its answer could never be delivered
  // and a charge would take effect unseen. The client sees 503 (or a closed connection) and retries.
  app.use('/graphql', (_req, res, next) => {
    if (ready) return next();
    res.setHeader('connection', 'close');
    res.status(503).json({ errors: [{ message: 'the server is shutting down; retry', extensions: serviceUnavailable().clientExtensions }] });
  });
  app.use('/graphql', express.json({ limit: config.bodySizeLimitBytes }), expressMiddleware(apollo, {
    context: async ({ req }) => {
      try {
        const viewer = await services.auth.authenticate(req.headers.authorization);
        await rateLimits.admitCaller(viewer, req.ip); // RATE_LIMITED: 429 with Retry-After, before parsing
        return createContext(viewer, services);
      } catch (error) {
        if (isDatabaseUnavailable(error)) throw serviceUnavailable('the database is unreachable; retry').toGraphQL();
        if (error instanceof AppError) {
          await rateLimits.admitCaller({ kind: 'anonymous' }, req.ip); // a refused credential counts against the client address
          // A bad credential is the client's doing: 401, not the 500 Apollo gives a failed context.
          const g = error.toGraphQL();
          throw new GraphQLError(g.message, { extensions: { ...g.extensions, http: { status: error.code === 'UNAUTHENTICATED' ? 401 : 400 } } });
        }
        throw error;
      }
    },
  }));
  // Errors before GraphQL (body too large, malformed JSON): a JSON error, never Express's HTML page with a stack trace.
  app.use((error: { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown }, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    if (res.headersSent) return next(error);
    const raw = Number(error?.status ?? error?.statusCode);
    const status = Number.isInteger(raw) && raw >= 400 && raw < 500 ? raw : 500;
    if (status === 500) logger.error('http error', { error: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) });
    const message = status === 413 ? `request body exceeds ${config.bodySizeLimitBytes} bytes`
      : status < 500 && error.expose === true && typeof error.message === 'string' ? error.message
      : status < 500 ? 'bad request' : 'Internal server error';
    res.status(status).json({ errors: [{ message, extensions: { code: status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR' } }] });
  });

  let timer: NodeJS.Timeout | null = null;
  let jobRunning: Promise<unknown> | null = null;
  if (options.runJobs ?? true) {
    timer = setInterval(() => {
      if (jobRunning) return;
      // Each job on its own: one failing (e.g. the database is away) does not stop the other.
      const run = (job: string, work: () => Promise<unknown>) => metrics.runJob(job, work)
        .catch((error) => logger.error(`${job} job failed`, { error: String(error) }));
      jobRunning = run('expiry', () => services.ledger.runExpiry())
        .then(() => run('quote-purge', () => services.pricing.purgeExpiredQuotes()))
        .finally(() => { jobRunning = null; });
    }, config.jobIntervalSeconds * 1000);
    timer.unref();
  }

  return {
    services, schema, httpServer,
    listen: (port = config.port) => new Promise((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, config.host, () => {
        const address = httpServer.address();
        resolve(`http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${typeof address === 'object' && address ? address.port : port}`);
      });
    }),
    stop: async () => {
      ready = false;
      if (timer) clearInterval(timer);
      await jobRunning;
      stopClosingRevoked();
      await apollo.stop(); // drains: stops accepting, waits for in-flight requests, closes sockets
      await services.pricing.cache.stop();
      await rateLimits.close();
      if (ownsDatabase) await database.close();
    },
  };
}

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApp({ config });
  const url = await app.listen();
  const demo = config.loadDemo ? await loadDemo(app.services) : null;
  logger.info('credits server listening', { endpoint: `${url}/graphql`, database: app.services.database.driver });
  const lines = [`Credits server ready at ${url}/graphql  (database: ${app.services.database.driver === 'pglite' ? `PGlite in ${config.dataDir}` : 'PostgreSQL'})`];
  if (demo) {
    lines.push(`Demo account: ${demo.accountId} (${demo.accountName})`);
    if (demo.adminKey) lines.push(`Admin key:  ${demo.adminKey}`, 'User token: ' + demo.userToken);
    else lines.push('Admin key:  created on first start (run `npm run create-admin-key` for a new one)', 'User token: ' + demo.userToken);
  }
  process.stdout.write(lines.join('\n') + '\n');
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    const startedAt = Date.now();
    logger.info('shutting down', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown did not finish in time; exiting', { graceSeconds: config.shutdownGraceSeconds });
      process.exit(1);
    }, config.shutdownGraceSeconds * 1000);
    force.unref();
    try {
      await app.stop();
    } catch (error) {
      logger.error('shutdown failed', { error: error instanceof Error ? error.stack : String(error) });
      process.exit(1);
    }
    logger.info('stopped', { signal, ms: Date.now() - startedAt });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

if (require.main === module) {
  // A promise nobody awaited failed (e.g. a database fault in background work): log it and stay up.
  // An uncaught exception still ends the process (its state is unknown; a supervisor restarts it).
  process.on('unhandledRejection', (reason) => {
    logger.error('unhandled rejection', { error: reason instanceof Error ? reason.stack : String(reason) });
  });
  main().catch((error) => {
    logger.error('failed to start', { error: error instanceof Error ? error.stack : String(error) });
    process.exit(1);
  });
}
