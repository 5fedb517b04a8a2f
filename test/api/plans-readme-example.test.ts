/**
 * The worked month of the README's "Plans and periods" section, run through the API: a Pro
 * subscription whose unused allowance rolls over, then an upgrade to Enterprise mid-period, then
 * the renewal. The ledger lines asserted here are the ones the README shows.
 */
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { ChangePlanDocument, ChargeDocument, CreatePlanDocument, SubscribeDocument } from '../../src/client';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const code = (name: string) => uniqueKey(name).toLowerCase();

test('the README worked month: rollover, upgrade, renewal', async () => {
  const pro = code('pro');
  const enterprise = code('enterprise');
  await t.op(CreatePlanDocument, { input: { code: pro, name: 'Pro', price: { amount: '49.00', currency: 'USD' }, allowance: '5000', rollover: 'CAPPED', rolloverCap: '2500', tier: 'pro' } });
  await t.op(CreatePlanDocument, { input: { code: enterprise, name: 'Enterprise', price: { amount: '399.00', currency: 'USD' }, allowance: '50000', rollover: 'FULL', tier: 'enterprise', overdraftLimit: '5000' } });
  t.clock.set(new Date('2027-01-31T10:00:00Z'));
  const accountId = await t.createAccount('README example');
  await t.op(SubscribeDocument, { input: { accountId, planCode: pro, idempotencyKey: uniqueKey() } });
  t.clock.set(new Date('2027-02-20T12:00:00Z'));
  await t.op(ChargeDocument, { input: { accountId, amount: '3800', idempotencyKey: uniqueKey() } });
  t.clock.set(new Date('2027-02-28T10:00:01Z')); // one second after the period end: the charge renews first
  await t.op(ChargeDocument, { input: { accountId, amount: '25', idempotencyKey: uniqueKey() } });
  t.clock.set(new Date('2027-03-17T10:00:00Z')); // 14 of the period's 31 days left
  const upgraded = await t.op(ChangePlanDocument, { input: { accountId, planCode: enterprise, idempotencyKey: uniqueKey() } });
  expect(upgraded.changePlan.plan.code).toBe(enterprise);
  expect((await t.wallet(accountId)).overdraftLimit).toBe('5000');
  t.clock.set(new Date('2027-03-31T10:00:00Z'));
  const wallet = await t.wallet(accountId); // a read at the period end renews first

  const lines = (await t.history(accountId)).reverse().map((x) => ({
    sequence: x.sequence, type: x.type, amount: x.amount, balanceAfter: x.balanceAfter,
    entries: x.entries.map((e) => `${e.bucketSource} ${e.amount}`).join(', '),
  }));
  expect(lines).toEqual([
    { sequence: 1, type: 'GRANT', amount: '5000', balanceAfter: '5000', entries: 'PLAN_ALLOWANCE 5000' },
    { sequence: 2, type: 'CHARGE', amount: '-3800', balanceAfter: '1200', entries: 'PLAN_ALLOWANCE -3800' },
    { sequence: 3, type: 'ROLLOVER', amount: '0', balanceAfter: '1200', entries: 'PLAN_ALLOWANCE -1200, ROLLOVER 1200' },
    { sequence: 4, type: 'GRANT', amount: '5000', balanceAfter: '6200', entries: 'PLAN_ALLOWANCE 5000' },
    { sequence: 5, type: 'CHARGE', amount: '-25', balanceAfter: '6175', entries: 'ROLLOVER -25' },
    { sequence: 6, type: 'GRANT', amount: '20322.58', balanceAfter: '26497.58', entries: 'PLAN_ALLOWANCE 20322.58' },
    { sequence: 7, type: 'ROLLOVER', amount: '0', balanceAfter: '26497.58', entries: 'PLAN_ALLOWANCE -5000, PLAN_ALLOWANCE -20322.58, ROLLOVER 25322.58' },
    { sequence: 8, type: 'EXPIRE', amount: '-1175', balanceAfter: '25322.58', entries: 'ROLLOVER -1175' },
    { sequence: 9, type: 'GRANT', amount: '50000', balanceAfter: '75322.58', entries: 'PLAN_ALLOWANCE 50000' },
  ]);
  expect(wallet.balance).toBe('75322.58');
  const comments = (await t.history(accountId)).reverse().map((x) => x.comment ?? '');
  expect(comments[2]).toMatch(/^1200 unused of the Pro allowance of the period .* rolled over \(rollover CAPPED up to 2500\)/);
  expect(comments[5]).toMatch(/^upgrade Pro → Enterprise with 45\.1% of the period/);
  expect(comments[7]).toMatch(/^1175 plan credits of the period .* expired at its end/);
  expect((await t.audit()).ok).toBe(true);
});
