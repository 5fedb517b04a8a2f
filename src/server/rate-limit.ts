/**
 * Rate limits (README, "Rate limits"): requests per minute, whatever the credits, counted twice —
 *
 * - per **caller**: an API key (its role's limit), a user token's account, or an anonymous client IP
 *   (requests whose credential is refused count against the IP too);
 * - per **account acted on**: the `accountId` argument, `input.accountId` or `account(id:)` of the
 *   root fields, and a user token's own account. So one hot account cannot be hammered through a
 *   SERVICE key beyond its own limit, whichever keys and instances the requests come through.
 *   An account whose plan sets `requestsPerMinute` is also counted against that rate (limit "plan"):
 *   its plan comes from a small in-process cache (PlanLimits, TTL PLAN_LIMITS_CACHE_SECONDS, filled
 *   by one indexed query on a miss), so a plan change takes effect within that TTL.
 *   Operations that name an account only indirectly (a hold, a transaction, an external id) count
 *   for the caller only: resolving them would cost a database read before the limit.
 *
 * Windows are fixed minutes (rate-limiter-flexible); a refusal is RATE_LIMITED with
 * `retryAfterSeconds` (HTTP 429 with Retry-After). With REDIS_URL the counts are shared by every
 * instance (RateLimiterRedis); without it each process counts alone (RateLimiterMemory). When Redis
 * is unreachable or slow (commands time out after COMMAND_TIMEOUT_MS), each instance falls back to
 * an in-memory count (the library's insurance limiter): limits still hold per instance, requests
 * neither fail nor wait. Any other limiter fault lets the request through and is logged (fail open:
 * the ledger, not the limiter, is what must never be wrong).
 */
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { GraphQLError, Kind, parse, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode, type ValueNode } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import type { Config } from '../config';
import type { Viewer } from '../auth/viewer';
import { AppError, ErrorCode } from '../shared/errors';
import { logger } from '../shared/logger';

const WINDOW_SECONDS = 60;
/** A rate-limit check never waits longer than this on Redis; then the in-memory count answers. */
const COMMAND_TIMEOUT_MS = 500;
const CONNECT_TIMEOUT_MS = 2_000;
/** Reconnect attempts back off to this interval and go on forever (the in-memory count covers the gap). */
const RECONNECT_INTERVAL_MAX_MS = 5_000;
const REDIS_ERROR_LOG_INTERVAL_MS = 30_000;
/** Accounts counted per request (aliases are capped anyway); ids longer than this are not ids. */
const ACCOUNTS_PER_REQUEST_MAX = 50;
const ACCOUNT_ID_LENGTH_MAX = 100;
/** Bounds the second parse of a WebSocket operation's document (graphql-ws parses it again). */
const WS_PARSE_TOKENS_MAX = 10_000;

export type LimitName = 'ADMIN' | 'SERVICE' | 'READONLY' | 'user' | 'anonymous' | 'account' | 'plan';

/** The per-plan rate of an account (the reviews module's cache). */
export interface PlanRateSource {
  requestsPerMinuteOf(accountId: string): Promise<number | null>;
}

/** Points of the per-plan counter: it only counts; each account's plan rate is compared with the count. */
const PLAN_COUNTER_POINTS = 1_000_000_000;

interface Refusal {
  limit: LimitName;
  limitPerMinute: number;
  retryAfterSeconds: number;
}

export interface RateLimitOptions {
  /** Called for every refusal (metrics). */
  onLimited?: (limit: LimitName) => void;
}

export class RateLimits {
  private constructor(
    private readonly limiters: ReadonlyMap<LimitName, { limiter: RateLimiterAbstract; points: number }>,
    private readonly redis: Redis | null,
    private readonly onLimited: (limit: LimitName) => void,
    private readonly planCounter: RateLimiterAbstract,
  ) {}

  private planRates: PlanRateSource | null = null;

  /** Per-plan limits: accounts whose plan sets requests per minute are held to it (main.ts attaches the reviews module's cache). */
  attachPlanLimits(source: PlanRateSource): void {
    this.planRates = source;
  }

  /** Whether requests are counted per account acted on at all (the account limit, or per-plan limits). */
  private get countsAccounts(): boolean {
    return this.limiters.has('account') || this.planRates !== null;
  }

