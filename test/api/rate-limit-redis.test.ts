/**
 * Rate limits shared by several instances through Redis (REDIS_URL, default redis://127.0.0.1:6379
 * here): two app instances on one database and one Redis count each key and each account together.
 * Each run uses its own key prefix in Redis.
 *
 * Runs when Redis answers. Where Redis is expected (CI=true, or REDIS_URL set) and does not answer,
 * the suite fails rather than skipping; elsewhere (a laptop without Redis) it is reported as skipped.
 */
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { createApp, type App } from '../../src/main';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const redisExpected = Boolean(process.env.REDIS_URL || process.env.CI);

/** Whether something accepts connections at the Redis address (synchronous, so the suite can be skipped at collection time). */
function redisAnswers(url: string): boolean {
  const { hostname, port } = new URL(url);
  const probe = `const s = require('net').connect(${Number(port) || 6379}, ${JSON.stringify(hostname || '127.0.0.1')});
    s.setTimeout(1000, () => process.exit(1)); s.on('connect', () => process.exit(0)); s.on('error', () => process.exit(1));`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
}

const reachable = redisAnswers(REDIS_URL);
const describeRedis = reachable || redisExpected ? describe : describe.skip;

describeRedis('rate limits shared through Redis', () => {
  const prefix = `credits-test:${uniqueKey('rl')}`;
  let a: TestApp;
  let b: App;
  let bUrl: string;

  beforeAll(async () => {
    if (!reachable) throw new Error(`Redis is expected (CI or REDIS_URL) but nothing answers at ${REDIS_URL}`);
    a = await startTestApp({
      redisUrl: REDIS_URL, rateLimitKeyPrefix: prefix, liveChannel: `${prefix}:live`,
      rateLimitServicePerMinute: 4, rateLimitReadonlyPerMinute: 100, rateLimitAccountPerMinute: 3,
    });
    // A second instance: same configuration, same database and Redis, its own limiter state and HTTP server.
    b = await createApp({ config: a.app.services.config, clock: a.clock, database: a.database, runJobs: false });
    bUrl = await b.listen(0);
  });

  afterAll(async () => {
    await b?.stop();
    await a?.close();
    if (reachable) {
      const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
  });

  const post = async (url: string, query: string, variables: Record<string, unknown>, token: string) => {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
    });
    const body = await response.json() as { errors?: { extensions?: Record<string, unknown> }[] };
    return { status: response.status, retryAfter: response.headers.get('retry-after'), code: body.errors?.[0]?.extensions?.code as string | undefined, extensions: body.errors?.[0]?.extensions };
  };

  it('two instances count one key together', async () => {
    const key = await a.key('SERVICE');
    for (const url of [a.url, bUrl, a.url, bUrl]) expect((await post(url, `{ __typename }`, {}, key)).status).toBe(200);
    for (const url of [bUrl, a.url]) {
      const refused = await post(url, `{ __typename }`, {}, key);
      expect(refused).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
      expect(refused.extensions).toMatchObject({ limit: 'SERVICE', limitPerMinute: 4 });
      expect(refused.extensions!.retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect(refused.retryAfter).toBe(String(refused.extensions!.retryAfterSeconds));
    }
    const other = await a.key('SERVICE');
    expect((await post(bUrl, `{ __typename }`, {}, other)).status).toBe(200);
  });

  it('two instances and two keys count one account together', async () => {
    const accountId = await a.createAccount();
    const [first, second] = [await a.key('READONLY'), await a.key('READONLY')];
    const wallet = `query($id: ID!) { wallet(accountId: $id) { balance } }`;
    expect((await post(a.url, wallet, { id: accountId }, first)).status).toBe(200);
    expect((await post(bUrl, wallet, { id: accountId }, second)).status).toBe(200);
    expect((await post(bUrl, wallet, { id: accountId }, first)).status).toBe(200);
    const refused = await post(a.url, wallet, { id: accountId }, second);
    expect(refused).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(refused.extensions).toMatchObject({ limit: 'account', limitPerMinute: 3 });
  });

  it('the counts live in Redis under the configured prefix', async () => {
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    try {
      expect((await redis.keys(`${prefix}:service:*`)).length).toBeGreaterThan(0);
      expect((await redis.keys(`${prefix}:account:*`)).length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  });
});
