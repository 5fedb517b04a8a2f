/**
 * The typed client (src/client) against a real server: typed results, idempotency keys generated
 * per call and kept across retries, retryable errors retried within bounds, typed error codes,
 * and subscriptions (handlers and async iteration).
 */
import {
  AccountDocument, AddTeamMemberDocument, ChargeDocument, ReviewsDocument, TeamMemberDocument, TeamMembersDocument, UpdateTeamMemberDocument, CreateAccountDocument, CreditsApiError, GrantCreditsDocument, TransactionsDocument, WalletDocument,
  WalletEventsDocument, type CreditsClient,
} from '../../src/client';
import { startTestApp, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

/** A request's JSON body as the client sends it (mutations carry their idempotency key in `input`). */
interface Call { operationName: string; variables: { input?: Record<string, unknown> & { idempotencyKey?: string } } }
/** The idempotency key a mutation sent; fails if it sent none. */
const keyOf = (call: Call): string => {
  const key = call.variables.input?.idempotencyKey;
  if (typeof key !== 'string') throw new Error(`${call.operationName} sent no idempotency key`);
  return key;
};

/**
 * A fetch that records each request and lets `answer` replace the server's response: it gets the
 * call and the real fetch, and returns a response or null to pass the request on.
 */
function recordingFetch(answer: (call: Call, index: number, forward: () => Promise<Response>) => Promise<Response | null> = async () => null) {
  const calls: Call[] = [];
  const wrapped = (async (input: string | URL | Request, init?: RequestInit) => {
    if (typeof init?.body !== 'string') throw new Error('expected a JSON string body');
    const body = JSON.parse(init.body) as Call;
    calls.push(body);
    const forward = () => fetch(input, init);
    return (await answer(body, calls.length - 1, forward)) ?? forward();
  }) as typeof fetch;
  return { calls, fetch: wrapped };
}

const unavailable = () => new Response(JSON.stringify({ errors: [{ message: 'the database is restarting', extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } }] }), {
  status: 503, headers: { 'content-type': 'application/json' },
});
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

async function fundedAccount(client: CreditsClient, amount: string): Promise<string> {
  const { createAccount } = await client.request(CreateAccountDocument, { input: { name: 'Client test' } });
  await client.request(GrantCreditsDocument, { input: { accountId: createAccount.id, amount, source: 'PURCHASE' } });
  return createAccount.id;
}

test('requests are typed end to end: variables in, data out', async () => {
  const client = t.client();
  const { createAccount } = await client.request(CreateAccountDocument, { input: { name: 'Typed', kind: 'TEAM', externalId: `typed-${Date.now()}` } });
  expect(createAccount).toMatchObject({ name: 'Typed', kind: 'TEAM', wallet: { balance: '0', buckets: [] } });
  const grant = (await client.request(GrantCreditsDocument, { input: { accountId: createAccount.id, amount: '10', source: 'PROMO' } })).grantCredits;
  expect(grant).toMatchObject({ type: 'GRANT', amount: '10', balanceAfter: '10', entries: [{ bucketSource: 'PROMO', amount: '10' }] });
  const { account } = await client.request(AccountDocument, { id: createAccount.id });
  const balance: string | undefined = account?.wallet.balance; // Credits are decimal strings
  expect(balance).toBe('10');
});

test('a mutation without an idempotency key gets a new one per call; a given key is sent as it is', async () => {
  const { calls, fetch } = recordingFetch();
  const client = t.client(undefined, { fetch });
  const accountId = await fundedAccount(client, '10');
  await client.request(ChargeDocument, { input: { accountId, amount: '1' } });
  await client.request(ChargeDocument, { input: { accountId, amount: '1' } });
  await client.request(ChargeDocument, { input: { accountId, amount: '1', idempotencyKey: 'mine-1' } });
  const keys = calls.filter((c) => c.operationName === 'Charge').map((c) => c.variables.input?.idempotencyKey);
  expect(keys).toHaveLength(3);
  expect(keys[0]).toMatch(uuid);
  expect(keys[1]).toMatch(uuid);
  expect(keys[0]).not.toBe(keys[1]);
  expect(keys[2]).toBe('mine-1');
  // grants carry a key too; createAccount has none to fill in
  expect(calls.find((c) => c.operationName === 'GrantCredits')?.variables.input?.idempotencyKey).toMatch(uuid);
  expect(calls.find((c) => c.operationName === 'CreateAccount')?.variables.input).not.toHaveProperty('idempotencyKey');
  expect((await t.op(WalletDocument, { accountId })).wallet).toMatchObject({ balance: '7', sequence: 4 });
});