  /** Connects to Redis when configured, waiting at most CONNECT_TIMEOUT_MS (the server starts either way). */
  static async create(config: Readonly<Config>, options: RateLimitOptions = {}): Promise<RateLimits> {
    const perMinute: Record<Exclude<LimitName, 'plan'>, number> = {
      ADMIN: config.rateLimitAdminPerMinute, SERVICE: config.rateLimitServicePerMinute,
      READONLY: config.rateLimitReadonlyPerMinute, user: config.rateLimitUserPerMinute,
      anonymous: config.rateLimitAnonymousPerMinute, account: config.rateLimitAccountPerMinute,
    };
    const anyLimit = Object.values(perMinute).some((points) => points > 0);
    const redis = config.redisUrl && anyLimit ? await connectRedis(config.redisUrl) : null;
    const limiters = new Map<LimitName, { limiter: RateLimiterAbstract; points: number }>();
    for (const [name, points] of Object.entries(perMinute) as [Exclude<LimitName, 'plan'>, number][]) {
      if (points <= 0) continue; // 0 = no limit
      const keyPrefix = `${config.rateLimitKeyPrefix}:${name.toLowerCase()}`;
      const memory = new RateLimiterMemory({ points, duration: WINDOW_SECONDS, keyPrefix });
      const limiter = redis
        ? new RateLimiterRedis({
          storeClient: redis, points, duration: WINDOW_SECONDS, keyPrefix,
          rejectIfRedisNotReady: true, // not connected: the insurance limiter answers at once
          insuranceLimiter: memory,
          inMemoryBlockOnConsumed: points + 1, // once refused, this instance refuses the key until the window ends without asking Redis
        })
        : memory;
      limiters.set(name, { limiter, points });
    }
    const planPrefix = `${config.rateLimitKeyPrefix}:plan`;
    const planMemory = new RateLimiterMemory({ points: PLAN_COUNTER_POINTS, duration: WINDOW_SECONDS, keyPrefix: planPrefix });
    const planCounter = redis
      ? new RateLimiterRedis({ storeClient: redis, points: PLAN_COUNTER_POINTS, duration: WINDOW_SECONDS, keyPrefix: planPrefix, rejectIfRedisNotReady: true, insuranceLimiter: planMemory })
      : planMemory;
    return new RateLimits(limiters, redis, options.onLimited ?? (() => {}), planCounter);
  }

  /** Whether the shared store answers (1 or 0); null without Redis. */
  get storeUp(): (() => number) | null {
    const redis = this.redis;
    return redis ? () => (redis.status === 'ready' ? 1 : 0) : null;
  }

  /** The caller's limit; throws RATE_LIMITED for HTTP (429, Retry-After). */
  async admitCaller(viewer: Viewer, ip: string | undefined): Promise<void> {
    const refusal = await this.checkCaller(viewer, ip);
    if (refusal) throw httpError(refusal);
  }

  /** The per-account limit, in Apollo's pipeline once the operation is known (HTTP). */
  readonly plugin: ApolloServerPlugin<{ viewer: Viewer }> = {
    requestDidStart: async () => ({
      didResolveOperation: async ({ contextValue, operation, document, request }) => {
        if (!this.countsAccounts) return;
        const refusal = await this.checkAccounts(accountsActedOn(contextValue.viewer, operation, document, request.variables));
        if (refusal) throw httpError(refusal);
      },
    }),
  };

  /** Both limits for a plain HTTP route (the CSV exports): the caller's, then the account's; the refusal, if any. */
  async admitRequest(viewer: Viewer, ip: string | undefined, accountId: string | null): Promise<AppError | null> {
    const refusal = (await this.checkCaller(viewer, ip)) ?? (accountId && this.countsAccounts ? await this.checkAccounts([accountId]) : null);
    return refusal ? toAppError(refusal) : null;
  }

  /** Both limits for an operation over graphql-ws (each subscribe message); the error to send, if refused. */
  async admitWsOperation(viewer: Viewer, ip: string | undefined, payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null }): Promise<GraphQLError | null> {
    const refusal = (await this.checkCaller(viewer, ip)) ?? (this.countsAccounts ? await this.checkAccounts(wsAccounts(viewer, payload)) : null);
    if (!refusal) return null;
    const error = toAppError(refusal);
    const { http: _http, ...extensions } = error.toGraphQL().extensions; // no HTTP status over a WebSocket
    return new GraphQLError(error.message, { extensions });
  }

  async close(): Promise<void> {
    this.redis?.disconnect();
  }

  private checkCaller(viewer: Viewer, ip: string | undefined): Promise<Refusal | null> {
    switch (viewer.kind) {
      case 'key': return this.consume(viewer.role, `key:${viewer.keyId}`);
      case 'user': return this.consume('user', viewer.accountId);
      default: return this.consume('anonymous', ip ?? 'unknown');
    }
  }

  private async checkAccounts(accountIds: Iterable<string>): Promise<Refusal | null> {
    for (const accountId of accountIds) {
      const refusal = (await this.consume('account', accountId)) ?? (await this.consumePlan(accountId));
      if (refusal) return refusal;
    }
    return null;
  }

  /** The account's plan rate, when its plan sets one: same fixed minute window, counted per account. */
  private async consumePlan(accountId: string): Promise<Refusal | null> {
    if (!this.planRates) return null;
    try {
      const perMinute = await this.planRates.requestsPerMinuteOf(accountId);
      if (!perMinute || perMinute <= 0) return null;
      const counted = await this.planCounter.consume(accountId);
      if (counted.consumedPoints <= perMinute) return null;
      this.onLimited('plan');
      return { limit: 'plan', limitPerMinute: perMinute, retryAfterSeconds: Math.max(1, Math.ceil(counted.msBeforeNext / 1000)) };
    } catch (error) {
      logger.warn('plan rate limit failed; request let through', { error: String(error) });
      return null;
    }
  }

  private async consume(name: LimitName, key: string): Promise<Refusal | null> {
    const entry = this.limiters.get(name);
    if (!entry) return null;
    try {
      await entry.limiter.consume(key);
      return null;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) {
        logger.warn('rate limiter failed; request let through', { limit: name, error: String(rejection) });
        return null;
      }
      this.onLimited(name);
      return { limit: name, limitPerMinute: entry.points, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    }
  }
}

