/** Environment parsed once into a typed, frozen Config. Every limit the server enforces lives here. */
export interface Config {
  port: number;
  host: string;
  databaseUrl: string | null;
  dataDir: string;
  databasePoolSize: number;
  /** PostgreSQL: opening a connection gives up after this long, so requests fail fast while the database is away. */
  databaseConnectTimeoutSeconds: number;
  /** PostgreSQL: statements running longer are cancelled by the server. */
  databaseStatementTimeoutMs: number;
  /** /readyz answers 503 when the database does not answer `select 1` within this long. */
  readinessTimeoutMs: number;
  tokenSecret: string | null; // null: generated once and kept in the database (shared by all instances)
  holdTtlSecondsDefault: number;
  holdTtlSecondsMax: number;
  quoteTtlSeconds: number;
  userTokenTtlSecondsDefault: number;
  userTokenTtlSecondsMax: number;
  idempotencyKeyTtlSeconds: number;
  idempotencyKeyLengthMax: number;
  refundBucketTtlSeconds: number | null; // credits refunded into a bucket that expired meanwhile: new REFUND bucket lives this long (null = never expires)
  pageSizeMax: number;
  queryDepthMax: number;
  queryAliasesMax: number;
  /** Cost of one operation: every field 1, a connection's selection × first (src/graphql/limits.ts). */
  queryCostMax: number;
  /** Introspection (__schema, __type) is bounded by these instead of depth and cost. */
  introspectionDepthMax: number;
  introspectionFieldsMax: number;
  bodySizeLimitBytes: number;
  /** Live subscriptions one WebSocket connection may hold at once. */
  subscriptionsPerConnectionMax: number;
  /** Live subscriptions on one account's wallet, per instance (every connection together). */
  subscriptionsPerAccountMax: number;
  /** `quote` fields one request may run (each stores a quote). */
  quotesPerRequestMax: number;
  jobIntervalSeconds: number;
  jobBatchSize: number;
  /** Concurrent charge batches per process (a wallet always uses the same lane). */
  chargeLanes: number;
  chargeBatchSizeMax: number;
  /** Items of one chargeBatch / chargeGenerationBatch request (the input guard's outer bound is 1,000). */
  chargeBatchItemsMax: number;
  /** What executes HTTP operations: graphql-js (default) or graphql-jit's compiled queries (src/server/jit-executor.ts). */
  graphqlExecutor: 'graphql-js' | 'jit';
  shutdownGraceSeconds: number;
  loadDemo: boolean;
  /** Requests per minute (0 = no limit): per API key by role, per user-token account, per anonymous client IP, and per account acted on. */
  rateLimitAdminPerMinute: number;
  rateLimitServicePerMinute: number;
  rateLimitReadonlyPerMinute: number;
  rateLimitUserPerMinute: number;
  rateLimitAnonymousPerMinute: number;
  rateLimitAccountPerMinute: number;
  /** Redis for limits shared by all instances (null: each process counts on its own). */
  redisUrl: string | null;
  /** Prefix of the rate-limit keys in Redis (one per deployment; tests use one per run). */
  rateLimitKeyPrefix: string;
  /** With REDIS_URL: the pub/sub channel live events, alerts and revocations cross instances on (one per deployment). */
  liveChannel: string;
  /** With REDIS_URL: live subscribers also catch up from the database this often (a loss no reconnect reveals). */
  liveResyncSeconds: number;
  /** Signs payment webhooks (null: generated once and kept in the database, like tokenSecret). */
  paymentWebhookSecret: string | null;
  /** The payment provider purchases go through: "test" (built in, no network) is the only one so far. */
  paymentProvider: 'test';
  /** Where buyers' browsers and the provider reach this server (checkout links, webhook target); null: the listening address. */
  publicUrl: string | null;
  /** A PENDING purchase whose payment never came is CANCELED after this long. */
  purchasePendingTtlSeconds: number;
  /** Dunning: a failed plan payment is retried this many days after the first failure (each within the grace period). */
  dunningRetryDays: number[];
  /** Dunning: days a PAST_DUE subscription keeps its plan before it moves to the fallback plan (or ends). */
  dunningGraceDays: number;
  /** Dunning: whether the unpaid period's allowance can be spent while PAST_DUE ("usable") or is held back until paid ("withheld"). */
  dunningAllowanceDuringGrace: 'usable' | 'withheld';
  /** Dunning: the plan a subscription moves to when the grace period ends unpaid ("" or absent plan: it is canceled). */
  dunningFallbackPlan: string;
  /** The test provider delivers this percentage of webhooks twice (as real providers sometimes do). */
  testProviderDuplicatePercent: number;
  /** When set, GET /metrics needs "Authorization: Bearer <token>"; otherwise it is open. */
  metricsToken: string | null;
  /** Where alert emails are sent (smtp:// or smtps://); null: they stay PENDING in the outbox. */
  smtpUrl: string | null;
  /** From of alert emails. */
  alertEmailFrom: string;
  /** An email still failing after this many send attempts is FAILED (src/modules/email/outbox-rules.ts). */
  emailAttemptsMax: number;
  /** A claimed email is claimable again after this long (its sender died mid-send); longer than a send may take. */
  emailLeaseSeconds: number;
  /** Forecasts: the burn rate's trailing window, in whole UTC days before today (plus today so far). */
  forecastWindowDays: number;
  /** Forecasts: RUN_OUT_SOON fires when the run-out is within this many days (re-arms beyond twice as many). */
  runOutSoonDays: number;
  /** Forecasts: CREDITS_EXPIRING and Wallet.forecast.expiringSoon look this many days ahead. */
  creditsExpiringDays: number;
  /** Members a TEAM account may have while it has no plan (with one: the plan version's seats). */
  teamSeatsWithoutPlan: number;
  /** Review holds (README, "Review holds"): defaults for plans that set no threshold of their own. */
  velocityMultiplierDefault: number;
  velocityFloorMillisDefault: number;
  /** The trailing window of the velocity baseline, in hours (whole UTC days before today are read). */
  velocityBaselineHours: number;
  fingerprintRepeatsDefault: number;
  fingerprintWindowMinutesDefault: number;
  /** How long plan thresholds and an account's plan rate limit are cached in process (a plan change takes effect within this). */
  planLimitsCacheSeconds: number;
}

