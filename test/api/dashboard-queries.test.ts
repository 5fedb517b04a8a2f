/**
 * The reads behind the dashboard's admin view and sign-in: account search, the newest refused
 * operations, and `viewer`. Each test makes its own accounts with names no other test uses (the
 * PostgreSQL database is shared by every test file), and asserts on those only.
 */
import { AccountSearchDocument, ChargeDocument, CreditsApiError, RecentFailedTransactionsDocument, ViewerDocument } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

/** A name prefix no other account has (uniqueKey is unique per process and call). */
const uniquePrefix = (label: string) => `${label} ${uniqueKey('q').replace(/-/g, '')} `;

async function search(searchText: string | null, options: { first?: number; after?: string | null; token?: string } = {}) {
  return (await t.op(AccountSearchDocument, { search: searchText, first: options.first ?? 20, after: options.after ?? null }, options.token)).accounts;
}

const names = (page: Awaited<ReturnType<typeof search>>) => page.edges.map((edge) => edge.node.name);

describe('accounts(search)', () => {
  test('finds an account by exact id, exact externalId, email ignoring case, and name prefix ignoring case', async () => {
    const prefix = uniquePrefix('Searchable');
    const externalId = uniqueKey('ext');
    const email = `${uniqueKey('owner').toLowerCase()}@Example.com`;
    const id = await t.createAccount(`${prefix}Ada`, { externalId, email });
    await t.createAccount(`${prefix}Bob`);

    expect(names(await search(id))).toEqual([`${prefix}Ada`]);
    expect(names(await search(id.toUpperCase()))).toEqual([`${prefix}Ada`]); // ids are UUIDs: case does not matter
    expect(names(await search(externalId))).toEqual([`${prefix}Ada`]);
    expect(names(await search(externalId.toUpperCase()))).toEqual([]); // an externalId is exact
    expect(names(await search(email.toUpperCase()))).toEqual([`${prefix}Ada`]);
    expect(names(await search(`  ${prefix.toUpperCase()}  `))).toEqual([`${prefix}Ada`, `${prefix}Bob`]); // trimmed, any case
    expect(names(await search(`${prefix}a`))).toEqual([`${prefix}Ada`]);
    expect(names(await search(prefix.slice(1)))).toEqual([]); // a prefix, not a substring
    expect((await search(id)).edges[0].node).toMatchObject({ id, externalId, email, kind: 'USER' });
  });

  test('LIKE wildcards and the escape character in the search are literal', async () => {
    const prefix = uniquePrefix('Wild');
    await t.createAccount(`${prefix}50% off`);
    await t.createAccount(`${prefix}50 percent`);
    await t.createAccount(`${prefix}a_b`);
    await t.createAccount(`${prefix}axb`);
    await t.createAccount(`${prefix}back\\slash`);
    await t.createAccount(`${prefix}backslash`);

    expect(names(await search(`${prefix}50%`))).toEqual([`${prefix}50% off`]);
    expect(names(await search(`${prefix}a_`))).toEqual([`${prefix}a_b`]);
    expect(names(await search(`${prefix}back\\`))).toEqual([`${prefix}back\\slash`]);
    expect(names(await search(`${prefix}%`))).toEqual([]);
  });

  test('pages by name, then id, with opaque cursors, without a gap or a repeat', async () => {
    const prefix = uniquePrefix('Paged');
    const made = ['delta', 'Alpha', 'charlie', 'alpha', 'Bravo'];
    for (const name of made) await t.createAccount(`${prefix}${name}`);
    const seen: string[] = [];
    let after: string | null = null;
    for (let pages = 0; pages < 5; pages += 1) {
      const page: Awaited<ReturnType<typeof search>> = await search(prefix, { first: 2, after });
      seen.push(...names(page));
      expect(page.edges.length).toBeLessThanOrEqual(2);
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    expect(seen.map((name) => name.slice(prefix.length).toLowerCase())).toEqual(['alpha', 'alpha', 'bravo', 'charlie', 'delta']);
    expect(new Set(seen).size).toBe(made.length);
  });

  test('without a search it lists every account by name, and a search\'s cursor continues the full list', async () => {
    const prefix = uniquePrefix('Listed');
    await t.createAccount(`${prefix}two`);
    await t.createAccount(`${prefix}one`);
    const first = await search(null, { first: 100 });
    const keys = names(first).map((name) => Buffer.from(name.toLowerCase()));
    expect(keys.every((key, i) => i === 0 || Buffer.compare(keys[i - 1], key) <= 0)).toBe(true); // byte order of the lowercased names
    // The cursor of "one" found by search, given to the unfiltered list: "two" comes next (nothing else has this prefix).
    const one = await search(prefix, { first: 1 });
    expect(names(one)).toEqual([`${prefix}one`]);
    expect(names(await search(null, { first: 1, after: one.pageInfo.endCursor }))).toEqual([`${prefix}two`]);
  });

  test('an email changed later is found by its new value', async () => {
    const prefix = uniquePrefix('Moved');
    const id = await t.createAccount(`${prefix}x`, { email: `${uniqueKey('old').toLowerCase()}@example.com` });
    const email = `${uniqueKey('new').toLowerCase()}@example.com`;
    await t.ok(`mutation($i: UpdateAccountInput!) { updateAccount(input: $i) { id } }`, { i: { accountId: id, email } });
    expect(names(await search(email))).toEqual([`${prefix}x`]);
  });

  test('READONLY, SERVICE and ADMIN keys may search; a user token may not, even for its own account', async () => {
    const prefix = uniquePrefix('Access');
    const id = await t.createAccount(`${prefix}me`);
    for (const role of ['READONLY', 'SERVICE', 'ADMIN'] as const) {
      expect(names(await search(prefix, { token: await t.key(role) }))).toEqual([`${prefix}me`]);
    }
    const refused = await t.opFails(AccountSearchDocument, { search: id }, await t.userToken(id));
    expect(refused.code).toBe('FORBIDDEN');
    expect((await t.opFails(AccountSearchDocument, { search: id }, null)).code).toBe('UNAUTHENTICATED');
  });

  test('bad input: a page size outside 1–100, a search longer than 254 characters, a cursor that is not one', async () => {
    const expectBadInput = async (variables: { search?: string | null; first?: number; after?: string }, field: string) => {
      const error = await t.opFails(AccountSearchDocument, variables);
      expect(error).toBeInstanceOf(CreditsApiError);
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.extensions.field).toBe(field);
    };
    await expectBadInput({ first: 0 }, 'first');
    await expectBadInput({ first: 101 }, 'first');
    await expectBadInput({ search: 'x'.repeat(255) }, 'search');
    await expectBadInput({ after: 'not-a-cursor' }, 'after');
    await expectBadInput({ after: Buffer.from('s1:not-a-uuid-but-36-characters-long!!:x').toString('base64url') }, 'after');
    expect((await search('x'.repeat(254))).edges).toEqual([]);
  });
});

