/**
 * Accounts and wallets through GraphQL: creating accounts, finding them, the wallet's figures and
 * buckets (in burn-down order), and the admin's wallet settings (overdraft, freeze).
 */
import {
  AccountDocument, ChargeDocument, CreateAccountDocument, ReserveCreditsDocument, TransactionsDocument, UpdateWalletDocument, WalletDocument,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const wallet = (accountId: string) => t.wallet(accountId);
const inFuture = (seconds: number) => new Date(t.clock.now().getTime() + seconds * 1000).toISOString();

describe('createAccount', () => {
  test('creates USER and TEAM accounts, each with an empty wallet', async () => {
    const externalId = uniqueKey('ext');
    const user = (await t.op(CreateAccountDocument, { input: { name: 'Ada', kind: 'USER', externalId } })).createAccount;
    expect(user).toMatchObject({ externalId, name: 'Ada', kind: 'USER' });
    expect(user.wallet).toEqual({
      accountId: user.id, balance: '0', available: '0', held: '0', debt: '0', overdraftLimit: '0', frozen: false,
      sequence: 0, buckets: [], lowCreditThresholds: [],
    });
    const team = (await t.op(CreateAccountDocument, { input: { name: 'Studio', kind: 'TEAM' } })).createAccount;
    expect(team).toMatchObject({ externalId: null, name: 'Studio', kind: 'TEAM' });
    expect(team.id).not.toBe(user.id);
    expect(team.wallet.balance).toBe('0');
  });

  test('kind defaults to USER', async () => {
    const account = (await t.op(CreateAccountDocument, { input: { name: 'Default kind' } })).createAccount;
    expect(account.kind).toBe('USER');
  });

  test('a duplicate externalId is refused with BAD_USER_INPUT and creates nothing', async () => {
    const externalId = uniqueKey('dup');
    const first = (await t.op(CreateAccountDocument, { input: { name: 'First', kind: 'USER', externalId } })).createAccount;
    const error = await t.opFails(CreateAccountDocument, { input: { name: 'Second', kind: 'TEAM', externalId } });
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    expect(error.message).toContain('externalId');
    const found = (await t.op(AccountDocument, { externalId })).account;
    expect(found).toMatchObject({ id: first.id, name: 'First', kind: 'USER' });
  });

  test('names and externalIds are validated', async () => {
    expect((await t.opFails(CreateAccountDocument, { input: { name: '   ', kind: 'USER' } })).extensions.code).toBe('BAD_USER_INPUT');
    expect((await t.opFails(CreateAccountDocument, { input: { name: 'x'.repeat(201), kind: 'USER' } })).extensions.code).toBe('BAD_USER_INPUT');
    expect((await t.opFails(CreateAccountDocument, { input: { name: 'ok', kind: 'USER', externalId: '' } })).extensions.code).toBe('BAD_USER_INPUT');
    expect((await t.opFails(CreateAccountDocument, { input: { name: 'ok', kind: 'USER', externalId: 'e'.repeat(201) } })).extensions.code).toBe('BAD_USER_INPUT');
  });

  test('an overdraft limit can be set at creation by an admin only', async () => {
    const account = (await t.op(CreateAccountDocument, { input: { name: 'Overdraft', kind: 'USER', overdraftLimit: '25.5' } })).createAccount;
    expect(account.wallet).toMatchObject({ overdraftLimit: '25.5', balance: '0', available: '25.5' });
    const service = await t.key('SERVICE');
    const error = await t.opFails(CreateAccountDocument, { input: { name: 'Sneaky', kind: 'USER', overdraftLimit: '10' } }, service);
    expect(error.extensions.code).toBe('FORBIDDEN');
    expect((await t.opFails(CreateAccountDocument, { input: { name: 'Neg', kind: 'USER', overdraftLimit: '-1' } })).extensions.code).toBe('BAD_USER_INPUT');
  });

  test('a SERVICE key may create accounts; a READONLY key may not', async () => {
    const service = await t.key('SERVICE');
    const created = (await t.op(CreateAccountDocument, { input: { name: 'By service', kind: 'USER' } }, service)).createAccount;
    expect(created.name).toBe('By service');
    const readonly = await t.key('READONLY');
    expect((await t.opFails(CreateAccountDocument, { input: { name: 'By readonly', kind: 'USER' } }, readonly)).extensions.code).toBe('FORBIDDEN');
  });
});

describe('account query', () => {
  test('finds an account by id and by externalId', async () => {
    const externalId = uniqueKey('find');
    const id = await t.createAccount('Findable', { externalId, kind: 'TEAM' });
    await t.grant(id, '3');
    const byId = (await t.op(AccountDocument, { id })).account;
    expect(byId).toMatchObject({ id, externalId, name: 'Findable', kind: 'TEAM', wallet: { accountId: id, balance: '3' } });
    const byExternal = (await t.op(AccountDocument, { externalId })).account;
    expect(byExternal).toEqual(byId);
  });

  test('unknown ids are null; giving both or neither is BAD_USER_INPUT', async () => {
    expect((await t.op(AccountDocument, { id: '00000000-0000-4000-8000-000000000000' })).account).toBeNull();
    expect((await t.op(AccountDocument, { id: 'not-a-uuid' })).account).toBeNull();
    expect((await t.op(AccountDocument, { externalId: uniqueKey('nobody') })).account).toBeNull();
    expect((await t.opFails(AccountDocument, {})).extensions.code).toBe('BAD_USER_INPUT');
    const id = await t.createAccount();
    expect((await t.opFails(AccountDocument, { id, externalId: 'x' })).extensions.code).toBe('BAD_USER_INPUT');
  });

  test('a user token reads its own account only', async () => {
    const mine = await t.createAccount('Mine');
    const other = await t.createAccount('Other');
    const token = await t.userToken(mine);
    expect((await t.op(AccountDocument, { id: mine }, token)).account?.id).toBe(mine);
    expect((await t.op(WalletDocument, { accountId: mine }, token)).wallet?.accountId).toBe(mine);
    expect((await t.opFails(AccountDocument, { id: other }, token)).extensions.code).toBe('FORBIDDEN');
    expect((await t.opFails(WalletDocument, { accountId: other }, token)).extensions.code).toBe('FORBIDDEN');
  });
});

describe('wallet', () => {
  test('figures follow grants, holds and charges', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    await t.grant(id, '2.125', { source: 'PROMO' });
    expect(await wallet(id)).toMatchObject({ balance: '12.125', available: '12.125', held: '0', debt: '0', sequence: 2 });
    const hold = (await t.op(ReserveCreditsDocument, { input: { accountId: id, amount: '3', idempotencyKey: uniqueKey() } })).reserveCredits;
    expect(hold).toMatchObject({ status: 'ACTIVE', amount: '3' });
    expect(await wallet(id)).toMatchObject({ balance: '12.125', available: '9.125', held: '3', debt: '0', sequence: 3 });
    await t.op(ChargeDocument, { input: { accountId: id, amount: '0.125', idempotencyKey: uniqueKey() } });
    const w = await wallet(id);
    expect(w).toMatchObject({ balance: '12', available: '9', held: '3', debt: '0', sequence: 4 });
    // the hold secured the PROMO bucket (priority 10) first, then 0.875 of the purchase; the charge took what was free
    expect(w.buckets.map((b) => [b.source, b.remaining, b.held])).toEqual([['PROMO', '2.125', '2.125'], ['PURCHASE', '9.875', '0.875']]);
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });

  test('buckets are listed in burn-down order: priority, soonest expiry (never last), oldest', async () => {
    const id = await t.createAccount();
    const granted: Record<string, string> = {};
    const add = async (label: string, amount: string, extra: Record<string, unknown>) => {
      const tx = await t.grant(id, amount, extra);
      granted[tx.entries[0].bucketId] = label;
      t.clock.advanceSeconds(1); // distinct creation times, so "oldest" is observable
    };
    await add('purchase-old', '1', { source: 'PURCHASE' });
    await add('promo-never', '1', { source: 'PROMO' });
    await add('promo-2d', '1', { source: 'PROMO', expiresAt: inFuture(2 * 86400) });
    await add('allowance-1d', '1', { source: 'PLAN_ALLOWANCE', expiresAt: inFuture(86400) });
    await add('promo-1d', '1', { source: 'PROMO', expiresAt: inFuture(86400) });
    await add('purchase-new', '1', { source: 'PURCHASE' });
    await add('purchase-priority-0', '1', { source: 'PURCHASE', priority: 0 });
    const w = await wallet(id);
    expect(w.buckets.map((b) => granted[b.id])).toEqual([
      'purchase-priority-0', 'promo-1d', 'promo-2d', 'promo-never', 'allowance-1d', 'purchase-old', 'purchase-new',
    ]);
    const first = w.buckets[0];
    expect(first).toMatchObject({ source: 'PURCHASE', amount: '1', remaining: '1', held: '0', priority: 0, expiresAt: null, applicableActions: null });
    expect(w.buckets.find((b) => granted[b.id] === 'promo-never')?.priority).toBe(10);
    expect(w.buckets.find((b) => granted[b.id] === 'allowance-1d')?.priority).toBe(20);
    expect(w.buckets.find((b) => granted[b.id] === 'purchase-old')?.priority).toBe(60);
    expect(w).toMatchObject({ balance: '7', available: '7', sequence: 7 });
  });

  test('a bucket shows its applicability filter', async () => {
    const id = await t.createAccount();
    await t.grant(id, '4', { source: 'PROMO', applicableActions: ['image'], applicableModels: ['flux'] });
    const [bucket] = (await wallet(id)).buckets;
    expect(bucket).toMatchObject({ source: 'PROMO', amount: '4', remaining: '4', applicableActions: ['image'], applicableModels: ['flux'] });
  });

  test('unknown wallets read as null', async () => {
    expect((await t.op(WalletDocument, { accountId: '00000000-0000-4000-8000-000000000001' })).wallet).toBeNull();
    expect((await t.op(WalletDocument, { accountId: 'nope' })).wallet).toBeNull();
  });
});

