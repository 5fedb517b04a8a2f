/**
 * Prometheus metrics (prom-client) for GET /metrics. One Registry per app instance, so several
 * instances in one process (tests) never share or collide; the process's default metrics (CPU,
 * memory, event-loop lag, GC) are collected once per process in a registry of their own and
 * appended to every scrape. Services are not coupled to this file: they get small callbacks
 * (`ledgerObserver`, `onLimited`) and gauges read their sources when scraped.
 *
 * Label values are bounded: routes are a fixed list, root fields and error codes come from the
 * schema and the closed error set, and client-chosen operation names are capped (OPERATION_NAMES_MAX).
 */
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const PREFIX = 'credits_';
const ROUTES = new Set(['/graphql', '/healthz', '/readyz', '/metrics', '/webhooks/payments']);
const OPERATION_NAMES_MAX = 200;
const OPERATION_NAME_LENGTH_MAX = 64;
const LATENCY_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];

let processRegistry: Registry | null = null;
/** Default process metrics, collected once per process whatever the number of app instances. */
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, prefix: PREFIX });
  }
  return processRegistry;
}

/** What /metrics reads when scraped. */
export interface GaugeSources {
  webSocketConnections(): number;
  subscriptions(): number;
  database: { driver: string; poolSize: number };
  /** 1 when the shared rate-limit store (Redis) answers, else 0; null without one (no series). */
  rateLimitStoreUp: (() => number) | null;
  alertSubscriptions?: () => number;
  /** 1 when the live transport (Redis) is connected and subscribed, else 0; null in-process (no series). */
  liveTransportUp?: () => number | null;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly operationNames = new Set<string>();

  private readonly httpDuration = new Histogram({
    name: `${PREFIX}http_request_duration_seconds`, help: 'HTTP requests by route, method and status (_count: requests)',
    labelNames: ['route', 'method', 'status'] as const, buckets: LATENCY_BUCKETS_SECONDS, registers: [this.registry],
  });
  private readonly graphqlDuration = new Histogram({
    name: `${PREFIX}graphql_request_duration_seconds`,
    help: 'GraphQL requests over HTTP by operation name, first root field and outcome ("ok" or the first error code) (_count: requests)',
    labelNames: ['operation', 'root_field', 'outcome'] as const, buckets: LATENCY_BUCKETS_SECONDS, registers: [this.registry],
  });
  private readonly charges = new Counter({
    name: `${PREFIX}charges_total`, help: 'Charge requests by outcome: "succeeded" or the refusal code (a replayed idempotency key counts again)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  private readonly chargeBatchSize = new Histogram({
    name: `${PREFIX}charge_batch_size`, help: 'Charges coalesced into one database transaction',
    buckets: BATCH_SIZE_BUCKETS, registers: [this.registry],
  });
  private readonly jobRuns = new Counter({
    name: `${PREFIX}job_runs_total`, help: 'Periodic job runs by job and outcome (ok, failed)',
    labelNames: ['job', 'outcome'] as const, registers: [this.registry],
  });
  private readonly jobDuration = new Histogram({
    name: `${PREFIX}job_duration_seconds`, help: 'Periodic job run time',
    labelNames: ['job'] as const, buckets: LATENCY_BUCKETS_SECONDS, registers: [this.registry],
  });
  private readonly rateLimitedCount = new Counter({
    name: `${PREFIX}rate_limited_total`, help: 'Requests refused with RATE_LIMITED, by the limit that refused them',
    labelNames: ['limit'] as const, registers: [this.registry],
  });

  private readonly paymentWebhooks = new Counter({
    name: `${PREFIX}payment_webhooks_total`,
    help: 'Payment webhook deliveries by outcome: APPLIED, IGNORED (duplicate or nothing to do), REVIEW, rejected (400: signature or body), error (5xx)',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });

  private readonly livePublishes = new Counter({
    name: `${PREFIX}live_redis_publishes_total`,
    help: 'Live messages published to Redis by outcome: ok, down (not connected: dropped), backlog (too many in flight: dropped), failed (error or timeout); dropped ones are recovered by a resync',
    labelNames: ['outcome'] as const, registers: [this.registry],
  });
  private readonly liveReceived = new Histogram({
    name: `${PREFIX}live_fanout_seconds`,
    help: 'Live messages from other instances: time from publish (after commit) to receipt here, by whether a local subscriber wanted them (routed) or not (skipped)',
    labelNames: ['routed'] as const, buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: [this.registry],
  });
  private readonly liveResyncs = new Counter({
    name: `${PREFIX}live_resyncs_total`, help: 'Catch-ups of live subscribers from the database, by reason: reconnect (to Redis), peer (another instance lost messages), interval',
    labelNames: ['reason'] as const, registers: [this.registry],
  });
  private readonly liveExecutions = new Counter({
    name: `${PREFIX}live_executions_total`,
    help: 'Subscription results: executed (the selection ran for an event) or shared (another subscriber\'s result for the same event, document, variables and access was reused)',
    labelNames: ['result'] as const, registers: [this.registry],
  });

  constructor() {
    this.charges.inc({ outcome: 'succeeded' }, 0);
    for (const outcome of ['ok', 'failed']) this.jobRuns.inc({ job: 'expiry', outcome }, 0);
  }

