/**
 * platformReport from the daily aggregates (README, "Platform report and vendor reconciliation"): every
 * figure for a small hand-worked history — an account on a plan and three without, purchases with a
 * cost basis, a promotion that expires, charges with vendor costs on two actions and two models, a
 * partial refund, refused attempts with two codes — and access (ADMIN keys only).
 *
 * Platform figures are over every account: the history happens on one random day of 2321–2329 (this
 * file's years; no other file writes there), so a shared or reused PostgreSQL database adds nothing.
 */
import { ChargeDocument, PlatformReportFullDocument, RefundDocument, UpdateWalletDocument, type ChargeInput } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { planSteps } from '../helpers/plans';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const DAY_MS = 86_400_000;
const year = 2321 + Math.floor(Math.random() * 9);
const D = new Date(Date.UTC(year, 0, 1) + Math.floor(Math.random() * 360) * DAY_MS).toISOString().slice(0, 10);
const at = (time: string) => t.clock.set(new Date(`${D}T${time}Z`));
const tag = uniqueKey('pr').toLowerCase();
const MODEL_A = `${tag}-text`;
const MODEL_B = `${tag}-image`;
const VENDOR = `${tag}-vendor`;
const { createPlan, subscribe } = planSteps(() => t);

const ids: Record<'a' | 'b' | 'c' | 'e', string> = { a: '', b: '', c: '', e: '' };
let planCode = '';

async function charge(accountId: string, amount: string, extra: Partial<ChargeInput> = {}) {
  return (await t.op(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('pr-charge'), ...extra } })).charge;
}

/** A refused charge is an error, recorded in the ledger as FAILED (failures_daily counts it). */
const refusedCharge = (accountId: string, amount: string) =>
  t.opFails(ChargeDocument, { input: { accountId, amount, action: 'image', idempotencyKey: uniqueKey('pr-refused') } });

beforeAll(async () => {
  at('09:00:00');
  const plan = await createPlan({ allowance: '100', price: { amount: '0.00', currency: 'USD' } }, 'pr');
  planCode = plan.code;
  for (const k of ['a', 'b', 'c', 'e'] as const) ids[k] = await t.createAccount(`PR ${k.toUpperCase()}`);
  // A: on the plan (100 allocated, no cost basis). B: 50 bought at $0.10, a 25 promotion burning first.
  // C: 10 bought at $0.20. E: an 8 promotion that expires at noon, 5 as an adjustment.
  await subscribe(ids.a, planCode);
  await t.grant(ids.b, '50', { source: 'PURCHASE', costPerCredit: '0.10', currency: 'USD' });
  await t.grant(ids.b, '25', { source: 'PROMO' });
  await t.grant(ids.c, '10', { source: 'PURCHASE', costPerCredit: '0.2', currency: 'USD' });
  await t.grant(ids.e, '8', { source: 'PROMO', expiresAt: `${D}T12:00:00.000Z` });
  await t.grant(ids.e, '5', { source: 'ADJUSTMENT' });

  at('10:30:00');
  const vendorUsage = (cost: string, units: number) => ({ vendor: VENDOR, cost, currency: 'USD', units });
  await charge(ids.a, '30', { action: 'chat', model: MODEL_A, vendorUsage: vendorUsage('0.30', 1000) });
  // B: 25 from the promotion, 5 bought ($0.50 of revenue).
  await charge(ids.b, '30', { action: 'chat', model: MODEL_A, vendorUsage: vendorUsage('1.25', 500) });
  // B: 15 bought ($1.50), of which 5 are refunded (−$0.50).
  const image = await charge(ids.b, '15', { action: 'image', model: MODEL_B, vendorUsage: vendorUsage('0.9', 3) });
  // C: 4 bought at $0.20 ($0.80), no vendor cost recorded.
  await charge(ids.c, '4', { action: 'image', model: MODEL_B });
  await t.op(RefundDocument, { input: { transactionId: image.id, amount: '5', idempotencyKey: uniqueKey('pr-refund') } });

  at('11:00:00');
  // Refused: C twice for lack of credits, then once frozen.
  for (let i = 0; i < 2; i += 1) expect((await refusedCharge(ids.c, '100')).code).toBe('INSUFFICIENT_CREDITS');
  await t.op(UpdateWalletDocument, { input: { accountId: ids.c, frozen: true } });
  expect((await refusedCharge(ids.c, '1')).code).toBe('WALLET_FROZEN');

  at('13:00:00');
  // E: its promotion expires (8) as this charge settles the wallet; the charge takes 2 of the adjustment.
  await charge(ids.e, '2', { action: 'chat', model: MODEL_A });
});

