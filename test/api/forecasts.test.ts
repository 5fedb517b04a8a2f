/**
 * Forecasts and usage reads through GraphQL (README, Forecasts): Wallet.forecast from the daily usage
 * (burn rate over the trailing window, run-out, expiring credits), the forecasts job's RUN_OUT_SOON
 * (once, also with three instances at once; re-armed only beyond twice its window; fires again after)
 * and CREDITS_EXPIRING (once per bucket), usageByDay and platformReport (values with refunds, access,
 * bad input).
 *
 * The file lives in 2213 (no other file uses it): on a shared PostgreSQL database the forecasts job
 * looks at every wallet, but only this file's have usage or expiring buckets in 2213. Assertions are
 * on this file's own accounts. platformReport totals are over every account, so that block charges in
 * a year of this run's own (4000–7999), which also keeps a reused database from adding to them.
 */
import { UsageService } from '../../src/modules/usage';
import { PlatformReportDocument, UsageByDayDocument, WalletForecastDocument } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const at = (iso: string) => t.clock.set(new Date(iso));
const DAY_MS = 86_400_000;

async function charge(accountId: string, amount: string, extra: { action?: string; model?: string } = {}): Promise<string> {
  const data = await t.ok<{ charge: { id: string; status: string } }>(`mutation($i: ChargeInput!) { charge(input: $i) { id status } }`, {
    i: { accountId, amount, idempotencyKey: uniqueKey('f-charge'), ...extra },
  });
  expect(data.charge.status).toBe('SUCCEEDED');
  return data.charge.id;
}

async function refund(transactionId: string, amount?: string): Promise<void> {
  await t.ok(`mutation($i: RefundInput!) { refund(input: $i) { id } }`, { i: { transactionId, amount, idempotencyKey: uniqueKey('f-refund') } });
}

const forecastOf = async (accountId: string, token?: string) => {
  const wallet = (await t.op(WalletForecastDocument, { accountId }, token)).wallet;
  if (!wallet) throw new Error(`no wallet ${accountId}`);
  return wallet;
};

async function alertsOf(accountId: string, kind: string) {
  const data = await t.ok<{ alerts: { edges: { node: { id: string; kind: string; available: string; threshold: string | null; message: string } }[] } }>(
    `query($id: ID!) { alerts(accountId: $id, first: 100) { edges { node { id kind available threshold message } } } }`, { id: accountId });
  return data.alerts.edges.map((e) => e.node).filter((n) => n.kind === kind);
}

/** Runs the job until its sweep has looked at every wallet (one run does, unless the database holds more than 10,000). */
async function runJob(usage: UsageService = t.app.services.usage) {
  for (let i = 0; i < 100; i += 1) if ((await usage.runForecasts()).sweepEnded) return;
  throw new Error('the sweep did not end');
}

/** Another instance's forecasts job on the same database. */
const otherInstance = () => new UsageService(t.database, t.clock, t.app.services.config, t.app.services.alerts, () => {});

/** An account that got `granted` credits on 2213-04-24 and was charged 10 on each of the 7 days to 04-30. */
async function tenADay(granted: string): Promise<string> {
  at('2213-04-24T10:00:00Z');
  const accountId = await t.createAccount('burner');
  await t.grant(accountId, granted);
  for (let d = 0; d < 7; d += 1) {
    at(new Date(Date.parse('2213-04-24T10:00:00Z') + d * DAY_MS).toISOString());
    await charge(accountId, '10', { action: 'gen' });
  }
  return accountId;
}

