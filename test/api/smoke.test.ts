import { ChargeDocument, WalletDocument } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

test('grant then charge moves credits and the audit stays clean', async () => {
  const accountId = await t.createAccount();
  await t.grant(accountId, '10');
  const data = await t.op(ChargeDocument, { input: { accountId, amount: '2.5', idempotencyKey: uniqueKey() } });
  expect(data.charge).toMatchObject({ type: 'CHARGE', status: 'SUCCEEDED', amount: '-2.5', balanceAfter: '7.5', sequence: 2, accountId });
  const wallet = await t.op(WalletDocument, { accountId });
  expect(wallet.wallet).toMatchObject({ balance: '7.5', available: '7.5', held: '0', debt: '0', sequence: 2 });
  expect(await t.audit()).toEqual({ ok: true, violations: [] });
});
