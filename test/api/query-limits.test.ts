/**
 * Query shape and cost limits (issue 6, items 3 and 4): a fragment bomb is refused quickly and never
 * blocks the server; a too costly query is refused before any resolver runs, over HTTP and
 * graphql-ws, with the variables taken into account; a normal 100-item history page passes; the
 * standard introspection query works and abusive introspection is bounded by its own rule.
 */
import { performance } from 'node:perf_hooks';
import { getIntrospectionQuery, parse, validate, type IntrospectionQuery } from 'graphql';
import type { Client } from 'graphql-ws';
import { LedgerResolver } from '../../src/modules/ledger';
import { depthLimit } from '../../src/graphql/limits';
import { startTestApp, uniqueKey, type GqlResult, type TestApp } from '../helpers/harness';

let t: TestApp;
let accountId: string;
beforeAll(async () => {
  t = await startTestApp();
  accountId = await t.createAccount('history of 100');
  await t.grant(accountId, '1000');
  await Promise.all(Array.from({ length: 110 }, () => t.ok(`mutation($i: ChargeInput!) { charge(input: $i) { id } }`,
    { i: { accountId, amount: '1', idempotencyKey: uniqueKey('charge') } })));
});
afterAll(async () => { await t.close(); });

let run = 0;
/** 22 fragments, each spreading the next twice: 2^21 paths to the one field at the bottom. Names vary per call so no cache helps. */
function fragmentBomb(fragments = 22): string {
  const n = `${++run}x`;
  let query = `{ ...F${n}0 }`;
  for (let i = 0; i < fragments - 1; i++) query += ` fragment F${n}${i} on Query { ...F${n}${i + 1} ...F${n}${i + 1} }`;
  return `${query} fragment F${n}${fragments - 1} on Query { __typename }`;
}
const plain = () => `{ t${++run}: __typename }`;

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function post<T = unknown>(query: string, variables: Record<string, unknown> = {}, token: string | null = null) {
  const response = await fetch(`${t.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: (await response.json()) as GqlResult<T> };
}

/** The result of a one-off operation over graphql-ws: its data, or the errors it was refused with. */
function overWs<T = unknown>(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<GqlResult<T>> {
  return new Promise((resolve, reject) => {
    let result: GqlResult<T> = {};
    client.subscribe<T>({ query, variables }, {
      next: (value) => { result = value as typeof result; },
      // graphql-ws hands over the GraphQL errors as an array, and anything else (a close event) as is
      error: (error) => (Array.isArray(error)
        ? resolve({ errors: error as NonNullable<GqlResult['errors']> })
        : reject(error instanceof Error ? error : new Error('graphql-ws failed', { cause: error }))),
      complete: () => resolve(result),
    });
  });
}

/** Ten aliased 100-item pages: 10 × (1 + 100 × 6) = 6,010 > 5,000. */
const TOO_COSTLY = `query($id: ID!, $first: Int) { ${Array.from({ length: 10 }, (_, i) =>
  `p${i}: transactions(accountId: $id, first: $first) { edges { node { id amount entries { amount } } } }`).join(' ')} }`;

interface HistoryPage {
  transactions: { edges: { cursor: string; node: { id: string; entries: unknown[] } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}
const HISTORY_PAGE = `query($id: ID!, $after: String) {
  transactions(accountId: $id, first: 100, after: $after) {
    edges { cursor node { id sequence type status amount requestedAmount heldChange debtChange balanceAfter availableAfter
      action model actor comment idempotencyKey quoteId holdId relatedTransactionId failureCode createdAt
      entries { bucketId bucketSource amount originBucketId } account { id name kind } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

describe('the fragment bomb', () => {
  test('is refused with a clear error, as fast as a plain { __typename }, and /healthz keeps answering', async () => {
    // warm up both paths once
    await post(plain());
    await post(fragmentBomb());

    const plainMs: number[] = [];
    const bombMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const p = await timed(() => post(plain()));
      expect(p.value.body.errors).toBeUndefined();
      plainMs.push(p.ms);
      const b = await timed(() => post(fragmentBomb()));
      expect(b.value.status).toBe(400);
      expect(b.value.body.data).toBeUndefined();
      expect(b.value.body.errors).toHaveLength(1);
      expect(b.value.body.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(b.value.body.errors![0].message).toMatch(/query cost of at least 2097152 exceeds the limit of 5000/);
      bombMs.push(b.ms);
    }
    // Before the fix one bomb blocked the event loop for seconds (doubling per fragment); now it costs what a trivial query does.
    console.log(`fragment bomb: median ${median(bombMs).toFixed(1)} ms; { __typename }: median ${median(plainMs).toFixed(1)} ms`);
    expect(median(bombMs)).toBeLessThan(10 * median(plainMs));

    // /healthz answers while bombs are being handled.
    const baseline = median(await Promise.all([0, 1, 2].map(() => timed(() => fetch(`${t.url}/healthz`)).then((r) => r.ms))));
    const bombs = Promise.all([0, 1, 2].map(() => post(fragmentBomb())));
    const health = await timed(() => fetch(`${t.url}/healthz`));
    expect(health.value.status).toBe(200);
    for (const b of await bombs) expect(b.body.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(health.ms).toBeLessThan(10 * Math.max(baseline, median(plainMs)));
  });

  test('growing the bomb does not grow the time (the check is linear in the document)', async () => {
    const small: number[] = [];
    const large: number[] = [];
    for (let i = 0; i < 3; i++) {
      small.push((await timed(() => post(fragmentBomb(22)))).ms);
      const big = await timed(() => post(fragmentBomb(60))); // 2^59 paths
      expect(big.value.body.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      large.push(big.ms);
    }
    expect(median(large)).toBeLessThan(10 * median(small));
  });

  test('is refused over graphql-ws too', async () => {
    const client = t.ws(null);
    const plainResult = await timed(() => overWs(client, plain()));
    expect(plainResult.value.errors).toBeUndefined();
    const bomb = await timed(() => overWs(client, fragmentBomb()));
    expect(bomb.value.errors).toHaveLength(1);
    expect(bomb.value.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(bomb.value.errors![0].message).toMatch(/query cost of at least \d+ exceeds the limit of 5000/);
    expect(bomb.ms).toBeLessThan(10 * Math.max(plainResult.ms, 1));
  });
});

describe('query cost', () => {
  test('a too costly query is refused before any resolver runs; the same query with a smaller first runs', async () => {
    const spy = jest.spyOn(LedgerResolver.prototype, 'transactions');
    try {
      await t.ok(`{ __typename }`); // the admin key's authentication is cached from here on
      let response: Awaited<ReturnType<typeof post>> | undefined;
      const statements = await t.countQueries(async () => { response = await post(TOO_COSTLY, { id: accountId, first: 100 }, t.adminKey); });
      expect(response!.status).toBe(400);
      expect(response!.body.data).toBeUndefined();
      expect(response!.body.errors).toHaveLength(1);
      expect(response!.body.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(response!.body.errors![0].message).toMatch(/query cost 6010 exceeds the limit of 5000/);
      expect(statements).toBe(0);
      expect(spy).not.toHaveBeenCalled();
      // Variables decide: first 20 (the default) costs 10 × (1 + 20 × 6) = 1,210.
      const small = await t.ok<Record<`p${number}`, { edges: unknown[] }>>(TOO_COSTLY, { id: accountId, first: 20 });
      expect(small.p9.edges).toHaveLength(20);
      expect(spy).toHaveBeenCalledTimes(10);
      // Anonymous callers are refused by cost before the access check could even run.
      const anonymous = await post(TOO_COSTLY, { id: accountId, first: 100 });
      expect(anonymous.body.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
    } finally {
      spy.mockRestore();
    }
  });

  test('a first above the page size counts as the page size, so the resolver names the bad argument', async () => {
    const error = await t.fails(`query($id: ID!) { transactions(accountId: $id, first: 1000000) { edges { cursor } } }`, { id: accountId });
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message).toMatch(/first must be between 1 and 100/);
  });

  test('fields left out by @skip/@include do not count', async () => {
    const skipped = `query($id: ID!, $skip: Boolean!) { ${Array.from({ length: 10 }, (_, i) =>
      `p${i}: transactions(accountId: $id, first: 100) @skip(if: $skip) { edges { node { id amount entries { amount } } } }`).join(' ')} __typename }`;
    expect((await t.ok<{ __typename: string }>(skipped, { id: accountId, skip: true })).__typename).toBe('Query');
    expect((await t.fails(skipped, { id: accountId, skip: false })).message).toMatch(/query cost 6011 exceeds/); // + __typename
  });

  test('a full 100-item history page with entries and account passes, and so does paging through it', async () => {
    const first = await t.ok<HistoryPage>(HISTORY_PAGE, { id: accountId });
    expect(first.transactions.edges).toHaveLength(100);
    expect(first.transactions.edges[0].node.entries.length).toBeGreaterThan(0);
    const rest = await t.ok<HistoryPage>(HISTORY_PAGE, { id: accountId, after: first.transactions.pageInfo.endCursor });
    expect(rest.transactions.edges.length).toBeGreaterThan(0);
  });

  test('over graphql-ws the cost uses the variables too, before anything runs', async () => {
    const client = t.ws();
    const spy = jest.spyOn(LedgerResolver.prototype, 'transactions');
    try {
      const refused = await overWs(client, TOO_COSTLY, { id: accountId, first: 100 });
      expect(refused.errors).toHaveLength(1);
      expect(refused.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(refused.errors![0].message).toMatch(/query cost 6010 exceeds the limit of 5000/);
      expect(spy).not.toHaveBeenCalled();
      // The document is parsed and validated once (cached), its cost still checked with each request's variables.
      const cheap = await overWs<Record<string, { edges: unknown[] }>>(client, TOO_COSTLY, { id: accountId, first: 2 });
      expect(cheap.errors).toBeUndefined();
      expect(cheap.data?.p9.edges).toHaveLength(2);
      const refusedAgain = await overWs(client, TOO_COSTLY, { id: accountId, first: 100 });
      expect(refusedAgain.errors![0].message).toMatch(/query cost 6010 exceeds the limit of 5000/);
      // A variable of the wrong type is the caller's mistake, as over HTTP (not an internal error).
      const wrongType = await overWs(client, TOO_COSTLY, { id: accountId, first: 'many' });
      expect(wrongType.errors!.map((e) => e.extensions?.code)).toEqual(['BAD_USER_INPUT']);
      expect(wrongType.errors![0].message).toMatch(/Variable "\$first" got invalid value "many"/);
      const page = await overWs<HistoryPage>(client, HISTORY_PAGE, { id: accountId });
      expect(page.errors).toBeUndefined();
      expect(page.data?.transactions.edges).toHaveLength(100);
      // graphql's own validation still applies, with its code
      const invalid = await overWs(client, `{ noSuchField }`);
      expect(invalid.errors![0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    } finally {
      spy.mockRestore();
    }
  });
});

describe('depth', () => {
  test('ordinary depth is measured through fragments, once per fragment', () => {
    // The schema nests ordinary fields at most 7 deep, below the limit of 10: checked here with a lower limit.
    const query = parse(`query($id: ID!) { transactions(accountId: $id) { ...E } }
      fragment E on LedgerTransactionConnection { edges { node { account { wallet { buckets { ...B } } } } } }
      fragment B on Bucket { id }`);
    expect(validate(t.app.schema, query, [depthLimit(7)])).toHaveLength(0);
    const errors = validate(t.app.schema, query, [depthLimit(6)]);
    expect(errors.map((e) => e.message)).toEqual(['query depth 7 exceeds the limit of 6']);
  });

  test('fragment cycles are refused by graphql and hang nothing', async () => {
    const result = await post(`{ ...A } fragment A on Query { __typename ...B } fragment B on Query { ...A }`);
    expect(result.body.errors?.[0].message).toMatch(/Cannot spread fragment "A" within itself/);
    const ws = await overWs(t.ws(null), `{ ...A } fragment A on Query { __typename ...A }`);
    expect(ws.errors?.[0].message).toMatch(/within itself/);
  });
});

describe('introspection', () => {
  test('the standard introspection query works, anonymously and with a key', async () => {
    for (const token of [null, t.adminKey, await t.key('READONLY')]) {
      const result = await post<IntrospectionQuery>(getIntrospectionQuery(), {}, token);
      expect(result.body.errors).toBeUndefined();
      expect(result.body.data?.__schema.types.some((type) => type.name === 'LedgerTransaction')).toBe(true);
    }
    const everything = await post(getIntrospectionQuery({
      descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true,
    }));
    expect(everything.body.errors).toBeUndefined();
    const overWsResult = await overWs<IntrospectionQuery>(t.ws(null), getIntrospectionQuery());
    expect(overWsResult.errors).toBeUndefined();
    expect(overWsResult.data?.__schema.queryType.name).toBe('Query');
  });

  test('introspection neither counts against the depth limit nor costs', async () => {
    // depth 15 (over the ordinary limit of 10), next to a 100-item page (cost 401 of 5,000)
    const result = await t.ok<{ transactions: { edges: unknown[] } }>(`query($id: ID!) { transactions(accountId: $id, first: 100) { edges { cursor node { id } } }
      __schema { types { fields { args { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } }`, { id: accountId });
    expect(result.transactions.edges).toHaveLength(100);
  });

  test('abusive introspection is refused by its own bounds', async () => {
    const refused = async (query: string, message: RegExp) => {
      const result = await post(query);
      expect(result.status).toBe(400);
      expect(result.body.data).toBeUndefined();
      expect(result.body.errors).toHaveLength(1);
      expect(result.body.errors![0].extensions?.code).toBe('BAD_USER_INPUT');
      expect(result.body.errors![0].message).toMatch(message);
    };
    // depth: __schema > types > fields > type > ofType × 16 > name = 21
    await refused(`{ __schema { types { fields { type { ${'ofType { '.repeat(16)}name${' }'.repeat(16)} } } } } }`, /introspection depth 21 exceeds the limit of 20/);
    // lists of types within lists of types (every type × every field × every field of its type × …): graphql's own rule
    const nested = await post(`{ __schema { types { fields { type { ofType { fields { type { ofType { fields { name } } } } } } } } } }`);
    expect(nested.body.data).toBeUndefined();
    expect(nested.body.errors?.[0]).toMatchObject({ message: 'Maximum introspection depth exceeded', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    // size, fragments counted at every spread
    let bomb = `{ __schema { ...I0 } }`;
    for (let i = 0; i < 12; i++) bomb += ` fragment I${i} on __Schema { ...I${i + 1} ...I${i + 1} }`;
    bomb += ` fragment I12 on __Schema { queryType { name } }`;
    await refused(bomb, /introspection asks for 8193 fields .*the limit is 500/);
    // the ordinary alias limit applies to introspection too
    await refused(`{ ${Array.from({ length: 31 }, (_, i) => `s${i}: __schema { queryType { name } }`).join(' ')} }`, /more than 30 aliases/);
  });
});
