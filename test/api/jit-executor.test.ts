/**
 * GRAPHQL_EXECUTOR=jit (src/server/jit-executor.ts): graphql-jit through Apollo's gateway interface
 * answers exactly as graphql-js does — data, refusals with their codes and details, HTTP statuses,
 * limits, validation, variables, introspection — and compiles each document once.
 */
import { parse } from 'graphql';
import { JitExecutor } from '../../src/server/jit-executor';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let plain: TestApp;
let jit: TestApp;
beforeAll(async () => {
  [plain, jit] = await Promise.all([startTestApp(), startTestApp({ graphqlExecutor: 'jit' })]);
});
afterAll(async () => { await Promise.all([plain?.close(), jit?.close()]); });

/** One step of a script, run on both servers: `$account` / `$poor` in variables stand for that server's accounts. */
interface Step { name: string; query: string; variables?: Record<string, unknown>; token?: 'none' | 'bad' }

const CHARGE = 'mutation($i: ChargeInput!) { charge(input: $i) { amount balanceAfter status account { name wallet { balance available } } } }';
const STEPS: Step[] = [
  { name: 'typename', query: '{ __typename }' },
  { name: 'charge', query: CHARGE, variables: { i: { accountId: '$account', amount: '2.5', idempotencyKey: 'same-key', comment: 'with "quotes" and ünïcode', vendorUsage: { tokens: [1, { b: null }] } } } },
  { name: 'replay', query: CHARGE, variables: { i: { accountId: '$account', amount: '2.5', idempotencyKey: 'same-key', comment: 'with "quotes" and ünïcode', vendorUsage: { tokens: [1, { b: null }] } } } },
  { name: 'key reused', query: CHARGE, variables: { i: { accountId: '$account', amount: '3', idempotencyKey: 'same-key' } } },
  { name: 'insufficient', query: CHARGE, variables: { i: { accountId: '$poor', amount: '5', idempotencyKey: 'poor-key' } } },
  { name: 'unknown account', query: CHARGE, variables: { i: { accountId: '00000000-0000-4000-8000-000000000000', amount: '1', idempotencyKey: 'k' } } },
  { name: 'bad credits literal', query: 'mutation { charge(input: { accountId: "x", amount: "1.00001", idempotencyKey: "k" }) { amount } }' },
  { name: 'variable of the wrong type', query: CHARGE, variables: { i: { accountId: '$account', amount: '1', idempotencyKey: 12 } } },
  { name: 'missing variable', query: CHARGE, variables: {} },
  { name: 'unknown field', query: '{ noSuchField }' },
  { name: 'parse error', query: '{ wallet(' },
  { name: 'too deep', query: '{ a: wallet(accountId: "x") { account { wallet { account { wallet { account { wallet { account { wallet { account { wallet { balance } } } } } } } } } } } }' },
  { name: 'too costly', query: `query($id: ID!) { ${Array.from({ length: 10 }, (_, i) => `p${i}: transactions(accountId: $id, first: 100) { edges { node { id amount entries { amount } } } }`).join(' ')} }`, variables: { id: '$account' } },
  { name: 'history with fragments, skip and include', query: `query($id: ID!, $withEntries: Boolean!, $skipCursor: Boolean!) {
      transactions(accountId: $id, first: 5) { edges { cursor @skip(if: $skipCursor) node { ...T entries @include(if: $withEntries) { amount } } } pageInfo { hasNextPage } } }
      fragment T on LedgerTransaction { type amount status ... on LedgerTransaction { comment params } }`,
    variables: { id: '$account', withEntries: true, skipCursor: true } },
  { name: 'two operations, one named', query: 'query A { __typename } query B { w: __typename }', variables: {} },
  { name: 'introspection', query: '{ __schema { queryType { name } } __type(name: "ChargeInput") { inputFields { name type { kind ofType { name } } } } }' },
  { name: 'no credential', query: '{ wallet(accountId: "x") { balance } }', token: 'none' },
  { name: 'bad credential', query: '{ __typename }', token: 'bad' },
  { name: 'subscription over HTTP', query: 'subscription($id: ID!) { walletEvents(accountId: $id) { sequence } }', variables: { id: '$account' } },
];