describe('Wallet.forecast', () => {
  test('10 a day for a week and 5 so far today: 10 a day, running out when the rest is gone', async () => {
    const accountId = await tenADay('100');
    at('2213-05-01T12:00:00Z');
    await charge(accountId, '5', { action: 'gen' });
    // A charge refunded the same day burns nothing.
    await refund(await charge(accountId, '4', { action: 'gen' }));
    const wallet = await forecastOf(accountId);
    expect(wallet.available).toBe('25'); // 100 − 70 − 5
    // 75 net over 7.5 days; 25 left lasts 2.5 days.
    expect(wallet.forecast).toEqual({
      burnRatePerDay: '10', runOutAt: '2213-05-04T00:00:00.000Z', expiringSoon: '0', nextExpiryAt: null, windowDays: 7, expiringSoonDays: 7,
    });
    // A user token reads its own wallet's forecast.
    expect((await forecastOf(accountId, await t.userToken(accountId))).forecast.burnRatePerDay).toBe('10');
  });

  test('a new account is not diluted over the window: 6 yesterday and 3 this morning is 6 a day', async () => {
    at('2213-04-30T09:00:00Z');
    const accountId = await t.createAccount('new');
    await t.grant(accountId, '30');
    await charge(accountId, '6');
    at('2213-05-01T12:00:00Z');
    await charge(accountId, '3');
    // 9 over 1.5 days; 21 left at 6 a day: 3.5 days.
    expect((await forecastOf(accountId)).forecast).toMatchObject({ burnRatePerDay: '6', runOutAt: '2213-05-05T00:00:00.000Z' });
  });

  test('no usage: burns 0 and never runs out; usage older than the window no longer counts', async () => {
    at('2213-05-01T12:00:00Z');
    const idle = await t.createAccount('idle');
    await t.grant(idle, '50');
    expect((await forecastOf(idle)).forecast).toEqual({
      burnRatePerDay: '0', runOutAt: null, expiringSoon: '0', nextExpiryAt: null, windowDays: 7, expiringSoonDays: 7,
    });
    await charge(idle, '8');
    at('2213-05-09T00:00:00Z'); // the window is now 05-02 … 05-09
    expect((await forecastOf(idle)).forecast).toMatchObject({ burnRatePerDay: '0', runOutAt: null });
  });

  test('expiring credits: free credits of buckets expiring within 7 days (held ones excluded), the next expiry', async () => {
    at('2213-06-01T00:00:00Z');
    const accountId = await t.createAccount('expiring');
    await t.grant(accountId, '20', { source: 'PROMO', expiresAt: '2213-06-04T00:00:00.000Z' });
    await t.grant(accountId, '30', { source: 'PROMO', expiresAt: '2213-06-11T00:00:00.000Z' });
    await t.grant(accountId, '10');
    expect((await forecastOf(accountId)).forecast).toMatchObject({ expiringSoon: '20', nextExpiryAt: '2213-06-04T00:00:00.000Z' });
    // A hold takes from the soonest-expiring promo first: those credits are being spent, not expiring.
    await t.ok(`mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`, { i: { accountId, amount: '5', idempotencyKey: uniqueKey('f-hold'), ttlSeconds: 3600 } });
    expect((await forecastOf(accountId)).forecast).toMatchObject({ expiringSoon: '15', nextExpiryAt: '2213-06-04T00:00:00.000Z' });
  });

  test('a page of wallets reads its usage in one statement (DataLoader)', async () => {
    at('2213-05-01T12:00:00Z');
    const ids = [await tenADay('100'), await t.createAccount('b'), await t.createAccount('c')];
    at('2213-05-01T12:00:00Z');
    const loaders = t.app.services.createLoaders();
    let windows: Awaited<ReturnType<typeof loaders.usageWindow.load>>[] = [];
    expect(await t.countQueries(async () => { windows = await Promise.all(ids.map((id) => loaders.usageWindow.load(id))); })).toBe(1);
    expect(windows.map((w) => w.days.length)).toEqual([7, 0, 0]);
  });
});

