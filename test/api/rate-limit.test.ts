/**
 * Rate limits (PRODUCT.md §8) with the in-process store: requests per minute per caller (API key by
 * role, user token, anonymous client address) and per account acted on, whatever the credits.
 * Refusals are RATE_LIMITED with an integer `retryAfterSeconds` (HTTP 429 and Retry-After; over
 * graphql-ws the subscribe gets the error). Shared counting through Redis: rate-limit-redis.test.ts.
 */
import type { Client } from 'graphql-ws';
import { startTestApp, uniqueKey, type GqlResult, type TestApp } from '../helpers/harness';

interface Raw {
  status: number;
  retryAfter: string | null;
  body: GqlResult;
}

async function post(t: TestApp, query: string, variables: Record<string, unknown> = {}, token: string | null = t.adminKey): Promise<Raw> {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() as Raw['body'] };
}

function expectAdmitted(raw: Raw): void {
  expect(raw.body.errors).toBeUndefined();
  expect(raw.status).toBe(200);
}

function expectLimited(raw: Raw, limit: string, limitPerMinute: number): void {
  expect(raw.status).toBe(429);
  expect(raw.body.errors).toHaveLength(1);
  const extensions = raw.body.errors![0].extensions!;
  expect(extensions.code).toBe('RATE_LIMITED');
  expect(extensions).toMatchObject({ limit, limitPerMinute });
  expect(Number.isInteger(extensions.retryAfterSeconds)).toBe(true);
  expect(extensions.retryAfterSeconds).toBeGreaterThanOrEqual(1);
  expect(extensions.retryAfterSeconds).toBeLessThanOrEqual(60);
  expect(raw.retryAfter).toBe(String(extensions.retryAfterSeconds));
  expect(extensions.http).toBeUndefined();
}

const Q_TYPENAME = `{ __typename }`;
const Q_WALLET = `query($id: ID!) { wallet(accountId: $id) { balance } }`;
const M_CHARGE = `mutation($input: ChargeInput!) { charge(input: $input) { id } }`;

describe('per API key, by role', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp({ redisUrl: null, rateLimitServicePerMinute: 5, rateLimitReadonlyPerMinute: 2, rateLimitAccountPerMinute: 0 }); });
  afterAll(async () => { await t.close(); });

  it('admits N requests a minute, refuses the next with 429, RATE_LIMITED and retryAfterSeconds; another key is not affected', async () => {
    const [first, second] = [await t.key('SERVICE'), await t.key('SERVICE')];
    for (let i = 0; i < 5; i++) expectAdmitted(await post(t, Q_TYPENAME, {}, first));
    expectLimited(await post(t, Q_TYPENAME, {}, first), 'SERVICE', 5);
    expectLimited(await post(t, Q_TYPENAME, {}, first), 'SERVICE', 5); // refused requests do not open the door again
    expectAdmitted(await post(t, Q_TYPENAME, {}, second));
    expectAdmitted(await post(t, Q_TYPENAME, {}, t.adminKey)); // ADMIN: the default limit
  });

  it('each role has its own limit', async () => {
    const readonly = await t.key('READONLY');
    for (let i = 0; i < 2; i++) expectAdmitted(await post(t, Q_TYPENAME, {}, readonly));
    expectLimited(await post(t, Q_TYPENAME, {}, readonly), 'READONLY', 2);
  });

  it('counts requests refused before execution (a document that does not validate) too', async () => {
    const key = await t.key('SERVICE');
    for (let i = 0; i < 5; i++) expect((await post(t, `{ noSuchField }`, {}, key)).body.errors?.[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expectLimited(await post(t, Q_TYPENAME, {}, key), 'SERVICE', 5);
  });

  it('a refused charge has no effect', async () => {
    const key = await t.key('SERVICE');
    const accountId = await t.createAccount();
    await t.grant(accountId, '10');
    for (let i = 0; i < 5; i++) expectAdmitted(await post(t, M_CHARGE, { input: { accountId, amount: '1', idempotencyKey: uniqueKey('c') } }, key));
    expectLimited(await post(t, M_CHARGE, { input: { accountId, amount: '1', idempotencyKey: uniqueKey('c') } }, key), 'SERVICE', 5);
    const wallet = await t.ok<{ wallet: { balance: string }; transactions: { edges: { node: { type: string; status: string } }[] } }>(`query($id: ID!) { wallet(accountId: $id) { balance } transactions(accountId: $id) { edges { node { type status } } } }`, { id: accountId });
    expect(wallet.wallet.balance).toBe('5');
    expect(wallet.transactions.edges.filter((e) => e.node.type === 'CHARGE')).toHaveLength(5);
  });
});