/** Ids, times and per-server values replaced, so the two servers' answers can be compared. */
function normalized(value: unknown): unknown {
  if (typeof value === 'string') {
    return value
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '<uuid>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, '<time>');
  }
  if (Array.isArray(value)) return value.map(normalized);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, k === 'cursor' ? '<cursor>' : normalized(v)]));
  return value;
}

async function runScript(t: TestApp): Promise<Record<string, { status: number; body: unknown }>> {
  const account = await t.createAccount('jit or not');
  await t.grant(account, '100');
  const poor = await t.createAccount('poor');
  const answers: Record<string, { status: number; body: unknown }> = {};
  for (const step of STEPS) {
    const variables = JSON.parse(JSON.stringify(step.variables ?? {}).replaceAll('"$account"', `"${account}"`).replaceAll('"$poor"', `"${poor}"`)) as Record<string, unknown>;
    const token = step.token === 'none' ? null : step.token === 'bad' ? 'ck_not_a_key' : t.adminKey;
    const body: Record<string, unknown> = { query: step.query, variables };
    if (step.name === 'two operations, one named') body.operationName = 'B';
    // Keys differ per server only by the run; the same key within one script is the point of the replay steps.
    const response = await fetch(`${t.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body).replaceAll('"same-key"', `"same-key-${t.url}"`),
    });
    answers[step.name] = { status: response.status, body: normalized(await response.json()) };
  }
  return answers;
}

test('every answer, error and status is the same as graphql-js gives', async () => {
  const [expected, actual] = await Promise.all([runScript(plain), runScript(jit)]);
  for (const step of STEPS) expect({ step: step.name, ...actual[step.name] }).toEqual({ step: step.name, ...expected[step.name] });
  // The script exercises what it names (so an equality of two broken answers cannot pass).
  const dataOf = (name: string) => (actual[name].body as { data?: Record<string, unknown> }).data;
  const codeOf = (name: string) => (actual[name].body as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]?.extensions?.code;
  expect(dataOf('charge')).toEqual({ charge: { amount: '-2.5', balanceAfter: '97.5', status: 'SUCCEEDED', account: { name: 'jit or not', wallet: { balance: '97.5', available: '97.5' } } } });
  expect(dataOf('replay')).toEqual(dataOf('charge'));
  expect(codeOf('key reused')).toBe('IDEMPOTENCY_KEY_REUSED');
  expect(codeOf('insufficient')).toBe('INSUFFICIENT_CREDITS');
  expect(codeOf('unknown account')).toBe('NOT_FOUND');
  expect(codeOf('variable of the wrong type')).toBe('BAD_USER_INPUT');
  expect(actual['variable of the wrong type'].status).toBe(400);
  expect(codeOf('unknown field')).toBe('GRAPHQL_VALIDATION_FAILED');
  expect(codeOf('too costly')).toBe('BAD_USER_INPUT');
  expect(codeOf('no credential')).toBe('UNAUTHENTICATED');
  expect(actual['bad credential'].status).toBe(401);
  expect((dataOf('history with fragments, skip and include')?.transactions as { edges: unknown[] }).edges).toHaveLength(2);
  expect(dataOf('two operations, one named')).toEqual({ w: 'Query' });
});

test('the ledger written through jit is consistent', async () => {
  const account = await jit.createAccount('audit');
  await jit.grant(account, '10');
  await Promise.all(Array.from({ length: 20 }, () => jit.ok(CHARGE, { i: { accountId: account, amount: '1', idempotencyKey: uniqueKey('c') } }).catch(() => null)));
  expect((await jit.wallet(account)).balance).toBe('0');
  expect((await jit.audit()).ok).toBe(true);
});

test('a document is compiled once per operation, however often it runs', async () => {
  const executor = new JitExecutor(jit.app.schema);
  const document = parse('query A { __typename } query B { b: __typename }');
  const run = (operationName: string) => executor.executor({ document, operationName, request: {}, context: {} } as unknown as Parameters<JitExecutor['executor']>[0]);
  expect(await run('A')).toEqual({ data: { __typename: 'Query' } });
  expect(await run('A')).toEqual({ data: { __typename: 'Query' } });
  expect(await run('B')).toEqual({ data: { b: 'Query' } });
  expect(executor.compilations).toBe(2);
  const unknown = await run('C');
  expect(unknown.errors?.[0].message).toMatch(/Unknown operation named "C"/);
});
