/**
 * Grants, the burn-down rule, expiry, charges, refusals, overdraft/debt, refunds and reversals,
 * all through GraphQL over HTTP.
 */
import {
  ChargeDocument, GrantCreditsDocument, RefundDocument, ReverseTransactionDocument, UpdateWalletDocument,
  type ChargeInput, type TransactionFieldsFragment, type TransactionFilter,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const wallet = (accountId: string) => t.wallet(accountId);
const history = (accountId: string, filter?: TransactionFilter) => t.history(accountId, filter);
const charge = async (accountId: string, amount: string, extra: Partial<ChargeInput> = {}) =>
  (await t.op(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('charge'), ...extra } })).charge;
const chargeFails = (accountId: string, amount: string, extra: Partial<ChargeInput> = {}) =>
  t.opFails(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('charge'), ...extra } });
const refund = async (transactionId: string, amount?: string) =>
  (await t.op(RefundDocument, { input: { transactionId, amount, idempotencyKey: uniqueKey('refund') } })).refund;
const inFuture = (seconds: number) => new Date(t.clock.now().getTime() + seconds * 1000).toISOString();
/** Grants and returns the new bucket's id. */
const bucket = async (accountId: string, amount: string, extra: Record<string, unknown> = {}) => (await t.grant(accountId, amount, extra)).entries[0].bucketId;
/** Runs the expiry job until nothing is left (the PostgreSQL database may hold other test files' wallets). */
const drainExpiry = async () => {
  for (let i = 0; i < 50 && (await t.app.services.ledger.runExpiry()) > 0; i++);
};
const cleanAudit = async () => expect(await t.audit()).toEqual({ ok: true, violations: [] });
const entryMap = (tx: TransactionFieldsFragment) => Object.fromEntries(tx.entries.map((e) => [e.bucketId, e.amount]));

