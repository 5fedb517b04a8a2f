/**
 * Idempotency keys on credit-moving mutations: one effect per (caller, key), the first result
 * (success or refusal) replayed, different input refused, concurrent duplicates collapsed.
 */
import { print } from 'graphql';
import {
  CaptureHoldDocument, ChargeDocument, CreditsApiError, GrantCreditsDocument, RefundDocument, ReleaseHoldDocument, ReserveCreditsDocument,
  ReverseTransactionDocument, WalletDocument, type ChargeInput, type ChargeMutation,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { deleteExpiredIdempotencyKeys } from '../../src/modules/ledger/ledger.repo';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const wallet = async (id: string) => (await t.op(WalletDocument, { accountId: id })).wallet;
const history = (accountId: string) => t.history(accountId);
const charge = async (input: ChargeInput, token?: string) => (await t.op(ChargeDocument, { input }, token)).charge;
const chargeFails = (input: ChargeInput) => t.opFails(ChargeDocument, { input });
/** What a refusal answered: every error as sent, and the data beside them. */
const answer = (error: CreditsApiError) => ({ errors: error.errors, data: error.data });
/** Runs `n` copies of `fn` at once; refusals are returned, not thrown. */
const together = <R,>(n: number, fn: () => Promise<R>) => Promise.all(Array.from({ length: n }, () => fn().catch((error: unknown) => {
  if (error instanceof CreditsApiError) return error;
  throw error;
})));
const cleanAudit = async () => expect(await t.audit()).toEqual({ ok: true, violations: [] });

describe('same key, same input', () => {
  test('a charge replayed returns the same transaction and charges once', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const input = { accountId: id, amount: '3', idempotencyKey: uniqueKey(), action: 'image' };
    const first = await charge(input);
    const second = await charge(input);
    // the same amount as a JSON number (the Credits scalar takes both; its type says string)
    const third = await charge({ ...input, amount: 3 as unknown as string });
    expect(second).toEqual(first);
    expect(third).toEqual(first);
    expect(first).toMatchObject({ status: 'SUCCEEDED', amount: '-3', balanceAfter: '7', sequence: 2 });
    expect(await wallet(id)).toMatchObject({ balance: '7', sequence: 2 });
    expect((await history(id)).filter((n) => n.type === 'CHARGE')).toHaveLength(1);
    await cleanAudit();
  });

  test('grant, reserve, capture, release, refund and reversal replay their first result', async () => {
    const id = await t.createAccount();
    const grantInput = { accountId: id, amount: '20', source: 'PURCHASE' as const, idempotencyKey: uniqueKey() };
    const grant = (await t.op(GrantCreditsDocument, { input: grantInput })).grantCredits;
    expect((await t.op(GrantCreditsDocument, { input: grantInput })).grantCredits).toEqual(grant);

    const holdInput = { accountId: id, amount: '5', idempotencyKey: uniqueKey() };
    const hold = (await t.op(ReserveCreditsDocument, { input: holdInput })).reserveCredits;
    expect((await t.op(ReserveCreditsDocument, { input: holdInput })).reserveCredits).toEqual(hold);
    expect(await wallet(id)).toMatchObject({ balance: '20', available: '15', held: '5' });

    const captureInput = { holdId: hold.id, amount: '2', idempotencyKey: uniqueKey() };
    const captured = (await t.op(CaptureHoldDocument, { input: captureInput })).captureHold;
    expect((await t.op(CaptureHoldDocument, { input: captureInput })).captureHold).toEqual(captured);

    const hold2 = (await t.op(ReserveCreditsDocument, { input: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } })).reserveCredits;
    const releaseInput = { holdId: hold2.id, idempotencyKey: uniqueKey() };
    const released = (await t.op(ReleaseHoldDocument, { input: releaseInput })).releaseHold;
    expect(released.status).toBe('RELEASED');
    expect((await t.op(ReleaseHoldDocument, { input: releaseInput })).releaseHold).toEqual(released);

    const refundInput = { transactionId: captured.id, amount: '1', idempotencyKey: uniqueKey() };
    const refunded = (await t.op(RefundDocument, { input: refundInput })).refund;
    expect((await t.op(RefundDocument, { input: refundInput })).refund).toEqual(refunded);

    const g2 = await t.grant(id, '1');
    const reverseInput = { transactionId: g2.id, idempotencyKey: uniqueKey() };
    const reversed = (await t.op(ReverseTransactionDocument, { input: reverseInput })).reverseTransaction;
    expect((await t.op(ReverseTransactionDocument, { input: reverseInput })).reverseTransaction).toEqual(reversed);

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
    await charge({ accountId: id, amount: '1', idempotencyKey: key });
    const amount = await chargeFails({ accountId: id, amount: '2', idempotencyKey: key });
    expect(amount.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const comment = await chargeFails({ accountId: id, amount: '1', idempotencyKey: key, comment: 'different' });
    expect(comment.code).toBe('IDEMPOTENCY_KEY_REUSED');
    const other = await t.createAccount();
    await t.grant(other, '10');
    expect((await chargeFails({ accountId: other, amount: '1', idempotencyKey: key })).code).toBe('IDEMPOTENCY_KEY_REUSED');
    // another operation with the same key
    expect((await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '1', idempotencyKey: key } })).code).toBe('IDEMPOTENCY_KEY_REUSED');
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
    const first = await chargeFails(input);
    expect(first.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '5', available: '1', shortfall: '4' });
    const second = await chargeFails(input);
    expect(answer(second)).toEqual(answer(first));
    await t.grant(id, '10');
    const third = await chargeFails(input);
    expect(answer(third)).toEqual(answer(first));
    const failed = (await history(id)).filter((n) => n.status === 'FAILED');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ type: 'CHARGE', failureCode: 'INSUFFICIENT_CREDITS', idempotencyKey: input.idempotencyKey });
    expect(await wallet(id)).toMatchObject({ balance: '11', sequence: 2 });
    // the refused key is still bound to its input
    expect((await chargeFails({ ...input, amount: '1' })).code).toBe('IDEMPOTENCY_KEY_REUSED');
    await cleanAudit();
  });

  test('an error that wrote nothing (unknown account) leaves the key free', async () => {
    const key = uniqueKey();
    const missing = await chargeFails({ accountId: '00000000-0000-4000-8000-00000000dddd', amount: '1', idempotencyKey: key });
    expect(missing.code).toBe('NOT_FOUND');
    const id = await t.createAccount();
    await t.grant(id, '2');
    const ok = await charge({ accountId: id, amount: '1', idempotencyKey: key });
    expect(ok).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '1' });
  });
});

