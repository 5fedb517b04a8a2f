/**
 * Idempotency keys on credit-moving mutations: one effect per (caller, key), the first result
 * (success or refusal) replayed, different input refused, concurrent duplicates collapsed.
 */
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { deleteExpiredIdempotencyKeys } from '../../src/modules/ledger/ledger.repo';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const TX_FIELDS = `id type status amount balanceAfter sequence idempotencyKey createdAt entries { bucketId amount }`;
const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { ${TX_FIELDS} } }`;
const GRANT = `mutation($i: GrantCreditsInput!) { grantCredits(input: $i) { ${TX_FIELDS} } }`;
const RESERVE = `mutation($i: ReserveInput!) { reserveCredits(input: $i) { id amount status expiresAt } }`;
const CAPTURE = `mutation($i: CaptureInput!) { captureHold(input: $i) { ${TX_FIELDS} } }`;
const RELEASE = `mutation($i: ReleaseInput!) { releaseHold(input: $i) { id amount status } }`;
const REFUND = `mutation($i: RefundInput!) { refund(input: $i) { ${TX_FIELDS} } }`;
const REVERSE = `mutation($i: ReverseInput!) { reverseTransaction(input: $i) { ${TX_FIELDS} } }`;
const WALLET = `query($id: ID!) { wallet(accountId: $id) { balance available held sequence } }`;
const HISTORY = `query($id: ID!) { transactions(accountId: $id, first: 100) { edges { node { id type status failureCode idempotencyKey } } } }`;

const wallet = async (id: string) => (await t.ok(WALLET, { id })).wallet;
const history = async (id: string): Promise<any[]> => (await t.ok(HISTORY, { id })).transactions.edges.map((e: any) => e.node);
const cleanAudit = async () => expect(await t.audit()).toEqual({ ok: true, violations: [] });

describe('same key, same input', () => {
  test('a charge replayed returns the same transaction and charges once', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const input = { accountId: id, amount: '3', idempotencyKey: uniqueKey(), action: 'image' };
    const first = (await t.ok(CHARGE, { i: input })).charge;
    const second = (await t.ok(CHARGE, { i: input })).charge;
    const third = (await t.ok(CHARGE, { i: { ...input, amount: 3 } })).charge; // the same amount as a number
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect(first).toMatchObject({ status: 'SUCCEEDED', amount: '-3', balanceAfter: '7', sequence: 2 });
    expect(await wallet(id)).toMatchObject({ balance: '7', sequence: 2 });
    expect((await history(id)).filter((n) => n.type === 'CHARGE')).toHaveLength(1);
    await cleanAudit();
  });

  test('grant, reserve, capture, release, refund and reversal replay their first result', async () => {
    const id = await t.createAccount();
    const grantInput = { accountId: id, amount: '20', source: 'PURCHASE', idempotencyKey: uniqueKey() };
    const grant = (await t.ok(GRANT, { i: grantInput })).grantCredits;
    expect((await t.ok(GRANT, { i: grantInput })).grantCredits).toEqual(grant);

    const holdInput = { accountId: id, amount: '5', idempotencyKey: uniqueKey() };
    const hold = (await t.ok(RESERVE, { i: holdInput })).reserveCredits;
    expect((await t.ok(RESERVE, { i: holdInput })).reserveCredits).toEqual(hold);
    expect(await wallet(id)).toMatchObject({ balance: '20', available: '15', held: '5' });

    const captureInput = { holdId: hold.id, amount: '2', idempotencyKey: uniqueKey() };
    const captured = (await t.ok(CAPTURE, { i: captureInput })).captureHold;
    expect((await t.ok(CAPTURE, { i: captureInput })).captureHold).toEqual(captured);

    const hold2 = (await t.ok(RESERVE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } })).reserveCredits;
    const releaseInput = { holdId: hold2.id, idempotencyKey: uniqueKey() };
    const released = (await t.ok(RELEASE, { i: releaseInput })).releaseHold;
    expect(released.status).toBe('RELEASED');
    expect((await t.ok(RELEASE, { i: releaseInput })).releaseHold).toEqual(released);

    const refundInput = { transactionId: captured.id, amount: '1', idempotencyKey: uniqueKey() };
    const refunded = (await t.ok(REFUND, { i: refundInput })).refund;
    expect((await t.ok(REFUND, { i: refundInput })).refund).toEqual(refunded);

    const g2 = await t.grant(id, '1');
    const reverseInput = { transactionId: g2.id, idempotencyKey: uniqueKey() };
    const reversed = (await t.ok(REVERSE, { i: reverseInput })).reverseTransaction;
    expect((await t.ok(REVERSE, { i: reverseInput })).reverseTransaction).toEqual(reversed);

    // grant 20, hold 5, capture 2, hold 1, release, refund 1, grant 1, reversal: each once
    expect(await wallet(id)).toMatchObject({ balance: '19', available: '19', held: '0', sequence: 8 });
    await cleanAudit();
  });
});

describe('same key, different input', () => {
  test('is refused with IDEMPOTENCY_KEY_REUSED and has no effect', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const key = uniqueKey();
    await t.ok(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: key } });
    const amount = await t.fails(CHARGE, { i: { accountId: id, amount: '2', idempotencyKey: key } });
    expect(amount.extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const comment = await t.fails(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: key, comment: 'different' } });
    expect(comment.extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const other = await t.createAccount();
    await t.grant(other, '10');
    expect((await t.fails(CHARGE, { i: { accountId: other, amount: '1', idempotencyKey: key } })).extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
    // another operation with the same key
    expect((await t.fails(RESERVE, { i: { accountId: id, amount: '1', idempotencyKey: key } })).extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await wallet(id)).toMatchObject({ balance: '9', held: '0', sequence: 2 });
    expect(await wallet(other)).toMatchObject({ balance: '10', sequence: 1 });
    expect((await history(id)).filter((n) => n.status === 'FAILED')).toHaveLength(0);
    await cleanAudit();
  });
});

describe('refusals', () => {
  test('a refused charge replayed returns the same refusal without a second FAILED row, even after a top-up', async () => {
    const id = await t.createAccount();
    await t.grant(id, '1');
    const input = { accountId: id, amount: '5', idempotencyKey: uniqueKey() };
    const first = await t.fails(CHARGE, { i: input });
    expect(first.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '5', available: '1', shortfall: '4' });
    const second = await t.fails(CHARGE, { i: input });
    expect(second).toEqual(first);
    await t.grant(id, '10');
    const third = await t.fails(CHARGE, { i: input });
    expect(third).toEqual(first);
    const failed = (await history(id)).filter((n) => n.status === 'FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ type: 'CHARGE', failureCode: 'INSUFFICIENT_CREDITS', idempotencyKey: input.idempotencyKey });
    expect(await wallet(id)).toMatchObject({ balance: '11', sequence: 2 });
    // the refused key is still bound to its input
    expect((await t.fails(CHARGE, { i: { ...input, amount: '1' } })).extensions.code).toBe('IDEMPOTENCY_KEY_REUSED');
    await cleanAudit();
  });

  test('an error that wrote nothing (unknown account) leaves the key free', async () => {
    const key = uniqueKey();
    const missing = await t.fails(CHARGE, { i: { accountId: '00000000-0000-4000-8000-00000000dddd', amount: '1', idempotencyKey: key } });
    expect(missing.extensions.code).toBe('NOT_FOUND');
    const id = await t.createAccount();
    await t.grant(id, '2');
    const ok = (await t.ok(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: key } })).charge;
    expect(ok).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '1' });
  });
});

describe('scope', () => {
  test('keys are scoped per caller: two API keys may use the same key string independently', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const [a, b] = await Promise.all([t.key('SERVICE'), t.key('SERVICE')]);
    const key = uniqueKey('shared');
    const byA = (await t.ok(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: key } }, a)).charge;
    const byB = (await t.ok(CHARGE, { i: { accountId: id, amount: '2', idempotencyKey: key } }, b)).charge;
    expect(byA.id).not.toBe(byB.id);
    expect(byB).toMatchObject({ amount: '-2', balanceAfter: '7' });
    // each caller still gets its own first result back
    expect((await t.ok(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: key } }, a)).charge).toEqual(byA);
    expect((await t.ok(CHARGE, { i: { accountId: id, amount: '2', idempotencyKey: key } }, b)).charge).toEqual(byB);
    expect(await wallet(id)).toMatchObject({ balance: '7', sequence: 3 });
    await cleanAudit();
  });
});

describe('concurrency', () => {
  test('20 concurrent requests with one key: one effect, identical responses', async () => {
    const id = await t.createAccount();
    await t.grant(id, '100');
    const input = { accountId: id, amount: '7.5', idempotencyKey: uniqueKey() };
    const results = await Promise.all(Array.from({ length: 20 }, () => t.gql(CHARGE, { i: input })));
    for (const r of results) expect(r.errors).toBeUndefined();
    const bodies = new Set(results.map((r) => JSON.stringify(r.data)));
    expect(bodies.size).toBe(1);
    expect(results[0].data.charge).toMatchObject({ status: 'SUCCEEDED', amount: '-7.5', balanceAfter: '92.5', sequence: 2 });
    expect(await wallet(id)).toMatchObject({ balance: '92.5', sequence: 2 });
    expect((await history(id)).filter((n) => n.type === 'CHARGE')).toHaveLength(1);
    await cleanAudit();
  });

  test('20 concurrent refused requests with one key: one FAILED row, identical refusals', async () => {
    const id = await t.createAccount();
    await t.grant(id, '1');
    const input = { accountId: id, amount: '2', idempotencyKey: uniqueKey() };
    const results = await Promise.all(Array.from({ length: 20 }, () => t.gql(CHARGE, { i: input })));
    const bodies = new Set(results.map((r) => JSON.stringify(r)));
    expect(bodies.size).toBe(1);
    expect(results[0].errors?.[0].extensions?.code).toBe('INSUFFICIENT_CREDITS');
    expect((await history(id)).filter((n) => n.status === 'FAILED')).toHaveLength(1);
    expect(await wallet(id)).toMatchObject({ balance: '1', sequence: 1 });
    await cleanAudit();
  });

  test('20 concurrent holds with one key: one hold', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const input = { accountId: id, amount: '4', idempotencyKey: uniqueKey() };
    const results = await Promise.all(Array.from({ length: 20 }, () => t.gql(RESERVE, { i: input })));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(new Set(results.map((r) => JSON.stringify(r.data))).size).toBe(1);
    expect(await wallet(id)).toMatchObject({ balance: '10', available: '6', held: '4', sequence: 2 });
    await cleanAudit();
  });

  test('concurrent requests with one key on an unknown account: all NOT_FOUND, and the key stays free', async () => {
    const key = uniqueKey();
    const input = { accountId: '00000000-0000-4000-8000-00000000abcd', amount: '1', idempotencyKey: key };
    const results = await Promise.all(Array.from({ length: 10 }, () => t.gql(CHARGE, { i: input })));
    expect(results.map((r) => r.errors?.[0].extensions?.code)).toEqual(Array(10).fill('NOT_FOUND'));
    const id = await t.createAccount();
    await t.grant(id, '5');
    expect((await t.ok(CHARGE, { i: { ...input, accountId: id } })).charge).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '4' });
  });

  test('concurrent distinct keys all take effect', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const results = await Promise.all(Array.from({ length: 10 }, () =>
      t.gql(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } })));
    for (const r of results) expect(r.errors).toBeUndefined();
    expect(results.map((r) => r.data.charge.sequence).sort((a: number, b: number) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await wallet(id)).toMatchObject({ balance: '0', sequence: 11 });
    await cleanAudit();
  });
});

describe('bad keys', () => {
  test('empty, blank and over-long keys are BAD_USER_INPUT and write nothing', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    for (const idempotencyKey of ['', '   ', 'k'.repeat(201)]) {
      const error = await t.fails(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey } });
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
      expect(error.extensions.field).toBe('idempotencyKey');
      expect((await t.fails(RESERVE, { i: { accountId: id, amount: '1', idempotencyKey } })).extensions.code).toBe('BAD_USER_INPUT');
      expect((await t.fails(GRANT, { i: { accountId: id, amount: '1', source: 'PROMO', idempotencyKey } })).extensions.code).toBe('BAD_USER_INPUT');
    }
    expect(await wallet(id)).toMatchObject({ balance: '10', held: '0', sequence: 1 });
    expect(await history(id)).toHaveLength(1);
    // exactly 200 characters is fine
    const ok = (await t.ok(CHARGE, { i: { accountId: id, amount: '1', idempotencyKey: `${uniqueKey()}-`.padEnd(200, 'x') } })).charge;
    expect(ok.status).toBe('SUCCEEDED');
    await cleanAudit();
  });

  test('a missing key is rejected by the schema', async () => {
    const id = await t.createAccount();
    const result = await t.gql(CHARGE, { i: { accountId: id, amount: '1' } });
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(await wallet(id)).toMatchObject({ sequence: 0 });
  });
});

describe('retention', () => {
  test('keys are kept at least 24 hours', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const input = { accountId: id, amount: '1', idempotencyKey: uniqueKey() };
    const first = (await t.ok(CHARGE, { i: input })).charge;
    t.clock.advanceSeconds(23 * 3600 + 59 * 60);
    // what the expiry job does to old keys (run directly: the job would also touch other wallets of a shared database)
    await deleteExpiredIdempotencyKeys(t.app.services.db, t.clock.now());
    expect((await t.ok(CHARGE, { i: input })).charge).toEqual(first);
    expect(await wallet(id)).toMatchObject({ balance: '9', sequence: 2 });
  });
});
