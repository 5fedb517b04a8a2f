/**
 * Dunning with the injectable clock, through GraphQL and the test provider's saved card: a paid plan's
 * periods are paid off-session; a declined renewal makes the subscription PAST_DUE with a grace period
 * and retries (1, 3, 5 days); paid during grace it is ACTIVE again; unpaid at the grace end it moves to
 * the free fallback plan (or ends when there is none) and the unpaid period's unused allowance expires.
 * With the allowance "withheld" during grace, it leaves the wallet on the failure and comes back when paid.
 *
 * Eras: the renewal and retry jobs act on every row of the (shared) database that is due by the clock, so
 * this file runs them in the 1970s, before any other file's subscriptions (the earliest elsewhere are 1991),
 * where they find only this file's rows; each test has its own year, earlier than the previous test's, and
 * cancels what it subscribed when it ends, so no later job run (here or in another file) finds it due.
 */
import {
  AlertsDocument, CancelSubscriptionDocument, ChangePlanDocument, CreditsApiError, PurchasesDocument, SetTestPaymentCardDocument, type TransactionFieldsFragment,
} from '../../src/client';
import type { Config } from '../../src/config';
import type { TestPaymentProvider } from '../../src/modules/purchases';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { WEBHOOK_SECRET } from '../helpers/purchases';
import { DAY, HOUR, at, iso, planSteps } from '../helpers/plans';

const FALLBACK_CODE = uniqueKey('dunning-free').toLowerCase();

/**
 * One server per dunning configuration, both on one database (opening an in-memory PGlite costs seconds;
 * one server is idle while the other's tests run). Every event is delivered twice: the duplicate must change nothing.
 */
let usable: TestApp;
let withheld: TestApp;
beforeAll(async () => {
  const config: Partial<Config> = { paymentWebhookSecret: WEBHOOK_SECRET, testProviderDuplicatePercent: 100 };
  usable = await startTestApp({ ...config, dunningAllowanceDuringGrace: 'usable', dunningFallbackPlan: FALLBACK_CODE });
  const shared = { ...usable.database, close: async () => undefined }; // closed with the first server
  withheld = await startTestApp({ ...config, dunningAllowanceDuringGrace: 'withheld', dunningFallbackPlan: uniqueKey('no-such-plan').toLowerCase() }, { database: shared });
});
afterAll(async () => {
  await withheld?.close();
  await usable?.close();
});

/** The steps of one server's tests. */
function dunningSteps(app: () => TestApp) {
  const plans = planSteps(app, { interval: 'MONTH', price: { amount: '10.00', currency: 'USD' }, allowance: '100' });
  const subscribed: string[] = [];
  const steps = {
    ...plans,
    /** Waits for the payment requests this server started and every webhook delivery (duplicates too). */
    settle: async () => {
      const purchases = app().app.services.purchases;
      await purchases.settled();
      await (purchases.paymentProvider as TestPaymentProvider).drained();
      await purchases.settled();
    },
    setClock: (base: Date, seconds = 0) => app().clock.set(new Date(base.getTime() + seconds * 1000)),
    card: async (accountId: string, declines: boolean) => {
      expect((await app().op(SetTestPaymentCardDocument, { accountId, declines })).setTestPaymentCard).toBe(true);
    },
    /** A new account subscribed (now) to a new paid plan, its first period paid by the saved card. */
    paidSubscriber: async () => {
      const plan = await plans.createPlan({}, 'dunning');
      const accountId = await app().createAccount('dunning');
      subscribed.push(accountId);
      const subscription = await plans.subscribe(accountId, plan.code);
      await steps.settle();
      return { plan, accountId, subscription };
    },
    /** The account's purchases, newest first. */
    purchases: async (accountId: string) =>
      (await app().op(PurchasesDocument, { accountId, first: 50 })).purchases.edges.map((e) => e.node),
    alerts: async (accountId: string) =>
      (await app().op(AlertsDocument, { accountId, first: 50 })).alerts.edges.map((e) => e.node),
    /** The renewal job; it counts the wallets it posted to (a grace end that has nothing left to expire posts nothing). */
    renew: async (posts = true) => {
      const posted = await app().app.services.plans.runRenewals(200);
      if (posts) expect(posted).toBeGreaterThanOrEqual(1);
      await steps.settle();
    },
    retry: async () => {
      expect(await app().app.services.purchases.runPaymentRetries(200)).toBeGreaterThanOrEqual(1);
      await steps.settle();
    },
    /** Ends the live subscriptions this server's tests made, so no later job run finds them due. */
    cleanUp: async () => {
      for (const accountId of subscribed.splice(0)) {
        const live = await plans.subscription(accountId);
        if (live && live.status !== 'CANCELED') {
          await app().op(CancelSubscriptionDocument, { input: { accountId, atPeriodEnd: false, idempotencyKey: uniqueKey('cleanup') } });
        }
      }
    },
  };
  return steps;
}

