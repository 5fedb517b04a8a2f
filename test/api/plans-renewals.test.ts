/**
 * Plan renewals through GraphQL (issue 8): periods anchored in UTC, renewals that happen lazily at the
 * next operation or read of the wallet or from the job (exactly once), rollover policies, debt repaid
 * by the new allowance, credits held across a period end, and catching up after downtime.
 *
 * Every plan has its own code (the PostgreSQL database is shared with other test files). Times are set
 * far from today: the far future for lazy renewals, where no other file's job reaches; the job test runs
 * in 1991, where its run finds no other file's subscriptions due.
 */
import {
  CaptureHoldDocument, ReserveCreditsDocument, type TransactionFieldsFragment,
} from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { DAY, HOUR, allowanceGrants, at, iso, planSteps } from '../helpers/plans';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

// ------------------------------------------------------------------------------------------ helpers

const setClock = (base: Date, seconds = 0) => t.clock.set(new Date(base.getTime() + seconds * 1000));
// Free plans: a paid plan's period payment arrives by webhook, and any operation on the wallet (that webhook too)
// renews what is due, which would blur when these tests' renewals happen (paid periods: purchases-dunning.test.ts).
const { createPlan, subscribe, requireSubscription: subscription, charge, cleanAudit, bucketsOf } = planSteps(() => t, { interval: 'DAY', price: { amount: '0.00', currency: 'USD' } });
/** A history as its moves (type, amount, debt change, balance after), oldest first. */
const movesOf = (history: TransactionFieldsFragment[]) =>
  [...history].reverse().map((x) => ({ type: x.type, status: x.status, amount: x.amount, debtChange: x.debtChange, balanceAfter: x.balanceAfter, heldChange: x.heldChange }));

// ================================================================================================