describe('scope', () => {
  test('keys are scoped per caller: two API keys may use the same key string independently', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const [a, b] = await Promise.all([t.key('SERVICE'), t.key('SERVICE')]);
    const key = uniqueKey('shared');
    const byA = await charge({ accountId: id, amount: '1', idempotencyKey: key }, a);
    const byB = await charge({ accountId: id, amount: '2', idempotencyKey: key }, b);
    expect(byA.id).not.toBe(byB.id);
    expect(byB).toMatchObject({ amount: '-2', balanceAfter: '7' });
    // each caller still gets its own first result back
    expect(await charge({ accountId: id, amount: '1', idempotencyKey: key }, a)).toEqual(byA);
    expect(await charge({ accountId: id, amount: '2', idempotencyKey: key }, b)).toEqual(byB);
    expect(await wallet(id)).toMatchObject({ balance: '7', sequence: 3 });
    await cleanAudit();
  });
});

describe('concurrency', () => {
  test('20 concurrent requests with one key: one effect, identical responses', async () => {
    const id = await t.createAccount();
    await t.grant(id, '100');
    const input = { accountId: id, amount: '7.5', idempotencyKey: uniqueKey() };
    const results = await together(20, () => t.op(ChargeDocument, { input }));
    for (const r of results) expect(r).not.toBeInstanceOf(CreditsApiError);
    const bodies = new Set(results.map((r) => JSON.stringify(r)));
    expect(bodies.size).toBe(1);
    expect(results[0]).toMatchObject({ charge: { status: 'SUCCEEDED', amount: '-7.5', balanceAfter: '92.5', sequence: 2 } });
    expect(await wallet(id)).toMatchObject({ balance: '92.5', sequence: 2 });
    expect((await history(id)).filter((n) => n.type === 'CHARGE')).toHaveLength(1);
    await cleanAudit();
  });

  test('20 concurrent refused requests with one key: one FAILED row, identical refusals', async () => {
    const id = await t.createAccount();
    await t.grant(id, '1');
    const input = { accountId: id, amount: '2', idempotencyKey: uniqueKey() };
    const results = await together(20, () => chargeFails(input));
    const bodies = new Set(results.map((r) => JSON.stringify(answer(r))));
    expect(bodies.size).toBe(1);
    expect(results[0].code).toBe('INSUFFICIENT_CREDITS');
    expect((await history(id)).filter((n) => n.status === 'FAILED')).toHaveLength(1);
    expect(await wallet(id)).toMatchObject({ balance: '1', sequence: 1 });
    await cleanAudit();
  });

  test('20 concurrent holds with one key: one hold', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const input = { accountId: id, amount: '4', idempotencyKey: uniqueKey() };
    const results = await together(20, () => t.op(ReserveCreditsDocument, { input }));
    for (const r of results) expect(r).not.toBeInstanceOf(CreditsApiError);
    expect(new Set(results.map((r) => JSON.stringify(r))).size).toBe(1);
    expect(await wallet(id)).toMatchObject({ balance: '10', available: '6', held: '4', sequence: 2 });
    await cleanAudit();
  });

  test('concurrent requests with one key on an unknown account: all NOT_FOUND, and the key stays free', async () => {
    const key = uniqueKey();
    const input = { accountId: '00000000-0000-4000-8000-00000000abcd', amount: '1', idempotencyKey: key };
    const results = await together(10, () => chargeFails(input));
    expect(results.map((r) => r.code)).toEqual(Array(10).fill('NOT_FOUND'));
    const id = await t.createAccount();
    await t.grant(id, '5');
    expect(await charge({ ...input, accountId: id })).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '4' });
  });

  test('concurrent distinct keys all take effect', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const results = await Promise.all(Array.from({ length: 10 }, () => charge({ accountId: id, amount: '1', idempotencyKey: uniqueKey() })));
    expect(results.map((r) => r.sequence).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(await wallet(id)).toMatchObject({ balance: '0', sequence: 11 });
    await cleanAudit();
  });
});