const expireComments = (history: TransactionFieldsFragment[]) =>
  history.filter((x) => x.type === 'EXPIRE').map((x) => ({ amount: x.amount, comment: x.comment }));

// ================================================================================================

describe('allowance usable during grace, fallback plan by code', () => {
  const s = dunningSteps(() => usable);
  let t: TestApp;
  beforeAll(() => { t = usable; });
  afterEach(async () => s.cleanUp());

  test('a paid plan: the first period and a renewal are paid off-session by the saved card; the subscription stays ACTIVE', async () => {
    s.setClock(new Date('1979-01-01T00:00:00Z'));
    const { accountId, subscription } = await s.paidSubscriber();
    expect(subscription).toMatchObject({ status: 'ACTIVE', currentPeriodEnd: iso('1979-02-01T00:00:00Z') });
    expect(await s.purchases(accountId)).toEqual([
      expect.objectContaining({ kind: 'PLAN_PERIOD', status: 'SUCCEEDED', credits: '0', price: { amount: '10.00', currency: 'USD' }, checkoutUrl: null }),
    ]);

    s.setClock(new Date('1979-02-01T01:00:00Z'));
    await s.renew();
    expect(await s.requireSubscription(accountId)).toMatchObject({
      status: 'ACTIVE', currentPeriodStart: iso('1979-02-01T00:00:00Z'), pastDueSince: null, graceEndsAt: null, nextPaymentRetryAt: null, paymentRetries: 0,
    });
    expect((await s.purchases(accountId)).map((p) => [p.kind, p.status])).toEqual([['PLAN_PERIOD', 'SUCCEEDED'], ['PLAN_PERIOD', 'SUCCEEDED']]);
    expect(await s.alerts(accountId)).toEqual([]);
    await s.cleanAudit();
  });

  test('fail, retry (fails again), pay during grace: PAST_DUE with its schedule, then ACTIVE with the retries cleared', async () => {
    s.setClock(new Date('1978-01-01T00:00:00Z'));
    const { accountId } = await s.paidSubscriber();
    expect((await s.requireSubscription(accountId)).status).toBe('ACTIVE');
    await s.card(accountId, true);

    // The renewal grants the new period and asks for its payment; the card declines.
    const failedAt = new Date('1978-02-01T01:00:00Z');
    s.setClock(failedAt);
    await s.renew();
    const pastDue = await s.requireSubscription(accountId);
    expect(pastDue).toMatchObject({
      status: 'PAST_DUE', currentPeriodStart: iso('1978-02-01T00:00:00Z'), currentPeriodEnd: iso('1978-03-01T00:00:00Z'),
      pastDueSince: failedAt.toISOString(), graceEndsAt: at(failedAt, 7 * DAY), nextPaymentRetryAt: at(failedAt, DAY), paymentRetries: 0,
    });
    expect(pastDue.periods[0]).toMatchObject({ kind: 'RENEWAL', start: iso('1978-02-01T00:00:00Z'), allowance: '100' });
    expect((await s.purchases(accountId)).map((p) => [p.kind, p.status, p.failureReason])).toEqual([
      ['PLAN_PERIOD', 'FAILED', 'the payment failed'], ['PLAN_PERIOD', 'SUCCEEDED', null],
    ]);
    const [alert] = await s.alerts(accountId);
    expect(alert).toMatchObject({ kind: 'PAYMENT_FAILED' });
    expect(alert.message).toContain('the next attempt is at 1978-02-02T01:00:00Z');
    expect(alert.message).toContain(`moves to the ${FALLBACK_CODE} plan`);
    // Usable during grace: the new period's allowance pays a charge.
    expect(await s.charge(accountId, '30')).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '70' });

    // A retry that is not due yet does not run.
    s.setClock(failedAt, DAY - 1);
    await t.app.services.purchases.runPaymentRetries(200);
    await s.settle();
    expect((await s.requireSubscription(accountId)).paymentRetries).toBe(0);

    // Day 1: the retry fails too; the next one is at day 3 (from the first failure).
    s.setClock(failedAt, DAY);
    await s.retry();
    expect(await s.requireSubscription(accountId)).toMatchObject({
      status: 'PAST_DUE', pastDueSince: failedAt.toISOString(), graceEndsAt: at(failedAt, 7 * DAY), nextPaymentRetryAt: at(failedAt, 3 * DAY), paymentRetries: 1,
    });
    expect((await s.purchases(accountId)).map((p) => p.status)).toEqual(['FAILED', 'FAILED', 'SUCCEEDED']);
    expect((await s.alerts(accountId)).map((a) => a.kind)).toEqual(['PAYMENT_FAILED', 'PAYMENT_FAILED']);
    // While past due the plan cannot change (an upgrade's payment must not stand in for the unpaid period).
    const changing = await t.opFails(ChangePlanDocument, { input: { accountId, planCode: 'any-plan', idempotencyKey: uniqueKey('change') } });
    expect(changing.code).toBe('BAD_USER_INPUT');
    expect(changing.message).toMatch(/past due/);

    // Day 3, the card pays again: ACTIVE, the dunning fields cleared, the period and its allowance as they were.
    await s.card(accountId, false);
    s.setClock(failedAt, 3 * DAY);
    await s.retry();
    expect(await s.requireSubscription(accountId)).toMatchObject({
      status: 'ACTIVE', currentPeriodStart: iso('1978-02-01T00:00:00Z'), currentPeriodEnd: iso('1978-03-01T00:00:00Z'),
      pastDueSince: null, graceEndsAt: null, nextPaymentRetryAt: null, paymentRetries: 0,
    });
    expect((await s.purchases(accountId)).map((p) => p.status)).toEqual(['SUCCEEDED', 'FAILED', 'FAILED', 'SUCCEEDED']);
    expect(await t.wallet(accountId)).toMatchObject({ balance: '70' });
    // Nothing is retried any more, and the grace end passes without a downgrade.
    s.setClock(failedAt, 8 * DAY);
    expect((await s.requireSubscription(accountId)).status).toBe('ACTIVE');
    expect((await s.purchases(accountId))).toHaveLength(4);
    expect((await s.alerts(accountId)).map((a) => a.kind)).toEqual(['PAYMENT_FAILED', 'PAYMENT_FAILED']);
    await s.cleanAudit();
  });

  test('no fallback plan (its code names no plan yet): at the grace end the subscription is CANCELED and the unused allowance expires', async () => {
    s.setClock(new Date('1977-01-01T00:00:00Z'));
    const { accountId } = await s.paidSubscriber();
    await t.grant(accountId, '5'); // bought credits: they stay
    await s.card(accountId, true);
    const failedAt = new Date('1977-02-01T01:00:00Z');
    s.setClock(failedAt);
    await s.renew();
    expect((await s.requireSubscription(accountId)).status).toBe('PAST_DUE');
    await s.charge(accountId, '40');

    // A second before the grace end: still PAST_DUE (a read renews what is due, and nothing is).
    s.setClock(failedAt, 7 * DAY - 1);
    expect((await s.requireSubscription(accountId)).status).toBe('PAST_DUE');

    s.setClock(failedAt, 7 * DAY + HOUR);
    await s.renew();
    const ended = await s.requireSubscription(accountId);
    expect(ended).toMatchObject({ status: 'CANCELED', canceledAt: at(failedAt, 7 * DAY), pastDueSince: null, graceEndsAt: null, nextPaymentRetryAt: null });
    const history = await t.history(accountId);
    const [graceExpiry] = expireComments(history);
    expect(graceExpiry.amount).toBe('-60');
    expect(graceExpiry.comment).toContain('unused plan credits of the unpaid period 1977-02-01T00:00:00Z → 1977-03-01T00:00:00Z expired: the grace period ended');
    expect(await t.wallet(accountId)).toMatchObject({ balance: '5', buckets: [expect.objectContaining({ source: 'PURCHASE', remaining: '5' })] });
    const [downgraded] = await s.alerts(accountId);
    expect(downgraded).toMatchObject({ kind: 'PLAN_DOWNGRADED' });
    expect(downgraded.message).toContain('the subscription ended');
    // No payment is asked for a subscription that ended.
    expect((await s.purchases(accountId)).map((p) => p.status)).toEqual(['FAILED', 'SUCCEEDED']);
    await s.cleanAudit();
  });

  test('fail until the grace ends (every retry fails): the subscription moves to the free fallback plan and the unpaid period\'s unused allowance expires', async () => {
    s.setClock(new Date('1976-01-01T00:00:00Z'));
    const fallback = await s.createPlan({ code: FALLBACK_CODE, name: 'Dunning fallback', price: { amount: '0.00', currency: 'USD' }, allowance: '5' });
    const { accountId, plan } = await s.paidSubscriber();
    await s.card(accountId, true);
    const failedAt = new Date('1976-02-01T01:00:00Z');
    s.setClock(failedAt);
    await s.renew();
    await s.charge(accountId, '30');

    // Retries on days 1, 3 and 5 all fail; after the last one there is none left.
    for (const [days, next] of [[1, 3], [3, 5], [5, null]] as const) {
      s.setClock(failedAt, days * DAY);
      await s.retry();
      expect(await s.requireSubscription(accountId)).toMatchObject({
        status: 'PAST_DUE', nextPaymentRetryAt: next === null ? null : at(failedAt, next * DAY), graceEndsAt: at(failedAt, 7 * DAY),
      });
    }
    expect((await s.requireSubscription(accountId)).paymentRetries).toBe(3);
    const failures = await s.alerts(accountId);
    expect(failures.map((a) => a.kind)).toEqual(Array(4).fill('PAYMENT_FAILED'));
    expect(failures[0].message).toContain('no attempts are left');
    expect((await s.purchases(accountId)).map((p) => p.status)).toEqual(['FAILED', 'FAILED', 'FAILED', 'FAILED', 'SUCCEEDED']);

    s.setClock(failedAt, 7 * DAY + HOUR);
    await s.renew();
    const graceEnd = at(failedAt, 7 * DAY);
    const moved = await s.requireSubscription(accountId);
    expect(moved).toMatchObject({
      status: 'ACTIVE', plan: { code: fallback.code, price: { amount: '0.00' } }, currentPeriodStart: graceEnd, currentPeriodEnd: at(failedAt, 7 * DAY + 29 * DAY),
      pastDueSince: null, graceEndsAt: null, nextPaymentRetryAt: null, paymentRetries: 0,
    });
    expect(moved.plan.code).not.toBe(plan.code);
    expect(moved.periods[0]).toMatchObject({ kind: 'START', start: graceEnd, allowance: '5', plan: { code: fallback.code } });
    const history = await t.history(accountId);
    expect(history.slice(0, 2).map((x) => [x.type, x.amount])).toEqual([['GRANT', '5'], ['EXPIRE', '-70']]);
    expect(history[1].comment).toContain('unused plan credits of the unpaid period 1976-02-01T00:00:00Z → 1976-03-01T00:00:00Z expired: the grace period ended');
    expect(await t.wallet(accountId)).toMatchObject({ balance: '5', buckets: [expect.objectContaining({ source: 'PLAN_ALLOWANCE', remaining: '5' })] });
    const [downgraded] = await s.alerts(accountId);
    expect(downgraded).toMatchObject({ kind: 'PLAN_DOWNGRADED' });
    expect(downgraded.message).toContain('moved to Dunning fallback');
    // The free plan asks for no payment, and its next period renews without one.
    s.setClock(new Date(Date.parse(graceEnd) + 30 * DAY * 1000));
    await s.renew();
    expect((await s.requireSubscription(accountId)).periods[0]).toMatchObject({ kind: 'RENEWAL', plan: { code: fallback.code } });
    expect(await s.purchases(accountId)).toHaveLength(5);
    await s.cleanAudit();
  });
});

