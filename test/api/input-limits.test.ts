/**
 * Every bad input is BAD_USER_INPUT naming the field, never INTERNAL_SERVER_ERROR, over HTTP and
 * WebSocket: NUL however it is written, lone surrogates, JSON nested too deep or too large, text
 * and lists longer than their limits; and malformed user tokens are refused.
 */
import { CreateRateCardDraftDocument } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
let accountId: string;
beforeAll(async () => {
  t = await startTestApp();
  accountId = await t.createAccount();
  await t.grant(accountId, '1000');
});
afterAll(async () => { await t.close(); });

const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id } }`;
const nested = (depth: number, leaf: unknown): unknown => {
  let value = leaf;
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
};

async function refused(query: string, variables: Record<string, unknown>, field: string) {
  const error = await t.fails(query, variables);
  expect(error.extensions.code).toBe('BAD_USER_INPUT');
  expect(error.extensions.field).toBe(field);
  return error;
}

test('NUL written with the braced escape in a literal is refused, naming the field', async () => {
  const error = await t.fails(`mutation { charge(input: { accountId: "${accountId}", amount: "1", idempotencyKey: "${uniqueKey()}", comment: "x\\u{0}y" }) { id } }`);
  expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.comment' });
});

test('NUL nested deeper than 20 levels in vendorUsage is refused', async () => {
  await refused(CHARGE, { i: { accountId, amount: '1', idempotencyKey: uniqueKey(), vendorUsage: nested(25, 'x\u0000y') } }, 'input.vendorUsage');
});

/** POSTs a body built as text (JSON.stringify itself overflows on values this deep). */
async function postRaw(body: string) {
  const response = await fetch(`${t.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` }, body });
  return (await response.json()) as { data?: unknown; errors?: { message: string; extensions: Record<string, unknown> }[] };
}

test('JSON nested thousands of levels deep in variables is refused, not a stack overflow', async () => {
  const deep = '{"a":'.repeat(5_000) + '1' + '}'.repeat(5_000);
  const charge = await postRaw(`{"query":${JSON.stringify(CHARGE)},"variables":{"i":{"accountId":"${accountId}","amount":"1","idempotencyKey":"${uniqueKey()}","vendorUsage":${deep}}}}`);
  expect(charge.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.vendorUsage' });
  const quote = await postRaw(`{"query":"query($id: ID!, $g: GenerationInput!) { quote(accountId: $id, generation: $g) { credits } }","variables":{"id":"${accountId}","g":{"action":"image.generate","params":${deep}}}}`);
  expect(quote.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'generation.params' });
  expect(quote.errors?.[0]?.message).toMatch(/nested at most 32 levels/);
  // 32 levels are fine (the service then judges the content)
  const ok = await t.gql(CHARGE, { i: { accountId, amount: '1', idempotencyKey: uniqueKey(), vendorUsage: nested(31, 1) } });
  expect(ok.errors).toBeUndefined();
});

test('JSON nested deep in a literal of the document is refused without an internal error', async () => {
  const literal = '{a:'.repeat(3_000) + '1' + '}'.repeat(3_000);
  const result = await t.gql(`mutation { charge(input: { accountId: "${accountId}", amount: "1", idempotencyKey: "${uniqueKey()}", vendorUsage: ${literal} }) { id } }`);
  expect(result.errors?.[0]?.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
  expect(['BAD_USER_INPUT', 'GRAPHQL_PARSE_FAILED']).toContain(result.errors?.[0]?.extensions?.code);
});

test('a lone surrogate in any text is refused and never stored as U+FFFD', async () => {
  await refused(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { id name } }`, { i: { name: 'x\ud800', kind: 'USER' } }, 'input.name');
  await refused(CHARGE, { i: { accountId, amount: '1', idempotencyKey: uniqueKey(), comment: 'a\udc00b' } }, 'input.comment');
  await refused(CHARGE, { i: { accountId, amount: '1', idempotencyKey: uniqueKey(), vendorUsage: { ['k\ud800']: 1 } } }, 'input.vendorUsage');
  // A literal with a lone surrogate escape is not valid GraphQL: refused before it runs.
  const literal = await t.gql<{ createAccount: { id: string; name: string } | null }>(`mutation { createAccount(input: { name: "x\\ud800", kind: USER }) { id name } }`);
  expect(literal.data?.createAccount ?? null).toBeNull();
  expect(['BAD_USER_INPUT', 'GRAPHQL_PARSE_FAILED']).toContain(literal.errors?.[0]?.extensions?.code);
  // A proper pair is fine.
  const pair = await t.ok<{ createAccount: { name: string } }>(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { name } }`, { i: { name: 'x\ud83d\ude00', kind: 'USER' } });
  expect(pair.createAccount.name).toBe('x😀');
});

test('text and lists have length limits', async () => {
  await refused(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`, { i: { name: 'n', kind: 'USER', planTier: 'p'.repeat(200_000) } }, 'input.planTier');
  const draftId = (await t.op(CreateRateCardDraftDocument, { input: { name: `card ${uniqueKey()}`, empty: true } })).createRateCardDraft.id;
  const pairs = Array.from({ length: 10_000 }, (_, i) => ({ action: `a${i}` }));
  const error = await refused(`mutation($i: SetRatesInput!) { setRateCardRates(input: $i) { id } }`, { i: { draftId, rates: [], requiredPairs: pairs } }, 'input.requiredPairs');
  expect(error.message).toMatch(/at most 1000 items/);
  await refused(`mutation($i: GrantCreditsInput!) { grantCredits(input: $i) { id } }`,
    { i: { accountId, amount: '1', source: 'PROMO', idempotencyKey: uniqueKey(), applicableModels: Array.from({ length: 101 }, (_, i) => `m${i}`) } }, 'input.applicableModels');
  await refused(`mutation($i: GrantCreditsInput!) { grantCredits(input: $i) { id } }`,
    { i: { accountId, amount: '1', source: 'PROMO', idempotencyKey: uniqueKey(), applicableModels: ['ok', 'x'.repeat(501)] } }, 'input.applicableModels[1]');
  await refused(CHARGE, { i: { accountId, amount: '1', idempotencyKey: uniqueKey(), vendorUsage: { raw: 'x'.repeat(20_000) } } }, 'input.vendorUsage');
});

test('the same guard applies to subscriptions over graphql-ws', async () => {
  const client = t.ws();
  const errors = await new Promise<unknown[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no answer')), 10_000);
    client.subscribe({ query: `subscription($id: ID!) { walletEvents(accountId: $id) { sequence } }`, variables: { id: 'x\u0000' } }, {
      next: (value) => { clearTimeout(timer); resolve([...(value.errors ?? [])]); },
      error: (error) => { clearTimeout(timer); resolve(Array.isArray(error) ? error : [error]); },
      complete: () => {},
    });
  });
  expect(errors[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT', field: 'accountId' } });
});

test('a user token with anything appended is refused', async () => {
  const token = await t.userToken(accountId);
  const good = await t.gql(`query($id: ID!) { wallet(accountId: $id) { balance } }`, { id: accountId }, token);
  expect(good.errors).toBeUndefined();
  for (const bad of [`${token}.garbage`, `${token}.`, `${token}=`, token.replace(/\.([^.]*)$/, '..$1')]) {
    const error = await t.fails(`query($id: ID!) { wallet(accountId: $id) { balance } }`, { id: accountId }, bad);
    expect(error.extensions.code).toBe('UNAUTHENTICATED');
  }
});
