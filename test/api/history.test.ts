/**
 * Transaction history through GraphQL: newest first, opaque cursors, complete pagination, filters,
 * page-size limits, and a constant number of SQL statements however large the page.
 */
import { ChargeDocument, CreditsApiError, TransactionsDocument, type ChargeInput, type TransactionsQueryVariables } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

type PageVariables = Omit<TransactionsQueryVariables, 'accountId'>;
const page = async (id: string, vars: PageVariables = {}) => (await t.op(TransactionsDocument, { accountId: id, ...vars })).transactions;
const nodes = async (id: string, vars: PageVariables = {}) => (await page(id, { first: 100, ...vars })).edges.map((e) => e.node);
/** Charges; a refusal is returned rather than thrown (history records it as FAILED). */
const charge = (accountId: string, amount: string, extra: Partial<ChargeInput> = {}) =>
  t.op(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey(), ...extra } }).then((data) => data.charge, (error: unknown) => {
    if (error instanceof CreditsApiError) return error;
    throw error;
  });

/** Runs `count` calls of `fn`, `width` at a time. */
async function inBatches(count: number, width: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += width) {
    await Promise.all(Array.from({ length: Math.min(width, count - start) }, (_, k) => fn(start + k)));
  }
}

describe('order and pagination', () => {
  let id: string;
  beforeAll(async () => {
    id = await t.createAccount('History');
    await t.grant(id, '100');
    for (let i = 0; i < 11; i++) await charge(id, '1', { action: i % 2 ? 'image' : 'text' });
    await charge(id, '1000'); // refused: recorded as FAILED
    await charge(id, '2');
  });

  test('newest first', async () => {
    const all = await nodes(id);
    expect(all).toHaveLength(14);
    expect(all[0]).toMatchObject({ type: 'CHARGE', sequence: 13, amount: '-2' });
    expect(all[1]).toMatchObject({ type: 'CHARGE', status: 'FAILED', sequence: null });
    expect(all[all.length - 1]).toMatchObject({ type: 'GRANT', sequence: 1 });
    const sequences = all.map((n) => n.sequence).filter((s) => s !== null);
    expect(sequences).toEqual([...sequences].sort((a, b) => b - a));
    expect(sequences).toEqual(Array.from({ length: 13 }, (_, i) => 13 - i));
  });

  test('pages walk every row exactly once, in order', async () => {
    const all = (await nodes(id)).map((n) => n.id);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const p = await page(id, { first: 3, after });
      pages += 1;
      seen.push(...p.edges.map((e) => e.node.id));
      expect(p.pageInfo.endCursor).toBe(p.edges.length ? p.edges[p.edges.length - 1].cursor : null);
      if (!p.pageInfo.hasNextPage) break;
      after = p.pageInfo.endCursor;
      expect(pages).toBeLessThan(20);
    }
    expect(pages).toBe(5);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(all);
  });

  test('pagination is stable while new rows arrive', async () => {
    const other = await t.createAccount();
    await t.grant(other, '10');
    for (let i = 0; i < 4; i++) await charge(other, '1');
    const first = await page(other, { first: 2 });
    await charge(other, '1'); // newer than everything: must not shift the next page
    const second = await page(other, { first: 10, after: first.pageInfo.endCursor });
    const ids = [...first.edges, ...second.edges].map((e) => e.node.id);
    expect(ids).toHaveLength(5);
    expect(new Set(ids).size).toBe(5);
    expect(second.pageInfo.hasNextPage).toBe(false);
  });

  test('cursors are opaque and checked', async () => {
    const p = await page(id, { first: 2 });
    const cursor: string = p.edges[0].cursor;
    expect(cursor).not.toBe(p.edges[0].node.id);
    expect(cursor).not.toMatch(/^\d+$/);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    for (const bad of ['garbage', Buffer.from('v1:abc').toString('base64url'), Buffer.from('v2:5').toString('base64url'), '12']) {
      const error = await t.opFails(TransactionsDocument, { accountId: id, first: 2, after: bad });
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
    }
  });

  test('first must be between 1 and 100', async () => {
    expect((await page(id, { first: 100 })).edges).toHaveLength(14);
    expect((await page(id, {})).edges).toHaveLength(14); // default 20
    for (const first of [101, 0, -1, 1000000]) {
      const error = await t.opFails(TransactionsDocument, { accountId: id, first });
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
    }
  });

  test('filters by type, status and action', async () => {
    expect((await nodes(id, { filter: { types: ['GRANT'] } })).map((n) => n.type)).toEqual(['GRANT']);
    const charges = await nodes(id, { filter: { types: ['CHARGE'] } });
    expect(charges).toHaveLength(13);
    const failed = await nodes(id, { filter: { statuses: ['FAILED'] } });
    expect(failed.map((n) => [n.type, n.status])).toEqual([['CHARGE', 'FAILED']]);
    const succeededCharges = await nodes(id, { filter: { types: ['CHARGE'], statuses: ['SUCCEEDED'] } });
    expect(succeededCharges).toHaveLength(12);
    const images = await nodes(id, { filter: { action: 'image' } });
    expect(images).toHaveLength(5);
    expect(images.every((n) => n.action === 'image')).toBe(true);
    expect(await nodes(id, { filter: { types: ['REFUND', 'EXPIRE'] } })).toEqual([]);
    // filtered pages paginate too
    const firstTwo = await page(id, { first: 2, filter: { action: 'text' } });
    const rest = await page(id, { first: 100, after: firstTwo.pageInfo.endCursor, filter: { action: 'text' } });
    const textIds = [...firstTwo.edges, ...rest.edges].map((e) => e.node.id);
    expect(textIds).toEqual((await nodes(id, { filter: { action: 'text' } })).map((n) => n.id));
    expect(textIds).toHaveLength(6);
  });
});