describe('grants', () => {
  test('each grant creates a bucket with its source, priority, expiry and filter', async () => {
    const id = await t.createAccount();
    const expiresAt = inFuture(3600);
    const grant = (await t.op(GrantCreditsDocument, { input: {
      accountId: id, amount: '12.5', source: 'PROMO', expiresAt, comment: 'welcome', applicableActions: ['image'],
      idempotencyKey: uniqueKey(),
    } })).grantCredits;
    expect(grant).toMatchObject({ type: 'GRANT', status: 'SUCCEEDED', amount: '12.5', balanceAfter: '12.5', sequence: 1, comment: 'welcome', debtChange: '0' });
    expect(grant.entries).toEqual([{ bucketId: expect.any(String) as unknown, bucketSource: 'PROMO', amount: '12.5', originBucketId: null }]);
    await t.grant(id, '100', { source: 'PLAN_ALLOWANCE', priority: 5 });
    const w = await wallet(id);
    expect(w).toMatchObject({ balance: '112.5', available: '112.5', sequence: 2 });
    expect(w.buckets).toEqual([
      expect.objectContaining({ source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', priority: 5, expiresAt: null, applicableActions: null }),
      expect.objectContaining({ id: grant.entries[0].bucketId, source: 'PROMO', amount: '12.5', remaining: '12.5', priority: 10, expiresAt, applicableActions: ['image'] }),
    ]);
    await cleanAudit();
  });

  test('grants refuse expiry in the past, bad priorities and unknown accounts', async () => {
    const id = await t.createAccount();
    const past = new Date(t.clock.now().getTime() - 1000).toISOString();
    expect((await t.opFails(GrantCreditsDocument, { input: { accountId: id, amount: '1', source: 'PROMO', expiresAt: past, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
    expect((await t.opFails(GrantCreditsDocument, { input: { accountId: id, amount: '1', source: 'PROMO', priority: -1, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
    expect((await t.opFails(GrantCreditsDocument, { input: { accountId: '00000000-0000-4000-8000-00000000aaaa', amount: '1', source: 'PROMO', idempotencyKey: uniqueKey() } })).extensions.code).toBe('NOT_FOUND');
    const service = await t.key('SERVICE');
    expect((await t.opFails(GrantCreditsDocument, { input: { accountId: id, amount: '1', source: 'PROMO', idempotencyKey: uniqueKey() } }, service)).extensions.code).toBe('FORBIDDEN');
    expect(await wallet(id)).toMatchObject({ balance: '0', sequence: 0, buckets: [] });
  });
});

describe('burn-down order', () => {
  test('lower priority number burns first', async () => {
    const id = await t.createAccount();
    const purchase = await bucket(id, '10', { source: 'PURCHASE' });
    const promo = await bucket(id, '3', { source: 'PROMO' });
    const allowance = await bucket(id, '4', { source: 'PLAN_ALLOWANCE' });
    const tx = await charge(id, '8');
    expect(tx.entries.map((e) => [e.bucketId, e.amount])).toEqual([[promo, '-3'], [allowance, '-4'], [purchase, '-1']]);
    expect(tx.entries.map((e) => e.bucketSource)).toEqual(['PROMO', 'PLAN_ALLOWANCE', 'PURCHASE']);
    await cleanAudit();
  });

  test('same priority: soonest expiry first, never-expiring last, then oldest', async () => {
    const id = await t.createAccount();
    const neverOld = await bucket(id, '1', { source: 'PROMO' });
    t.clock.advanceSeconds(1);
    const neverNew = await bucket(id, '1', { source: 'PROMO' });
    const in2d = await bucket(id, '1', { source: 'PROMO', expiresAt: inFuture(2 * 86400) });
    const in1d = await bucket(id, '1', { source: 'PROMO', expiresAt: inFuture(86400) });
    const tx = await charge(id, '4');
    expect(tx.entries.map((e) => e.bucketId)).toEqual([in1d, in2d, neverOld, neverNew]);
    expect(await wallet(id)).toMatchObject({ balance: '0', buckets: [] });
    await cleanAudit();
  });

  test('a bucket limited to an action or model pays only for it', async () => {
    const id = await t.createAccount();
    const imageOnly = await bucket(id, '5', { source: 'PROMO', priority: 0, applicableActions: ['image'] });
    const fluxOnly = await bucket(id, '5', { source: 'PROMO', priority: 1, applicableModels: ['flux'] });
    const general = await bucket(id, '20', { source: 'PURCHASE' });

    const text = await charge(id, '2', { action: 'text', model: 'gpt' });
    expect(text.entries.map((e) => e.bucketId)).toEqual([general]);
    const noAction = await charge(id, '1');
    expect(noAction.entries.map((e) => e.bucketId)).toEqual([general]);
    const image = await charge(id, '2', { action: 'image', model: 'sdxl' });
    expect(image).toMatchObject({ action: 'image', model: 'sdxl' });
    expect(image.entries.map((e) => e.bucketId)).toEqual([imageOnly]);
    const imageFlux = await charge(id, '6', { action: 'image', model: 'flux' });
    expect(imageFlux.entries.map((e) => [e.bucketId, e.amount])).toEqual([[imageOnly, '-3'], [fluxOnly, '-3']]);
    const w = await wallet(id);
    expect(Object.fromEntries(w.buckets.map((b) => [b.id, b.remaining]))).toEqual({ [fluxOnly]: '2', [general]: '17' });
    // only the 17 general credits can pay for text: 18 is refused although the wallet holds 19
    const refused = await chargeFails(id, '18', { action: 'text' });
    expect(refused.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '18', available: '17', shortfall: '1' });
    await cleanAudit();
  });
});

describe('expiry', () => {
  test('an expired bucket never counts, even before the job ran, and the job writes EXPIRE once', async () => {
    const id = await t.createAccount();
    const shortLived = await bucket(id, '5', { source: 'PROMO', expiresAt: inFuture(60) });
    await bucket(id, '2', { source: 'PURCHASE' });
    expect(await wallet(id)).toMatchObject({ balance: '7', available: '7' });
    t.clock.advanceSeconds(61);
    const w = await wallet(id);
    expect(w).toMatchObject({ balance: '2', available: '2', sequence: 2 });
    expect(w.buckets.map((b) => b.id)).not.toContain(shortLived);
    // a charge cannot use it either
    expect((await chargeFails(id, '3')).extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', available: '2', shortfall: '1' });

    await drainExpiry();
    await drainExpiry();
    const expires = await history(id, { types: ['EXPIRE'] });
    expect(expires).toHaveLength(1);
    expect(expires[0]).toMatchObject({ status: 'SUCCEEDED', amount: '-5', balanceAfter: '2', actor: 'system:expiry' });
    expect(expires[0].entries).toEqual([{ bucketId: shortLived, bucketSource: 'PROMO', amount: '-5', originBucketId: null }]);
    expect(await wallet(id)).toMatchObject({ balance: '2', available: '2' });
    await cleanAudit();
  });

  test('two expiry jobs running at once write one EXPIRE', async () => {
    const ids = await Promise.all([t.createAccount(), t.createAccount(), t.createAccount()]);
    for (const id of ids) {
      await bucket(id, '4', { source: 'PROMO', expiresAt: inFuture(30) });
      await bucket(id, '1', { source: 'PURCHASE' });
    }
    t.clock.advanceSeconds(31);
    await Promise.all([t.app.services.ledger.runExpiry(), t.app.services.ledger.runExpiry()]);
    await Promise.all([drainExpiry(), drainExpiry()]);
    for (const id of ids) {
      const expires = await history(id, { types: ['EXPIRE'] });
      expect(expires.map((x) => x.amount)).toEqual(['-4']);
      expect(await wallet(id)).toMatchObject({ balance: '1', sequence: 3 });
    }
    await cleanAudit();
  });

  test('a charge on a wallet with a lapsed bucket expires it first, under the same lock', async () => {
    const id = await t.createAccount();
    await bucket(id, '5', { source: 'PROMO', expiresAt: inFuture(10) });
    await bucket(id, '5', { source: 'PURCHASE' });
    t.clock.advanceSeconds(11);
    const tx = await charge(id, '1');
    expect(tx).toMatchObject({ amount: '-1', balanceAfter: '4', sequence: 4 });
    const types = (await history(id)).map((n) => n.type);
    expect(types).toEqual(['CHARGE', 'EXPIRE', 'GRANT', 'GRANT']);
    await drainExpiry();
    expect(await history(id, { types: ['EXPIRE'] })).toHaveLength(1);
    await cleanAudit();
  });
});

describe('charges', () => {
  test('a charge spanning buckets has one entry per bucket and the sequence has no gaps', async () => {
    const id = await t.createAccount();
    const a = await bucket(id, '5', { source: 'PROMO' });
    const b = await bucket(id, '10', { source: 'PURCHASE' });
    const first = await charge(id, '7.25', { action: 'image', model: 'flux', comment: 'two images' });
    expect(first).toMatchObject({
      type: 'CHARGE', status: 'SUCCEEDED', amount: '-7.25', balanceAfter: '7.75', sequence: 3,
      action: 'image', model: 'flux', comment: 'two images', debtChange: '0', requestedAmount: '7.25',
    });
    expect(first.entries).toEqual([
      { bucketId: a, bucketSource: 'PROMO', amount: '-5', originBucketId: null },
      { bucketId: b, bucketSource: 'PURCHASE', amount: '-2.25', originBucketId: null },
    ]);
    await chargeFails(id, '100'); // a refusal takes no sequence number
    const second = await charge(id, '0.001');
    expect(second).toMatchObject({ sequence: 4, balanceAfter: '7.749' });
    const posted = (await history(id)).filter((n) => n.status === 'SUCCEEDED').map((n) => n.sequence);
    expect(posted).toEqual([4, 3, 2, 1]);
    expect(await wallet(id)).toMatchObject({ balance: '7.749', sequence: 4 });
    await cleanAudit();
  });

  test('INSUFFICIENT_CREDITS carries required/available/shortfall and records a FAILED transaction with no effect', async () => {
    const id = await t.createAccount();
    await t.grant(id, '3.5');
    const error = await chargeFails(id, '5', { action: 'video' });
    expect(error.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '5', available: '3.5', shortfall: '1.5' });
    expect(typeof error.extensions.remedy).toBe('string');
    expect(await wallet(id)).toMatchObject({ balance: '3.5', available: '3.5', sequence: 1 });
    const failed = await history(id, { statuses: ['FAILED'] });
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({
      type: 'CHARGE', status: 'FAILED', amount: '0', sequence: null, failureCode: 'INSUFFICIENT_CREDITS',
      requestedAmount: '5', action: 'video', entries: [],
    });
    await cleanAudit();
  });

  test('overdraft down to the limit creates debt; the next grant repays it first with a DEBT_REPAYMENT', async () => {
    const id = await t.createAccount();
    await t.grant(id, '2');
    await t.op(UpdateWalletDocument, { input: { accountId: id, overdraftLimit: '5' } });
    expect(await wallet(id)).toMatchObject({ balance: '2', available: '7', debt: '0' });

    const over = await charge(id, '6');
    expect(over).toMatchObject({ amount: '-6', balanceAfter: '-4', debtChange: '4' });
    expect(over.entries.map((e) => e.amount)).toEqual(['-2']); // the rest is debt, not a bucket
    expect(await wallet(id)).toMatchObject({ balance: '-4', available: '1', debt: '4', overdraftLimit: '5', buckets: [] });

    const beyond = await chargeFails(id, '2');
    expect(beyond.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '2', available: '1', shortfall: '1' });
    const toLimit = await charge(id, '1');
    expect(toLimit).toMatchObject({ balanceAfter: '-5', debtChange: '1' });
    expect(await wallet(id)).toMatchObject({ balance: '-5', available: '0', debt: '5' });

    const grant = await t.grant(id, '12');
    expect(grant).toMatchObject({ type: 'GRANT', amount: '12', balanceAfter: '7' });
    const [repayment] = await history(id, { types: ['DEBT_REPAYMENT'] });
    expect(repayment).toMatchObject({
      type: 'DEBT_REPAYMENT', status: 'SUCCEEDED', amount: '0', debtChange: '-5', balanceAfter: '7',
      sequence: grant.sequence! + 1, relatedTransactionId: grant.id,
    });
    expect(repayment.comment).toContain('5');
    expect(repayment.entries).toEqual([{ bucketId: grant.entries[0].bucketId, bucketSource: 'PURCHASE', amount: '-5', originBucketId: null }]);
    const w = await wallet(id);
    expect(w).toMatchObject({ balance: '7', available: '12', debt: '0' });
    expect(w.buckets).toEqual([expect.objectContaining({ amount: '12', remaining: '7' })]);
    await cleanAudit();
  });

  test('a grant smaller than the debt repays what it can', async () => {
    const id = await t.createAccount();
    await t.op(UpdateWalletDocument, { input: { accountId: id, overdraftLimit: '10' } });
    await charge(id, '8');
    await t.grant(id, '3', { source: 'PLAN_ALLOWANCE' });
    expect(await wallet(id)).toMatchObject({ balance: '-5', debt: '5', available: '5', buckets: [] });
    const [repayment] = await history(id, { types: ['DEBT_REPAYMENT'] });
    expect(repayment).toMatchObject({ debtChange: '-3', amount: '0' });
    await cleanAudit();
  });
});

describe('refunds', () => {
  test('partial and full refunds go back to the original buckets, never more than charged in total', async () => {
    const id = await t.createAccount();
    const promo = await bucket(id, '5', { source: 'PROMO' });
    const purchase = await bucket(id, '10', { source: 'PURCHASE' });
    const c = await charge(id, '8');
    expect(entryMap(c)).toEqual({ [promo]: '-5', [purchase]: '-3' });

    const r1 = await refund(c.id, '2');
    expect(r1).toMatchObject({ type: 'REFUND', status: 'SUCCEEDED', amount: '2', balanceAfter: '9', relatedTransactionId: c.id });
    const r1Total = r1.entries.reduce((s: number, e) => s + Number(e.amount), 0);
    expect(r1Total).toBe(2);
    for (const e of r1.entries) expect([promo, purchase]).toContain(e.bucketId);

    expect((await t.opFails(RefundDocument, { input: { transactionId: c.id, amount: '6.001', idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');

    const r2 = await refund(c.id); // the rest
    expect(r2).toMatchObject({ amount: '6', balanceAfter: '15' });
    const w = await wallet(id);
    expect(Object.fromEntries(w.buckets.map((b) => [b.id, b.remaining]))).toEqual({ [promo]: '5', [purchase]: '10' });

    const more = await t.opFails(RefundDocument, { input: { transactionId: c.id, amount: '0.001', idempotencyKey: uniqueKey() } });
    expect(more.extensions.code).toBe('BAD_USER_INPUT');
    const all = await t.opFails(RefundDocument, { input: { transactionId: c.id, idempotencyKey: uniqueKey() } });
    expect(all.extensions.code).toBe('BAD_USER_INPUT');
    expect(await wallet(id)).toMatchObject({ balance: '15', sequence: 5 });
    await cleanAudit();
  });

  test('only succeeded charges can be refunded', async () => {
    const id = await t.createAccount();
    const grant = await t.grant(id, '5');
    expect((await t.opFails(RefundDocument, { input: { transactionId: grant.id, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
    await chargeFails(id, '50');
    const [failed] = await history(id, { statuses: ['FAILED'] });
    expect((await t.opFails(RefundDocument, { input: { transactionId: failed.id, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
    expect((await t.opFails(RefundDocument, { input: { transactionId: '00000000-0000-4000-8000-00000000bbbb', idempotencyKey: uniqueKey() } })).extensions.code).toBe('NOT_FOUND');
    expect(await wallet(id)).toMatchObject({ balance: '5', sequence: 1 });
  });

  test('a refund into a bucket that expired meanwhile goes to a new REFUND bucket', async () => {
    const id = await t.createAccount();
    const promo = await bucket(id, '5', { source: 'PROMO', expiresAt: inFuture(60), applicableActions: ['image'] });
    const purchase = await bucket(id, '10', { source: 'PURCHASE' });
    const c = await charge(id, '7', { action: 'image' });
    expect(entryMap(c)).toEqual({ [promo]: '-5', [purchase]: '-2' });
    t.clock.advanceSeconds(120);

    const r = await refund(c.id);
    expect(r).toMatchObject({ type: 'REFUND', amount: '7', balanceAfter: '15' });
    const toPurchase = r.entries.find((e) => e.bucketId === purchase);
    expect(toPurchase).toMatchObject({ amount: '2', originBucketId: purchase });
    const toNew = r.entries.find((e) => e.bucketId !== purchase)!;
    expect(toNew).toMatchObject({ bucketSource: 'REFUND', amount: '5', originBucketId: promo });
    expect(toNew.bucketId).not.toBe(promo);

    const w = await wallet(id);
    expect(w.balance).toBe('15');
    const refundBucket = w.buckets.find((b) => b.id === toNew.bucketId)!;
    // keeps the original bucket's priority and filter; expires by the operator's refund rule (in the future)
    expect(refundBucket).toMatchObject({ source: 'REFUND', amount: '5', remaining: '5', priority: 10, applicableActions: ['image'] });
    expect(refundBucket.expiresAt === null || new Date(refundBucket.expiresAt) > t.clock.now()).toBe(true);
    await cleanAudit();
  });

  test('concurrent refunds never return more than was charged', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const c = await charge(id, '6');
    const results = await Promise.allSettled(Array.from({ length: 5 }, () =>
      t.op(RefundDocument, { input: { transactionId: c.id, amount: '4', idempotencyKey: uniqueKey() } })));
    const succeeded = results.filter((r) => r.status === 'fulfilled');
    expect(succeeded).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await wallet(id)).toMatchObject({ balance: '8' });
    const rest = await refund(c.id);
    expect(rest.amount).toBe('2');
    expect(await wallet(id)).toMatchObject({ balance: '10' });
    await cleanAudit();
  });

  test('refunding an overdraft charge reduces the debt first', async () => {
    const id = await t.createAccount();
    await t.grant(id, '1');
    await t.op(UpdateWalletDocument, { input: { accountId: id, overdraftLimit: '5' } });
    const c = await charge(id, '4');
    expect(await wallet(id)).toMatchObject({ balance: '-3', debt: '3' });
    const r = await refund(c.id, '3');
    expect(r).toMatchObject({ amount: '3', debtChange: '-3', balanceAfter: '0' });
    expect(await wallet(id)).toMatchObject({ balance: '0', debt: '0' });
    const rest = await refund(c.id);
    expect(rest).toMatchObject({ amount: '1', balanceAfter: '1' });
    expect(await wallet(id)).toMatchObject({ balance: '1', debt: '0', available: '6' });
    await cleanAudit();
  });
});

describe('reversals', () => {
  test('reversing a charge returns all of it, once', async () => {
    const id = await t.createAccount();
    const promo = await bucket(id, '3', { source: 'PROMO' });
    const purchase = await bucket(id, '10', { source: 'PURCHASE' });
    const c = await charge(id, '5');
    const rev = (await t.op(ReverseTransactionDocument, { input: { transactionId: c.id, idempotencyKey: uniqueKey(), comment: 'mistake' } })).reverseTransaction;
    expect(rev).toMatchObject({ type: 'REVERSAL', status: 'SUCCEEDED', amount: '5', balanceAfter: '13', relatedTransactionId: c.id, comment: 'mistake' });
    expect(entryMap(rev)).toEqual({ [promo]: '3', [purchase]: '2' });
    const again = await t.opFails(ReverseTransactionDocument, { input: { transactionId: c.id, idempotencyKey: uniqueKey() } });
    expect(again.extensions.code).toBe('BAD_USER_INPUT');
    expect((await t.opFails(RefundDocument, { input: { transactionId: c.id, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
    expect(await wallet(id)).toMatchObject({ balance: '13', sequence: 4 });
    await cleanAudit();
  });

  test('concurrent reversals of one charge: exactly one succeeds', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const c = await charge(id, '3');
    const results = await Promise.allSettled(Array.from({ length: 4 }, () =>
      t.op(ReverseTransactionDocument, { input: { transactionId: c.id, idempotencyKey: uniqueKey() } })));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(await wallet(id)).toMatchObject({ balance: '10', sequence: 3 });
    await cleanAudit();
  });

  test('a partly refunded charge cannot be reversed', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const c = await charge(id, '5');
    await refund(c.id, '1');
    expect((await t.opFails(ReverseTransactionDocument, { input: { transactionId: c.id, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
    expect(await wallet(id)).toMatchObject({ balance: '6' });
    await cleanAudit();
  });

  test('reversing a grant takes its credits back out of its bucket, once', async () => {
    const id = await t.createAccount();
    await t.grant(id, '4');
    const g = await t.grant(id, '6', { source: 'PROMO' });
    const rev = (await t.op(ReverseTransactionDocument, { input: { transactionId: g.id, idempotencyKey: uniqueKey() } })).reverseTransaction;
    expect(rev).toMatchObject({ type: 'REVERSAL', amount: '-6', balanceAfter: '4', relatedTransactionId: g.id });
    expect(rev.entries).toEqual([{ bucketId: g.entries[0].bucketId, bucketSource: 'PROMO', amount: '-6', originBucketId: null }]);
    const again = await t.opFails(ReverseTransactionDocument, { input: { transactionId: g.id, idempotencyKey: uniqueKey() } });
    expect(again.extensions.code).toBe('BAD_USER_INPUT');
    const w = await wallet(id);
    expect(w).toMatchObject({ balance: '4', sequence: 3 });
    expect(w.buckets.map((b) => b.source)).toEqual(['PURCHASE']);
    await cleanAudit();
  });

  test('a grant whose credits were spent cannot be reversed: refused and recorded', async () => {
    const id = await t.createAccount();
    const g = await t.grant(id, '5');
    await charge(id, '2');
    const error = await t.opFails(ReverseTransactionDocument, { input: { transactionId: g.id, idempotencyKey: uniqueKey() } });
    expect(error.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '5', available: '3', shortfall: '2' });
    expect(await wallet(id)).toMatchObject({ balance: '3', sequence: 2 });
    const [failed] = await history(id, { statuses: ['FAILED'] });
    expect(failed).toMatchObject({ type: 'REVERSAL', failureCode: 'INSUFFICIENT_CREDITS', amount: '0', sequence: null });
    await cleanAudit();
  });

  test('reversal is admin-only; a refused attempt cannot be reversed', async () => {
    const id = await t.createAccount();
    await t.grant(id, '5');
    const c = await charge(id, '1');
    const service = await t.key('SERVICE');
    expect((await t.opFails(ReverseTransactionDocument, { input: { transactionId: c.id, idempotencyKey: uniqueKey() } }, service)).extensions.code).toBe('FORBIDDEN');
    await chargeFails(id, '100');
    const [failed] = await history(id, { statuses: ['FAILED'] });
    expect((await t.opFails(ReverseTransactionDocument, { input: { transactionId: failed.id, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
    expect(await wallet(id)).toMatchObject({ balance: '4', sequence: 2 });
  });
});
