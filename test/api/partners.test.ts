/**
 * Partner-scoped API keys and team-role user tokens (README, Partners; Access). A partner key sees and
 * acts only on the accounts its partner's keys created; anything else answers as an id naming nothing.
 * A user token that is an OWNER or ADMIN member of a TEAM account reads that account as its own.
 * (Every root field's answer for a partner key is in test/api/access-matrix.test.ts.)
 */
import { eq } from 'drizzle-orm';
import type { Client } from 'graphql-ws';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { accounts, teamMembers } from '../../src/db/schema';
import type { Viewer } from '../../src/auth/viewer';

let t: TestApp;
const PARTNER_A = uniqueKey('partner-a');
const PARTNER_B = uniqueKey('partner-b');
/** Clock dates of this file: 2032. */
const at = (iso: string) => t.clock.set(new Date(iso));

const CREATE_KEY = `mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { id secret role name partner } }`;
const CREATE_ACCOUNT = `mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`;
const WALLET = `query($id: ID!) { wallet(accountId: $id) { balance } }`;
const SEARCH = `query($s: String) { accounts(search: $s, first: 100) { edges { node { id } } } }`;
const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id } }`;

async function partnerKey(role: 'SERVICE' | 'READONLY', partner: string): Promise<string> {
  return (await t.ok<{ createApiKey: { secret: string } }>(CREATE_KEY, { i: { name: `${partner} ${role}`, role, partner } })).createApiKey.secret;
}

async function createAccount(token: string, name: string, kind: 'USER' | 'TEAM' = 'USER'): Promise<string> {
  return (await t.ok<{ createAccount: { id: string } }>(CREATE_ACCOUNT, { i: { name, kind } }, token)).createAccount.id;
}

async function partnerColumn(accountId: string): Promise<string | null> {
  const [row] = await t.app.services.db.select({ partner: accounts.partner }).from(accounts).where(eq(accounts.id, accountId));
  return row.partner;
}

const code = async (query: string, variables: Record<string, unknown>, token: string) => (await t.fails(query, variables, token)).extensions.code;
const found = async (token: string, search: string | null) => (await t.ok<{ accounts: { edges: { node: { id: string } }[] } }>(SEARCH, { s: search }, token)).accounts.edges.map((e) => e.node.id);

let keys: { a: string; aReadonly: string; b: string; service: string };
/** Accounts named with a shared prefix, so one search can find all three. */
let acc: { a: string; b: string; operator: string };
const PREFIX = uniqueKey('partners-test');

beforeAll(async () => {
  t = await startTestApp();
  at('2032-03-01T10:00:00Z');
  keys = { a: await partnerKey('SERVICE', PARTNER_A), aReadonly: await partnerKey('READONLY', PARTNER_A), b: await partnerKey('SERVICE', PARTNER_B), service: await t.key('SERVICE') };
  acc = {
    a: await createAccount(keys.a, `${PREFIX} a`),
    b: await createAccount(keys.b, `${PREFIX} b`),
    operator: await createAccount(keys.service, `${PREFIX} operator`),
  };
  for (const id of Object.values(acc)) await t.grant(id, '100');
});
afterAll(async () => { await t.close(); });

describe('partner keys', () => {
  test('createApiKey binds a key to a trimmed partner; the viewer shows it', async () => {
    const created = (await t.ok<{ createApiKey: { role: string; partner: string | null; secret: string } }>(CREATE_KEY, { i: { name: 'trimmed', role: 'READONLY', partner: `  ${PARTNER_A}  ` } })).createApiKey;
    expect(created).toMatchObject({ role: 'READONLY', partner: PARTNER_A });
    expect(await t.ok(`query { viewer { kind role partner } }`, {}, created.secret)).toEqual({ viewer: { kind: 'API_KEY', role: 'READONLY', partner: PARTNER_A } });
    const operator = (await t.ok<{ createApiKey: { partner: string | null } }>(CREATE_KEY, { i: { name: 'operator', role: 'SERVICE' } })).createApiKey;
    expect(operator.partner).toBeNull();
  });

  test.each([
    ['empty', ''], ['blank', '   '], ['too long', 'p'.repeat(101)],
  ])('a bad partner (%s) is BAD_USER_INPUT', async (_what, partner) => {
    const error = await t.fails(CREATE_KEY, { i: { name: 'bad partner', role: 'SERVICE', partner } });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'partner' });
  });

  test('an ADMIN key with a partner is refused (an ADMIN key is the operator\'s and sees everything)', async () => {
    const error = await t.fails(CREATE_KEY, { i: { name: 'admin partner', role: 'ADMIN', partner: PARTNER_A } });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'role' });
  });

  test('accounts created by a partner key carry its partner; operator keys\' carry none', async () => {
    expect(await partnerColumn(acc.a)).toBe(PARTNER_A);
    expect(await partnerColumn(acc.b)).toBe(PARTNER_B);
    expect(await partnerColumn(acc.operator)).toBeNull();
  });

  test('accounts search shows a partner only its own accounts; operator keys see all', async () => {
    expect(await found(keys.a, PREFIX)).toEqual([acc.a]);
    expect(await found(keys.aReadonly, PREFIX)).toEqual([acc.a]);
    expect(await found(keys.b, PREFIX)).toEqual([acc.b]);
    expect(await found(keys.b, acc.a)).toEqual([]); // by exact id: nothing
    expect((await found(keys.b, null)).every((id) => id !== acc.a && id !== acc.operator)).toBe(true);
    expect((await found(keys.service, PREFIX)).sort()).toEqual(Object.values(acc).sort());
    expect((await found(t.adminKey, PREFIX)).sort()).toEqual(Object.values(acc).sort());
  });

  test('a READONLY partner key reads only its partner\'s accounts, and moves nothing', async () => {
    expect(await t.ok(WALLET, { id: acc.a }, keys.aReadonly)).toEqual({ wallet: { balance: '100' } });
    expect(await code(WALLET, { id: acc.b }, keys.aReadonly)).toBe('NOT_FOUND');
    expect(await code(WALLET, { id: acc.operator }, keys.aReadonly)).toBe('NOT_FOUND');
    expect(await code(`query($id: ID) { account(id: $id) { id } }`, { id: acc.b }, keys.aReadonly)).toBe('NOT_FOUND');
    expect(await code(CHARGE, { i: { accountId: acc.a, amount: '1', idempotencyKey: uniqueKey() } }, keys.aReadonly)).toBe('FORBIDDEN');
  });

  test('another partner\'s account, an operator account and an account that does not exist answer alike', async () => {
    const answers = async (id: string) => ({
      account: await code(`query($id: ID) { account(id: $id) { id } }`, { id }, keys.a),
      charge: await code(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } }, keys.a),
      transactions: await code(`query($id: ID!) { transactions(accountId: $id) { edges { node { id } } } }`, { id }, keys.a),
      token: await code(`mutation($id: ID!) { issueUserToken(accountId: $id) { token } }`, { id }, keys.a),
    });
    const nothing = await answers('00000000-0000-4000-8000-000000000000');
    expect(nothing).toEqual({ account: 'NOT_FOUND', charge: 'NOT_FOUND', transactions: 'NOT_FOUND', token: 'NOT_FOUND' });
    expect(await answers(acc.b)).toEqual(nothing);
    expect(await answers(acc.operator)).toEqual(nothing);
    expect((await t.wallet(acc.b)).balance).toBe('100'); // nothing charged
    expect(await t.history(acc.b, { statuses: ['FAILED'] })).toEqual([]);
  });

  test('a partner key acts on its own accounts as any SERVICE key', async () => {
    await t.ok(CHARGE, { i: { accountId: acc.a, amount: '1', idempotencyKey: uniqueKey() } }, keys.a);
    const token = (await t.ok<{ issueUserToken: { token: string } }>(`mutation($id: ID!) { issueUserToken(accountId: $id) { token } }`, { id: acc.a }, keys.a)).issueUserToken.token;
    expect(await t.ok(WALLET, { id: acc.a }, token)).toEqual({ wallet: { balance: '99' } });
    await t.ok(CHARGE, { i: { accountId: acc.a, amount: '1', idempotencyKey: uniqueKey() } }, keys.service); // operator keys unchanged
    expect(await t.ok(WALLET, { id: acc.a }, keys.service)).toEqual({ wallet: { balance: '98' } });
  });

  test('CSV exports are scoped: a partner key exports its own accounts; another\'s is 404 NOT_FOUND', async () => {
    const range = { from: '2032-03-01T00:00:00Z', to: '2032-03-02T00:00:00Z' };
    const get = (path: string, accountId: string, token: string) => fetch(`${t.url}/reports/${path}?${new URLSearchParams({ accountId, ...range }).toString()}`, { headers: { authorization: `Bearer ${token}` } });
    for (const path of ['transactions.csv', 'usage.csv']) {
      expect((await get(path, acc.a, keys.a)).status).toBe(200);
      expect((await get(path, acc.a, keys.aReadonly)).status).toBe(200);
      for (const other of [acc.b, acc.operator]) {
        const refused = await get(path, other, keys.a);
        expect(refused.status).toBe(404);
        expect(((await refused.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('NOT_FOUND');
      }
      expect((await get(path, acc.b, keys.service)).status).toBe(200); // operator keys unchanged
    }
  });

  test('operator keys pay no access query; a partner key reads an account\'s partner once (it never changes)', async () => {
    const access = t.app.services.access;
    const operator: Viewer = { kind: 'key', keyId: 'k', role: 'SERVICE', partner: null };
    expect(await t.countQueries(async () => {
      await access.account(operator, acc.a, 'move');
      await access.owned(operator, 'hold', '00000000-0000-4000-8000-000000000000', 'move');
    })).toBe(0);
    const partner: Viewer = { kind: 'key', keyId: 'k', role: 'SERVICE', partner: PARTNER_B };
    const fresh = await createAccount(keys.b, 'fresh partner account');
    expect(await t.countQueries(() => access.account(partner, fresh, 'move'))).toBe(1);
    expect(await t.countQueries(() => access.account(partner, fresh, 'move'))).toBe(0);
    // A batch (for charge batches): the partners not yet known in one statement; one foreign account refuses all.
    const fresher = [await createAccount(keys.b, 'fresh 1'), await createAccount(keys.b, 'fresh 2')];
    expect(await t.countQueries(() => access.accounts(partner, [fresh, ...fresher, fresher[0]], 'move'))).toBe(1);
    await expect(access.accounts(partner, [fresh, acc.a], 'move')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(access.accounts(partner, [fresh, '00000000-0000-4000-8000-000000000000'], 'move')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(await t.countQueries(() => access.accounts(operator, [acc.a, acc.b], 'move'))).toBe(0);
    await expect(access.accounts({ kind: 'key', keyId: 'k', role: 'READONLY', partner: PARTNER_B }, [fresh], 'move')).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

describe('team-role user tokens', () => {
  let team: string;
  const members = {} as Record<'owner' | 'admin' | 'member' | 'outsider', string>;

  beforeAll(async () => {
    team = await createAccount(t.adminKey, 'partners test team', 'TEAM');
    await t.grant(team, '50');
    for (const name of ['owner', 'admin', 'member', 'outsider'] as const) members[name] = await createAccount(t.adminKey, `team ${name}`);
    const now = t.clock.now();
    // The teams module manages memberships; here the rows are written directly.
    await t.app.services.db.insert(teamMembers).values((['owner', 'admin', 'member'] as const).map((name) => ({
      teamId: team, accountId: members[name], role: name.toUpperCase() as 'OWNER' | 'ADMIN' | 'MEMBER', createdAt: now, updatedAt: now,
    })));
  });

  const READS: [string, string, (id: string) => Record<string, unknown>][] = [
    ['account', `query($id: ID) { account(id: $id) { id wallet { balance forecast { burnRatePerDay } } subscription { id } } }`, (id) => ({ id })],
    ['wallet', WALLET, (id) => ({ id })],
    ['transactions', `query($id: ID!) { transactions(accountId: $id) { edges { node { id } } } }`, (id) => ({ id })],
    ['alerts', `query($id: ID) { alerts(accountId: $id) { edges { node { id } } } }`, (id) => ({ id })],
    ['usageByDay', `query($id: ID!) { usageByDay(accountId: $id, days: 7) { day } }`, (id) => ({ id })],
    ['usageReport', `query($id: ID!) { usageReport(accountId: $id, from: "2032-03-01T00:00:00Z", to: "2032-03-02T00:00:00Z", granularity: DAY) { totals { consumed } } }`, (id) => ({ id })],
    ['planAdvice', `query($id: ID!) { planAdvice(accountId: $id, days: 7) { accountId } }`, (id) => ({ id })],
    ['purchases', `query($id: ID!) { purchases(accountId: $id) { edges { node { id } } } }`, (id) => ({ id })],
  ];

  test.each(READS)('%s: an OWNER\'s and an ADMIN\'s token read the team; a MEMBER\'s and an outsider\'s are FORBIDDEN', async (_name, query, variables) => {
    for (const name of ['owner', 'admin'] as const) await t.ok(query, variables(team), await t.userToken(members[name]));
    for (const name of ['member', 'outsider'] as const) expect(await code(query, variables(team), await t.userToken(members[name]))).toBe('FORBIDDEN');
  });

  test('a team token still moves no credits and buys nothing for the team', async () => {
    const owner = await t.userToken(members.owner);
    expect(await code(CHARGE, { i: { accountId: team, amount: '1', idempotencyKey: uniqueKey() } }, owner)).toBe('FORBIDDEN');
    expect(await code(`mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { id } }`, { i: { accountId: team, name: 'renamed' } }, owner)).toBe('FORBIDDEN');
    expect((await t.wallet(team)).balance).toBe('50');
  });

  test('CSV exports of the team: OWNER yes, MEMBER 403', async () => {
    const get = async (name: 'owner' | 'member') => fetch(`${t.url}/reports/transactions.csv?${new URLSearchParams({ accountId: team, from: '2032-03-01T00:00:00Z', to: '2032-03-02T00:00:00Z' }).toString()}`, {
      headers: { authorization: `Bearer ${await t.userToken(members[name])}` },
    });
    expect((await get('owner')).status).toBe(200);
    expect((await get('member')).status).toBe(403);
  });

  test('walletEvents of the team: an ADMIN\'s token subscribes, a MEMBER\'s is FORBIDDEN', async () => {
    const first = (token: string) => new Promise<string>((resolve) => {
      const client: Client = t.ws(token);
      client.subscribe<{ walletEvents: { accountId: string } }>({ query: `subscription($id: ID!) { walletEvents(accountId: $id, afterSequence: 0) { accountId } }`, variables: { id: team } }, {
        next: (value) => resolve(value.errors?.length ? String(value.errors[0].extensions?.code) : value.data!.walletEvents.accountId === team ? 'event' : 'another account'),
        error: (error: unknown) => resolve(Array.isArray(error) ? String((error[0] as { extensions?: { code?: string } }).extensions?.code) : String(error)),
        complete: () => resolve('completed'),
      });
    });
    expect(await first(await t.userToken(members.admin))).toBe('event');
    expect(await first(await t.userToken(members.member))).toBe('FORBIDDEN');
  });

  test('a membership removed is a refusal at once (memberships are not cached)', async () => {
    const token = await t.userToken(members.admin);
    await t.ok(WALLET, { id: team }, token);
    await t.app.services.db.update(teamMembers).set({ role: 'MEMBER' }).where(eq(teamMembers.accountId, members.admin));
    expect(await code(WALLET, { id: team }, token)).toBe('FORBIDDEN');
    await t.app.services.db.update(teamMembers).set({ role: 'ADMIN' }).where(eq(teamMembers.accountId, members.admin));
  });
});
