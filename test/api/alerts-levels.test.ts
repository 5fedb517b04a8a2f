/**
 * Low-credit levels through the API: LOW_BALANCE fires once when `available` crosses down through a
 * level, DEPLETED at zero, one alert for the lowest of several levels crossed at once, re-arming only
 * above the level plus the hysteresis; percent levels of a plan's allowance and plan defaults; holds
 * and expiry count as decreases; coalesced concurrent charges alert as they would one by one; a
 * charge that crosses nothing runs no extra statement; bad levels are refused and change nothing.
 */
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { planSteps } from '../helpers/plans';

let t: TestApp;
const plans = planSteps(() => t, { price: { amount: '0.00', currency: 'USD' } });

beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

interface Alert { id: string; kind: string; threshold: string | null; available: string; message: string; transactionId: string | null; readAt: string | null }

async function alertsOf(accountId: string): Promise<Alert[]> {
  const data = await t.ok<{ alerts: { edges: { node: Alert }[] } }>(
    `query($id: ID!) { alerts(accountId: $id, first: 100) { edges { node { id kind threshold available message transactionId readAt } } } }`, { id: accountId },
  );
  return data.alerts.edges.map((e) => e.node).reverse(); // oldest first
}

async function charge(accountId: string, amount: string): Promise<string> {
  const data = await t.ok<{ charge: { id: string } }>(
    `mutation($i: ChargeInput!) { charge(input: $i) { id } }`, { i: { accountId, amount, idempotencyKey: uniqueKey('lvl') } },
  );
  return data.charge.id;
}

async function setLevels(accountId: string, input: Record<string, unknown>) {
  return t.gql<{ updateWallet: { lowCreditThresholds: string[]; lowCreditThresholdPercents: number[]; lowCreditLevels: string[] } }>(
    `mutation($i: UpdateWalletInput!) { updateWallet(input: $i) { lowCreditThresholds lowCreditThresholdPercents lowCreditLevels } }`,
    { i: { accountId, ...input } },
  );
}

async function walletWith(levels: string[], grant: string): Promise<string> {
  const id = await t.createAccount('levels');
  const set = await setLevels(id, { lowCreditThresholds: levels });
  expect(set.errors).toBeUndefined();
  await t.grant(id, grant);
  return id;
}

const summary = (alerts: Alert[]) => alerts.map((a) => `${a.kind}@${a.threshold}:${a.available}`);

test('LOW_BALANCE once per level on the way down, one alert for the lowest of two crossed at once, DEPLETED at zero', async () => {
  const id = await walletWith(['100', '50'], '200');
  await charge(id, '90'); // 110: nothing
  expect(await alertsOf(id)).toEqual([]);
  const crossing = await charge(id, '20'); // 90: crosses 100
  await charge(id, '5'); // 85: 100 already fired
  const [first] = await alertsOf(id);
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@100:90']);
  expect(first.transactionId).toBe(crossing);
  expect(first.message).toContain('90');
  await charge(id, '50'); // 35: crosses 50
  await charge(id, '35'); // 0: DEPLETED
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@100:90', 'LOW_BALANCE@50:35', 'DEPLETED@0:0']);

  // a fresh wallet: one charge from above both levels to below both gives one alert, for the lower level
  const other = await walletWith(['100', '50'], '200');
  await charge(other, '160');
  expect(summary(await alertsOf(other))).toEqual(['LOW_BALANCE@50:40']);
});

test('a level re-arms only above the level plus its hysteresis (10%, at least 1 credit)', async () => {
  const id = await walletWith(['100'], '120');
  await charge(id, '30'); // 90: fires
  await t.grant(id, '20'); // 110: not above 110
  await charge(id, '15'); // 95: still fired, nothing
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@100:90']);
  await t.grant(id, '15.001'); // 110.001: re-armed
  await charge(id, '20.001'); // 90: fires again
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@100:90', 'LOW_BALANCE@100:90']);

  // DEPLETED re-arms above 1 credit
  await charge(id, '90'); // 0
  await t.grant(id, '1'); // 1: not above 1
  await charge(id, '1'); // 0: nothing new
  await t.grant(id, '2'); // 2: re-armed (and 100 stays fired)
  await charge(id, '2'); // 0: DEPLETED again
  expect(summary(await alertsOf(id)).slice(2)).toEqual(['DEPLETED@0:0', 'DEPLETED@0:0']);
});