describe('periods and lazy renewal', () => {
  test('a period anchored on 31 Jan 10:00 UTC renews on 28 Feb 10:00, then 31 Mar 10:00; a charge one second after the end sees the new allowance', async () => {
    t.clock.set(new Date('2091-01-31T10:00:00Z'));
    const plan = await createPlan({ interval: 'MONTH', allowance: '100' });
    const id = await t.createAccount();
    const sub = await subscribe(id, plan.code);
    expect(sub).toMatchObject({ currentPeriodStart: iso('2091-01-31T10:00:00Z'), currentPeriodEnd: iso('2091-02-28T10:00:00Z') });
    await charge(id, '40');

    // a second before the end: the first period still
    t.clock.set(new Date('2091-02-28T09:59:59Z'));
    expect(await bucketsOf(id)).toEqual([{ source: 'PLAN_ALLOWANCE', amount: '100', remaining: '60', held: '0', expiresAt: iso('2091-02-28T10:00:00Z') }]);
    expect((await subscription(id)).currentPeriodEnd).toBe(iso('2091-02-28T10:00:00Z'));

    // a second after the end: the charge renews first (no job ran) and pays from the new allowance
    t.clock.set(new Date('2091-02-28T10:00:01Z'));
    const charged = await charge(id, '1');
    expect(charged).toMatchObject({ status: 'SUCCEEDED', amount: '-1', balanceAfter: '99' });
    const [renewal] = (await subscription(id)).periods;
    expect(renewal).toMatchObject({ kind: 'RENEWAL', start: iso('2091-02-28T10:00:00Z'), end: iso('2091-03-31T10:00:00Z'), allowance: '100' });
    const newBucket = (await t.wallet(id)).buckets;
    expect(newBucket).toEqual([expect.objectContaining({ source: 'PLAN_ALLOWANCE', amount: '100', remaining: '99', expiresAt: iso('2091-03-31T10:00:00Z') })]);
    expect(charged.entries).toEqual([{ bucketId: newBucket[0].id, bucketSource: 'PLAN_ALLOWANCE', amount: '-1', originBucketId: null }]);
    // oldest first: START grant, charge, the unused 60 expired (rollover NONE), RENEWAL grant, the charge
    expect(movesOf(await t.history(id)).map((m) => [m.type, m.amount])).toEqual([['GRANT', '100'], ['CHARGE', '-40'], ['EXPIRE', '-60'], ['GRANT', '100'], ['CHARGE', '-1']]);
    const [, , expired] = await t.history(id);
    expect(expired.comment).toEqual(expect.stringContaining('expired'));

    // a wallet read after the next end shows the next period (31 Mar → 30 Apr)
    t.clock.set(new Date('2091-03-31T10:00:00Z'));
    expect(await bucketsOf(id)).toEqual([{ source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: iso('2091-04-30T10:00:00Z') }]);
    const shown = await subscription(id);
    expect(shown).toMatchObject({ id: sub.id, status: 'ACTIVE', currentPeriodStart: iso('2091-03-31T10:00:00Z'), currentPeriodEnd: iso('2091-04-30T10:00:00Z') });
    expect(shown.periods.map((p) => [p.kind, p.start, p.end])).toEqual([
      ['RENEWAL', iso('2091-03-31T10:00:00Z'), iso('2091-04-30T10:00:00Z')],
      ['RENEWAL', iso('2091-02-28T10:00:00Z'), iso('2091-03-31T10:00:00Z')],
      ['START', iso('2091-01-31T10:00:00Z'), iso('2091-02-28T10:00:00Z')],
    ]);
    await cleanAudit();
  });

  test('the renewal job renews a period nobody touched, once: a second run grants nothing', async () => {
    // 1991: the job's run then finds no other test file's subscriptions due on a shared database
    const start = new Date('1991-01-31T10:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ interval: 'MONTH', allowance: '100' });
    const id = await t.createAccount();
    await subscribe(id, plan.code);
    t.clock.set(new Date('1991-02-28T10:00:01Z'));
    // history reads do not renew
    expect(allowanceGrants(await t.history(id))).toHaveLength(1);
    await t.app.services.plans.runRenewals(100);
    const grants = allowanceGrants(await t.history(id));
    expect(grants).toHaveLength(2);
    expect(grants[0]).toMatchObject({ amount: '100', actor: 'system:renewal' });
    await t.app.services.plans.runRenewals(100);
    expect(allowanceGrants(await t.history(id))).toHaveLength(2);
    expect(await subscription(id)).toMatchObject({ currentPeriodStart: iso('1991-02-28T10:00:00Z'), currentPeriodEnd: iso('1991-03-31T10:00:00Z') });
    expect(await t.wallet(id)).toMatchObject({ balance: '100' });
    expect(allowanceGrants(await t.history(id))).toHaveLength(2);
    await cleanAudit();
  });
});

// ================================================================================================

describe('rollover', () => {
  test('NONE: the unused allowance expires at the period end (EXPIRE), and no ROLLOVER bucket is made', async () => {
    const start = new Date('2092-01-01T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ rollover: 'NONE' });
    const id = await t.createAccount();
    await subscribe(id, plan.code);
    await charge(id, '30');
    setClock(start, DAY);
    expect(await bucketsOf(id)).toEqual([{ source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 2 * DAY) }]);
    const history = await t.history(id);
    expect(movesOf(history).map((m) => [m.type, m.amount])).toEqual([['GRANT', '100'], ['CHARGE', '-30'], ['EXPIRE', '-70'], ['GRANT', '100']]);
    expect(history.some((x) => x.type === 'ROLLOVER')).toBe(false);
    expect((await subscription(id)).periods[0]).toMatchObject({ kind: 'RENEWAL', rolloverBucketId: null });
    await cleanAudit();
  });

  test('CAPPED: min(unused, cap) moves to a ROLLOVER bucket expiring at the end of the next period; the rest expires', async () => {
    const start = new Date('2092-01-10T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ rollover: 'CAPPED', rolloverCap: '50' });
    const over = await t.createAccount(); // 70 unused: 50 roll over, 20 expire
    const under = await t.createAccount(); // 20 unused: all roll over
    await subscribe(over, plan.code);
    await subscribe(under, plan.code);
    await charge(over, '30');
    await charge(under, '80');
    setClock(start, DAY);

    // burn-down order: the rolled-over credits (priority 15) before the new allowance (20), both expiring at the next end
    expect(await bucketsOf(over)).toEqual([
      { source: 'ROLLOVER', amount: '50', remaining: '50', held: '0', expiresAt: at(start, 2 * DAY) },
      { source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 2 * DAY) },
    ]);
    expect(await t.wallet(over)).toMatchObject({ balance: '150' });
    const history = await t.history(over);
    expect(movesOf(history).map((m) => [m.type, m.amount, m.balanceAfter])).toEqual([
      ['GRANT', '100', '100'], ['CHARGE', '-30', '70'], ['ROLLOVER', '0', '70'], ['EXPIRE', '-20', '50'], ['GRANT', '100', '150'],
    ]);
    const rollover = history.find((x) => x.type === 'ROLLOVER')!;
    const rolloverBucket = (await t.wallet(over)).buckets.find((b) => b.source === 'ROLLOVER')!;
    expect(rollover.entries).toEqual(expect.arrayContaining([
      expect.objectContaining({ bucketSource: 'PLAN_ALLOWANCE', amount: '-50' }),
      expect.objectContaining({ bucketId: rolloverBucket.id, bucketSource: 'ROLLOVER', amount: '50' }),
    ]));
    expect(rollover.entries).toHaveLength(2);
    expect((await subscription(over)).periods[0]).toMatchObject({ kind: 'RENEWAL', rolloverBucketId: rolloverBucket.id });

    expect(await bucketsOf(under)).toEqual([
      { source: 'ROLLOVER', amount: '20', remaining: '20', held: '0', expiresAt: at(start, 2 * DAY) },
      { source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 2 * DAY) },
    ]);
    expect((await t.history(under)).some((x) => x.type === 'EXPIRE')).toBe(false);
    await cleanAudit();
  });

  test('FULL: all unused rolls over; rolled-over credits expire one period later and never roll again', async () => {
    const start = new Date('2092-01-20T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ rollover: 'FULL' });
    const id = await t.createAccount();
    await subscribe(id, plan.code);
    await charge(id, '30');
    setClock(start, DAY);
    expect(await bucketsOf(id)).toEqual([
      { source: 'ROLLOVER', amount: '70', remaining: '70', held: '0', expiresAt: at(start, 2 * DAY) },
      { source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 2 * DAY) },
    ]);
    expect((await t.history(id)).some((x) => x.type === 'EXPIRE')).toBe(false);

    // nothing used in period 2: its allowance rolls over, the 70 rolled over from period 1 expire
    setClock(start, 2 * DAY);
    expect(await bucketsOf(id)).toEqual([
      { source: 'ROLLOVER', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 3 * DAY) },
      { source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 3 * DAY) },
    ]);
    expect(await t.wallet(id)).toMatchObject({ balance: '200' });
    expect(movesOf(await t.history(id)).slice(4).map((m) => [m.type, m.amount])).toEqual([['ROLLOVER', '0'], ['EXPIRE', '-70'], ['GRANT', '100']]);
    await cleanAudit();
  });

  test('debt is repaid first by the new allowance', async () => {
    const start = new Date('2092-02-01T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ rollover: 'FULL' });
    const id = await t.createAccount('in debt', { overdraftLimit: '50' });
    await subscribe(id, plan.code);
    expect(await charge(id, '130')).toMatchObject({ status: 'SUCCEEDED', debtChange: '30', balanceAfter: '-30' });
    expect(await t.wallet(id)).toMatchObject({ balance: '-30', debt: '30', available: '20' });
    setClock(start, DAY);
    expect(await t.wallet(id)).toMatchObject({ balance: '70', debt: '0', available: '120' });
    const [repayment, grant] = await t.history(id);
    expect(grant).toMatchObject({ type: 'GRANT', amount: '100' });
    expect(repayment).toMatchObject({ type: 'DEBT_REPAYMENT', amount: '0', debtChange: '-30', relatedTransactionId: grant.id, balanceAfter: '70' });
    expect(await bucketsOf(id)).toEqual([{ source: 'PLAN_ALLOWANCE', amount: '100', remaining: '70', held: '0', expiresAt: at(start, 2 * DAY) }]);
    await cleanAudit();
  });

  test('credits an active hold secured on the ending allowance are neither rolled over nor expired; the hold can still be captured', async () => {
    const start = new Date('2092-02-10T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ rollover: 'CAPPED', rolloverCap: '20' });
    const id = await t.createAccount();
    await subscribe(id, plan.code);
    await charge(id, '10');
    setClock(start, DAY - HOUR);
    const hold = (await t.op(ReserveCreditsDocument, { input: { accountId: id, amount: '40', ttlSeconds: 2 * HOUR, idempotencyKey: uniqueKey('hold') } })).reserveCredits;

    setClock(start, DAY + 30 * 60);
    // of the 50 free, 20 roll over and 30 expire; the 40 held stay on the old bucket for the hold
    expect(await t.wallet(id)).toMatchObject({ balance: '160', held: '40', available: '120' });
    const renewal = movesOf(await t.history(id)).slice(3);
    expect(renewal.map((m) => [m.type, m.amount, m.balanceAfter])).toEqual([['ROLLOVER', '0', '90'], ['EXPIRE', '-30', '60'], ['GRANT', '100', '160']]);
    const rollover = (await t.history(id)).find((x) => x.type === 'ROLLOVER');
    expect(rollover?.entries).toEqual(expect.arrayContaining([expect.objectContaining({ bucketSource: 'ROLLOVER', amount: '20' })]));

    const captured = (await t.op(CaptureHoldDocument, { input: { holdId: hold.id, amount: '25', idempotencyKey: uniqueKey('capture') } })).captureHold;
    expect(captured).toMatchObject({ type: 'CAPTURE', status: 'SUCCEEDED', amount: '-25', heldChange: '-40', balanceAfter: '135' });
    expect(captured.entries).toEqual([expect.objectContaining({ bucketSource: 'PLAN_ALLOWANCE', amount: '-25' })]);
    // the 15 the capture freed on the lapsed bucket expire at once
    const [expired] = await t.history(id);
    expect(expired).toMatchObject({ type: 'EXPIRE', amount: '-15', balanceAfter: '120' });
    expect(await t.wallet(id)).toMatchObject({ balance: '120', held: '0', available: '120' });
    expect(await bucketsOf(id)).toEqual([
      { source: 'ROLLOVER', amount: '20', remaining: '20', held: '0', expiresAt: at(start, 2 * DAY) },
      { source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 2 * DAY) },
    ]);
    await cleanAudit();
  });
});