describe('per account acted on', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp({ redisUrl: null, rateLimitAccountPerMinute: 4 }); });
  afterAll(async () => { await t.close(); });

  it('counts requests on one account across keys; other accounts are not affected', async () => {
    const [hot, cold] = [await t.createAccount('hot'), await t.createAccount('cold')];
    const [first, second] = [await t.key('SERVICE'), await t.key('SERVICE')];
    expectAdmitted(await post(t, Q_WALLET, { id: hot }, first));
    expectAdmitted(await post(t, `{ wallet(accountId: "${hot}") { balance } }`, {}, second)); // a literal argument
    expectAdmitted(await post(t, `query($id: ID!) { account(id: $id) { id } }`, { id: hot }, first)); // account(id:)
    expect((await post(t, M_CHARGE, { input: { accountId: hot, amount: '1', idempotencyKey: uniqueKey('c') } }, second)).status).toBe(200); // input.accountId (refused: no credits)
    expectLimited(await post(t, Q_WALLET, { id: hot }, first), 'account', 4);
    expectLimited(await post(t, `mutation { charge(input: { accountId: "${hot}", amount: "1", idempotencyKey: "${uniqueKey('c')}" }) { id } }`, {}, second), 'account', 4);
    expectLimited(await post(t, Q_WALLET, { id: hot }, t.adminKey), 'account', 4); // whatever the key
    expectAdmitted(await post(t, Q_WALLET, { id: cold }, first));
    expectAdmitted(await post(t, Q_TYPENAME, {}, first)); // the keys themselves are not limited
  });

  it('a user token counts against its own account', async () => {
    const accountId = await t.createAccount();
    const token = await t.userToken(accountId);
    for (let i = 0; i < 4; i++) expectAdmitted(await post(t, Q_TYPENAME, {}, token));
    expectLimited(await post(t, Q_TYPENAME, {}, token), 'account', 4);
    expectLimited(await post(t, Q_WALLET, { id: accountId }, t.adminKey), 'account', 4);
  });
});

describe('per user token and per anonymous client address', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp({ redisUrl: null, rateLimitUserPerMinute: 3, rateLimitAnonymousPerMinute: 3, rateLimitAccountPerMinute: 0 }); });
  afterAll(async () => { await t.close(); });

  it('a user (all tokens of one account) has its own limit', async () => {
    const accountId = await t.createAccount();
    const [a, b] = [await t.userToken(accountId), await t.userToken(accountId)];
    for (const token of [a, b, a]) expectAdmitted(await post(t, Q_WALLET, { id: accountId }, token));
    expectLimited(await post(t, Q_WALLET, { id: accountId }, b), 'user', 3);
    expectAdmitted(await post(t, Q_WALLET, { id: accountId }, t.adminKey));
  });

  it('anonymous requests and refused credentials count per client address', async () => {
    expectAdmitted(await post(t, Q_TYPENAME, {}, null));
    expectAdmitted(await post(t, Q_TYPENAME, {}, null));
    expect((await post(t, Q_TYPENAME, {}, 'ck_not-a-key')).status).toBe(401);
    expectLimited(await post(t, Q_TYPENAME, {}, null), 'anonymous', 3);
    expectLimited(await post(t, Q_TYPENAME, {}, 'ck_not-a-key'), 'anonymous', 3);
  });
});

describe('over graphql-ws', () => {
  let t: TestApp;
  beforeAll(async () => { t = await startTestApp({ redisUrl: null, rateLimitServicePerMinute: 3, rateLimitAccountPerMinute: 0 }); });
  afterAll(async () => { await t.close(); });

  /** Runs one operation; resolves to its errors (an `error` message) or [] when it completed. */
  const run = (client: Client, query: string, variables: Record<string, unknown> = {}) => new Promise<unknown[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer')), 10_000);
    let unsubscribe = () => {};
    unsubscribe = client.subscribe({ query, variables }, {
      next: () => { clearTimeout(timer); setImmediate(() => unsubscribe()); resolve([]); },
      error: (error) => { clearTimeout(timer); resolve(Array.isArray(error) ? error : [error]); },
      complete: () => { clearTimeout(timer); resolve([]); },
    });
  });

  it('each subscribe counts; beyond the limit the subscribe gets RATE_LIMITED with retryAfterSeconds', async () => {
    const key = await t.key('SERVICE');
    const accountId = await t.createAccount();
    await t.grant(accountId, '1'); // one event to replay
    const client = t.ws(key);
    expect(await run(client, Q_TYPENAME)).toEqual([]);
    expect(await run(client, `subscription($id: ID!) { walletEvents(accountId: $id, afterSequence: 0) { sequence } }`, { id: accountId })).toEqual([]);
    expect(await run(client, Q_TYPENAME)).toEqual([]);
    const errors = await run(client, `subscription($id: ID!) { walletEvents(accountId: $id) { sequence } }`, { id: accountId });
    expect(errors).toHaveLength(1);
    const { extensions } = errors[0] as { extensions?: Record<string, unknown> };
    expect(extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 'SERVICE', limitPerMinute: 3 });
    expect(Number.isInteger(extensions?.retryAfterSeconds)).toBe(true);
    expect(extensions?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(extensions?.http).toBeUndefined();
    expectLimited(await post(t, Q_TYPENAME, {}, key), 'SERVICE', 3); // one count for HTTP and WebSocket
  });
});

describe('configuration', () => {
  it('0 turns a limit off', async () => {
    const t = await startTestApp({ redisUrl: null, rateLimitServicePerMinute: 0, rateLimitAccountPerMinute: 0 });
    try {
      const key = await t.key('SERVICE');
      for (let i = 0; i < 30; i++) expectAdmitted(await post(t, Q_TYPENAME, {}, key));
    } finally {
      await t.close();
    }
  });

  it('an unreachable Redis neither stops the server nor lets everything through: each instance counts in memory', async () => {
    // Starting at all is the check (jest's timeout bounds it): no wall-clock assertion on a shared machine.
    const t = await startTestApp({ redisUrl: 'redis://127.0.0.1:1', rateLimitServicePerMinute: 3, rateLimitAccountPerMinute: 0 });
    try {
      const key = await t.key('SERVICE');
      for (let i = 0; i < 3; i++) expectAdmitted(await post(t, Q_TYPENAME, {}, key));
      expectLimited(await post(t, Q_TYPENAME, {}, key), 'SERVICE', 3);
    } finally {
      await t.close();
    }
  });
});