describe('bad keys', () => {
  test('empty, blank and over-long keys are BAD_USER_INPUT and write nothing', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    for (const idempotencyKey of ['', '   ', 'k'.repeat(201)]) {
      const error = await chargeFails({ accountId: id, amount: '1', idempotencyKey });
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.extensions.field).toBe('idempotencyKey');
      expect((await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '1', idempotencyKey } })).code).toBe('BAD_USER_INPUT');
      expect((await t.opFails(GrantCreditsDocument, { input: { accountId: id, amount: '1', source: 'PROMO', idempotencyKey } })).code).toBe('BAD_USER_INPUT');
    }
    expect(await wallet(id)).toMatchObject({ balance: '10', held: '0', sequence: 1 });
    expect(await history(id)).toHaveLength(1);
    // exactly 200 characters is fine
    const ok = await charge({ accountId: id, amount: '1', idempotencyKey: `${uniqueKey()}-`.padEnd(200, 'x') });
    expect(ok.status).toBe('SUCCEEDED');
    await cleanAudit();
  });

  test('a missing key is rejected by the schema', async () => {
    const id = await t.createAccount();
    // Sent past the client, which would fill a key in.
    const result = await t.gql<ChargeMutation>(print(ChargeDocument), { input: { accountId: id, amount: '1' } });
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(await wallet(id)).toMatchObject({ sequence: 0 });
  });
});

describe('retention', () => {
  test('keys are kept at least 24 hours', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const input = { accountId: id, amount: '1', idempotencyKey: uniqueKey() };
    const first = await charge(input);
    t.clock.advanceSeconds(23 * 3600 + 59 * 60);
    // what the expiry job does to old keys (run directly: the job would also touch other wallets of a shared database)
    await deleteExpiredIdempotencyKeys(t.app.services.db, t.clock.now());
    expect(await charge(input)).toEqual(first);
    expect(await wallet(id)).toMatchObject({ balance: '9', sequence: 2 });
  });
});
