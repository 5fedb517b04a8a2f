/**
 * The only place that wires things: config → database → services → schema → HTTP + WebSocket server.
 * The pieces of the server are in src/server/ (Apollo and the /graphql route, graphql-ws, health,
 * HTTP errors, metrics, rate limits, jobs); this file composes them. `createApp` is what tests use;
 * running this file starts the server.
 */
import 'reflect-metadata';
import http from 'node:http';
import express from 'express';
import type { GraphQLSchema } from 'graphql';
import { loadConfig, type Config } from './config';
import { openDatabase, type Database } from './db/client';
import { systemClock, type Clock } from './shared/clock';
import { logger } from './shared/logger';
import { AuthService } from './auth/auth.service';
import { AccessService } from './auth/access';
import { AccountsService } from './modules/accounts';
import { WalletsService } from './modules/wallets';
import { AuditService, LedgerService, type LedgerObserver } from './modules/ledger';
import { InProcessTransport, RedisTransport, WalletEventHub, databaseLiveStore, type LiveObserver } from './modules/events';
import { PricingService, RateCardCache } from './modules/pricing';
import { PlansService } from './modules/plans';
import { PurchasesService, TestPaymentProvider, webhookRoute } from './modules/purchases';
import { AlertsService, type AlertRow } from './modules/alerts';
import { EmailService } from './modules/email';
import { UsageService } from './modules/usage';
import { ReportsService } from './modules/reports';
import { UsageReportService } from './modules/reports';
import { ActivityService } from './modules/activity';
import { exportsRoute } from './modules/exports';
import { AdminAlertsService } from './modules/alerts';
import { ReconciliationService } from './modules/reconciliation';
import { AdviceService } from './modules/advice';
import { TeamBudgetRules, TeamsService } from './modules/teams';
import { getOrCreateSetting } from './auth/auth.repo';
import { randomSecret } from './shared/ids';
import { buildAppSchema } from './graphql/schema';
import type { Services } from './graphql/services';
import { loadersFor } from './graphql/loaders';
import { limitRules } from './graphql/limits';
import { loadDemo } from './cli/demo';
import { Metrics } from './server/metrics';
import { RateLimits } from './server/rate-limit';
import { ReviewsService } from './modules/reviews';
import { startGraphQLWebSocket } from './server/websocket';
import { graphqlRoute, startApollo } from './server/apollo';
import { mountHealth } from './server/health';
import { mountDashboard } from './server/dashboard';
import { httpErrorHandler } from './server/http-errors';
import { startJobs, type JobTimer } from './server/jobs';

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