test('holds lower available and fire levels; releasing re-arms', async () => {
  const id = await walletWith(['100'], '150');
  const hold = await t.ok<{ reserveCredits: { id: string } }>(
    `mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`, { i: { accountId: id, amount: '60', idempotencyKey: uniqueKey('h') } },
  );
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@100:90']);
  await t.ok(`mutation($i: ReleaseInput!) { releaseHold(input: $i) { id } }`, { i: { holdId: hold.reserveCredits.id, idempotencyKey: uniqueKey('r') } });
  await charge(id, '60'); // 90 again: re-armed by the release (150 > 110), fires again
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@100:90', 'LOW_BALANCE@100:90']);
});

test('credits that expire count as a decrease', async () => {
  const id = await walletWith(['100'], '50');
  const expiresAt = new Date(t.clock.now().getTime() + 3600_000).toISOString();
  await t.grant(id, '100', { expiresAt }); // 150
  t.clock.advanceSeconds(2 * 3600);
  await t.app.services.ledger.settleWallet(id); // what the expiry job (or the next operation) does for this wallet
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@100:50']);
});

test('concurrent charges coalesced into one database transaction alert as the same charges one by one', async () => {
  const id = await walletWith(['100', '50'], '120');
  await Promise.all(Array.from({ length: 3 }, () => charge(id, '30'))); // 90, 60, 30 in some order
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@100:90', 'LOW_BALANCE@50:30']);
  expect((await t.wallet(id)).available).toBe('30');
});

test('percent levels are of the plan allowance; a plan\'s levels apply until the wallet sets its own', async () => {
  const plan = await plans.createPlan({ allowance: '1000', lowCreditThresholds: ['300'], lowCreditThresholdPercents: [20, 5] });
  const id = await t.createAccount('percent');
  await plans.subscribe(id, plan.code);
  const wallet = await t.ok<{ wallet: { lowCreditThresholds: string[]; lowCreditThresholdPercents: number[]; lowCreditLevels: string[] } }>(
    `query($id: ID!) { wallet(accountId: $id) { lowCreditThresholds lowCreditThresholdPercents lowCreditLevels } }`, { id },
  );
  expect(wallet.wallet).toEqual({ lowCreditThresholds: ['300'], lowCreditThresholdPercents: [20, 5], lowCreditLevels: ['300', '200', '50'] });
  await charge(id, '850'); // 150: crosses 300 and 200
  expect(summary(await alertsOf(id))).toEqual(['LOW_BALANCE@200:150']);

  const own = await setLevels(id, { lowCreditThresholdPercents: [10] });
  expect(own.data?.updateWallet).toEqual({ lowCreditThresholds: ['300'], lowCreditThresholdPercents: [10], lowCreditLevels: ['300', '100'] });
  await charge(id, '60'); // 90: crosses 100 (fired state of removed levels is dropped)
  expect(summary(await alertsOf(id)).slice(1)).toEqual(['LOW_BALANCE@100:90']);
});

test('checking levels runs no extra statement unless a level is crossed', async () => {
  const plain = await t.createAccount('no levels');
  await t.grant(plain, '1000');
  const leveled = await walletWith(['100', '50', '10'], '1000');
  await charge(plain, '1');
  await charge(leveled, '1'); // both warmed up (authentication and statements cached)
  const without = await t.countQueries(() => charge(plain, '1'));
  const withLevels = await t.countQueries(() => charge(leveled, '1'));
  expect(withLevels).toBe(without);
  const crossing = await t.countQueries(() => charge(leveled, '900')); // 97: crosses 100
  expect(crossing).toBeGreaterThan(without);
});

