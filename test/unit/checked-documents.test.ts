/**
 * graphql-ws's document checks (src/graphql/limits.ts, CheckedDocuments): a document is parsed and
 * validated once and then served from the cache, while its variables and cost are checked on every
 * request; refusals keep their codes; the cache is bounded in entries and in query length.
 */
import 'reflect-metadata';
import { GraphQLError, parse, type GraphQLSchema } from 'graphql';
import { buildAppSchema } from '../../src/graphql/schema';
import { CheckedDocuments, costCheck, costReadsVariables, limitRules } from '../../src/graphql/limits';
import { loadConfig } from '../../src/config';

let schema: GraphQLSchema;
const config = loadConfig({ databaseUrl: null, dataDir: '', loadDemo: false });
beforeAll(async () => { schema = await buildAppSchema(); });

const documents = () => new CheckedDocuments(schema, limitRules(config), config);
const PAGE = `query($id: ID!, $first: Int) { ${Array.from({ length: 10 }, (_, i) => `p${i}: transactions(accountId: $id, first: $first) { edges { node { id amount entries { amount } } } }`).join(' ')} }`;
const id = '00000000-0000-4000-8000-000000000001';

const codesOf = (checked: ReturnType<CheckedDocuments['check']>) => (Array.isArray(checked) ? checked.map((e: GraphQLError) => e.extensions.code) : null);

test('the same text is parsed and validated once: the same document comes back', () => {
  const cache = documents();
  const first = cache.check({ query: PAGE, variables: { id, first: 2 } });
  const second = cache.check({ query: PAGE, variables: { id, first: 3 } });
  if (Array.isArray(first) || Array.isArray(second)) throw new Error('expected both to pass');
  expect(second.document).toBe(first.document);
  expect(second.variableValues).toEqual({ id, first: 3 });
  expect(cache.size()).toBe(1);
});

test.each([
  ['cost, from the variables', { query: PAGE, variables: { id, first: 100 } }, 'BAD_USER_INPUT', /query cost \d+ exceeds the limit of 5000/],
  ['a variable of the wrong type', { query: PAGE, variables: { id, first: 'many' } }, 'BAD_USER_INPUT', /Variable "\$first" got invalid value "many"/],
  ['a missing variable', { query: PAGE, variables: {} }, 'BAD_USER_INPUT', /Variable "\$id" of required type "ID!" was not provided/],
  ['a parse error', { query: '{ wallet(', variables: {} }, 'GRAPHQL_PARSE_FAILED', /Syntax Error/],
  ['a validation error', { query: '{ noSuchField }', variables: {} }, 'GRAPHQL_VALIDATION_FAILED', /Cannot query field "noSuchField"/],
  ['a limit rule', { query: `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: __typename`).join(' ')} }`, variables: {} }, 'BAD_USER_INPUT', /more than 30 aliases/],
])('refused, first and again from the cache: %s', (_what, payload, code, message) => {
  const cache = documents();
  for (let attempt = 0; attempt < 2; attempt += 1) {
    const checked = cache.check(payload);
    expect(codesOf(checked)).toEqual([code]);
    expect((checked as GraphQLError[])[0].message).toMatch(message);
  }
  expect(cache.size()).toBe(1);
});

test('a cached document still checks each request\'s variables: cheap passes, costly is refused', () => {
  const cache = documents();
  expect(codesOf(cache.check({ query: PAGE, variables: { id, first: 2 } }))).toBeNull();
  expect(codesOf(cache.check({ query: PAGE, variables: { id, first: 100 } }))).toEqual(['BAD_USER_INPUT']);
  expect(codesOf(cache.check({ query: PAGE, variables: { id, first: 2 } }))).toBeNull();
});

test('bounded: at most 200 documents, the least recently used dropped; long queries are not kept', () => {
  const cache = documents();
  const query = (n: number) => `{ t${n}: __typename }`;
  const documentOf = (n: number) => {
    const checked = cache.check({ query: query(n) });
    if (Array.isArray(checked)) throw new Error(`query ${n} refused`);
    return checked.document;
  };
  const zero = documentOf(0);
  const one = documentOf(1);
  for (let n = 2; n < 200; n += 1) documentOf(n);
  expect(documentOf(0)).toBe(zero); // used again: now the most recent
  documentOf(200); // evicts query(1), the least recently used
  expect(cache.size()).toBe(200);
  expect(documentOf(0)).toBe(zero);
  expect(documentOf(1)).not.toBe(one); // parsed again
  expect(cache.size()).toBe(200);
  const long = `{ __typename ${' '.repeat(16 * 1024)}}`;
  const first = cache.check({ query: long });
  const again = cache.check({ query: long });
  if (Array.isArray(first) || Array.isArray(again)) throw new Error('expected the long query to pass');
  expect(again.document).not.toBe(first.document);
});

describe('cost checks remembered per document', () => {
  test.each([
    ['no variables', '{ __typename }', false],
    ['an input object to a field costed as 1', 'mutation($i: ChargeInput!) { charge(input: $i) { id } }', false],
    ['an id', 'query($id: ID!) { wallet(accountId: $id) { balance } }', false],
    ['literal arguments of a costed field', 'query { transactions(accountId: "x", first: 5) { edges { cursor } } }', false],
    // A field's cost function is given all its arguments: any variable among them may count.
    ['a variable id on a costed field', 'query($id: ID!) { transactions(accountId: $id, first: 5) { edges { cursor } } }', true],
    ['a variable page size', 'query($id: ID!, $first: Int) { transactions(accountId: $id, first: $first) { edges { cursor } } }', true],
    ['a variable page size in a fragment', 'query($f: Int) { ...F } fragment F on Query { transactions(accountId: "x", first: $f) { edges { cursor } } }', true],
    ['@skip with a variable', 'query($s: Boolean!) { __typename @skip(if: $s) }', true],
    ['@include with a variable inside an inline fragment', 'query($s: Boolean!) { ... on Query @include(if: $s) { __typename } }', true],
  ])('%s: the cost reads variables → %s', (_what, query, expected) => {
    expect(costReadsVariables(schema, parse(query))).toBe(expected);
  });

  test('a passed document whose cost no variable changes is not costed again; one whose cost does is', () => {
    const limits = { queryCostMax: 1000, pageSizeMax: 100 };
    const check = costCheck(limits);
    const fixed = parse('query($id: ID!) { wallet(accountId: $id) { balance } accounts(first: 50) { edges { cursor } } }');
    const variable = parse('query($id: ID!, $first: Int) { transactions(accountId: $id, first: $first) { edges { cursor } } }');
    expect(check(schema, fixed, null, { id })).toBeNull();
    expect(check(schema, variable, null, { id, first: 50 })).toBeNull();
    // With a lower limit (the same config object), only the remembered document still passes.
    limits.queryCostMax = 10;
    expect(check(schema, fixed, null, { id })).toBeNull();
    expect(check(schema, variable, null, { id, first: 50 })?.message).toMatch(/query cost \d+ exceeds the limit of 10/);
    expect(check(schema, parse('query($id: ID!) { wallet(accountId: $id) { balance } accounts(first: 50) { edges { cursor } } }'), null, { id })?.message).toMatch(/exceeds the limit of 10/);
  });
});