export async function createServices(config: Readonly<Config>, database: Database, clock: Clock, ledgerObserver: LedgerObserver = {}, liveObserver: LiveObserver = {}): Promise<Services> {
  const db = database.db;
  const accounts = new AccountsService(db, clock);
  // Live events, alerts and revocations: in-process, or through Redis to every instance (README, "Running several instances").
  const live = config.redisUrl
    ? await RedisTransport.connect({ url: config.redisUrl, channel: config.liveChannel, resyncIntervalSeconds: config.liveResyncSeconds, observer: liveObserver })
    : new InProcessTransport();
  const events = new WalletEventHub({ store: databaseLiveStore(db), subscriptionsPerAccountMax: config.subscriptionsPerAccountMax, transport: live, clock });
  // After commit: live events, then the auto top-up check (in the background; it never delays a charge).
  let purchases: PurchasesService | null = null;
  const ledger = new LedgerService(database, clock, config, (rows, raised) => {
    events.publish(rows, raised as AlertRow[]);
    purchases?.afterCommit(rows);
  }, ledgerObserver);
  const wallets = new WalletsService(db, clock);
  const rateCards = new RateCardCache(database);
  await rateCards.start();
  const alerts = new AlertsService(database, clock);
  ledger.attachAlerts(alerts); // low-credit levels are checked in the database transaction of every operation
  const email = new EmailService(database, clock, config);
  alerts.attachEmails(email); // an alert's email goes to the outbox in the alert's database transaction
  const plans = new PlansService(database, clock, ledger, config, alerts);
  ledger.attachPlans(plans); // due renewals run lazily under the wallet lock; gating refusals name plans
  ledger.attachUseRules(new TeamBudgetRules(alerts)); // member budgets are checked and counted in each charge's database transaction
  const teams = new TeamsService(database, clock, config);
  teams.attachSettle((accountId) => ledger.settleWallet(accountId)); // a read after a period end renews it first
  wallets.attachSettle((accountId) => ledger.settleWallet(accountId));
  purchases = new PurchasesService(database, clock, config, ledger, plans, alerts);
  plans.attachBilling(purchases); // paid plan periods are paid through the provider
  await purchases.loadAutoTopUpRules();
  // Forecast alerts are raised by the forecasts job and pushed live after their commit.
  const usage = new UsageService(database, clock, config, alerts, (raised) => events.publishAlerts(raised));
  const adminAlerts = new AdminAlertsService(database, clock); // raised in the transaction of what they announce (a reconciliation)
  const reviews = new ReviewsService(database, clock, config, adminAlerts);
  ledger.attachUseRules(reviews.rules); // velocity and fingerprint review holds (after the teams budget rule)
  const auth = await AuthService.create(db, clock, config.tokenSecret);
  // A key revoked through this instance is announced to the others, which close its sockets too.
  auth.onRevoke((keyId, where) => { if (where === 'here') live.send({ type: 'revoked', keyId }); });
  live.onMessage((message) => { if (message.type === 'revoked') auth.revokedElsewhere(message.keyId); });
  return {
    config, clock, database, db, accounts, events, ledger, wallets, plans, purchases, alerts, email,
    usage, reports: new ReportsService(database), activity: new ActivityService(db), auth,
    pricing: new PricingService(database, clock, config, wallets, rateCards, ledger),
    audit: new AuditService(database),
    usageReport: new UsageReportService(database),
    adminAlerts, reconciliation: new ReconciliationService(database, clock, adminAlerts),
    advice: new AdviceService(database, clock, accounts, plans, purchases),
    access: new AccessService(db),
    teams,
    reviews,
    createLoaders: loadersFor(db, accounts, plans, purchases, usage),
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
  // Both may wait (at most 2 s each) for Redis: at once, not one after the other.
  const [services, rateLimits] = await Promise.all([
    createServices(config, database, clock, metrics.ledgerObserver, metrics.liveObserver),
    RateLimits.create(config, { onLimited: metrics.onLimited }),
  ]);
  rateLimits.attachPlanLimits(services.reviews.planLimits); // per-plan requests per minute (README, "Rate limits")
  const schema = await buildAppSchema();
  const validationRules = limitRules(config);
  let stopping = false;
  const isStopping = () => stopping;

  const app = express();
  app.disable('x-powered-by');
  app.use(metrics.httpMiddleware);
  const httpServer = http.createServer(app);
  const webSocket = startGraphQLWebSocket({ httpServer, schema, validationRules, config, services, rateLimits, onLiveExecution: metrics.onLiveExecution });
  metrics.observe({
    webSocketConnections: () => webSocket.server.clients.size, subscriptions: () => services.events.subscriberCount(),
    alertSubscriptions: () => services.events.alertSubscriberCount(), liveTransportUp: () => services.events.transport.up(),
    database: { driver: database.driver, poolSize: config.databasePoolSize }, rateLimitStoreUp: rateLimits.storeUp,
  });
  const apollo = await startApollo({ schema, validationRules, httpServer, config, rateLimits, metrics, onDrain: () => webSocket.dispose() });

  mountHealth(app, { db: services.db, readinessTimeoutMs: config.readinessTimeoutMs, isStopping });
  mountDashboard(app); // the page bundled by `npm run build` (503 until it is built)
  // Payments: the webhook (its secret from config, or generated once and kept in the database) and the provider.
  const webhookSecret = config.paymentWebhookSecret ?? await getOrCreateSetting(services.db, 'payment_webhook_secret', randomSecret(32));
  let baseUrl = config.publicUrl ?? `http://localhost:${config.port}`;
  services.email.attachBaseUrl(() => baseUrl);
  const provider = new TestPaymentProvider({
    secret: webhookSecret, baseUrl: () => baseUrl, nowSeconds: () => Math.floor(clock.now().getTime() / 1000),
    duplicatePercent: config.testProviderDuplicatePercent,
    describe: (id) => services.purchases.describeForCheckout(id), cardDeclines: (id) => services.purchases.testCardDeclines(id),
  });
  services.purchases.attachProvider(provider);
  provider.mount(app);
  app.use('/webhooks/payments', webhookRoute({ purchases: services.purchases, clock, secret: webhookSecret, provider: provider.name, onOutcome: metrics.onPaymentWebhook }));
  app.get('/metrics', metrics.handler(config.metricsToken));
  app.use('/reports', exportsRoute({ services, rateLimits, isStopping, usageReport: services.usageReport })); // CSV exports (README, "Exports (CSV)")
  app.use('/graphql', ...graphqlRoute({ apollo, config, services, rateLimits, isStopping }));
  app.use(httpErrorHandler(config.bodySizeLimitBytes));

  const jobs: JobTimer | null = (options.runJobs ?? true) ? startJobs([
    { name: 'renewals', run: () => services.plans.runRenewals(config.jobBatchSize) },
    { name: 'expiry', run: () => services.ledger.runExpiry() },
    { name: 'quote-purge', run: () => services.pricing.purgeExpiredQuotes() },
    { name: 'payments', run: () => services.purchases.runPayments() },
    { name: 'payment-retries', run: () => services.purchases.runPaymentRetries(config.jobBatchSize) },
    { name: 'outbox', run: () => services.email.runOutbox(config.jobBatchSize) },
    { name: 'forecasts', run: () => services.usage.runForecasts() },
  ], config.jobIntervalSeconds, metrics) : null;

  return {
    services, schema, httpServer,
    listen: (port = config.port) => new Promise((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(port, config.host, () => {
        const address = httpServer.address();
        const url = `http://${config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host}:${typeof address === 'object' && address ? address.port : port}`;
        if (!config.publicUrl) baseUrl = url;
        resolve(url);
      });
    }),
    stop: async () => {
      stopping = true;
      const emailStopped = services.email.stop(); // first: a job tick waits for its sends, which stop() may cut off
      await jobs?.stop();
      await emailStopped;
      await provider.stop(); // deliveries in flight reach this server before it stops accepting
      await services.purchases.settled();
      await apollo.stop(); // drains: stops accepting, waits for in-flight requests, closes sockets (HTTP and WebSocket)
      services.events.close();
      await services.events.transport.close();
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
    lines.push(`Dashboard:  ${url}/dashboard#token=${encodeURIComponent(demo.userToken)}`);
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
