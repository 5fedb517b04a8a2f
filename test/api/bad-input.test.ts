/**
 * Bad input through GraphQL: malformed credit amounts, unknown accounts and holds, query limits.
 * Every refusal has a typed code, writes nothing, and never leaks SQL or stack traces.
 */
import { ChargeDocument, ReserveCreditsDocument } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp, type GqlResult } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id } }`;
const GRANT = `mutation($i: GrantCreditsInput!) { grantCredits(input: $i) { id } }`;
const RESERVE = `mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`;
const CAPTURE = `mutation($i: CaptureInput!) { captureHold(input: $i) { id } }`;
const RELEASE = `mutation($i: ReleaseInput!) { releaseHold(input: $i) { id } }`;
const REFUND = `mutation($i: RefundInput!) { refund(input: $i) { id } }`;
const REVERSE = `mutation($i: ReverseInput!) { reverseTransaction(input: $i) { id } }`;
const UPDATE = `mutation($input: UpdateWalletInput!) { updateWallet(input: $input) { overdraftLimit } }`;
const CREATE = `mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }`;
const STATE = `query($id: ID!) { wallet(accountId: $id) { balance available held debt overdraftLimit sequence lowCreditThresholds buckets { id remaining } }
  transactions(accountId: $id, first: 100) { edges { node { id } } } }`;
interface State {
  wallet: {
    balance: string; available: string; held: string; debt: string; overdraftLimit: string; sequence: number;
    lowCreditThresholds: string[] | null; buckets: { id: string; remaining: string }[];
  } | null;
  transactions: { edges: { node: { id: string } }[] };
}
type GqlError = NonNullable<GqlResult['errors']>[number];

const UNKNOWN = '00000000-0000-4000-8000-0000000000ff';
const LEAK = /\bselect\b|\binsert\b|\bupdate\s+"|\bfrom\s+"|stack|\n\s+at\s|\.[jt]s:\d|drizzle|postgres|pglite|relation "|syntax error at/i;

/** Runs a request that must be refused with `code`: one error, no data, nothing leaked. */
async function refused(query: string, variables: Record<string, unknown>, code: string): Promise<{ message: string; extensions: Record<string, unknown> }> {
  const result = await t.gql<Record<string, unknown>>(query, variables);
  expect(result.errors).toHaveLength(1);
  const [error] = result.errors!;
  expectClean(error);
  expect(error.extensions?.code).toBe(code);
  expect(typeof error.message).toBe('string');
  expect(result.data == null || Object.values(result.data).every((v) => v === null)).toBe(true);
  return { message: error.message, extensions: error.extensions ?? {} };
}

function expectClean(error: GqlError) {
  const text = `${error.message}\n${JSON.stringify(error.extensions ?? {})}`;
  expect(text).not.toMatch(LEAK);
  expect(error.extensions).not.toHaveProperty('stacktrace');
  expect(error.extensions).not.toHaveProperty('exception');
}

/** The wallet and its whole history, to prove a refusal wrote nothing. */
const state = async (id: string) => t.ok<State>(STATE, { id });

const BAD_AMOUNTS: unknown[] = [
  // zero and below
  '0', '0.000', '-0', '-1', '-0.001', 0, -5,
  // more than 3 decimals
  '1.0001', '0.0001', '12.3456', 1.0001, 0.0005,
  // not numbers
  'abc', '', ' ', '1,5', '1 000', '0x10', '１', '1.', '.5', '+1', '--1', '1-', '1.2.3', true, false, [1], { amount: 1 },
  // NaN-ish
  'NaN', 'nan', 'Infinity', '-Infinity', 'undefined', 'null',
  // beyond 10^12
  '1000000000000.001', '1000000000001', '99999999999999999999', '-1000000000001', 1e13,
  // exponent notation
  '1e3', '1E3', '1e-3', '2.5e1', 1e21, 1e-7,
];

describe('credit amounts', () => {
  test('malformed amounts are BAD_USER_INPUT on every credit-moving mutation and write nothing', async () => {
    const id = await t.createAccount();
    await t.grant(id, '50');
    const hold = (await t.op(ReserveCreditsDocument, { input: { accountId: id, amount: '5', idempotencyKey: uniqueKey() } })).reserveCredits;
    const charged = (await t.op(ChargeDocument, { input: { accountId: id, amount: '5', idempotencyKey: uniqueKey() } })).charge;
    const before = await state(id);

    for (const amount of BAD_AMOUNTS) {
      const key = uniqueKey();
      await Promise.all([
        refused(CHARGE, { i: { accountId: id, amount, idempotencyKey: key } }, 'BAD_USER_INPUT'),
        refused(GRANT, { i: { accountId: id, amount, source: 'PROMO', idempotencyKey: key } }, 'BAD_USER_INPUT'),
        refused(RESERVE, { i: { accountId: id, amount, idempotencyKey: key } }, 'BAD_USER_INPUT'),
        // a capture of 0 is allowed (nothing used: everything returns); anything else here is malformed
        ['0', '0.000', '-0', 0].includes(amount as never) ? null : refused(CAPTURE, { i: { holdId: hold.id, amount, idempotencyKey: key } }, 'BAD_USER_INPUT'),
        refused(REFUND, { i: { transactionId: charged.id, amount, idempotencyKey: key } }, 'BAD_USER_INPUT'),
      ]);
    }
    expect(await state(id)).toEqual(before);
    // the key of a refused input was never claimed
    const reused = uniqueKey();
    await refused(CHARGE, { i: { accountId: id, amount: '1.0001', idempotencyKey: reused } }, 'BAD_USER_INPUT');
    expect((await t.ok<{ charge: { id: string } }>(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: reused } })).charge.id).toEqual(expect.any(String));
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('the message says what is wrong', async () => {
    const id = await t.createAccount();
    expect((await refused(CHARGE, { i: { accountId: id, amount: '1.0001', idempotencyKey: uniqueKey() } }, 'BAD_USER_INPUT')).message).toMatch(/3 fractional digits/);
    expect((await refused(CHARGE, { i: { accountId: id, amount: '1e3', idempotencyKey: uniqueKey() } }, 'BAD_USER_INPUT')).message).toMatch(/Credits/);
    expect((await refused(CHARGE, { i: { accountId: id, amount: '1000000000001', idempotencyKey: uniqueKey() } }, 'BAD_USER_INPUT')).message).toMatch(/10\^12/);
    expect((await refused(CHARGE, { i: { accountId: id, amount: '0', idempotencyKey: uniqueKey() } }, 'BAD_USER_INPUT')).message).toMatch(/greater than 0/);
  });

  test('valid amounts: strings or numbers with up to 3 decimals, up to 10^12', async () => {
    const id = await t.createAccount();
    await t.grant(id, '1000000000000');
    for (const amount of [2.5, 3]) { // JSON numbers
      await t.ok(GRANT, { i: { accountId: id, amount, source: 'PURCHASE', idempotencyKey: uniqueKey() } });
    }
    await t.grant(id, '0.001');
    const s = await state(id);
    expect(s.wallet).toMatchObject({ balance: '1000000000005.501', sequence: 4 });
    const c = (await t.ok<{ charge: { amount: string; balanceAfter: string } }>(`mutation($i: ChargeInput!) { charge(input: $i) { amount balanceAfter } }`,
      { i: { accountId: id, amount: '999999999999.999', idempotencyKey: uniqueKey() } })).charge;
    expect(c).toEqual({ amount: '-999999999999.999', balanceAfter: '5.502' });
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('malformed amounts written into the query text are rejected too', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const before = await state(id);
    for (const literal of ['"1.0001"', '1.0001', '1e3', '"abc"', 'true', '"NaN"', '"1000000000001"']) {
      const result = await t.gql(`mutation { charge(input: { accountId: "${id}", amount: ${literal}, idempotencyKey: "${uniqueKey()}" }) { id } }`);
      expect(result.errors).toHaveLength(1);
      expectClean(result.errors![0]);
      expect(result.errors![0].message).toMatch(/Credits/);
      // graphql-js reports literals during validation; the error formatter keeps the scalar's BAD_USER_INPUT
      expect(result.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.data).toBeUndefined();
    }
    for (const literal of ['"0"', '"-2"']) {
      const result = await t.gql(`mutation { charge(input: { accountId: "${id}", amount: ${literal}, idempotencyKey: "${uniqueKey()}" }) { id } }`);
      expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
    expect(await state(id)).toEqual(before);
  });

  test('wallet settings refuse negative overdrafts and non-positive thresholds', async () => {
    const id = await t.createAccount();
    const before = await state(id);
    await refused(UPDATE, { input: { accountId: id, overdraftLimit: '-1' } }, 'BAD_USER_INPUT');
    await refused(UPDATE, { input: { accountId: id, overdraftLimit: '1.0001' } }, 'BAD_USER_INPUT');
    await refused(UPDATE, { input: { accountId: id, lowCreditThresholds: ['0'] } }, 'BAD_USER_INPUT');
    await refused(UPDATE, { input: { accountId: id, lowCreditThresholds: ['-5'] } }, 'BAD_USER_INPUT');
    await refused(CREATE, { input: { name: 'x', overdraftLimit: '-3' } }, 'BAD_USER_INPUT');
    expect(await state(id)).toEqual(before);
  });
});

describe('unknown things', () => {
  test('unknown accounts are NOT_FOUND and nothing is written', async () => {
    const audit = await t.ok(`{ auditLedger { transactionsChecked } }`);
    for (const accountId of [UNKNOWN, 'not-an-id', "x' or '1'='1"]) {
      await refused(CHARGE, { i: { accountId, amount: '1', idempotencyKey: uniqueKey() } }, 'NOT_FOUND');
      await refused(GRANT, { i: { accountId, amount: '1', source: 'PROMO', idempotencyKey: uniqueKey() } }, 'NOT_FOUND');
      await refused(RESERVE, { i: { accountId, amount: '1', idempotencyKey: uniqueKey() } }, 'NOT_FOUND');
      await refused(UPDATE, { input: { accountId, frozen: true } }, 'NOT_FOUND');
    }
    // no FAILED rows either: there is no wallet to record them on (other files may add rows on a shared database)
    if (!process.env.DATABASE_URL) expect(await t.ok(`{ auditLedger { transactionsChecked } }`)).toEqual(audit);
  });

  test('unknown transactions are NOT_FOUND for refunds and reversals', async () => {
    for (const transactionId of [UNKNOWN, 'nope']) {
      await refused(REFUND, { i: { transactionId, idempotencyKey: uniqueKey() } }, 'NOT_FOUND');
      await refused(REVERSE, { i: { transactionId, idempotencyKey: uniqueKey() } }, 'NOT_FOUND');
    }
  });

  test('unknown holds are HOLD_NOT_FOUND', async () => {
    for (const holdId of [UNKNOWN, 'not-a-hold']) {
      await refused(CAPTURE, { i: { holdId, amount: '1', idempotencyKey: uniqueKey() } }, 'HOLD_NOT_FOUND');
      await refused(CAPTURE, { i: { holdId, idempotencyKey: uniqueKey() } }, 'HOLD_NOT_FOUND');
      await refused(RELEASE, { i: { holdId, idempotencyKey: uniqueKey() } }, 'HOLD_NOT_FOUND');
    }
  });

  test('reads of unknown things are empty, not errors', async () => {
    const data = await t.ok(`query($id: ID!) { wallet(accountId: $id) { balance } account(id: $id) { id } transaction(id: $id) { id }
      transactions(accountId: $id) { edges { cursor } } }`, { id: UNKNOWN });
    expect(data).toEqual({ wallet: null, account: null, transaction: null, transactions: { edges: [] } });
  });
});

describe('query limits', () => {
  test('a query deeper than the limit is rejected before it runs', async () => {
    // Ordinary fields nest at most 7 deep in this schema; introspection has its own depth limit of 20.
    const nest = (levels: number) => `{ __schema { types { fields { type { ${'ofType { '.repeat(levels)}name${' }'.repeat(levels)} } } } } }`;
    const result = await t.gql(nest(16));
    expect(result.data).toBeUndefined();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0].message).toMatch(/introspection depth 21 exceeds the limit of 20/);
    expect(result.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
    expectClean(result.errors![0]);
    // one level less is fine
    const ok = await t.gql(nest(15));
    expect(ok.errors).toBeUndefined();
  });

  test('depth through fragments counts too', async () => {
    const query = `query($id: ID!) { transactions(accountId: $id) { ...E } }
      fragment E on LedgerTransactionConnection { edges { node { account { wallet { buckets { ...B } } } } } }
      fragment B on Bucket { id }`;
    expect((await t.gql(query, { id: UNKNOWN })).errors).toBeUndefined();
    const deeper = `{ __schema { ...T } } fragment T on __Schema { types { fields { type { ofType { ...O } } } } }
      fragment O on __Type { ${'ofType { '.repeat(15)}name${' }'.repeat(15)} }`;
    const result = await t.gql(deeper);
    expect(result.errors?.[0].message).toMatch(/exceeds the limit/);
    expect(result.data).toBeUndefined();
  });

  test('too many aliases are rejected', async () => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: wallet(accountId: "${UNKNOWN}") { balance }`).join(' ');
    const result = await t.gql(`{ ${aliases} }`);
    expect(result.data).toBeUndefined();
    expect(result.errors?.[0].message).toMatch(/aliases/);
    expectClean(result.errors![0]);
  });

  test('page sizes above 100 are BAD_USER_INPUT', async () => {
    const id = await t.createAccount();
    await refused(`query($id: ID!) { transactions(accountId: $id, first: 101) { edges { cursor } } }`, { id }, 'BAD_USER_INPUT');
  });
});

