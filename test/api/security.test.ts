/**
 * Access control and abuse limits (PRODUCT.md §8): who may read, move credits, subscribe and manage
 * keys; what happens to bad, tampered, expired and revoked credentials; body, alias and depth limits;
 * and that no error ever carries SQL or a stack trace.
 */
import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { apiKeys } from '../../src/db/schema';
import { startTestApp, uniqueKey, type GqlResult, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const Q_WALLET = `query($id: ID!) { wallet(accountId: $id) { accountId balance sequence } }`;
const Q_ACCOUNT = `query($id: ID) { account(id: $id) { id name wallet { balance } } }`;
const Q_TRANSACTIONS = `query($id: ID!) { transactions(accountId: $id) { edges { node { id type amount } } } }`;
const M_CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id type status amount } }`;
const M_RESERVE = `mutation($i: ReserveInput!) { reserveCredits(input: $i) { id status amount } }`;
const M_GRANT = `mutation($i: GrantCreditsInput!) { grantCredits(input: $i) { id type amount } }`;
const M_CREATE_KEY = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { id secret role name } }`;
const M_REVOKE_KEY = `mutation($id: ID!) { revokeApiKey(id: $id) }`;
const M_UPDATE_WALLET = `mutation($i: UpdateWalletInput!) { updateWallet(input: $i) { frozen } }`;
const M_REVERSE = `mutation($i: ReverseInput!) { reverseTransaction(input: $i) { id type } }`;
const M_ISSUE_TOKEN = `mutation($id: ID!, $ttl: Int) { issueUserToken(accountId: $id, ttlSeconds: $ttl) { token expiresAt } }`;
const S_EVENTS = `subscription($id: ID!, $after: Int) { walletEvents(accountId: $id, afterSequence: $after) { accountId sequence kind balance available transaction { type amount } } }`;

/** What the queries and mutations above answer when they succeed. */
interface WalletData { wallet: { accountId: string; balance: string; sequence: number } }
interface AccountData { account: { id: string; name: string; wallet: { balance: string } } }
interface TransactionsData { transactions: { edges: { node: { id: string; type: string; amount: string } }[] } }
interface ChargeData { charge: { id: string; type: string; status: string; amount: string } }
interface CreateKeyData { createApiKey: { id: string; secret: string; role: string; name: string } }
interface RevokeKeyData { revokeApiKey: boolean }
interface IssueTokenData { issueUserToken: { token: string; expiresAt: string } }
type GqlError = NonNullable<GqlResult['errors']>[number];

const chargeVars = (accountId: string, amount = '1') => ({ i: { accountId, amount, idempotencyKey: uniqueKey('charge') } });
const reserveVars = (accountId: string, amount = '1') => ({ i: { accountId, amount, idempotencyKey: uniqueKey('hold') } });
const grantVars = (accountId: string, amount = '1') => ({ i: { accountId, amount, source: 'PROMO', idempotencyKey: uniqueKey('grant') } });

/** The code of the single error `query` produces. */
async function codeOf(query: string, variables: Record<string, unknown>, token: string | null): Promise<string> {
  const { code } = (await t.fails(query, variables, token)).extensions;
  if (typeof code !== 'string') throw new Error(`the error has no code: ${JSON.stringify(code)}`);
  return code;
}

type Outcome =
  | { kind: 'data'; data: unknown }
  | { kind: 'errors'; errors: GqlError[] }
  | { kind: 'closed'; code: number; reason: string }
  | { kind: 'complete' };

/** What a subscription produces first: an event, GraphQL errors, or the socket being closed. */
function firstOutcome(client: Client, query: string, variables: Record<string, unknown>): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
      setImmediate(() => unsubscribe());
    };
    const timer = setTimeout(() => { settled = true; unsubscribe(); reject(new Error('the subscription produced nothing')); }, 15000);
    const unsubscribe = client.subscribe({ query, variables }, {
      next: (value) => settle(value.errors ? { kind: 'errors', errors: value.errors as GqlError[] } : { kind: 'data', data: value.data }),
      error: (error: unknown) => {
        // graphql-ws hands over GraphQL errors as an array, a closed socket as its close event
        if (Array.isArray(error)) settle({ kind: 'errors', errors: error as GqlError[] });
        else if (error && typeof (error as { code?: unknown }).code === 'number') {
          const { code, reason } = error as { code: number; reason?: unknown };
          settle({ kind: 'closed', code, reason: typeof reason === 'string' ? reason : '' });
        } else settle({ kind: 'errors', errors: [{ message: error instanceof Error ? error.message : String(error) }] });
      },
      complete: () => settle({ kind: 'complete' }),
    });
  });
}