describe('updateWallet', () => {
  test('sets the overdraft limit; available includes it', async () => {
    const id = await t.createAccount();
    await t.grant(id, '5');
    const updated = (await t.op(UpdateWalletDocument, { input: { accountId: id, overdraftLimit: '7.5' } })).updateWallet;
    expect(updated).toMatchObject({ accountId: id, balance: '5', available: '12.5', debt: '0', overdraftLimit: '7.5', frozen: false });
    // settings are not ledger movements
    expect(updated.sequence).toBe(1);
    expect((await t.opFails(UpdateWalletDocument, { input: { accountId: id, overdraftLimit: '-1' } })).extensions.code).toBe('BAD_USER_INPUT');
    expect((await wallet(id)).overdraftLimit).toBe('7.5');
  });

  test('is admin-only and NOT_FOUND for unknown accounts', async () => {
    const id = await t.createAccount();
    const service = await t.key('SERVICE');
    expect((await t.opFails(UpdateWalletDocument, { input: { accountId: id, frozen: true } }, service)).extensions.code).toBe('FORBIDDEN');
    expect((await t.opFails(UpdateWalletDocument, { input: { accountId: '00000000-0000-4000-8000-000000000002', frozen: true } })).extensions.code).toBe('NOT_FOUND');
    expect((await wallet(id)).frozen).toBe(false);
  });

  test('a frozen wallet refuses charges and holds with WALLET_FROZEN; reads still work; unfreezing restores it', async () => {
    const id = await t.createAccount();
    await t.grant(id, '10');
    const frozen = (await t.op(UpdateWalletDocument, { input: { accountId: id, frozen: true } })).updateWallet;
    expect(frozen).toMatchObject({ frozen: true, balance: '10', available: '10' });

    const charge = await t.opFails(ChargeDocument, { input: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } });
    expect(charge.extensions.code).toBe('WALLET_FROZEN');
    expect(typeof charge.extensions.remedy).toBe('string');
    const hold = await t.opFails(ReserveCreditsDocument, { input: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } });
    expect(hold.extensions.code).toBe('WALLET_FROZEN');

    // reads work
    expect(await wallet(id)).toMatchObject({ frozen: true, balance: '10', available: '10', held: '0', sequence: 1 });
    expect((await t.op(AccountDocument, { id })).account?.wallet.balance).toBe('10');
    const user = await t.userToken(id);
    expect((await t.op(WalletDocument, { accountId: id }, user)).wallet?.frozen).toBe(true);
    const history = (await t.op(TransactionsDocument, { accountId: id, first: 100 })).transactions.edges.map((e) => e.node);
    // both refusals are recorded as FAILED with no balance effect
    expect(history.filter((n) => n.status === 'FAILED').map((n) => [n.type, n.failureCode, n.amount, n.sequence]).sort())
      .toEqual([['CHARGE', 'WALLET_FROZEN', '0', null], ['HOLD', 'WALLET_FROZEN', '0', null]]);

    const thawed = (await t.op(UpdateWalletDocument, { input: { accountId: id, frozen: false } })).updateWallet;
    expect(thawed.frozen).toBe(false);
    const ok = (await t.op(ChargeDocument, { input: { accountId: id, amount: '1', idempotencyKey: uniqueKey() } })).charge;
    expect(ok).toMatchObject({ status: 'SUCCEEDED', amount: '-1', balanceAfter: '9', sequence: 2 });
    expect(await t.audit()).toEqual({ ok: true, violations: [] });
  });
});