describe('recentFailedTransactions', () => {
  test('the newest refused operations first, with their refusal, and never a successful one', async () => {
    const accountId = await t.createAccount(uniquePrefix('Refused'));
    await t.grant(accountId, '5');
    const keys = [uniqueKey('too-much-1'), uniqueKey('ok'), uniqueKey('too-much-2')];
    await t.opFails(ChargeDocument, { input: { accountId, amount: '50', idempotencyKey: keys[0], action: 'image.generate' } });
    await t.op(ChargeDocument, { input: { accountId, amount: '1', idempotencyKey: keys[1] } });
    await t.opFails(ChargeDocument, { input: { accountId, amount: '60', idempotencyKey: keys[2] } });

    // Test files run one at a time, so the newest failures of the whole database are this test's.
    const failures = (await t.op(RecentFailedTransactionsDocument, { first: 2 })).recentFailedTransactions;
    expect(failures.map((tx) => tx.requestedAmount)).toEqual(['60', '50']);
    expect(failures[1]).toMatchObject({
      accountId, type: 'CHARGE', status: 'FAILED', failureCode: 'INSUFFICIENT_CREDITS', action: 'image.generate', account: { id: accountId },
    });
    const many = (await t.op(RecentFailedTransactionsDocument, { first: 100 })).recentFailedTransactions;
    expect(many.every((tx) => tx.status === 'FAILED')).toBe(true);
    expect(many.length).toBeLessThanOrEqual(100);
  });

  test('ADMIN keys only; a page size outside 1–100 is refused', async () => {
    const accountId = await t.createAccount(uniquePrefix('NotAdmin'));
    for (const token of [await t.key('READONLY'), await t.key('SERVICE'), await t.userToken(accountId)]) {
      expect((await t.opFails(RecentFailedTransactionsDocument, { first: 1 }, token)).code).toBe('FORBIDDEN');
    }
    expect((await t.opFails(RecentFailedTransactionsDocument, { first: 0 })).code).toBe('BAD_USER_INPUT');
    expect((await t.opFails(RecentFailedTransactionsDocument, { first: 101 })).code).toBe('BAD_USER_INPUT');
  });
});

describe('viewer', () => {
  test('says what the credential is: a key and its role, or a user token and its account', async () => {
    expect((await t.op(ViewerDocument, {})).viewer).toEqual({ kind: 'API_KEY', role: 'ADMIN', accountId: null });
    expect((await t.op(ViewerDocument, {}, await t.key('READONLY'))).viewer).toEqual({ kind: 'API_KEY', role: 'READONLY', accountId: null });
    const accountId = await t.createAccount(uniquePrefix('Viewer'));
    expect((await t.op(ViewerDocument, {}, await t.userToken(accountId))).viewer).toEqual({ kind: 'USER_TOKEN', role: null, accountId });
    expect((await t.opFails(ViewerDocument, {}, null)).code).toBe('UNAUTHENTICATED');
    expect((await t.opFails(ViewerDocument, {}, 'ck_not_a_key')).code).toBe('UNAUTHENTICATED');
  });
});