describe('no leaks', () => {
  test('strings the database cannot store are BAD_USER_INPUT, not internal errors, and write nothing', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const before = await state(id);
    await refused(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: 'nul\u0000key' } }, 'BAD_USER_INPUT');
    await refused(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey(), comment: 'a\u0000b' } }, 'BAD_USER_INPUT');
    await refused(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey(), action: 'a\u0000' } }, 'BAD_USER_INPUT');
    await refused(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey(), vendorUsage: { note: 'x\u0000' } } }, 'BAD_USER_INPUT');
    // A vendor cost reports add up: a decimal ≥ 0 with a vendor and an ISO currency.
    for (const vendorUsage of [{ vendor: 'v', cost: '-1', currency: 'USD' }, { vendor: 'v', cost: '1', currency: 'dollars' }, { cost: '0.1', currency: 'USD' }]) {
      await refused(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey(), vendorUsage } }, 'BAD_USER_INPUT');
    }
    await refused(CREATE, { input: { name: 'bad\u0000name' } }, 'BAD_USER_INPUT');
    await refused(`query($e: String) { account(externalId: $e) { id } }`, { e: 'ext\u0000' }, 'BAD_USER_INPUT');
    expect(await state(id)).toEqual(before);
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('a request the database refuses does not fail concurrent good charges on the same wallet', async () => {
    const id = await t.createAccount();
    await t.grant(id, '100');
    const good = () => t.gql(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } });
    const bad = () => t.gql(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey(), comment: 'nul\u0000' } });
    const results = await Promise.all([good(), good(), bad(), good(), good(), bad(), good(), good()]);
    const codes = results.map((r) => r.errors?.[0].extensions?.code ?? 'OK');
    expect(codes).toEqual(['OK', 'OK', 'BAD_USER_INPUT', 'OK', 'OK', 'BAD_USER_INPUT', 'OK', 'OK']);
    expect((await state(id)).wallet).toMatchObject({ balance: '94', sequence: 7 });
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('bad requests on other wallets do not fail concurrent good charges either', async () => {
    const good = await Promise.all(Array.from({ length: 6 }, () => t.createAccount()));
    for (const id of good) await t.grant(id, '10');
    const other = await t.createAccount();
    await t.grant(other, '10');
    const results = await Promise.all([
      ...good.map((id) => t.gql(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } })),
      t.gql(CHARGE, { i: { accountId: other, amount: '1', idempotencyKey: uniqueKey(), action: 'x\u0000' } }),
      t.gql(CHARGE, { i: { accountId: UNKNOWN, amount: '1', idempotencyKey: uniqueKey() } }),
      ...good.map((id) => t.gql(CHARGE, { i: { accountId: id, amount: '2', idempotencyKey: uniqueKey() } })),
    ]);
    const codes = results.map((r) => r.errors?.[0].extensions?.code ?? 'OK');
    expect(codes).toEqual([...Array<string>(6).fill('OK'), 'BAD_USER_INPUT', 'NOT_FOUND', ...Array<string>(6).fill('OK')]);
    for (const id of good) expect((await state(id)).wallet).toMatchObject({ balance: '7', sequence: 3 });
    expect((await state(other)).wallet).toMatchObject({ balance: '10', sequence: 1 });
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('refusals of every kind carry a code and no SQL or stack trace', async () => {
    const id = await t.createAccount();
    await t.grant(id, '1');
    const results: GqlResult[] = [
      await t.gql(CHARGE, { i: { accountId: id, amount: '5', idempotencyKey: uniqueKey() } }), // INSUFFICIENT_CREDITS
      await t.gql(CHARGE, { i: { accountId: id, amount: 'DROP TABLE', idempotencyKey: uniqueKey() } }),
      await t.gql(`{ nope }`),
      await t.gql(`{ wallet(accountId: `),
      await t.gql(`{ auditLedger { ok } }`, {}, null),
      await t.gql(`{ auditLedger { ok } }`, {}, 'ck_not_a_real_key'),
      await t.gql(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey(), comment: 'x'.repeat(501) } }),
    ];
    const codes = results.map((r) => r.errors?.[0].extensions?.code);
    expect(codes).toEqual([
      'INSUFFICIENT_CREDITS', 'BAD_USER_INPUT', 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'UNAUTHENTICATED', 'UNAUTHENTICATED', 'BAD_USER_INPUT',
    ]);
    for (const r of results) for (const e of r.errors!) expectClean(e);
    const insufficient = results[0].errors![0].extensions!;
    expect(insufficient).toMatchObject({ required: '5', available: '1', shortfall: '4' });
    expect(typeof insufficient.remedy).toBe('string');
  });

  test('a body that is not JSON gets a JSON error without internals', async () => {
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` }, body: '{"query": ',
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const text = await response.text();
    expect(text).not.toMatch(LEAK);
    expect(text).not.toMatch(/node_modules|<pre>/);
  });
});