describe('the forecasts job: RUN_OUT_SOON', () => {
  test('fires once; stays fired between 3 and 6 days; re-arms beyond 6 (credits added) and when burning stops; fires again after', async () => {
    const accountId = await tenADay('95');
    at('2213-05-01T00:00:00Z'); // 70 over exactly 7 days: 10 a day; 25 left: 2.5 days
    const publish = jest.spyOn(t.app.services.events, 'publish');
    try {
      await runJob();
      const [alert] = await alertsOf(accountId, 'RUN_OUT_SOON');
      expect(alert).toEqual({
        id: expect.any(String) as unknown, kind: 'RUN_OUT_SOON', available: '25', threshold: null,
        message: 'At the current burn rate (10 credits a day) your credits run out in about 2 days, around 2213-05-03T12:00:00.000Z.',
      });
      // Pushed live after commit (the hub routes alerts to lowCreditAlerts).
      expect(publish).toHaveBeenCalledWith([], [expect.objectContaining({ id: alert.id, accountId, kind: 'RUN_OUT_SOON' })]);
    } finally {
      publish.mockRestore();
    }
    await runJob();
    expect(await alertsOf(accountId, 'RUN_OUT_SOON')).toHaveLength(1);

    await t.grant(accountId, '15'); // 40 left: 4 days, between the lines
    await runJob();
    await charge(accountId, '15'); // back within 3 days (85 over 7 days, 25 left: ~2.06 days), but it has not re-armed
    expect((await forecastOf(accountId)).forecast.runOutAt).toBe('2213-05-03T01:24:42.352Z');
    await runJob();
    expect(await alertsOf(accountId, 'RUN_OUT_SOON')).toHaveLength(1);

    await t.grant(accountId, '60'); // 85 left at 85 per 7 days: 7 days, beyond 6: re-arms (no alert)
    await runJob();
    expect(await alertsOf(accountId, 'RUN_OUT_SOON')).toHaveLength(1);
    await charge(accountId, '60'); // 145 over 7 days, 25 left: 1.2 days
    await runJob();
    expect(await alertsOf(accountId, 'RUN_OUT_SOON')).toHaveLength(2);

    at('2213-05-10T00:00:00Z'); // nothing charged in the window: nothing burns, re-armed
    await runJob();
    await charge(accountId, '10'); // 10 today (a day at least), 15 left: 1.5 days
    await runJob();
    const alerts = await alertsOf(accountId, 'RUN_OUT_SOON');
    expect(alerts).toHaveLength(3);
    expect(alerts[0]).toMatchObject({ available: '15', message: 'At the current burn rate (10 credits a day) your credits run out in about 1 day, around 2213-05-11T12:00:00.000Z.' });
  });

  test('three instances running the job at once raise it once', async () => {
    const accountId = await tenADay('95');
    at('2213-05-01T00:00:00Z');
    await Promise.all([runJob(), runJob(otherInstance()), runJob(otherInstance())]);
    expect(await alertsOf(accountId, 'RUN_OUT_SOON')).toHaveLength(1);
  });

  test('a wallet already out (DEPLETED) or not burning gets none', async () => {
    const out = await tenADay('70');
    at('2213-05-01T00:00:00Z');
    const idle = await t.createAccount('idle');
    await t.grant(idle, '1');
    await runJob();
    expect(await alertsOf(out, 'RUN_OUT_SOON')).toEqual([]);
    expect(await alertsOf(idle, 'RUN_OUT_SOON')).toEqual([]);
  });
});

describe('the forecasts job: CREDITS_EXPIRING', () => {
  test('once per bucket, when it comes within 7 days; with three instances at once too', async () => {
    at('2213-07-01T00:00:00Z');
    const accountId = await t.createAccount('expiring');
    await t.grant(accountId, '20', { source: 'PROMO', expiresAt: '2213-07-04T00:00:00.000Z' });
    await t.grant(accountId, '30', { source: 'PROMO', expiresAt: '2213-07-11T00:00:00.000Z' });
    await t.grant(accountId, '10');
    await t.ok(`mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`, { i: { accountId, amount: '5', idempotencyKey: uniqueKey('f-hold'), ttlSeconds: 3600 } });
    await runJob();
    await runJob();
    expect(await alertsOf(accountId, 'CREDITS_EXPIRING')).toEqual([
      { id: expect.any(String) as unknown, kind: 'CREDITS_EXPIRING', available: '55', threshold: null, message: '15 credits expire at 2213-07-04T00:00:00.000Z; use them before then.' },
    ]);

    at('2213-07-05T00:00:00Z'); // the first expired (no alert again); the second is now 6 days away
    await Promise.all([runJob(), runJob(otherInstance()), runJob(otherInstance())]);
    const alerts = await alertsOf(accountId, 'CREDITS_EXPIRING');
    expect(alerts.map((a) => a.message)).toEqual([
      '30 credits expire at 2213-07-11T00:00:00.000Z; use them before then.',
      '15 credits expire at 2213-07-04T00:00:00.000Z; use them before then.',
    ]);
    await runJob();
    expect(await alertsOf(accountId, 'CREDITS_EXPIRING')).toHaveLength(2);
    expect((await forecastOf(accountId)).forecast).toMatchObject({ expiringSoon: '30', nextExpiryAt: '2213-07-11T00:00:00.000Z' });
  });
});