async function connectRedis(url: string): Promise<Redis> {
  let lastErrorLogAt = 0;
  let failing = false;
  const redis = new Redis(url, {
    enableOfflineQueue: false, // a command while disconnected fails at once instead of queueing
    maxRetriesPerRequest: 1,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    retryStrategy: (attempt) => Math.min(attempt * 200, RECONNECT_INTERVAL_MAX_MS),
  });
  redis.on('error', (error: Error) => {
    failing = true;
    const now = Date.now();
    if (now - lastErrorLogAt < REDIS_ERROR_LOG_INTERVAL_MS) return;
    lastErrorLogAt = now;
    logger.warn('rate-limit Redis unavailable; each instance counts in memory meanwhile', { error: error.message });
  });
  redis.on('ready', () => {
    if (failing) logger.info('rate-limit Redis is back');
    failing = false;
  });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, CONNECT_TIMEOUT_MS);
    redis.once('ready', done);
    function done() {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    }
  });
  return redis;
}

function toAppError(refusal: Refusal): AppError {
  const what = refusal.limit === 'account' ? 'this account' : refusal.limit === 'plan' ? "this account's plan" : refusal.limit === 'anonymous' ? 'this client address' : refusal.limit === 'user' ? 'this user' : `this ${refusal.limit} key`;
  return new AppError(ErrorCode.RATE_LIMITED, `rate limit exceeded: at most ${refusal.limitPerMinute} requests per minute for ${what}; retry in ${refusal.retryAfterSeconds} s`, {
    retryAfterSeconds: refusal.retryAfterSeconds, limit: refusal.limit, limitPerMinute: refusal.limitPerMinute,
  });
}

/** Apollo takes `extensions.http` (status and headers) for the response and drops it from the body. */
function httpError(refusal: Refusal): GraphQLError {
  const g = toAppError(refusal).toGraphQL();
  return new GraphQLError(g.message, {
    extensions: { ...g.extensions, http: { status: 429, headers: new Map([['retry-after', String(refusal.retryAfterSeconds)]]) } },
  });
}

function wsAccounts(viewer: Viewer, payload: { query: string; operationName?: string | null; variables?: Record<string, unknown> | null }): Set<string> {
  let document: DocumentNode;
  try {
    document = parse(payload.query, { noLocation: true, maxTokens: WS_PARSE_TOKENS_MAX });
  } catch {
    return accountsActedOn(viewer, undefined, undefined, undefined); // graphql-ws answers the syntax error itself
  }
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const operation = payload.operationName ? operations.find((o) => o.name?.value === payload.operationName) : operations.length === 1 ? operations[0] : undefined;
  return accountsActedOn(viewer, operation, document, payload.variables ?? undefined);
}

/** The accounts a request acts on: root-field arguments `accountId`, `input.accountId`, `account(id:)`, and a user's own account. */
export function accountsActedOn(viewer: Viewer, operation: OperationDefinitionNode | undefined, document: DocumentNode | undefined, variables: Record<string, unknown> | undefined): Set<string> {
  const ids = new Set<string>();
  if (viewer.kind === 'user') ids.add(viewer.accountId);
  if (!operation || !document) return ids;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const add = (value: unknown) => {
    if (typeof value === 'string' && value.length > 0 && value.length <= ACCOUNT_ID_LENGTH_MAX && ids.size < ACCOUNTS_PER_REQUEST_MAX) ids.add(value);
  };
  const valueOf = (node: ValueNode): unknown =>
    node.kind === Kind.STRING ? node.value : node.kind === Kind.VARIABLE ? variables?.[node.name.value] : undefined;
  const visited = new Set<string>();
  const walk = (selectionSet: SelectionSetNode) => {
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.INLINE_FRAGMENT) walk(selection.selectionSet);
      else if (selection.kind === Kind.FRAGMENT_SPREAD) {
        const fragment = fragments.get(selection.name.value);
        if (fragment && !visited.has(fragment.name.value)) {
          visited.add(fragment.name.value);
          walk(fragment.selectionSet);
        }
      } else {
        for (const arg of selection.arguments ?? []) {
          const name = arg.name.value;
          if (name === 'accountId' || (name === 'id' && selection.name.value === 'account')) add(valueOf(arg.value));
          else if (name === 'input') {
            if (arg.value.kind === Kind.OBJECT) {
              const field = arg.value.fields.find((f) => f.name.value === 'accountId');
              if (field) add(valueOf(field.value));
            } else {
              const input = valueOf(arg.value);
              if (input && typeof input === 'object') add((input as { accountId?: unknown }).accountId);
            }
          }
        }
      }
    }
  };
  walk(operation.selectionSet);
  return ids;
}
