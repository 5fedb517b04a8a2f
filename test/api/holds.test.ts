/**
 * Two-phase charging through GraphQL: reserve → capture (up to the hold, the rest returns) or
 * release; holds that outlive their TTL; credits secured by a hold even when their bucket expires.
 */
import {
  CaptureHoldDocument, ChargeDocument, ReleaseHoldDocument, ReserveCreditsDocument, UpdateWalletDocument,
  type ReserveInput, type TransactionFilter,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const wallet = (accountId: string) => t.wallet(accountId);
const history = (accountId: string, filter?: TransactionFilter) => t.history(accountId, filter);
const reserve = async (accountId: string, amount: string, extra: Partial<ReserveInput> = {}) =>
  (await t.op(ReserveCreditsDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('hold'), ...extra } })).reserveCredits;
const capture = async (holdId: string, amount?: string) =>
  (await t.op(CaptureHoldDocument, { input: { holdId, amount, idempotencyKey: uniqueKey('capture') } })).captureHold;
const captureFails = (holdId: string, amount?: string) => t.opFails(CaptureHoldDocument, { input: { holdId, amount, idempotencyKey: uniqueKey('capture') } });
const release = async (holdId: string) => (await t.op(ReleaseHoldDocument, { input: { holdId, idempotencyKey: uniqueKey('release') } })).releaseHold;
const releaseFails = (holdId: string) => t.opFails(ReleaseHoldDocument, { input: { holdId, idempotencyKey: uniqueKey() } });
const inFuture = (seconds: number) => new Date(t.clock.now().getTime() + seconds * 1000).toISOString();
const cleanAudit = async () => expect(await t.audit()).toEqual({ ok: true, violations: [] });
/** Runs the expiry job until nothing is left (the PostgreSQL database may hold other test files' wallets). */
const drainExpiry = async () => {
  for (let i = 0; i < 50 && (await t.app.services.ledger.runExpiry()) > 0; i++);
};

test('reserving lowers available, not balance; held rises', async () => {
  const id = await t.createAccount();
  await t.grant(id, '10');
  const hold = await reserve(id, '4', { action: 'video', model: 'veo' });
  expect(hold).toMatchObject({ accountId: id, amount: '4', status: 'ACTIVE', action: 'video', model: 'veo' });
  expect(await wallet(id)).toMatchObject({ balance: '10', available: '6', held: '4', sequence: 2 });
  const [holdTx] = await history(id, { types: ['HOLD'] });
  expect(holdTx).toMatchObject({ status: 'SUCCEEDED', amount: '0', heldChange: '4', holdId: hold.id, balanceAfter: '10', sequence: 2 });

  // held credits cannot be charged: only 6 are available
  const refused = await t.opFails(ChargeDocument, { input: { accountId: id, amount: '7', idempotencyKey: uniqueKey() } });
  expect(refused.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', available: '6', shortfall: '1' });
  // nor held twice
  const tooMuch = await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '6.001', idempotencyKey: uniqueKey() } });
  expect(tooMuch.extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', required: '6.001', available: '6', shortfall: '0.001' });
  await cleanAudit();
});

test('capturing less than the hold charges that much; the rest returns', async () => {
  const id = await t.createAccount();
  const grant = await t.grant(id, '10');
  const hold = await reserve(id, '4');
  const captured = await capture(hold.id, '2.5');
  expect(captured).toMatchObject({ type: 'CAPTURE', status: 'SUCCEEDED', amount: '-2.5', balanceAfter: '7.5', heldChange: '-4', holdId: hold.id, sequence: 3 });
  expect(captured.entries).toEqual([{ bucketId: grant.entries[0].bucketId, bucketSource: 'PURCHASE', amount: '-2.5', originBucketId: null }]);
  expect(await wallet(id)).toMatchObject({ balance: '7.5', available: '7.5', held: '0' });
  // a hold is captured once
  expect((await captureFails(hold.id, '1')).extensions.code).toBe('HOLD_NOT_FOUND');
  expect((await releaseFails(hold.id)).extensions.code).toBe('HOLD_NOT_FOUND');
  expect(await wallet(id)).toMatchObject({ balance: '7.5', available: '7.5', held: '0', sequence: 3 });
  await cleanAudit();
});