test('a charge whose answer was lost (503) is retried with the same key and charged once', async () => {
  // The first charge reaches the server and commits, but the client sees a 503 instead of the answer.
  const { calls, fetch } = recordingFetch(async (call, _index, forward) => {
    if (call.operationName !== 'Charge' || calls.filter((c) => c.operationName === 'Charge').length > 1) return null;
    await forward();
    return unavailable();
  });
  const client = t.client(undefined, { fetch, retry: { baseDelayMs: 1 } });
  const accountId = await fundedAccount(client, '10');
  const { charge } = await client.request(ChargeDocument, { input: { accountId, amount: '4' } });
  expect(charge).toMatchObject({ status: 'SUCCEEDED', amount: '-4', balanceAfter: '6' });
  const charges = calls.filter((c) => c.operationName === 'Charge');
  expect(charges).toHaveLength(2);
  expect(keyOf(charges[1])).toBe(keyOf(charges[0]));
  const history = (await t.op(TransactionsDocument, { accountId, first: 10, filter: { types: ['CHARGE'] } })).transactions.edges;
  expect(history.map((e) => e.node.id)).toEqual([charge.id]);
  expect((await t.op(WalletDocument, { accountId })).wallet?.balance).toBe('6');
});

test('retries stop after maxAttempts and raise the last error, typed', async () => {
  const { calls, fetch } = recordingFetch(async () => unavailable());
  const client = t.client(undefined, { fetch, retry: { maxAttempts: 3, baseDelayMs: 1 } });
  const error = await client.request(WalletDocument, { accountId: '00000000-0000-4000-8000-000000000000' }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CreditsApiError);
  expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', status: 503, retryable: true });
  expect(calls).toHaveLength(3);
});

test('RATE_LIMITED is retried after the retryAfterSeconds the server gives', async () => {
  const { calls, fetch } = recordingFetch(async (_call, index) => index > 0 ? null : new Response(JSON.stringify({
    errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED', retryable: true, retryAfterSeconds: 1, limit: 'ADMIN' } }],
  }), { status: 429, headers: { 'content-type': 'application/json', 'retry-after': '1' } }));
  const client = t.client(undefined, { fetch, retry: { baseDelayMs: 1 } });
  // The wait is the server's 1 s, not the 1 ms backoff: the client's timer is asked for 1000 ms.
  const timers = jest.spyOn(global, 'setTimeout');
  try {
    expect((await client.request(WalletDocument, { accountId: '00000000-0000-4000-8000-000000000000' })).wallet).toBeNull();
    expect(timers.mock.calls.map((call) => call[1])).toContain(1000);
  } finally {
    timers.mockRestore();
  }
  expect(calls).toHaveLength(2);
});