describe('usageByDay', () => {
  let accountId: string;
  beforeAll(async () => {
    at('2213-08-29T10:00:00Z');
    accountId = await t.createAccount('usage');
    await t.grant(accountId, '100');
    const refundLater = await charge(accountId, '3', { action: 'chat', model: 'gpt' });
    await charge(accountId, '2', { action: 'chat', model: 'gpt' });
    await charge(accountId, '1', { action: 'image' });
    at('2213-08-30T10:00:00Z');
    await charge(accountId, '4');
    await refund(await charge(accountId, '5', { action: 'chat', model: 'claude' }), '2');
    at('2213-08-31T10:00:00Z');
    await refund(refundLater);
    const hold = await t.ok<{ reserveCredits: { id: string } }>(`mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`, {
      i: { accountId, amount: '6', action: 'chat', model: 'gpt', idempotencyKey: uniqueKey('f-hold') },
    });
    await t.ok(`mutation($i: CaptureInput!) { captureHold(input: $i) { id } }`, { i: { holdId: hold.reserveCredits.id, amount: '4.5', idempotencyKey: uniqueKey('f-cap') } });
  });

  test('per day, action and model, ordered; credits summed over kinds; refunds on the day they happened', async () => {
    expect((await t.op(UsageByDayDocument, { accountId, days: 3 })).usageByDay).toEqual([
      { day: '2213-08-29', action: 'chat', model: 'gpt', credits: '5', refunded: '0', count: 2 },
      { day: '2213-08-29', action: 'image', model: null, credits: '1', refunded: '0', count: 1 },
      { day: '2213-08-30', action: '', model: null, credits: '4', refunded: '0', count: 1 },
      { day: '2213-08-30', action: 'chat', model: 'claude', credits: '5', refunded: '2', count: 1 },
      { day: '2213-08-31', action: 'chat', model: 'gpt', credits: '4.5', refunded: '3', count: 1 },
    ]);
    expect((await t.op(UsageByDayDocument, { accountId, days: 1 })).usageByDay).toEqual([
      { day: '2213-08-31', action: 'chat', model: 'gpt', credits: '4.5', refunded: '3', count: 1 },
    ]);
    // The default is 30 days; a user token reads its own account.
    expect((await t.op(UsageByDayDocument, { accountId }, await t.userToken(accountId))).usageByDay).toHaveLength(5);
    at('2213-09-01T00:00:00Z');
    expect((await t.op(UsageByDayDocument, { accountId, days: 2 })).usageByDay.map((d) => d.day)).toEqual(['2213-08-31']);
  });

  test('another account\'s user token is refused; days outside 1–366 are BAD_USER_INPUT', async () => {
    const other = await t.createAccount('other');
    expect((await t.opFails(UsageByDayDocument, { accountId }, await t.userToken(other))).code).toBe('FORBIDDEN');
    for (const days of [0, 367, -1]) {
      const error = await t.opFails(UsageByDayDocument, { accountId, days });
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.extensions.field).toBe('days');
    }
    expect((await t.op(UsageByDayDocument, { accountId, days: 366 })).usageByDay).toHaveLength(5);
  });
});