function expectErrorCode(outcome: Outcome, code: string): void {
  expect(outcome.kind).toBe('errors');
  if (outcome.kind !== 'errors') return;
  expect(outcome.errors.map((e) => e.extensions?.code)).toEqual([code]);
}

function expectNoLeak(text: string): void {
  expect(text).not.toMatch(/stacktrace/i);
  expect(text.toLowerCase()).not.toContain('select ');
  expect(text.toLowerCase()).not.toContain('insert into');
  expect(text).not.toContain('at /');
  expect(text).not.toMatch(/\bat [\w.<>]+ \(/); // a V8 stack frame
  expect(text).not.toContain('node_modules');
}

async function rawPost(body: string, token: string | null = t.adminKey, contentType = 'application/json') {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  return { status: response.status, text: await response.text() };
}

async function accountWithCredits(amount = '50'): Promise<string> {
  const accountId = await t.createAccount();
  await t.grant(accountId, amount);
  return accountId;
}

describe('user tokens', () => {
  test('a user token is refused on every query of another account', async () => {
    const mine = await accountWithCredits();
    const other = await accountWithCredits();
    const token = await t.userToken(mine);
    expect(await codeOf(Q_WALLET, { id: other }, token)).toBe('FORBIDDEN');
    expect(await codeOf(Q_ACCOUNT, { id: other }, token)).toBe('FORBIDDEN');
    expect(await codeOf(Q_TRANSACTIONS, { id: other }, token)).toBe('FORBIDDEN');
    const tx = (await t.ok<TransactionsData>(Q_TRANSACTIONS, { id: other })).transactions.edges[0].node;
    expect(await codeOf(`query($id: ID!) { transaction(id: $id) { id amount } }`, { id: tx.id }, token)).toBe('FORBIDDEN');
  });

  test('a user token is refused on every mutation against another account, and nothing moves', async () => {
    const mine = await accountWithCredits();
    const other = await accountWithCredits('20');
    const token = await t.userToken(mine);
    expect(await codeOf(M_CHARGE, chargeVars(other), token)).toBe('FORBIDDEN');
    expect(await codeOf(M_RESERVE, reserveVars(other), token)).toBe('FORBIDDEN');
    expect(await codeOf(M_GRANT, grantVars(other), token)).toBe('FORBIDDEN');
    const wallet = (await t.ok<WalletData>(Q_WALLET, { id: other })).wallet;
    expect(wallet).toMatchObject({ balance: '20', sequence: 1 });
  });

  test("a user token cannot subscribe to another account's events", async () => {
    const mine = await accountWithCredits();
    const other = await accountWithCredits();
    const outcome = await firstOutcome(t.ws(await t.userToken(mine)), S_EVENTS, { id: other, after: 0 });
    expectErrorCode(outcome, 'FORBIDDEN');
  });

  test('a user token reads its own wallet, account and history', async () => {
    const mine = await accountWithCredits('12');
    await t.ok<ChargeData>(M_CHARGE, chargeVars(mine, '2'));
    const token = await t.userToken(mine);
    expect((await t.ok<WalletData>(Q_WALLET, { id: mine }, token)).wallet).toMatchObject({ accountId: mine, balance: '10', sequence: 2 });
    expect((await t.ok<AccountData>(Q_ACCOUNT, { id: mine }, token)).account).toMatchObject({ id: mine, wallet: { balance: '10' } });
    const history = (await t.ok<TransactionsData>(Q_TRANSACTIONS, { id: mine }, token)).transactions.edges.map((e) => [e.node.type, e.node.amount]);
    expect(history).toEqual([['CHARGE', '-2'], ['GRANT', '12']]);
  });

  test('a user token subscribes to its own events', async () => {
    const mine = await accountWithCredits('10');
    const client = t.ws(await t.userToken(mine));
    const outcome = await firstOutcome(client, S_EVENTS, { id: mine, after: 0 });
    expect(outcome).toEqual({
      kind: 'data',
      data: { walletEvents: { accountId: mine, sequence: 1, kind: 'GRANT', balance: '10', available: '10', transaction: { type: 'GRANT', amount: '10' } } },
    });
  });

  test('a user token cannot grant or charge even its own account', async () => {
    const mine = await accountWithCredits('10');
    const token = await t.userToken(mine);
    expect(await codeOf(M_CHARGE, chargeVars(mine), token)).toBe('FORBIDDEN');
    expect(await codeOf(M_RESERVE, reserveVars(mine), token)).toBe('FORBIDDEN');
    expect(await codeOf(M_GRANT, grantVars(mine), token)).toBe('FORBIDDEN');
    expect(await codeOf(M_UPDATE_WALLET, { i: { accountId: mine, frozen: true } }, token)).toBe('FORBIDDEN');
    expect(await codeOf(M_ISSUE_TOKEN, { id: mine }, token)).toBe('FORBIDDEN');
    expect(await codeOf(M_CREATE_KEY, { i: { name: 'mine', role: 'ADMIN' } }, token)).toBe('FORBIDDEN');
    expect((await t.ok<WalletData>(Q_WALLET, { id: mine })).wallet).toMatchObject({ balance: '10', sequence: 1 });
  });

  test('a tampered user token is UNAUTHENTICATED', async () => {
    const mine = await accountWithCredits();
    const other = await accountWithCredits();
    const token = await t.userToken(mine);
    const [prefix, payload, signature] = token.split('.');
    expect(prefix).toBe('ut1');
    // Same signature, payload rewritten to name another account.
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { e: number } & Record<string, unknown>;
    const forged = `${prefix}.${Buffer.from(JSON.stringify({ ...claims, a: other })).toString('base64url')}.${signature}`;
    expect(await codeOf(Q_WALLET, { id: other }, forged)).toBe('UNAUTHENTICATED');
    // Extended expiry with the old signature.
    const extended = `${prefix}.${Buffer.from(JSON.stringify({ ...claims, e: claims.e + 86400 })).toString('base64url')}.${signature}`;
    expect(await codeOf(Q_WALLET, { id: mine }, extended)).toBe('UNAUTHENTICATED');
    // One character of the signature changed.
    const flipped = signature[0] === 'A' ? 'B' + signature.slice(1) : 'A' + signature.slice(1);
    expect(await codeOf(Q_WALLET, { id: mine }, `${prefix}.${payload}.${flipped}`)).toBe('UNAUTHENTICATED');
    // Truncated, and without a signature.
    expect(await codeOf(Q_WALLET, { id: mine }, token.slice(0, -3))).toBe('UNAUTHENTICATED');
    expect(await codeOf(Q_WALLET, { id: mine }, `${prefix}.${payload}`)).toBe('UNAUTHENTICATED');
    // The untouched token still works.
    expect((await t.ok<WalletData>(Q_WALLET, { id: mine }, token)).wallet.accountId).toBe(mine);
  });

  test('an expired user token is UNAUTHENTICATED on HTTP and WebSocket', async () => {
    const mine = await accountWithCredits();
    const issued = (await t.ok<IssueTokenData>(M_ISSUE_TOKEN, { id: mine, ttl: 60 })).issueUserToken;
    expect(new Date(issued.expiresAt).getTime()).toBe(t.clock.now().getTime() + 60_000);
    expect((await t.ok<WalletData>(Q_WALLET, { id: mine }, issued.token)).wallet.accountId).toBe(mine);
    t.clock.advanceSeconds(61);
    expect(await codeOf(Q_WALLET, { id: mine }, issued.token)).toBe('UNAUTHENTICATED');
    const outcome = await firstOutcome(t.ws(issued.token), S_EVENTS, { id: mine, after: 0 });
    expect(outcome).toMatchObject({ kind: 'closed', code: 4403 });
  });
});

describe('API keys and roles', () => {
  test('createApiKey returns the secret once, stores only its hash, and the secret works', async () => {
    const accountId = await accountWithCredits('7');
    const created = (await t.ok<CreateKeyData>(M_CREATE_KEY, { i: { name: 'dashboard', role: 'READONLY' } })).createApiKey;
    expect(created).toMatchObject({ role: 'READONLY', name: 'dashboard' });
    expect(created.secret).toMatch(/^ck_.{20,}$/);
    expect((await t.ok<WalletData>(Q_WALLET, { id: accountId }, created.secret)).wallet.balance).toBe('7');

    const rows = await t.app.services.db.select().from(apiKeys);
    const row = rows.find((r) => r.id === created.id)!;
    expect(row).toBeDefined();
    expect(JSON.stringify(rows)).not.toContain(created.secret);
    expect(row.secretHash).not.toContain(created.secret.slice(3));

    // No type other than CreatedApiKey exposes a secret, so it cannot be read back.
    const schema = await t.ok<{ __schema: { types: { name: string; fields: { name: string }[] | null }[] } }>(`{ __schema { types { name fields { name } } } }`);
    const withSecret = schema.__schema.types.filter((ty) => ty.fields?.some((f) => /secret/i.test(f.name))).map((ty) => ty.name);
    expect(withSecret).toEqual(['CreatedApiKey']);
  });

  test('a revoked key is UNAUTHENTICATED on HTTP and its WebSocket connection is refused', async () => {
    const accountId = await accountWithCredits('10');
    const created = (await t.ok<CreateKeyData>(M_CREATE_KEY, { i: { name: 'to revoke', role: 'SERVICE' } })).createApiKey;
    // Used once before revocation (so the server has it cached).
    expect((await t.ok<ChargeData>(M_CHARGE, chargeVars(accountId), created.secret)).charge.status).toBe('SUCCEEDED');
    const live = await firstOutcome(t.ws(created.secret), S_EVENTS, { id: accountId, after: 0 });
    expect(live).toMatchObject({ kind: 'data', data: { walletEvents: { sequence: 1 } } });

    expect((await t.ok<RevokeKeyData>(M_REVOKE_KEY, { id: created.id })).revokeApiKey).toBe(true);
    expect(await codeOf(Q_WALLET, { id: accountId }, created.secret)).toBe('UNAUTHENTICATED');
    expect(await codeOf(M_CHARGE, chargeVars(accountId), created.secret)).toBe('UNAUTHENTICATED');
    const refused = await firstOutcome(t.ws(created.secret), S_EVENTS, { id: accountId, after: 0 });
    expect(refused).toMatchObject({ kind: 'closed', code: 4403 });
    expect((await t.ok<WalletData>(Q_WALLET, { id: accountId })).wallet).toMatchObject({ balance: '9', sequence: 2 });
  });

  test('revoking a key closes its open WebSocket connections (4403) and ends their subscriptions', async () => {
    const accountId = await accountWithCredits('10');
    const created = (await t.ok<CreateKeyData>(M_CREATE_KEY, { i: { name: 'revoked while connected', role: 'SERVICE' } })).createApiKey;
    const client = t.ws(created.secret);
    let firstEvent: () => void = () => {};
    const opened = new Promise<void>((resolve) => (firstEvent = resolve));
    const ended = new Promise<unknown>((resolve) => {
      client.subscribe({ query: S_EVENTS, variables: { id: accountId, after: 0 } }, { next: () => firstEvent(), error: resolve, complete: () => resolve('complete') });
    });
    await opened;
    expect((await t.ok<RevokeKeyData>(M_REVOKE_KEY, { id: created.id })).revokeApiKey).toBe(true);
    expect(await ended).toMatchObject({ code: 4403 });
    // Reconnecting with the revoked key is refused as well.
    expect(await firstOutcome(client, S_EVENTS, { id: accountId, after: 0 })).toMatchObject({ kind: 'closed', code: 4403 });
  });

  test('NUL characters in text inputs are BAD_USER_INPUT on HTTP and WebSocket, and nothing is written', async () => {
    const accountId = await accountWithCredits('10');
    expect(await codeOf(M_CHARGE, { i: { accountId, amount: '1', idempotencyKey: uniqueKey(), comment: 'a\u0000b' } }, t.adminKey)).toBe('BAD_USER_INPUT');
    expect(await codeOf(`{ account(externalId: "x\\u0000y") { id } }`, {}, t.adminKey)).toBe('BAD_USER_INPUT');
    expectErrorCode(await firstOutcome(t.ws(), S_EVENTS, { id: 'a\u0000' }), 'BAD_USER_INPUT');
    expect((await t.ok<WalletData>(Q_WALLET, { id: accountId })).wallet).toMatchObject({ balance: '10', sequence: 1 });
  });

  test('revokeApiKey is admin only and NOT_FOUND for an unknown key', async () => {
    const service = await t.key('SERVICE');
    const created = (await t.ok<CreateKeyData>(M_CREATE_KEY, { i: { name: 'other', role: 'READONLY' } })).createApiKey;
    expect(await codeOf(M_REVOKE_KEY, { id: created.id }, service)).toBe('FORBIDDEN');
    expect(await codeOf(M_REVOKE_KEY, { id: randomUUID() }, t.adminKey)).toBe('NOT_FOUND');
    expect(await codeOf(M_REVOKE_KEY, { id: 'nope' }, t.adminKey)).toBe('NOT_FOUND');
  });

  test('a READONLY key reads but cannot charge, grant or reserve', async () => {
    const accountId = await accountWithCredits('10');
    const readonly = await t.key('READONLY');
    expect((await t.ok<WalletData>(Q_WALLET, { id: accountId }, readonly)).wallet.balance).toBe('10');
    expect((await t.ok<AccountData>(Q_ACCOUNT, { id: accountId }, readonly)).account.id).toBe(accountId);
    expect((await t.ok<TransactionsData>(Q_TRANSACTIONS, { id: accountId }, readonly)).transactions.edges).toHaveLength(1);
    expect(await codeOf(M_CHARGE, chargeVars(accountId), readonly)).toBe('FORBIDDEN');
    expect(await codeOf(M_GRANT, grantVars(accountId), readonly)).toBe('FORBIDDEN');
    expect(await codeOf(M_RESERVE, reserveVars(accountId), readonly)).toBe('FORBIDDEN');
    expect(await codeOf(`mutation { createAccount(input: { name: "x" }) { id } }`, {}, readonly)).toBe('FORBIDDEN');
    expect((await t.ok<WalletData>(Q_WALLET, { id: accountId })).wallet).toMatchObject({ balance: '10', sequence: 1 });
  });

  test('a SERVICE key charges but cannot grant, create keys, update wallets or reverse', async () => {
    const accountId = await accountWithCredits('10');
    const service = await t.key('SERVICE');
    const charged = (await t.ok<ChargeData>(M_CHARGE, chargeVars(accountId, '3'), service)).charge;
    expect(charged).toMatchObject({ type: 'CHARGE', status: 'SUCCEEDED', amount: '-3' });
    expect(await codeOf(M_GRANT, grantVars(accountId), service)).toBe('FORBIDDEN');
    expect(await codeOf(M_CREATE_KEY, { i: { name: 'escalate', role: 'ADMIN' } }, service)).toBe('FORBIDDEN');
    expect(await codeOf(M_UPDATE_WALLET, { i: { accountId, overdraftLimit: '1000' } }, service)).toBe('FORBIDDEN');
    expect(await codeOf(M_REVERSE, { i: { transactionId: charged.id, idempotencyKey: uniqueKey('rev') } }, service)).toBe('FORBIDDEN');
    expect(await codeOf(`{ auditLedger { ok } }`, {}, service)).toBe('FORBIDDEN');
    expect((await t.ok<WalletData>(Q_WALLET, { id: accountId })).wallet).toMatchObject({ balance: '7', sequence: 2 });
  });

  test('no token is UNAUTHENTICATED for reads, writes and subscriptions', async () => {
    const accountId = await accountWithCredits();
    expect(await codeOf(Q_WALLET, { id: accountId }, null)).toBe('UNAUTHENTICATED');
    expect(await codeOf(Q_ACCOUNT, { id: accountId }, null)).toBe('UNAUTHENTICATED');
    expect(await codeOf(Q_TRANSACTIONS, { id: accountId }, null)).toBe('UNAUTHENTICATED');
    expect(await codeOf(M_CHARGE, chargeVars(accountId), null)).toBe('UNAUTHENTICATED');
    expect(await codeOf(M_CREATE_KEY, { i: { name: 'anon', role: 'ADMIN' } }, null)).toBe('UNAUTHENTICATED');
    expectErrorCode(await firstOutcome(t.ws(null), S_EVENTS, { id: accountId, after: 0 }), 'UNAUTHENTICATED');
  });

  test('a garbage token is UNAUTHENTICATED on HTTP and refused on WebSocket', async () => {
    const accountId = await accountWithCredits();
    for (const garbage of ['garbage', 'ck_not-a-real-key', 'ut1.', 'ut1.bm9wZQ.nope', 'ck_' + 'x'.repeat(5000)]) {
      expect(await codeOf(Q_WALLET, { id: accountId }, garbage)).toBe('UNAUTHENTICATED');
    }
    // A client error, not a server failure.
    const response = await rawPost(JSON.stringify({ query: Q_WALLET, variables: { id: accountId } }), 'garbage');
    expect(response.status).toBe(401);
    expect((JSON.parse(response.text) as GqlResult).errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(await firstOutcome(t.ws('ck_not-a-real-key'), S_EVENTS, { id: accountId, after: 0 })).toMatchObject({ kind: 'closed', code: 4403 });
  });

  test('issueUserToken: admin and service may, READONLY may not, unknown account is NOT_FOUND', async () => {
    const accountId = await accountWithCredits('4');
    const byAdmin = (await t.ok<IssueTokenData>(M_ISSUE_TOKEN, { id: accountId })).issueUserToken;
    const byService = (await t.ok<IssueTokenData>(M_ISSUE_TOKEN, { id: accountId, ttl: 300 }, await t.key('SERVICE'))).issueUserToken;
    for (const { token } of [byAdmin, byService]) expect((await t.ok<WalletData>(Q_WALLET, { id: accountId }, token)).wallet.balance).toBe('4');
    expect(await codeOf(M_ISSUE_TOKEN, { id: accountId }, await t.key('READONLY'))).toBe('FORBIDDEN');
    expect(await codeOf(M_ISSUE_TOKEN, { id: randomUUID() }, t.adminKey)).toBe('NOT_FOUND');
    expect(await codeOf(M_ISSUE_TOKEN, { id: 'not-an-id' }, t.adminKey)).toBe('NOT_FOUND');
    expect(await codeOf(M_ISSUE_TOKEN, { id: accountId, ttl: 0 }, t.adminKey)).toBe('BAD_USER_INPUT');
    expect(await codeOf(M_ISSUE_TOKEN, { id: accountId, ttl: 10 * 365 * 86400 }, t.adminKey)).toBe('BAD_USER_INPUT');
  });
});

describe('limits and error hygiene', () => {
  test('a request body over the limit is refused without leaking internals', async () => {
    const accountId = await accountWithCredits();
    const body = JSON.stringify({ query: Q_WALLET, variables: { id: accountId, padding: 'x'.repeat(t.app.services.config.bodySizeLimitBytes + 1024) } });
    const response = await rawPost(body);
    expect(response.status).toBe(413);
    expectNoLeak(response.text);
    // A body under the limit still works.
    const small = await rawPost(JSON.stringify({ query: Q_WALLET, variables: { id: accountId, padding: 'x'.repeat(1000) } }));
    expect(small.status).toBe(200);
    expect((JSON.parse(small.text) as GqlResult<WalletData>).data?.wallet.accountId).toBe(accountId);
  });

  test('too many aliases are rejected', async () => {
    const aliasesMax = t.app.services.config.queryAliasesMax;
    const fields = (n: number) => Array.from({ length: n }, (_, i) => `a${i}: __typename`).join(' ');
    const ok = await t.gql(`{ ${fields(aliasesMax)} }`);
    expect(ok.errors).toBeUndefined();
    const result = await t.gql(`{ ${fields(aliasesMax + 1)} }`);
    expect(result.data).toBeUndefined();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0].message).toMatch(/alias/);
    expectNoLeak(JSON.stringify(result));
  });

  test('too deep queries are rejected', async () => {
    // Ordinary fields nest at most 7 deep in this schema; introspection, which nests without bound
    // (__schema > types > fields > type > ofType > ofType > …), has its own depth limit.
    const depthMax = t.app.services.config.introspectionDepthMax;
    // depth = 4 (__schema, types, fields, type) + levels of ofType + 1 (name)
    const nest = (levels: number) => `{ __schema { types { fields { type { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } } } } }`;
    const ok = await t.gql(nest(depthMax - 5));
    expect(ok.errors).toBeUndefined();
    const result = await t.gql(nest(depthMax - 4));
    expect(result.data).toBeUndefined();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0].message).toMatch(/depth/);
    // The same limit applies through fragments.
    const viaFragments = await t.gql(`{ __schema { ...T } } fragment T on __Schema { types { fields { type { ...O } } } } fragment O on __Type { ${'ofType { '.repeat(depthMax)}name${' }'.repeat(depthMax)} }`);
    expect(viaFragments.data).toBeUndefined();
    expect(viaFragments.errors?.[0].message).toMatch(/depth/);
  });

  test('errors never leak SQL or stack traces', async () => {
    const accountId = await accountWithCredits('1');
    const texts: string[] = [];
    const record = async (query: string, variables: Record<string, unknown> = {}, token: string | null = t.adminKey) => {
      const result = await t.gql(query, variables, token);
      expect(result.errors?.length).toBeGreaterThan(0);
      texts.push(JSON.stringify(result));
      return result;
    };
    // A value PostgreSQL cannot store (NUL in text) reaches the database: an internal error, reported bare.
    const internal = await record(`query($e: String) { account(externalId: $e) { id } }`, { e: 'a\u0000b' });
    expect(['INTERNAL_SERVER_ERROR', 'BAD_USER_INPUT']).toContain(internal.errors![0].extensions?.code);
    await record(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId, amount: '1', idempotencyKey: uniqueKey(), comment: 'x\u0000y' } });
    await record(M_CHARGE, chargeVars(accountId, '1000')); // INSUFFICIENT_CREDITS
    await record(M_CHARGE, chargeVars(accountId, '1.0001')); // BAD_USER_INPUT
    await record(M_CHARGE, { i: { accountId: randomUUID(), amount: '1', idempotencyKey: uniqueKey() } }); // NOT_FOUND
    await record(`{ wallet(accountId: "x") { nope } }`); // validation
    await record(`{ wallet(accountId: `); // parse error
    await record(`query($id: ID!) { transactions(accountId: $id, after: "bogus") { edges { cursor } } }`, { id: accountId });
    await record(Q_WALLET, { id: accountId }, 'garbage'); // context error
    const overHttp = await record(`subscription { walletEvents(accountId: "x") { sequence } }`); // subscription over HTTP
    expect(overHttp.errors![0].extensions?.code).toBe('BAD_REQUEST');
    for (const text of texts) expectNoLeak(text);

    // Malformed JSON and wrong content types.
    for (const [body, type] of [['{"query": ', 'application/json'], ['not json at all', 'application/json'], ['query=x', 'text/plain']]) {
      const response = await rawPost(body, t.adminKey, type);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expectNoLeak(response.text);
    }

    // Over WebSocket too.
    const ws = await firstOutcome(t.ws(), `subscription($id: ID!) { walletEvents(accountId: $id, afterSequence: -1) { sequence } }`, { id: accountId });
    expectErrorCode(ws, 'BAD_USER_INPUT');
    expectNoLeak(JSON.stringify(ws));
  });
});