const dayRange = { from: `${D}T00:00:00Z`, to: `${D}T23:59:59Z` };

test('every figure of the hand-worked day', async () => {
  const { platformReport: r } = await t.op(PlatformReportFullDocument, dayRange);
  expect(r.from).toBe(`${D}T00:00:00.000Z`);
  expect(r.to).toBe(new Date(Date.parse(`${D}T00:00:00Z`) + DAY_MS).toISOString());
  expect(r.totals).toEqual({
    consumed: '81', refunded: '5', charges: 5, activeAccounts: 4,
    allocated: '100', purchased: '60', granted: '38', expired: '8',
  });
  expect(r.topConsumers).toEqual([
    { accountId: ids.b, name: 'PR B', consumed: '45' },
    { accountId: ids.a, name: 'PR A', consumed: '30' },
    { accountId: ids.c, name: 'PR C', consumed: '4' },
    { accountId: ids.e, name: 'PR E', consumed: '2' },
  ]);
  expect(r.byPlan).toEqual([
    { plan: null, consumed: '51', refunded: '5', charges: 4, accounts: 3 },
    { plan: planCode, consumed: '30', refunded: '0', charges: 1, accounts: 1 },
  ]);
  expect(r.byAction).toEqual([
    { action: 'chat', consumed: '62', refunded: '0', charges: 3 },
    { action: 'image', consumed: '19', refunded: '5', charges: 2 },
  ]);
  expect(r.failures).toEqual([{ code: 'INSUFFICIENT_CREDITS', attempts: 2 }, { code: 'WALLET_FROZEN', attempts: 1 }]);
  const usd = (amount: string) => ({ amount, currency: 'USD' });
  expect(r.marginByModel).toEqual([
    // 1.50 − 0.50 + 0.80 of revenue against 0.90 of vendor cost.
    { model: MODEL_B, currency: 'USD', revenue: usd('1.80'), vendorCost: usd('0.90'), margin: usd('0.90'), marginPercent: '50.00' },
    // 0.50 of revenue against 0.30 + 1.25: −1.05 is −210% of the revenue.
    { model: MODEL_A, currency: 'USD', revenue: usd('0.50'), vendorCost: usd('1.55'), margin: usd('-1.05'), marginPercent: '-210.00' },
  ]);
});

test('a day without activity reports zeros and empty lists', async () => {
  const next = new Date(Date.parse(`${D}T00:00:00Z`) + DAY_MS).toISOString();
  const { platformReport: r } = await t.op(PlatformReportFullDocument, { from: next, to: new Date(Date.parse(next) + DAY_MS).toISOString() });
  expect(r.totals).toEqual({ consumed: '0', refunded: '0', charges: 0, activeAccounts: 0, allocated: '0', purchased: '0', granted: '0', expired: '0' });
  expect([r.topConsumers, r.byPlan, r.byAction, r.failures, r.marginByModel]).toEqual([[], [], [], [], []]);
});

test('ADMIN keys only; a bad range is refused', async () => {
  for (const token of [await t.key('SERVICE'), await t.key('READONLY'), await t.userToken(ids.a), null]) {
    const error = await t.opFails(PlatformReportFullDocument, dayRange, token);
    expect(error.code).toBe(token === null ? 'UNAUTHENTICATED' : 'FORBIDDEN');
  }
  const error = await t.opFails(PlatformReportFullDocument, { from: dayRange.to, to: dayRange.from });
  expect([error.code, error.extensions.field]).toEqual(['BAD_USER_INPUT', 'to']);
});