function int(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

/** An integer from `min` to `max` (inclusive). */
function intBetween(name: string, fallback: number, min: number, max: number): number {
  const value = int(name, fallback, min);
  if (value > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${process.env[name]}"`);
  return value;
}

function paymentProvider(raw: string | undefined): 'test' {
  if (raw === undefined || raw === '' || raw === 'test') return 'test';
  throw new Error(`PAYMENT_PROVIDER must be "test" (the built-in provider), got "${raw}"`);
}

function allowanceDuringGrace(raw: string | undefined): 'usable' | 'withheld' {
  if (raw === undefined || raw === '' || raw === 'usable') return 'usable';
  if (raw === 'withheld') return 'withheld';
  throw new Error(`DUNNING_ALLOWANCE_DURING_GRACE must be "usable" or "withheld", got "${raw}"`);
}

function smtpUrl(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('SMTP_URL must be a URL such as smtp://127.0.0.1:2525 or smtps://user:pass@mail.example.com');
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') throw new Error(`SMTP_URL must start with smtp:// or smtps://, got "${url.protocol}//"`);
  if (!url.hostname) throw new Error('SMTP_URL must name a host');
  return raw;
}

function emailFrom(raw: string | undefined): string {
  if (raw === undefined || raw === '') return 'Credits <alerts@localhost>';
  if (!raw.includes('@') || /[\r\n]/.test(raw) || raw.length > 200) throw new Error(`ALERT_EMAIL_FROM must be one address such as "Credits <alerts@example.com>", got "${raw.slice(0, 60)}"`);
  return raw;
}

function graphqlExecutor(raw: string | undefined): Config['graphqlExecutor'] {
  if (raw === undefined || raw === '' || raw === 'graphql-js') return 'graphql-js';
  if (raw === 'jit') return 'jit';
  throw new Error(`GRAPHQL_EXECUTOR must be graphql-js or jit, got "${raw.slice(0, 40)}"`);
}

/** "1,3,5" → [1, 3, 5]: increasing whole days. */
function dayList(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const days = raw.split(',').map((d) => Number(d.trim()));
  if (days.length > 20 || days.some((d, i) => !Number.isSafeInteger(d) || d < 1 || (i > 0 && d <= days[i - 1]))) {
    throw new Error(`${name} must be increasing whole days separated by commas (e.g. "1,3,5"), got "${raw}"`);
  }
  return days;
}

export function loadConfig(overrides: Partial<Config> = {}): Readonly<Config> {
  const refundTtl = process.env.REFUND_BUCKET_TTL_SECONDS;
  const config: Config = {
    port: int('PORT', 4000),
    host: process.env.HOST || '0.0.0.0',
    databaseUrl: process.env.DATABASE_URL || null,
    dataDir: process.env.DATA_DIR || './data',
    databasePoolSize: int('DATABASE_POOL_SIZE', 20, 1),
    databaseConnectTimeoutSeconds: int('DATABASE_CONNECT_TIMEOUT_SECONDS', 5, 1),
    databaseStatementTimeoutMs: int('DATABASE_STATEMENT_TIMEOUT_MS', 10_000, 100),
    readinessTimeoutMs: int('READINESS_TIMEOUT_MS', 2_000, 100),
    tokenSecret: process.env.TOKEN_SECRET || null,
    holdTtlSecondsDefault: int('HOLD_TTL_SECONDS', 15 * 60, 1),
    holdTtlSecondsMax: int('HOLD_TTL_SECONDS_MAX', 24 * 3600, 1),
    quoteTtlSeconds: int('QUOTE_TTL_SECONDS', 10 * 60, 1),
    userTokenTtlSecondsDefault: int('USER_TOKEN_TTL_SECONDS', 3600, 1),
    userTokenTtlSecondsMax: int('USER_TOKEN_TTL_SECONDS_MAX', 7 * 24 * 3600, 1),
    idempotencyKeyTtlSeconds: Math.max(24 * 3600, int('IDEMPOTENCY_KEY_TTL_SECONDS', 48 * 3600, 1)),
    idempotencyKeyLengthMax: 200,
    refundBucketTtlSeconds: refundTtl === undefined || refundTtl === '' ? 90 * 24 * 3600 : refundTtl === 'never' ? null : int('REFUND_BUCKET_TTL_SECONDS', 0, 1),
    pageSizeMax: 100,
    queryDepthMax: int('QUERY_DEPTH_MAX', 10, 2),
    queryAliasesMax: 30,
    queryCostMax: int('QUERY_COST_MAX', 5000, 1),
    introspectionDepthMax: 20,
    introspectionFieldsMax: 500,
    bodySizeLimitBytes: int('BODY_SIZE_LIMIT_BYTES', 256 * 1024, 1024),
    subscriptionsPerConnectionMax: int('SUBSCRIPTIONS_PER_CONNECTION_MAX', 10, 1),
    subscriptionsPerAccountMax: int('SUBSCRIPTIONS_PER_ACCOUNT_MAX', 20, 1),
    quotesPerRequestMax: int('QUOTES_PER_REQUEST_MAX', 5, 1),
    jobIntervalSeconds: int('JOB_INTERVAL_SECONDS', 5, 1),
    jobBatchSize: 200,
    chargeLanes: int('CHARGE_LANES', 2, 1),
    chargeBatchSizeMax: int('CHARGE_BATCH_SIZE_MAX', 500, 1),
    chargeBatchItemsMax: intBetween('CHARGE_BATCH_ITEMS_MAX', 1_000, 1, 1_000),
    graphqlExecutor: graphqlExecutor(process.env.GRAPHQL_EXECUTOR),
    shutdownGraceSeconds: int('SHUTDOWN_GRACE_SECONDS', 20, 1),
    loadDemo: process.env.LOAD_DEMO !== 'false',
    rateLimitAdminPerMinute: int('RATE_LIMIT_ADMIN_PER_MINUTE', 600_000),
    rateLimitServicePerMinute: int('RATE_LIMIT_SERVICE_PER_MINUTE', 600_000),
    rateLimitReadonlyPerMinute: int('RATE_LIMIT_READONLY_PER_MINUTE', 120_000),
    rateLimitUserPerMinute: int('RATE_LIMIT_USER_PER_MINUTE', 1_200),
    rateLimitAnonymousPerMinute: int('RATE_LIMIT_ANONYMOUS_PER_MINUTE', 600),
    rateLimitAccountPerMinute: int('RATE_LIMIT_ACCOUNT_PER_MINUTE', 300_000),
    redisUrl: process.env.REDIS_URL || null,
    rateLimitKeyPrefix: process.env.RATE_LIMIT_KEY_PREFIX || 'credits:rl',
    liveChannel: process.env.LIVE_CHANNEL || 'credits:live',
    liveResyncSeconds: int('LIVE_RESYNC_SECONDS', 30, 1),
    metricsToken: process.env.METRICS_TOKEN || null,
    paymentWebhookSecret: process.env.PAYMENT_WEBHOOK_SECRET || null,
    paymentProvider: paymentProvider(process.env.PAYMENT_PROVIDER),
    publicUrl: process.env.PUBLIC_URL ? process.env.PUBLIC_URL.replace(/\/+$/, '') : null,
    purchasePendingTtlSeconds: int('PURCHASE_PENDING_TTL_SECONDS', 24 * 3600, 60),
    dunningRetryDays: dayList('DUNNING_RETRY_DAYS', [1, 3, 5]),
    dunningGraceDays: int('DUNNING_GRACE_DAYS', 7, 1),
    dunningAllowanceDuringGrace: allowanceDuringGrace(process.env.DUNNING_ALLOWANCE_DURING_GRACE),
    dunningFallbackPlan: process.env.DUNNING_FALLBACK_PLAN ?? 'free',
    testProviderDuplicatePercent: Math.min(100, int('TEST_PROVIDER_DUPLICATE_PERCENT', 10)),
    smtpUrl: smtpUrl(process.env.SMTP_URL),
    alertEmailFrom: emailFrom(process.env.ALERT_EMAIL_FROM),
    emailAttemptsMax: Math.min(50, int('EMAIL_ATTEMPTS_MAX', 8, 1)),
    // A send gives up after 60 s (src/modules/email/email.service.ts): the lease is at least twice that.
    emailLeaseSeconds: int('EMAIL_LEASE_SECONDS', 300, 120),
    forecastWindowDays: intBetween('FORECAST_WINDOW_DAYS', 7, 1, 90),
    runOutSoonDays: intBetween('RUN_OUT_SOON_DAYS', 3, 1, 90),
    creditsExpiringDays: intBetween('CREDITS_EXPIRING_DAYS', 7, 1, 90),
    teamSeatsWithoutPlan: intBetween('TEAM_SEATS_WITHOUT_PLAN', 5, 1, 100_000),
    velocityMultiplierDefault: intBetween('VELOCITY_MULTIPLIER', 10, 1, 1000),
    velocityFloorMillisDefault: int('VELOCITY_FLOOR_CREDITS', 10_000, 1) * 1000,
    velocityBaselineHours: intBetween('VELOCITY_BASELINE_HOURS', 168, 24, 24 * 90),
    fingerprintRepeatsDefault: intBetween('FINGERPRINT_REPEATS', 20, 2, 100),
    fingerprintWindowMinutesDefault: intBetween('FINGERPRINT_WINDOW_MINUTES', 10, 1, 1440),
    planLimitsCacheSeconds: intBetween('PLAN_LIMITS_CACHE_SECONDS', 5, 0, 300),
    ...overrides,
  };
  return Object.freeze(config);
}
