/**
 * Plans through GraphQL (issue 8): subscribing, changing plans and canceling, with the clock moved by
 * the test. Every plan has its own code (the PostgreSQL database is shared with other test files), and
 * times are set far from today so that no other file's renewal job reaches these subscriptions.
 */
import {
  AccountDocument, CancelSubscriptionDocument, ChangePlanDocument, CreateAccountDocument,
  SubscribeDocument, UpdatePlanDocument, } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { DAY, HOUR, allowanceGrants, at, iso, planSteps } from '../helpers/plans';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

// ------------------------------------------------------------------------------------------ helpers

const { createPlan, subscribe, changePlan, cancel, subscription, charge, chargeFails, cleanAudit, bucketsOf } = planSteps(() => t);
const subscribeInput = (accountId: string, planCode: string, idempotencyKey = uniqueKey('sub')) => ({ input: { accountId, planCode, idempotencyKey } });

// ================================================================================================

describe('subscribe', () => {
  test('starts ACTIVE with a period anchored at the clock\'s now; the allowance is granted at once, expiring at the period end', async () => {
    const now = new Date('2091-03-10T12:00:00Z');
    t.clock.set(now);
    const plan = await createPlan({ allowance: '100', interval: 'MONTH' });
    const id = await t.createAccount();
    const key = uniqueKey('sub');
    const sub = await subscribe(id, plan.code, key);
    const end = iso('2091-04-10T12:00:00Z');
    expect(sub).toMatchObject({
      accountId: id, status: 'ACTIVE', currentPeriodStart: now.toISOString(), currentPeriodEnd: end, cancelAtPeriodEnd: false,
      canceledAt: null, createdAt: now.toISOString(), scheduledPlan: null, plan: { id: plan.id, code: plan.code, version: 1, allowance: '100' },
    });

    const wallet = await t.wallet(id);
    expect(wallet).toMatchObject({ balance: '100', available: '100', held: '0', debt: '0', overdraftLimit: '0', sequence: 1 });
    expect(wallet.buckets).toEqual([expect.objectContaining({ source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', expiresAt: end, effectiveAt: now.toISOString() })]);
    const history = await t.history(id);
    expect(history).toHaveLength(1);
    const [grant] = history;
    expect(grant).toMatchObject({ type: 'GRANT', status: 'SUCCEEDED', amount: '100', balanceAfter: '100', sequence: 1, idempotencyKey: key });
    expect(grant.entries).toEqual([{ bucketId: wallet.buckets[0].id, bucketSource: 'PLAN_ALLOWANCE', amount: '100', originBucketId: null }]);
    expect(grant.comment).toEqual(expect.stringContaining(plan.name));
    expect(grant.comment).toEqual(expect.stringContaining('allowance'));

    // Account.subscription shows it, with the period and the grant behind it
    const shown = await subscription(id);
    expect(shown).toMatchObject({ id: sub.id, status: 'ACTIVE', currentPeriodStart: now.toISOString(), currentPeriodEnd: end, plan: { code: plan.code } });
    expect(shown?.periods).toEqual([{
      id: expect.any(String) as unknown, kind: 'START', start: now.toISOString(), end, allowance: '100', transactionId: grant.id, rolloverBucketId: null,
      plan: { code: plan.code, version: 1 },
    }]);
    await cleanAudit();
  });

  test('is idempotent: the same key answers the same subscription with one grant; the key with another plan is IDEMPOTENCY_KEY_REUSED', async () => {
    t.clock.set(new Date('2091-05-01T00:00:00Z'));
    const plan = await createPlan({ allowance: '50' });
    const other = await createPlan({ allowance: '60' });
    const id = await t.createAccount();
    const key = uniqueKey('sub');
    const first = await subscribe(id, plan.code, key);
    t.clock.advanceSeconds(60);
    const again = await subscribe(id, plan.code, key);
    expect(again).toEqual(first);
    const reused = await t.opFails(SubscribeDocument, subscribeInput(id, other.code, key));
    expect(reused.code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(allowanceGrants(await t.history(id))).toHaveLength(1);
    expect(await t.wallet(id)).toMatchObject({ balance: '50', sequence: 1 });
    expect((await subscription(id))?.plan.code).toBe(plan.code);
    await cleanAudit();
  });

  test('a second subscription is BAD_USER_INPUT and writes nothing', async () => {
    t.clock.set(new Date('2091-05-02T00:00:00Z'));
    const plan = await createPlan();
    const other = await createPlan({ allowance: '500' });
    const id = await t.createAccount();
    const sub = await subscribe(id, plan.code);
    const before = { wallet: await t.wallet(id), history: await t.history(id), sub: await subscription(id) };
    const refused = await t.opFails(SubscribeDocument, subscribeInput(id, other.code));
    expect(refused.code).toBe('BAD_USER_INPUT');
    expect(refused.extensions.field).toBe('accountId');
    expect((await t.opFails(SubscribeDocument, subscribeInput(id, plan.code))).code).toBe('BAD_USER_INPUT');
    expect(await t.wallet(id)).toEqual(before.wallet);
    expect(await t.history(id)).toEqual(before.history);
    expect(await subscription(id)).toEqual(before.sub);
    expect(before.sub?.id).toBe(sub.id);
    await cleanAudit();
  });

  test('an unknown plan is NOT_FOUND, an archived one BAD_USER_INPUT, an unknown account NOT_FOUND; none writes anything', async () => {
    t.clock.set(new Date('2091-05-03T00:00:00Z'));
    const plan = await createPlan();
    const archived = await createPlan();
    await t.op(UpdatePlanDocument, { code: archived.code, input: { active: false } });
    const id = await t.createAccount();

    expect((await t.opFails(SubscribeDocument, subscribeInput(id, uniqueKey('missing').toLowerCase()))).code).toBe('NOT_FOUND');
    const refused = await t.opFails(SubscribeDocument, subscribeInput(id, archived.code));
    expect(refused.code).toBe('BAD_USER_INPUT');
    expect(refused.extensions.field).toBe('planCode');
    expect((await t.opFails(SubscribeDocument, subscribeInput('00000000-0000-4000-8000-000000000000', plan.code))).code).toBe('NOT_FOUND');
    expect(await t.wallet(id)).toMatchObject({ balance: '0', sequence: 0, buckets: [] });
    expect(await t.history(id)).toEqual([]);
    expect(await subscription(id)).toBeNull();
    // the account can still subscribe
    expect((await subscribe(id, plan.code)).status).toBe('ACTIVE');
    await cleanAudit();
  });

  test('an account without a subscription keeps working as before: no subscription, no overdraft, charges from its credits', async () => {
    t.clock.set(new Date('2091-05-04T00:00:00Z'));
    const id = await t.createAccount();
    expect(await subscription(id)).toBeNull();
    await t.grant(id, '10');
    expect(await charge(id, '3', { model: 'dall-e-3', action: 'image.generate' })).toMatchObject({ status: 'SUCCEEDED', amount: '-3', balanceAfter: '7' });
    expect((await chargeFails(id, '8')).extensions).toMatchObject({ code: 'INSUFFICIENT_CREDITS', available: '7', shortfall: '1' });
    t.clock.advanceSeconds(400 * DAY);
    expect(await t.wallet(id)).toMatchObject({ balance: '7', available: '7', overdraftLimit: '0', lowCreditThresholds: [] });
    expect(await subscription(id)).toBeNull();
    await cleanAudit();
  });

  test('createAccount(planCode) subscribes the new account at once; a wrong plan creates no account', async () => {
    const now = new Date('2091-05-05T08:30:00Z');
    t.clock.set(now);
    const plan = await createPlan({ allowance: '75', interval: 'WEEK' });
    const created = (await t.op(CreateAccountDocument, { input: { name: 'with a plan', kind: 'USER', planCode: plan.code } })).createAccount;
    expect(created.wallet).toMatchObject({ balance: '75', sequence: 1 });
    expect(await subscription(created.id)).toMatchObject({
      status: 'ACTIVE', currentPeriodStart: now.toISOString(), currentPeriodEnd: at(now, 7 * DAY), plan: { code: plan.code },
      periods: [expect.objectContaining({ kind: 'START', allowance: '75' })],
    });
    const byId = (await t.op(CreateAccountDocument, { input: { name: 'by id', kind: 'USER', planId: plan.id } })).createAccount;
    expect((await subscription(byId.id))?.plan.code).toBe(plan.code);

    const externalId = uniqueKey('ext');
    const refused = await t.opFails(CreateAccountDocument, { input: { name: 'no such plan', kind: 'USER', externalId, planCode: uniqueKey('missing').toLowerCase() } });
    expect(refused.code).toBe('NOT_FOUND');
    expect((await t.op(AccountDocument, { externalId })).account).toBeNull();
    await cleanAudit();
  });
});

// ================================================================================================

describe('changePlan', () => {
  /** A 3-day plan with gating, and a bigger one without (same interval: an upgrade). */
  async function tiers() {
    const basic = await createPlan({ interval: 'DAY', intervalCount: 3, allowance: '100', tier: 'basic', models: ['sdxl'] });
    const pro = await createPlan({ interval: 'DAY', intervalCount: 3, allowance: '400', price: { amount: '40.00', currency: 'USD' }, tier: 'pro', overdraftLimit: '25' });
    return { basic, pro };
  }

  test('an upgrade mid-period grants floor(difference × time left / length) at once and switches tier, gating and overdraft', async () => {
    const start = new Date('2091-06-01T00:00:00Z');
    t.clock.set(start);
    const { basic, pro } = await tiers();
    const id = await t.createAccount();
    await subscribe(id, basic.code);
    t.clock.advanceSeconds(HOUR);
    await charge(id, '10', { model: 'sdxl' });
    expect((await chargeFails(id, '1', { model: 'dall-e-3' })).code).toBe('MODEL_NOT_IN_PLAN');

    const key = uniqueKey('change');
    const changed = await changePlan(id, pro.code, key);
    // the period stays; the plan is the new one at once
    expect(changed).toMatchObject({ status: 'ACTIVE', currentPeriodStart: start.toISOString(), currentPeriodEnd: at(start, 3 * DAY), plan: { code: pro.code }, scheduledPlan: null });
    // 300 × 71 h / 72 h = 295.8333… → 295.833
    const [grant] = await t.history(id);
    expect(grant).toMatchObject({ type: 'GRANT', amount: '295.833', balanceAfter: '385.833', idempotencyKey: key });
    expect(grant.comment).toEqual(expect.stringContaining('upgrade'));
    expect(await t.wallet(id)).toMatchObject({ balance: '385.833', overdraftLimit: '25', available: '410.833' });
    expect(await bucketsOf(id)).toEqual([
      { source: 'PLAN_ALLOWANCE', amount: '100', remaining: '90', held: '0', expiresAt: at(start, 3 * DAY) },
      { source: 'PLAN_ALLOWANCE', amount: '295.833', remaining: '295.833', held: '0', expiresAt: at(start, 3 * DAY) },
    ]);
    const periods = (await subscription(id))?.periods;
    expect(periods).toEqual([
      expect.objectContaining({ kind: 'UPGRADE', start: at(start, HOUR), end: at(start, 3 * DAY), allowance: '295.833', transactionId: grant.id, plan: { code: pro.code, version: 1 } }),
      expect.objectContaining({ kind: 'START', start: start.toISOString(), end: at(start, 3 * DAY), allowance: '100', plan: { code: basic.code, version: 1 } }),
    ]);
    // gating gone, overdraft usable
    expect(await charge(id, '400', { model: 'dall-e-3' })).toMatchObject({ status: 'SUCCEEDED', amount: '-400', debtChange: '14.167', balanceAfter: '-14.167' });

    // replayed with its key: the same answer and no second grant; the key with another plan is refused
    expect(await changePlan(id, pro.code, key)).toMatchObject({ id: changed.id, plan: { code: pro.code } });
    expect((await t.opFails(ChangePlanDocument, { input: { accountId: id, planCode: basic.code, idempotencyKey: key } })).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(allowanceGrants(await t.history(id))).toHaveLength(2);
    await cleanAudit();

    // the next period is the upgraded plan's, debt repaid first
    t.clock.set(new Date(start.getTime() + 3 * DAY * 1000));
    expect(await t.wallet(id)).toMatchObject({ balance: '385.833', debt: '0' });
    expect((await subscription(id))?.periods[0]).toMatchObject({ kind: 'RENEWAL', allowance: '400', plan: { code: pro.code } });
    await cleanAudit();
  });

  test('a downgrade is scheduled and takes effect at the renewal: the lower plan\'s allowance, tier and overdraft', async () => {
    const start = new Date('2091-06-10T00:00:00Z');
    t.clock.set(start);
    const { basic, pro } = await tiers();
    const id = await t.createAccount();
    await subscribe(id, pro.code);
    t.clock.advanceSeconds(DAY);
    const before = await t.wallet(id);
    const changed = await changePlan(id, basic.code);
    expect(changed).toMatchObject({ plan: { code: pro.code }, scheduledPlan: { code: basic.code }, currentPeriodEnd: at(start, 3 * DAY) });
    // nothing moves until the period end
    expect(await t.wallet(id)).toEqual(before);
    expect(before).toMatchObject({ balance: '400', overdraftLimit: '25' });
    expect(await charge(id, '1', { model: 'dall-e-3' })).toMatchObject({ status: 'SUCCEEDED' });

    t.clock.set(new Date(start.getTime() + 3 * DAY * 1000));
    const renewed = await subscription(id);
    expect(renewed).toMatchObject({
      status: 'ACTIVE', plan: { code: basic.code }, scheduledPlan: null, currentPeriodStart: at(start, 3 * DAY), currentPeriodEnd: at(start, 6 * DAY),
    });
    expect(renewed?.periods[0]).toMatchObject({ kind: 'RENEWAL', allowance: '100', plan: { code: basic.code } });
    expect(await t.wallet(id)).toMatchObject({ balance: '100', overdraftLimit: '0', available: '100' });
    expect(await bucketsOf(id)).toEqual([{ source: 'PLAN_ALLOWANCE', amount: '100', remaining: '100', held: '0', expiresAt: at(start, 6 * DAY) }]);
    // the lower plan's gating applies now
    expect((await chargeFails(id, '1', { model: 'dall-e-3' })).code).toBe('MODEL_NOT_IN_PLAN');
    await cleanAudit();
  });

  test('changing to the current plan: BAD_USER_INPUT with nothing scheduled; with a downgrade scheduled it clears it', async () => {
    const start = new Date('2091-06-20T00:00:00Z');
    t.clock.set(start);
    const { basic, pro } = await tiers();
    const id = await t.createAccount();
    await subscribe(id, pro.code);
    const refused = await t.opFails(ChangePlanDocument, { input: { accountId: id, planCode: pro.code, idempotencyKey: uniqueKey() } });
    expect(refused.code).toBe('BAD_USER_INPUT');
    expect(refused.extensions.field).toBe('planCode');

    expect((await changePlan(id, basic.code)).scheduledPlan?.code).toBe(basic.code);
    const cleared = await changePlan(id, pro.code);
    expect(cleared).toMatchObject({ plan: { code: pro.code }, scheduledPlan: null, cancelAtPeriodEnd: false });
    t.clock.set(new Date(start.getTime() + 3 * DAY * 1000));
    expect(await subscription(id)).toMatchObject({ plan: { code: pro.code }, scheduledPlan: null, currentPeriodStart: at(start, 3 * DAY) });
    expect(await t.wallet(id)).toMatchObject({ balance: '400' });
    await cleanAudit();
  });

  test('without a subscription, changePlan is BAD_USER_INPUT; an unknown plan NOT_FOUND', async () => {
    t.clock.set(new Date('2091-06-25T00:00:00Z'));
    const { basic } = await tiers();
    const id = await t.createAccount();
    const refused = await t.opFails(ChangePlanDocument, { input: { accountId: id, planCode: basic.code, idempotencyKey: uniqueKey() } });
    expect(refused.code).toBe('BAD_USER_INPUT');
    await subscribe(id, basic.code);
    expect((await t.opFails(ChangePlanDocument, { input: { accountId: id, planCode: uniqueKey('missing').toLowerCase(), idempotencyKey: uniqueKey() } })).code).toBe('NOT_FOUND');
    expect(await t.wallet(id)).toMatchObject({ balance: '100', sequence: 1 });
    await cleanAudit();
  });
});

// ================================================================================================

describe('cancelSubscription', () => {
  test('at the period end (the default): CANCELED then, no new grant, unused plan credits expire, the wallet is pay-as-you-go again', async () => {
    const start = new Date('2091-07-01T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ interval: 'DAY', allowance: '100', overdraftLimit: '20', models: ['sdxl'], lowCreditThresholds: ['30', '10'] });
    const id = await t.createAccount();
    await t.grant(id, '50');
    const sub = await subscribe(id, plan.code);
    expect(await t.wallet(id)).toMatchObject({ balance: '150', overdraftLimit: '20', lowCreditThresholds: ['30', '10'] });
    await charge(id, '30', { model: 'sdxl' });

    const canceled = await cancel(id);
    expect(canceled).toMatchObject({ id: sub.id, status: 'ACTIVE', cancelAtPeriodEnd: true, canceledAt: null, currentPeriodEnd: at(start, DAY) });
    expect((await subscription(id))?.cancelAtPeriodEnd).toBe(true);

    t.clock.set(new Date(start.getTime() + DAY * 1000 + 1000));
    expect(await subscription(id)).toMatchObject({ id: sub.id, status: 'CANCELED', canceledAt: at(start, DAY), cancelAtPeriodEnd: false });
    const wallet = await t.wallet(id);
    expect(wallet).toMatchObject({ balance: '50', available: '50', overdraftLimit: '0', lowCreditThresholds: [] });
    expect(wallet.buckets.map((b) => b.source)).toEqual(['PURCHASE']);
    const history = await t.history(id);
    expect(history[0]).toMatchObject({ type: 'EXPIRE', amount: '-70' });
    expect(allowanceGrants(history)).toHaveLength(1);
    // gating gone
    expect(await charge(id, '5', { model: 'dall-e-3' })).toMatchObject({ status: 'SUCCEEDED', balanceAfter: '45' });
    t.clock.advanceSeconds(5 * DAY);
    expect(allowanceGrants(await t.history(id))).toHaveLength(1);
    expect(await t.wallet(id)).toMatchObject({ balance: '45' });
    await cleanAudit();
  });

  test('at once: CANCELED now and the period\'s unused plan credits (allowance and rollover) expire now; purchased credits stay; a new subscription works', async () => {
    const start = new Date('2091-07-10T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ interval: 'DAY', allowance: '100', rollover: 'FULL', overdraftLimit: '20' });
    const id = await t.createAccount();
    await t.grant(id, '50');
    await subscribe(id, plan.code);
    await charge(id, '40');
    t.clock.set(new Date(start.getTime() + DAY * 1000)); // renewal: 60 roll over
    expect(await t.wallet(id)).toMatchObject({ balance: '210' });
    t.clock.advanceSeconds(HOUR);
    await charge(id, '10'); // from the new allowance

    const canceled = await cancel(id, false);
    expect(canceled).toMatchObject({ status: 'CANCELED', canceledAt: at(start, DAY + HOUR), cancelAtPeriodEnd: false });
    const [expired] = await t.history(id);
    expect(expired).toMatchObject({ type: 'EXPIRE', amount: '-150', balanceAfter: '50' });
    expect(await t.wallet(id)).toMatchObject({ balance: '50', overdraftLimit: '0' });
    expect((await t.wallet(id)).buckets.map((b) => b.source)).toEqual(['PURCHASE']);
    expect((await t.opFails(CancelSubscriptionDocument, { input: { accountId: id, idempotencyKey: uniqueKey() } })).code).toBe('BAD_USER_INPUT');
    // the old period end passes without a grant
    t.clock.set(new Date(start.getTime() + 2 * DAY * 1000 + 1000));
    expect(await t.wallet(id)).toMatchObject({ balance: '50' });
    expect(allowanceGrants(await t.history(id))).toHaveLength(2);
    await cleanAudit();

    // subscribing again starts a new subscription anchored now
    const other = await createPlan({ interval: 'WEEK', allowance: '30' });
    const again = await subscribe(id, other.code);
    expect(again).toMatchObject({ status: 'ACTIVE', plan: { code: other.code }, currentPeriodStart: at(start, 2 * DAY + 1), currentPeriodEnd: at(start, 9 * DAY + 1) });
    expect(again.id).not.toBe(canceled.id);
    expect(await subscription(id)).toMatchObject({ id: again.id, status: 'ACTIVE', periods: [expect.objectContaining({ kind: 'START', allowance: '30' })] });
    expect(await t.wallet(id)).toMatchObject({ balance: '80' });
    await cleanAudit();
  });

  test('without a subscription, cancel is BAD_USER_INPUT', async () => {
    const id = await t.createAccount();
    const refused = await t.opFails(CancelSubscriptionDocument, { input: { accountId: id, idempotencyKey: uniqueKey() } });
    expect(refused.code).toBe('BAD_USER_INPUT');
  });

  test('changing to the current plan undoes a cancellation at the period end', async () => {
    const start = new Date('2091-07-20T00:00:00Z');
    t.clock.set(start);
    const plan = await createPlan({ interval: 'DAY', allowance: '100' });
    const id = await t.createAccount();
    await subscribe(id, plan.code);
    expect((await cancel(id, true)).cancelAtPeriodEnd).toBe(true);
    expect(await changePlan(id, plan.code)).toMatchObject({ cancelAtPeriodEnd: false, status: 'ACTIVE' });
    t.clock.set(new Date(start.getTime() + DAY * 1000));
    expect(await subscription(id)).toMatchObject({ status: 'ACTIVE', currentPeriodStart: at(start, DAY) });
    expect(allowanceGrants(await t.history(id))).toHaveLength(2);
    await cleanAudit();
  });
});