describe('platformReport', () => {
  /**
   * A year of this run's own (platform totals are over every account): only this block charges in its
   * September, also when a PostgreSQL database is reused by a later run.
   */
  const Y = 4000 + Math.floor(Math.random() * 4000);
  const consumers: string[] = [];
  beforeAll(async () => {
    // R1…R11 charge 1…11 on the 1st; R3 20 more and R11 a refund of 5 on the 2nd.
    at(`${Y}-09-01T10:00:00Z`);
    const charges: string[] = [];
    for (let i = 1; i <= 11; i += 1) {
      const accountId = await t.createAccount(`R${i}`);
      consumers.push(accountId);
      await t.grant(accountId, '100');
      charges.push(await charge(accountId, String(i), { action: 'report' }));
    }
    at(`${Y}-09-02T10:00:00Z`);
    await charge(consumers[2], '20', { action: 'report' });
    await refund(charges[10], '5');
  });

  const report = (from: string, to: string, token?: string) => t.op(PlatformReportDocument, { from, to }, token);

  test('totals and the top 10 consumers over whole UTC days', async () => {
    const { platformReport } = await report(`${Y}-09-01T00:00:00Z`, `${Y}-09-03T00:00:00Z`);
    expect(platformReport.from).toBe(`${Y}-09-01T00:00:00.000Z`);
    expect(platformReport.to).toBe(`${Y}-09-03T00:00:00.000Z`);
    expect(platformReport.totals).toEqual({ consumed: '86', refunded: '5', charges: 12, activeAccounts: 11 });
    expect(platformReport.topConsumers).toEqual([3, 11, 10, 9, 8, 7, 6, 5, 4, 2].map((i) => ({
      accountId: consumers[i - 1], name: `R${i}`, consumed: String(i === 3 ? 23 : i),
    })));
  });

  test('a range inside one day reports that whole day; a range with no usage reports zeros', async () => {
    const { platformReport } = await report(`${Y}-09-02T05:00:00Z`, `${Y}-09-02T06:00:00Z`);
    expect(platformReport).toEqual({
      from: `${Y}-09-02T00:00:00.000Z`, to: `${Y}-09-03T00:00:00.000Z`,
      totals: { consumed: '20', refunded: '5', charges: 1, activeAccounts: 1 }, // R11's refund alone does not make it active
      topConsumers: [{ accountId: consumers[2], name: 'R3', consumed: '20' }],
    });
    expect((await report(`${Y}-10-01T00:00:00Z`, `${Y}-10-02T00:00:00Z`)).platformReport).toEqual({
      from: `${Y}-10-01T00:00:00.000Z`, to: `${Y}-10-02T00:00:00.000Z`, totals: { consumed: '0', refunded: '0', charges: 0, activeAccounts: 0 }, topConsumers: [],
    });
  });

  test('admin only; from must be before to; at most 366 days', async () => {
    const range = { from: `${Y}-09-01T00:00:00Z`, to: `${Y}-09-03T00:00:00Z` };
    for (const token of [await t.key('SERVICE'), await t.key('READONLY'), await t.userToken(consumers[0])]) {
      expect((await t.opFails(PlatformReportDocument, range, token)).code).toBe('FORBIDDEN');
    }
    const refused = async (from: string, to: string) => {
      const error = await t.opFails(PlatformReportDocument, { from, to });
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.extensions.field).toBe('to');
      return error.message;
    };
    expect(await refused(range.to, range.to)).toBe('from must be before to');
    expect(await refused(range.to, range.from)).toBe('from must be before to');
    const start = Date.parse(`${Y}-01-01T00:00:00Z`);
    const plus = (ms: number) => new Date(start + ms).toISOString();
    expect(await refused(plus(0), plus(366 * DAY_MS + 1))).toBe('a report covers at most 366 days (UTC); this range touches 367');
    expect((await report(plus(0), plus(366 * DAY_MS))).platformReport.totals).toEqual({ consumed: '86', refunded: '5', charges: 12, activeAccounts: 11 });
  });
});