test('bad levels are refused with the field named, and change nothing', async () => {
  const id = await walletWith(['100'], '10');
  const cases: [Record<string, unknown>, string][] = [
    [{ lowCreditThresholds: ['0'] }, 'lowCreditThresholds'],
    [{ lowCreditThresholds: ['-5'] }, 'lowCreditThresholds'],
    [{ lowCreditThresholds: Array.from({ length: 11 }, (_, i) => String(i + 1)) }, 'lowCreditThresholds'],
    [{ lowCreditThresholdPercents: [0] }, 'lowCreditThresholdPercents'],
    [{ lowCreditThresholdPercents: [101] }, 'lowCreditThresholdPercents'],
    [{ lowCreditThresholdPercents: Array.from({ length: 11 }, (_, i) => i + 1) }, 'lowCreditThresholdPercents'],
  ];
  for (const [input, field] of cases) {
    const result = await setLevels(id, { ...input, frozen: true });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.extensions?.field).toBe(field);
  }
  const wallet = await t.ok<{ wallet: { frozen: boolean; lowCreditThresholds: string[]; lowCreditThresholdPercents: number[] } }>(
    `query($id: ID!) { wallet(accountId: $id) { frozen lowCreditThresholds lowCreditThresholdPercents } }`, { id },
  );
  expect(wallet.wallet).toEqual({ frozen: false, lowCreditThresholds: ['100'], lowCreditThresholdPercents: [] });
});

test('markAlertsRead: a user token marks its own; unknown ids and another account\'s are refused and nothing is marked', async () => {
  const mine = await walletWith(['100'], '150');
  const theirs = await walletWith(['100'], '150');
  await charge(mine, '60');
  await charge(theirs, '60');
  const [myAlert] = await alertsOf(mine);
  const [theirAlert] = await alertsOf(theirs);
  const token = await t.userToken(mine);
  const mark = `mutation($ids: [ID!]!) { markAlertsRead(ids: $ids) }`;
  expect((await t.fails(mark, { ids: [myAlert.id, theirAlert.id] }, token)).extensions.code).toBe('FORBIDDEN');
  expect((await alertsOf(mine))[0].readAt).toBeNull();
  expect((await t.fails(mark, { ids: [myAlert.id, '00000000-0000-4000-8000-000000000000'] }, token)).extensions.code).toBe('FORBIDDEN');
  expect((await t.fails(mark, { ids: ['00000000-0000-4000-8000-000000000000'] })).extensions.code).toBe('NOT_FOUND');
  expect(await t.ok(mark, { ids: [myAlert.id, myAlert.id] }, token)).toEqual({ markAlertsRead: 1 });
  expect((await alertsOf(mine))[0].readAt).not.toBeNull();
  expect(await t.ok(mark, { ids: [myAlert.id] }, token)).toEqual({ markAlertsRead: 0 });
});

test('alerts raised inside a ledger operation (billing ones) are published with its rows after commit, not before', async () => {
  const id = await walletWith([], '10');
  const publish = jest.spyOn(t.app.services.events, 'publish');
  try {
    let publishedBeforeCommit = -1;
    await t.app.services.ledger.withWallet(id, 'system:test', async () => null, async (wallet) => {
      await t.app.services.alerts.raise(wallet.tx, {
        accountId: id, kind: 'PAYMENT_FAILED', thresholdMillis: null, availableMillis: 10_000, message: 'the plan payment failed',
      }, t.clock.now());
      publishedBeforeCommit = publish.mock.calls.length;
    });
    expect(publishedBeforeCommit).toBe(0);
    const published = publish.mock.calls.flatMap(([, alerts]) => (alerts ?? []).map((a) => `${a.accountId}:${a.kind}`));
    expect(published).toEqual([`${id}:PAYMENT_FAILED`]);
  } finally {
    publish.mockRestore();
  }
});
