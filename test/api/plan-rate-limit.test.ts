/**
 * Per-plan rate limits (issue 12 part 5): an account whose plan sets requestsPerMinute is limited per
 * account at that rate, on top of the per-key and per-account limits (RATE_LIMITED, limit "plan",
 * HTTP 429 with Retry-After). The account's plan is cached in process for PLAN_LIMITS_CACHE_SECONDS
 * (by the injectable clock): a plan change takes effect within that time.
 */
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { createApp, type App } from '../../src/main';
import { startTestApp, uniqueKey, type GqlResult, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp({ redisUrl: null, rateLimitAccountPerMinute: 0, planLimitsCacheSeconds: 5 }); });
afterAll(async () => { await t.close(); });

const WALLET = `query($id: ID!) { wallet(accountId: $id) { balance } }`;

async function post(query: string, variables: Record<string, unknown>): Promise<{ status: number; retryAfter: string | null; body: GqlResult }> {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` }, body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() as GqlResult };
}

async function planAccount(requestsPerMinute: number | null): Promise<string> {
  const code = uniqueKey('rpm').toLowerCase();
  await t.ok(`mutation($input: PlanInput!) { createPlan(input: $input) { code } }`,
    { input: { code, name: 'Limited', price: { amount: '0', currency: 'USD' }, allowance: '10', requestsPerMinute } });
  const id = await t.createAccount(uniqueKey('rpm'));
  await t.ok(`mutation($input: SubscribeInput!) { subscribe(input: $input) { id } }`, { input: { accountId: id, planCode: code, idempotencyKey: uniqueKey('sub') } });
  t.clock.set(new Date(t.clock.now().getTime() + 6_000)); // past the plan cache's TTL (it may hold "no plan" from the subscribe itself)
  return id;
}

test('a plan with requestsPerMinute limits its accounts; other accounts are not', async () => {
  t.clock.set(new Date('2033-09-01T00:00:00Z'));
  const limited = await planAccount(4);
  const unlimited = await planAccount(null);
  for (let i = 0; i < 4; i++) {
    const admitted = await post(WALLET, { id: limited });
    expect(admitted.body.errors).toBeUndefined();
  }
  const refused = await post(WALLET, { id: limited });
  expect(refused.status).toBe(429);
  expect(refused.body.errors![0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'plan', limitPerMinute: 4 });
  const retryAfter = refused.body.errors![0].extensions!.retryAfterSeconds as number;
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
  expect(refused.retryAfter).toBe(String(retryAfter));
  // A mutation naming the account is refused too; the admin key itself is not limited.
  const charge = await post(`mutation($input: ChargeInput!) { charge(input: $input) { id } }`, { input: { accountId: limited, amount: '1', idempotencyKey: uniqueKey('c') } });
  expect(charge.body.errors![0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'plan' });
  for (let i = 0; i < 10; i++) expect((await post(WALLET, { id: unlimited })).body.errors).toBeUndefined();
});

test('a plan change takes effect within the cache TTL', async () => {
  const id = await planAccount(null);
  const code = uniqueKey('rpm2').toLowerCase();
  await t.ok(`mutation($input: PlanInput!) { createPlan(input: $input) { code } }`,
    { input: { code, name: 'Tight', price: { amount: '0', currency: 'USD' }, allowance: '20', requestsPerMinute: 2 } });
  expect((await post(WALLET, { id })).body.errors).toBeUndefined(); // cached: no limit
  await t.ok(`mutation($input: ChangePlanInput!) { changePlan(input: $input) { id } }`, { input: { accountId: id, planCode: code, idempotencyKey: uniqueKey('chg') } });
  t.clock.set(new Date(t.clock.now().getTime() + 6_000));
  expect((await post(WALLET, { id })).body.errors).toBeUndefined();
  expect((await post(WALLET, { id })).body.errors).toBeUndefined();
  expect((await post(WALLET, { id })).body.errors![0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'plan', limitPerMinute: 2 });
});

/** Shared through Redis (as rate-limit-redis.test.ts: runs when Redis answers at REDIS_URL or the default address). */
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const redisReachable = (() => {
  const { hostname, port } = new URL(REDIS_URL);
  const probe = `const s = require('net').connect(${Number(port) || 6379}, ${JSON.stringify(hostname || '127.0.0.1')});
    s.setTimeout(1000, () => process.exit(1)); s.on('connect', () => process.exit(0)); s.on('error', () => process.exit(1));`;
  return spawnSync(process.execPath, ['-e', probe], { timeout: 5000 }).status === 0;
})();
const describeRedis = redisReachable || process.env.REDIS_URL || process.env.CI ? describe : describe.skip;

describeRedis('per-plan limits shared through Redis', () => {
  const prefix = `credits-test:${uniqueKey('plan-rl')}`;
  let a: TestApp;
  let b: App;
  let bUrl: string;
  beforeAll(async () => {
    a = await startTestApp({ redisUrl: REDIS_URL, rateLimitKeyPrefix: prefix, liveChannel: `${prefix}:live`, rateLimitAccountPerMinute: 0, planLimitsCacheSeconds: 5 });
    b = await createApp({ config: a.app.services.config, clock: a.clock, database: a.database, runJobs: false });
    bUrl = await b.listen(0);
  });
  afterAll(async () => {
    await b?.stop();
    await a?.close();
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  test('two instances count an account\'s plan rate together', async () => {
    const code = uniqueKey('rpm-redis').toLowerCase();
    await a.ok(`mutation($input: PlanInput!) { createPlan(input: $input) { code } }`,
      { input: { code, name: 'Shared', price: { amount: '0', currency: 'USD' }, allowance: '10', requestsPerMinute: 4 } });
    const id = await a.createAccount(uniqueKey('rpm'));
    await a.ok(`mutation($input: SubscribeInput!) { subscribe(input: $input) { id } }`, { input: { accountId: id, planCode: code, idempotencyKey: uniqueKey('sub') } });
    a.clock.set(new Date(a.clock.now().getTime() + 6_000));
    const ask = async (url: string) => {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${a.adminKey}` }, body: JSON.stringify({ query: WALLET, variables: { id } }),
      });
      return { status: response.status, body: await response.json() as GqlResult };
    };
    for (const url of [a.url, bUrl, a.url, bUrl]) expect((await ask(url)).status).toBe(200);
    const refused = await ask(bUrl);
    expect(refused.status).toBe(429);
    expect(refused.body.errors![0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'plan', limitPerMinute: 4 });
  });
});