test('a capture replayed with its key answers the first result; the key with another amount or comment is refused', async () => {
  const id = await t.createAccount();
  await t.grant(id, '10');
  const hold = await reserve(id, '4');
  const input = { holdId: hold.id, amount: '2', comment: 'render', idempotencyKey: uniqueKey('capture') };
  const first = (await t.op(CaptureHoldDocument, { input })).captureHold;
  expect((await t.op(CaptureHoldDocument, { input })).captureHold).toEqual(first);
  expect((await t.opFails(CaptureHoldDocument, { input: { ...input, amount: '3' } })).code).toBe('IDEMPOTENCY_KEY_REUSED');
  expect((await t.opFails(CaptureHoldDocument, { input: { ...input, comment: 'other' } })).code).toBe('IDEMPOTENCY_KEY_REUSED');
  expect((await t.opFails(CaptureHoldDocument, { input: { ...input, amount: undefined } })).code).toBe('IDEMPOTENCY_KEY_REUSED');
  expect(await wallet(id)).toMatchObject({ balance: '8', held: '0', sequence: 3 });
  await cleanAudit();
});

test('capturing without an amount takes the whole hold', async () => {
  const id = await t.createAccount();
  await t.grant(id, '5');
  const hold = await reserve(id, '3');
  expect(await capture(hold.id)).toMatchObject({ amount: '-3', balanceAfter: '2' });
  expect(await wallet(id)).toMatchObject({ balance: '2', available: '2', held: '0' });
  await cleanAudit();
});

test('capturing more than the hold is BAD_USER_INPUT and changes nothing', async () => {
  const id = await t.createAccount();
  await t.grant(id, '10');
  const hold = await reserve(id, '4');
  const error = await captureFails(hold.id, '4.001');
  expect(error.extensions.code).toBe('BAD_USER_INPUT');
  expect(await wallet(id)).toMatchObject({ balance: '10', available: '6', held: '4', sequence: 2 });
  // the hold is still usable
  expect(await capture(hold.id, '4')).toMatchObject({ amount: '-4', balanceAfter: '6' });
  await cleanAudit();
});

test('a capture spanning buckets takes from the buckets the hold secured', async () => {
  const id = await t.createAccount();
  const promo = (await t.grant(id, '2', { source: 'PROMO' })).entries[0].bucketId;
  const purchase = (await t.grant(id, '10', { source: 'PURCHASE' })).entries[0].bucketId;
  const hold = await reserve(id, '5');
  const w = await wallet(id);
  expect(w.buckets.map((b) => [b.id, b.held])).toEqual([[promo, '2'], [purchase, '3']]);
  const captured = await capture(hold.id, '4');
  expect(captured.entries.map((e) => [e.bucketId, e.amount])).toEqual([[promo, '-2'], [purchase, '-2']]);
  expect(await wallet(id)).toMatchObject({ balance: '8', available: '8', held: '0' });
  await cleanAudit();
});

test('releasing returns everything; capture after release is HOLD_NOT_FOUND', async () => {
  const id = await t.createAccount();
  await t.grant(id, '10');
  const hold = await reserve(id, '6');
  const released = await release(hold.id);
  expect(released).toMatchObject({ id: hold.id, accountId: id, amount: '6', status: 'RELEASED' });
  expect(await wallet(id)).toMatchObject({ balance: '10', available: '10', held: '0', sequence: 3 });
  const [releaseTx] = await history(id, { types: ['RELEASE'] });
  expect(releaseTx).toMatchObject({ status: 'SUCCEEDED', amount: '0', heldChange: '-6', holdId: hold.id });

  const error = await captureFails(hold.id, '1');
  expect(error.extensions.code).toBe('HOLD_NOT_FOUND');
  expect(error.extensions.holdStatus).toBe('RELEASED');
  expect((await releaseFails(hold.id)).extensions.code).toBe('HOLD_NOT_FOUND');
  expect(await wallet(id)).toMatchObject({ balance: '10', available: '10', held: '0', sequence: 3 });
  await cleanAudit();
});