test('filters by date range: from inclusive, to exclusive', async () => {
  const id = await t.createAccount();
  await t.grant(id, '10');
  t.clock.advanceSeconds(3600);
  const t1 = t.clock.now().toISOString();
  await charge(id, '1');
  await charge(id, '1');
  t.clock.advanceSeconds(3600);
  const t2 = t.clock.now().toISOString();
  await charge(id, '1');
  const between = await nodes(id, { filter: { from: t1, to: t2 } });
  expect(between.map((n) => n.sequence)).toEqual([3, 2]);
  expect((await nodes(id, { filter: { from: t2 } })).map((n) => n.sequence)).toEqual([4]);
  expect((await nodes(id, { filter: { to: t1 } })).map((n) => n.sequence)).toEqual([1]);
  expect((await nodes(id, { filter: { from: t1, types: ['GRANT'] } }))).toEqual([]);
});

test('a user token reads only its own history', async () => {
  const mine = await t.createAccount();
  const other = await t.createAccount();
  await t.grant(mine, '1');
  await t.grant(other, '1');
  const token = await t.userToken(mine);
  expect((await t.op(TransactionsDocument, { accountId: mine, first: 10 }, token)).transactions.edges).toHaveLength(1);
  expect((await t.opFails(TransactionsDocument, { accountId: other, first: 10 }, token)).code).toBe('FORBIDDEN');
  expect((await t.opFails(TransactionsDocument, { accountId: mine, first: 10 }, null)).code).toBe('UNAUTHENTICATED');
});

test('unknown accounts have an empty history', async () => {
  expect((await page('00000000-0000-4000-8000-00000000eeee')).edges).toEqual([]);
});

test('a page of 100 with entries and account costs as many SQL statements as a page of 10', async () => {
  const id = await t.createAccount('Busy');
  await t.grant(id, '51', { source: 'PROMO' });
  await t.grant(id, '51', { source: 'PLAN_ALLOWANCE' });
  await t.grant(id, '300', { source: 'PURCHASE' });
  // 2-credit charges: the 26th takes from two buckets; the newest 100 draw on all three
  await inBatches(98, 14, async () => {
    const result = await charge(id, '2', { action: 'image' });
    expect(result).not.toBeInstanceOf(CreditsApiError);
  });
  // Its own document: the client's operations do not select each node's account.
  const HEAVY = `query($id: ID!, $first: Int) { transactions(accountId: $id, first: $first) {
    edges { cursor node { id type amount balanceAfter entries { bucketId bucketSource amount } account { id name } } }
    pageInfo { hasNextPage endCursor } } }`;
  interface HeavyPage {
    transactions: { edges: { node: { entries: { bucketSource: string }[]; account: { id: string; name: string } } }[] };
  }
  // A user token is checked by its signature alone, so each count below is the page's statements and
  // nothing else (an API key is looked up again whenever its short cache has lapsed, which on a slow
  // machine can fall inside a count).
  const token = await t.userToken(id);
  /** One page of `first`, and the statements the server ran for it. */
  const measure = async (first: number) => {
    const pages: HeavyPage[] = [];
    const statements = await t.countQueries(async () => { pages.push(await t.ok<HeavyPage>(HEAVY, { id, first }, token)); });
    return { edges: pages[0].transactions.edges, statements };
  };
  const { edges: smallEdges, statements: smallCount } = await measure(10);
  const { edges: largeEdges, statements: largeCount } = await measure(100);
  expect(smallEdges).toHaveLength(10);
  expect(largeEdges).toHaveLength(100);
  expect(largeEdges.every((e) => e.node.account.id === id && e.node.account.name === 'Busy')).toBe(true);
  expect(largeEdges.every((e) => e.node.entries.length >= 1)).toBe(true);
  expect(largeEdges.some((e) => e.node.entries.length === 2)).toBe(true);
  expect(new Set(largeEdges.flatMap((e) => e.node.entries.map((x) => x.bucketSource)))).toEqual(new Set(['PROMO', 'PLAN_ALLOWANCE', 'PURCHASE']));
  expect(smallCount).toBeGreaterThan(0); // the counter sees the page's statements
  expect(largeCount).toBe(smallCount);
  expect(largeCount).toBeLessThanOrEqual(6);
  expect(await t.audit()).toEqual({ ok: true, violations: [] });
});