test("a RATE_LIMITED wait longer than maxDelayMs is raised at once with the server's retryAfterSeconds", async () => {
  const limited = await startTestApp({ redisUrl: null, rateLimitServicePerMinute: 1, rateLimitAccountPerMinute: 0 });
  try {
    const { calls, fetch } = recordingFetch();
    const client = limited.client(await limited.key('SERVICE'), { fetch, retry: { maxDelayMs: 500 } });
    await client.request(WalletDocument, { accountId: '00000000-0000-4000-8000-000000000000' });
    const error = await client.request(WalletDocument, { accountId: '00000000-0000-4000-8000-000000000000' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CreditsApiError);
    const refusal = error as CreditsApiError;
    expect(refusal.code).toBe('RATE_LIMITED');
    expect(refusal.status).toBe(429);
    expect(refusal.retryAfterSeconds).toBeGreaterThan(0);
    expect(refusal.extensions).toMatchObject({ code: 'RATE_LIMITED', retryable: true, limit: 'SERVICE' });
    expect(calls).toHaveLength(2);
  } finally {
    await limited.close();
  }
});

test('refusals are CreditsApiError with their code and details, and are not retried', async () => {
  const { calls, fetch } = recordingFetch();
  const client = t.client(undefined, { fetch, retry: { baseDelayMs: 1 } });
  const accountId = await fundedAccount(client, '2');
  const before = calls.length;
  const error = await client.request(ChargeDocument, { input: { accountId, amount: '5' } }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(CreditsApiError);
  const refusal = error as CreditsApiError;
  expect(refusal.code).toBe('INSUFFICIENT_CREDITS');
  expect(refusal.retryable).toBe(false);
  expect(refusal.extensions).toMatchObject({ required: '5', available: '2', shortfall: '3' });
  expect(calls.length - before).toBe(1);

  const anonymous = t.client(null);
  await expect(anonymous.request(WalletDocument, { accountId })).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
});

test('a network failure is retried for queries and keyed mutations, not for mutations without a key', async () => {
  const failFirst = (name: string) => recordingFetch(async (call, index) => {
    if (index === 0 && call.operationName === name) throw new TypeError('fetch failed');
    return null;
  });
  const query = failFirst('Wallet');
  expect((await t.client(undefined, { fetch: query.fetch, retry: { baseDelayMs: 1 } }).request(WalletDocument, { accountId: 'x' })).wallet).toBeNull();
  expect(query.calls).toHaveLength(2);

  const create = failFirst('CreateAccount');
  await expect(t.client(undefined, { fetch: create.fetch, retry: { baseDelayMs: 1 } }).request(CreateAccountDocument, { input: { name: 'Once' } }))
    .rejects.toThrow('fetch failed');
  expect(create.calls).toHaveLength(1);

  const accountId = await fundedAccount(t.client(), '3');
  const charge = failFirst('Charge');
  const { charge: charged } = await t.client(undefined, { fetch: charge.fetch, retry: { baseDelayMs: 1 } }).request(ChargeDocument, { input: { accountId, amount: '1' } });
  expect(charged.balanceAfter).toBe('2');
  expect(charge.calls).toHaveLength(2);
  expect(keyOf(charge.calls[1])).toBe(keyOf(charge.calls[0]));
});

test('subscribe delivers typed wallet events; iterate does the same as an async iterator', async () => {
  const client = t.client();
  const accountId = await fundedAccount(client, '10');
  const received: { sequence: number; kind: string; balance: string }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    const stop = client.subscribe(WalletEventsDocument, { accountId, afterSequence: 0 }, {
      next: ({ walletEvents }) => {
        received.push({ sequence: walletEvents.sequence, kind: walletEvents.kind, balance: walletEvents.balance });
        if (received.length === 2) { stop(); resolve(); }
      },
      error: reject,
    });
  });
  await client.request(ChargeDocument, { input: { accountId, amount: '3' } });
  await done;
  expect(received).toEqual([{ sequence: 1, kind: 'GRANT', balance: '10' }, { sequence: 2, kind: 'CHARGE', balance: '7' }]);

  const sequences: number[] = [];
  for await (const { walletEvents } of client.iterate(WalletEventsDocument, { accountId, afterSequence: 0 })) {
    sequences.push(walletEvents.sequence);
    if (sequences.length === 2) break;
  }
  expect(sequences).toEqual([1, 2]);
});

test('a refused subscription reports a CreditsApiError', async () => {
  const accountId = await fundedAccount(t.client(), '1');
  const other = await fundedAccount(t.client(), '1');
  const user = t.client(await t.userToken(other));
  const error = await new Promise<unknown>((resolve) => {
    user.subscribe(WalletEventsDocument, { accountId }, { next: () => resolve(new Error('an event arrived')), error: resolve, complete: () => resolve(new Error('completed')) });
  });
  expect(error).toBeInstanceOf(CreditsApiError);
  expect(error).toMatchObject({ code: 'FORBIDDEN' });
});

test('team members and the review queue through the typed client; a budget refusal is a typed BUDGET_EXCEEDED', async () => {
  const client = t.client();
  const team = (await client.request(CreateAccountDocument, { input: { name: 'Client team', kind: 'TEAM' } })).createAccount.id;
  const member = (await client.request(CreateAccountDocument, { input: { name: 'Client member' } })).createAccount.id;
  await client.request(GrantCreditsDocument, { input: { accountId: team, amount: '20', source: 'PURCHASE' } });
  const added = (await client.request(AddTeamMemberDocument, { input: { teamId: team, accountId: member, role: 'OWNER', budget: '5' } })).addTeamMember;
  expect(added).toMatchObject({ accountId: member, role: 'OWNER', budget: '5', budgetUsed: '0' });
  await client.request(ChargeDocument, { input: { accountId: team, memberId: member, amount: '3' } });
  const error = await client.request(ChargeDocument, { input: { accountId: team, memberId: member, amount: '3' } }).then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(CreditsApiError);
  expect((error as CreditsApiError).code).toBe('BUDGET_EXCEEDED');
  expect((error as CreditsApiError).extensions).toMatchObject({ budget: '5', used: '3', remaining: '2', requested: '3' });
  const raised = (await client.request(UpdateTeamMemberDocument, { input: { teamId: team, accountId: member, budget: '10' } })).updateTeamMember;
  expect(raised.budget).toBe('10');
  const one: { budgetUsed: string } | null | undefined = (await client.request(TeamMemberDocument, { teamId: team, accountId: member })).teamMember;
  expect(one?.budgetUsed).toBe('3');
  const { account } = await client.request(TeamMembersDocument, { teamId: team });
  expect(account?.members.map((m) => m.accountId)).toEqual([member]);
  const { reviews } = await client.request(ReviewsDocument, { status: 'OPEN', limit: 5 });
  expect(Array.isArray(reviews)).toBe(true);
});