test('unknown holds are HOLD_NOT_FOUND', async () => {
  expect((await captureFails('00000000-0000-4000-8000-00000000cccc', '1')).extensions.code).toBe('HOLD_NOT_FOUND');
  expect((await releaseFails('00000000-0000-4000-8000-00000000cccc')).extensions.code).toBe('HOLD_NOT_FOUND');
});

test('a hold past its TTL releases by itself: credits are back and capture gives HOLD_EXPIRED', async () => {
  const id = await t.createAccount();
  await t.grant(id, '10');
  const hold = await reserve(id, '7', { ttlSeconds: 60 });
  expect(new Date(hold.expiresAt).getTime() - new Date(hold.createdAt).getTime()).toBe(60_000);
  expect(await wallet(id)).toMatchObject({ available: '3', held: '7' });
  t.clock.advanceSeconds(61);
  // before any job ran, reads already see the credits back
  expect(await wallet(id)).toMatchObject({ balance: '10', available: '10', held: '0' });

  const error = await captureFails(hold.id, '1');
  expect(error.extensions.code).toBe('HOLD_EXPIRED');
  expect(await wallet(id)).toMatchObject({ balance: '10', available: '10', held: '0' });
  const releases = await history(id, { types: ['RELEASE'] });
  expect(releases).toHaveLength(1);
  expect(releases[0]).toMatchObject({ status: 'SUCCEEDED', heldChange: '-7', holdId: hold.id, actor: 'system:expiry' });
  const [failed] = await history(id, { statuses: ['FAILED'] });
  expect(failed).toMatchObject({ type: 'CAPTURE', failureCode: 'HOLD_EXPIRED', amount: '0', sequence: null });
  expect((await releaseFails(hold.id)).extensions.code).toBe('HOLD_EXPIRED');
  // the credits are spendable again
  const charged = (await t.op(ChargeDocument, { input: { accountId: id, amount: '10', idempotencyKey: uniqueKey() } })).charge;
  expect(charged).toMatchObject({ amount: '-10', balanceAfter: '0' });
  await cleanAudit();
});

test('the expiry job releases a lapsed hold once', async () => {
  const id = await t.createAccount();
  await t.grant(id, '5');
  const hold = await reserve(id, '5', { ttlSeconds: 5 });
  t.clock.advanceSeconds(6);
  await Promise.all([t.app.services.ledger.runExpiry(), t.app.services.ledger.runExpiry()]);
  await drainExpiry();
  await drainExpiry();
  const releases = await history(id, { types: ['RELEASE'] });
  expect(releases.map((r) => [r.holdId, r.heldChange])).toEqual([[hold.id, '-5']]);
  expect(await wallet(id)).toMatchObject({ balance: '5', available: '5', held: '0', sequence: 3 });
  expect((await captureFails(hold.id)).extensions.code).toBe('HOLD_EXPIRED');
  await cleanAudit();
});

test('ttlSeconds out of range is BAD_USER_INPUT', async () => {
  const id = await t.createAccount();
  await t.grant(id, '5');
  expect((await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '1', ttlSeconds: 0, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
  expect((await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '1', ttlSeconds: 10 * 24 * 3600, idempotencyKey: uniqueKey() } })).extensions.code).toBe('BAD_USER_INPUT');
  expect(await wallet(id)).toMatchObject({ held: '0', sequence: 1 });
});