// ================================================================================================

describe('downtime', () => {
  test('after three missed periods one operation catches up every period in order, as on-time renewals would have', async () => {
    const start = new Date('2092-03-01T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ rollover: 'CAPPED', rolloverCap: '30' });
    const onTime = await t.createAccount();
    const caughtUp = await t.createAccount();
    await subscribe(onTime, plan.code);
    await subscribe(caughtUp, plan.code);
    await charge(onTime, '50');
    await charge(caughtUp, '50');

    // one account is renewed at each period end; the other is left alone
    for (let n = 1; n <= 3; n++) {
      setClock(start, n * DAY);
      await t.wallet(onTime);
    }
    setClock(start, 3 * DAY + HOUR);
    expect(allowanceGrants(await t.history(caughtUp))).toHaveLength(1);
    // one operation renews the three periods first, then is paid from the current period's buckets:
    // the 30 rolled over (they burn before the allowance) and the allowance of 100
    const charged = await charge(caughtUp, '5');
    expect(charged).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '125' });
    expect(charged.entries).toEqual([expect.objectContaining({ bucketSource: 'ROLLOVER', amount: '-5' })]);
    expect(await charge(onTime, '5')).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '125' });

    const periods = [...(await subscription(caughtUp)).periods].reverse();
    expect(periods.map((p) => [p.kind, p.start, p.end, p.allowance])).toEqual([
      ['START', at(start, 0), at(start, DAY), '100'],
      ['RENEWAL', at(start, DAY), at(start, 2 * DAY), '100'],
      ['RENEWAL', at(start, 2 * DAY), at(start, 3 * DAY), '100'],
      ['RENEWAL', at(start, 3 * DAY), at(start, 4 * DAY), '100'],
    ]);
    const history = await t.history(caughtUp);
    const grants = allowanceGrants(history).reverse();
    expect(periods.map((p) => p.transactionId)).toEqual(grants.map((g) => g.id));
    expect(periods.slice(1).every((p) => p.rolloverBucketId !== null)).toBe(true);

    // the same state as on time: buckets, figures and every ledger move
    expect(await bucketsOf(caughtUp)).toEqual(await bucketsOf(onTime));
    // the charge of 5 took from the rolled-over 30 first; the allowance is untouched
    expect(await bucketsOf(caughtUp)).toEqual([
      { source: 'ROLLOVER', amount: '30', remaining: '25', held: '0', expiresAt: at(start, 4 * DAY) },
      { source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 4 * DAY) },
    ]);
    const figures = ({ balance, available, held, debt, sequence }: Awaited<ReturnType<typeof t.wallet>>) => ({ balance, available, held, debt, sequence });
    expect(figures(await t.wallet(caughtUp))).toEqual(figures(await t.wallet(onTime)));
    expect(movesOf(history)).toEqual(movesOf(await t.history(onTime)));
    expect(movesOf(history).map((m) => [m.type, m.amount])).toEqual([
      ['GRANT', '100'], ['CHARGE', '-50'],
      ['ROLLOVER', '0'], ['EXPIRE', '-20'], ['GRANT', '100'], // period 1 → 2: 30 of 50 roll, 20 expire
      ['ROLLOVER', '0'], ['EXPIRE', '-100'], ['GRANT', '100'], // 2 → 3: 30 of 100 roll, 70 and the 30 rolled before expire
      ['ROLLOVER', '0'], ['EXPIRE', '-100'], ['GRANT', '100'], // 3 → 4: likewise
      ['CHARGE', '-5'],
    ]);
    const subs = await Promise.all([subscription(caughtUp), subscription(onTime)]);
    expect(subs[0].periods.map((p) => [p.kind, p.start, p.end])).toEqual(subs[1].periods.map((p) => [p.kind, p.start, p.end]));
    await cleanAudit();
  });
});