  /** Gauges whose values are read at scrape time. */
  observe(sources: GaugeSources): void {
    new Gauge({
      name: `${PREFIX}websocket_connections`, help: 'Open graphql-ws connections', registers: [this.registry],
      collect() { this.set(sources.webSocketConnections()); },
    });
    new Gauge({
      name: `${PREFIX}subscriptions`, help: 'Open walletEvents subscriptions in this process', registers: [this.registry],
      collect() { this.set(sources.subscriptions()); },
    });
    new Gauge({
      name: `${PREFIX}db_pool_connections_max`,
      help: 'Database connections this process may open (postgres.js pool size; PGlite: 1, one embedded connection). postgres.js does not expose busy/idle counts: see pg_stat_activity',
      labelNames: ['driver'] as const, registers: [this.registry],
    }).set({ driver: sources.database.driver }, sources.database.driver === 'pglite' ? 1 : sources.database.poolSize);
    const alertSubscriptions = sources.alertSubscriptions;
    if (alertSubscriptions) {
      new Gauge({
        name: `${PREFIX}alert_subscriptions`, help: 'Open lowCreditAlerts subscriptions in this process', registers: [this.registry],
        collect() { this.set(alertSubscriptions()); },
      });
    }
    const liveUp = sources.liveTransportUp?.();
    if (liveUp !== undefined && liveUp !== null) {
      new Gauge({
        name: `${PREFIX}live_transport_up`, help: 'Whether the live transport (Redis pub/sub) is connected and subscribed', registers: [this.registry],
        collect() { this.set(sources.liveTransportUp?.() ?? 0); },
      });
    }
    const storeUp = sources.rateLimitStoreUp;
    if (storeUp) {
      new Gauge({
        name: `${PREFIX}rate_limit_store_up`, help: 'Whether the shared rate-limit store (Redis) answers', registers: [this.registry],
        collect() { this.set(storeUp()); },
      });
    }
  }

  /** For LedgerService: charge outcomes and coalesced batch sizes. */
  readonly ledgerObserver = {
    chargeSettled: (outcome: string) => this.charges.inc({ outcome }),
    chargeBatch: (size: number) => this.chargeBatchSize.observe(size),
  };

  readonly onLimited = (limit: string): void => { this.rateLimitedCount.inc({ limit }); };

  /** For the live transport (Redis). */
  readonly liveObserver = {
    published: (outcome: string) => this.livePublishes.inc({ outcome }),
    received: (routed: boolean, latencyMs: number) => this.liveReceived.observe({ routed: routed ? 'yes' : 'no' }, Math.max(0, latencyMs) / 1000),
    resynced: (reason: string) => this.liveResyncs.inc({ reason }),
  };

  /** For graphql-ws: one subscription result, executed or shared. */
  readonly onLiveExecution = (shared: boolean): void => { this.liveExecutions.inc({ result: shared ? 'shared' : 'executed' }); };

  readonly onPaymentWebhook = (outcome: string): void => { this.paymentWebhooks.inc({ outcome }); };

  /** Runs a job, counting the run and its outcome; rethrows its error. */
  async runJob<T>(job: string, run: () => Promise<T>): Promise<T> {
    const end = this.jobDuration.startTimer({ job });
    try {
      const result = await run();
      this.jobRuns.inc({ job, outcome: 'ok' });
      return result;
    } catch (error) {
      this.jobRuns.inc({ job, outcome: 'failed' });
      throw error;
    } finally {
      end();
    }
  }

  /** Times every HTTP request (first middleware). */
  readonly httpMiddleware: RequestHandler = (req, res, next) => {
    const end = this.httpDuration.startTimer();
    const route = ROUTES.has(req.path) ? req.path : 'other'; // now: mounted routers rewrite req.path
    res.once('finish', () => end({ route, method: req.method, status: String(res.statusCode) }));
    next();
  };

  /** GraphQL requests over HTTP: latency by operation and outcome (also those refused before execution). */
  readonly plugin: ApolloServerPlugin = {
    requestDidStart: async () => {
      const end = this.graphqlDuration.startTimer();
      return {
        willSendResponse: async ({ operation, document, response }) => {
          const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const code = errors?.[0]?.extensions?.code;
          end({
            operation: this.operationLabel(operation),
            root_field: (operation && document && firstRootField(operation.selectionSet, document)) || 'none',
            outcome: !errors?.length ? 'ok' : typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR',
          });
        },
      };
    },
  };

  /** GET /metrics: open, or behind "Authorization: Bearer <token>" when a token is configured. */
  handler(token: string | null): RequestHandler {
    const expected = token ? Buffer.from(`Bearer ${token}`) : null;
    return async (req, res) => {
      if (expected) {
        const given = Buffer.from(req.headers.authorization ?? '');
        if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
          res.status(401).json({ errors: [{ message: 'metrics need the configured bearer token', extensions: { code: 'UNAUTHENTICATED' } }] });
          return;
        }
      }
      const text = (await this.registry.metrics()) + (await processMetrics().metrics());
      res.set('content-type', this.registry.contentType).send(text);
    };
  }

  /** The operation's name (a client's choice: the first OPERATION_NAMES_MAX distinct ones, then "other"). */
  private operationLabel(operation: OperationDefinitionNode | undefined): string {
    if (!operation) return 'invalid'; // refused before an operation was resolved (syntax, validation)
    const name = operation.name?.value;
    if (!name) return 'anonymous';
    if (name.length > OPERATION_NAME_LENGTH_MAX) return 'other';
    if (this.operationNames.has(name)) return name;
    if (this.operationNames.size >= OPERATION_NAMES_MAX) return 'other';
    this.operationNames.add(name);
    return name;
  }
}

/** The first root field (a validated document's fields exist in the schema, so the label values are bounded). */
function firstRootField(selectionSet: SelectionSetNode, document: DocumentNode, depth = 0): string | null {
  if (depth > 5) return null;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) return selection.name.value;
    const inner = selection.kind === Kind.INLINE_FRAGMENT ? selection.selectionSet
      : document.definitions.find((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value)?.selectionSet;
    const found = inner ? firstRootField(inner, document, depth + 1) : null;
    if (found) return found;
  }
  return null;
}