test('credits under a hold are secured: capture succeeds even though their bucket expired; the leftover expires', async () => {
  const id = await t.createAccount();
  const bucketId = (await t.grant(id, '10', { source: 'PROMO', expiresAt: inFuture(60) })).entries[0].bucketId;
  const hold = await reserve(id, '6');
  expect(await wallet(id)).toMatchObject({ balance: '10', available: '4', held: '6' });
  t.clock.advanceSeconds(120);
  // the unsecured 4 no longer count; the secured 6 still do, and are held
  expect(await wallet(id)).toMatchObject({ balance: '6', available: '0', held: '6' });

  const captured = await capture(hold.id, '4');
  expect(captured).toMatchObject({ type: 'CAPTURE', status: 'SUCCEEDED', amount: '-4' });
  expect(captured.entries).toEqual([{ bucketId, bucketSource: 'PROMO', amount: '-4', originBucketId: null }]);
  const w = await wallet(id);
  expect(w).toMatchObject({ balance: '0', available: '0', held: '0', buckets: [] });
  const expires = await history(id, { types: ['EXPIRE'] });
  // first the unsecured part when the wallet was opened, then what the capture left over
  expect(expires.map((e) => e.amount).sort()).toEqual(['-2', '-4']);
  for (const e of expires) expect(e.entries.map((x) => x.bucketId)).toEqual([bucketId]);
  await drainExpiry();
  expect(await history(id, { types: ['EXPIRE'] })).toHaveLength(2);
  await cleanAudit();
});

test('a hold on a bucket that expired, then released, lets the rest expire', async () => {
  const id = await t.createAccount();
  await t.grant(id, '3', { source: 'PROMO', expiresAt: inFuture(30) });
  await t.grant(id, '1', { source: 'PURCHASE' });
  const hold = await reserve(id, '3');
  t.clock.advanceSeconds(31);
  expect(await wallet(id)).toMatchObject({ balance: '4', available: '1', held: '3' });
  expect(await release(hold.id)).toMatchObject({ status: 'RELEASED' });
  expect(await wallet(id)).toMatchObject({ balance: '1', available: '1', held: '0' });
  expect((await history(id, { types: ['EXPIRE'] })).map((e) => e.amount)).toEqual(['-3']);
  await cleanAudit();
});

test('a frozen wallet refuses holds but an open hold can still be released', async () => {
  const id = await t.createAccount();
  await t.grant(id, '5');
  const hold = await reserve(id, '2');
  await t.op(UpdateWalletDocument, { input: { accountId: id, frozen: true } });
  expect((await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } })).extensions.code).toBe('WALLET_FROZEN');
  expect(await release(hold.id)).toMatchObject({ status: 'RELEASED' });
  expect(await wallet(id)).toMatchObject({ balance: '5', available: '5', held: '0' });
  await cleanAudit();
});

test('a capture and a release racing on one hold: exactly one wins', async () => {
  const id = await t.createAccount();
  await t.grant(id, '10');
  const hold = await reserve(id, '4');
  const [captured, released] = await Promise.allSettled([
    t.op(CaptureHoldDocument, { input: { holdId: hold.id, amount: '3', idempotencyKey: uniqueKey() } }),
    t.op(ReleaseHoldDocument, { input: { holdId: hold.id, idempotencyKey: uniqueKey() } }),
  ]);
  const winners = [captured, released].filter((r) => r.status === 'fulfilled');
  expect(winners).toHaveLength(1);
  const loser = [captured, released].find((r) => r.status === 'rejected')!;
  expect(loser.reason).toMatchObject({ code: 'HOLD_NOT_FOUND' });
  expect(await wallet(id)).toMatchObject({ balance: captured.status === 'rejected' ? '10' : '7', held: '0' });
  await cleanAudit();
});

test('concurrent holds never secure more than the wallet has', async () => {
  const id = await t.createAccount();
  await t.grant(id, '10');
  const results = await Promise.allSettled(Array.from({ length: 5 }, () =>
    t.op(ReserveCreditsDocument, { input: { accountId: id, amount: '3', idempotencyKey: uniqueKey() } })));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
  for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'INSUFFICIENT_CREDITS' });
  expect(await wallet(id)).toMatchObject({ balance: '10', available: '1', held: '9' });
  await cleanAudit();
});