describe('allowance withheld during grace, no fallback plan', () => {
  const s = dunningSteps(() => withheld);
  let t: TestApp;
  beforeAll(() => { t = withheld; });
  afterEach(async () => s.cleanUp());

  test('the failed period\'s credits leave the wallet, and come back as a RESTORED allowance when it is paid during grace', async () => {
    s.setClock(new Date('1975-01-01T00:00:00Z'));
    const { accountId } = await s.paidSubscriber();
    await t.grant(accountId, '5');
    await s.card(accountId, true);
    const failedAt = new Date('1975-02-01T01:00:00Z');
    s.setClock(failedAt);
    await s.renew();
    expect(await s.requireSubscription(accountId)).toMatchObject({ status: 'PAST_DUE', pastDueSince: failedAt.toISOString() });
    const [withheld] = await t.history(accountId);
    expect(withheld).toMatchObject({ type: 'EXPIRE', amount: '-100' });
    expect(withheld.comment).toContain('100 plan credits of the period 1975-02-01T00:00:00Z → 1975-03-01T00:00:00Z withheld');
    expect(await t.wallet(accountId)).toMatchObject({ balance: '5' });
    // Withheld: only the bought credits can be spent.
    const refused = await s.chargeFails(accountId, '6');
    expect(refused).toBeInstanceOf(CreditsApiError);
    expect(refused.code).toBe('INSUFFICIENT_CREDITS');

    await s.card(accountId, false);
    s.setClock(failedAt, DAY);
    await s.retry();
    const paid = await s.requireSubscription(accountId);
    expect(paid).toMatchObject({ status: 'ACTIVE', pastDueSince: null, graceEndsAt: null, nextPaymentRetryAt: null, paymentRetries: 0 });
    expect(paid.periods[0]).toMatchObject({ kind: 'RESTORED', start: at(failedAt, DAY), end: iso('1975-03-01T00:00:00Z'), allowance: '100' });
    const [restored] = await t.history(accountId);
    expect(restored).toMatchObject({ type: 'GRANT', amount: '100' });
    expect(restored.comment).toContain('withheld while the payment was past due, back now');
    expect(await t.wallet(accountId)).toMatchObject({ balance: '105' });
    expect((await s.bucketsOf(accountId)).find((b) => b.source === 'PLAN_ALLOWANCE')).toMatchObject({ remaining: '100', expiresAt: iso('1975-03-01T00:00:00Z') });
    await s.cleanAudit();
  });

  test('unpaid at the grace end with no fallback plan: CANCELED; the withheld credits never come back', async () => {
    s.setClock(new Date('1974-01-01T00:00:00Z'));
    const { accountId } = await s.paidSubscriber();
    await s.card(accountId, true);
    const failedAt = new Date('1974-02-01T01:00:00Z');
    s.setClock(failedAt);
    await s.renew();
    expect(await t.wallet(accountId)).toMatchObject({ balance: '0' });

    s.setClock(failedAt, 7 * DAY + HOUR);
    await s.renew(false);
    expect(await s.requireSubscription(accountId)).toMatchObject({ status: 'CANCELED', canceledAt: at(failedAt, 7 * DAY) });
    // The first period's allowance expired at its end, the second's was withheld on the failure: nothing more to expire.
    expect(expireComments(await t.history(accountId)).map((e) => e.amount)).toEqual(['-100', '-100']);
    expect(await t.wallet(accountId)).toMatchObject({ balance: '0', buckets: [] });
    // withholding the allowance emptied the wallet: DEPLETED, between the failed payment and the downgrade
    expect((await s.alerts(accountId)).map((a) => a.kind)).toEqual(['PLAN_DOWNGRADED', 'DEPLETED', 'PAYMENT_FAILED']);
    await s.cleanAudit();
  });
});
