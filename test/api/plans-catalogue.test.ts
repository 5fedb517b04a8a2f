/**
 * The plan catalogue through GraphQL: createPlan with every field, unique codes, validation naming
 * the field and writing nothing, updatePlan making a new version (that subscribers get only from
 * their next period), archiving, who may do what, and the demo catalogue.
 *
 * On PostgreSQL the database is shared with other test files (and other runs), so every plan here
 * has its own code and lists are checked for containment. `plans` lists at most 500 plans, cheapest
 * first and then by code: plans whose presence in a list is checked cost 0 and have codes starting
 * with "0", so they stay within the first 500 however many other plans the database holds.
 */
import {
  AccountSubscriptionDocument, CreatePlanDocument, PlanDocument, PlansDocument, SubscribeDocument, UpdatePlanDocument,
  type PlanFieldsFragment, type PlanInput, type PlanUpdateInput,
} from '../../src/client';
import { loadDemo } from '../../src/cli/demo';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const newCode = (prefix = 'plan') => uniqueKey(prefix).toLowerCase();
/** A code that sorts first among free plans (see the file comment). */
const listedCode = (prefix = 'listed') => `0${newCode(prefix)}`;

const minimalInput = (code: string, fields: Partial<PlanInput> = {}): PlanInput => ({
  code, name: 'Starter', price: { amount: '0', currency: 'USD' }, allowance: '100', ...fields,
});

const fullInput = (code: string): PlanInput => ({
  code, name: 'Studio Pro', price: { amount: '49.00', currency: 'USD' }, interval: 'MONTH', intervalCount: 3,
  allowance: '5000.5', rollover: 'CAPPED', rolloverCap: '2500', overdraftLimit: '100.25', tier: 'pro',
  models: ['sdxl', 'gpt-4o'], actions: ['image.generate', 'chat'], lowCreditThresholds: ['250', '1000'], seats: 3, active: true,
});

/** What createPlan(fullInput(code)) shows: lists sorted, thresholds highest first. */
const fullPlan = (code: string) => ({
  code, name: 'Studio Pro', price: { amount: '49.00', currency: 'USD' }, interval: 'MONTH', intervalCount: 3,
  allowance: '5000.5', rollover: 'CAPPED', rolloverCap: '2500', overdraftLimit: '100.25', tier: 'pro',
  models: ['gpt-4o', 'sdxl'], actions: ['chat', 'image.generate'], lowCreditThresholds: ['1000', '250'], seats: 3, active: true, version: 1,
});

const createPlan = async (input: PlanInput) => (await t.op(CreatePlanDocument, { input })).createPlan;
const planOf = async (code: string, token?: string | null) => (await t.op(PlanDocument, { code }, token)).plan;
const listed = async (includeArchived = false, token?: string | null) => (await t.op(PlansDocument, { includeArchived }, token)).plans;
const codes = (plans: PlanFieldsFragment[]) => plans.map((p) => p.code);

describe('createPlan', () => {
  test('stores every field, and plan(code) and plans read them back', async () => {
    const code = newCode();
    const created = await createPlan(fullInput(code));
    expect(created).toMatchObject(fullPlan(code));
    expect(created.id).toEqual(expect.any(String));
    expect(await planOf(code)).toEqual(created);
    expect((await listed()).find((p) => p.code === code)).toEqual(created);
  });

  test('defaults: monthly, every 1, no rollover, no overdraft, no tier, every model and action, no thresholds, 1 seat, active', async () => {
    const code = listedCode();
    const created = await createPlan(minimalInput(code));
    expect(created).toMatchObject({
      code, name: 'Starter', price: { amount: '0.00', currency: 'USD' }, interval: 'MONTH', intervalCount: 1, allowance: '100',
      rollover: 'NONE', rolloverCap: null, overdraftLimit: '0', tier: null, models: null, actions: null, lowCreditThresholds: [],
      seats: 1, active: true, version: 1,
    });
    expect(codes(await listed())).toContain(code);
  });

  test('prices keep the currency\'s digits: JPY none, KWD three', async () => {
    const yen = await createPlan(minimalInput(newCode(), { price: { amount: '1500', currency: 'JPY' } }));
    expect(yen.price).toEqual({ amount: '1500', currency: 'JPY' });
    const dinar = await createPlan(minimalInput(newCode(), { price: { amount: '4.5', currency: 'KWD' } }));
    expect(dinar.price).toEqual({ amount: '4.500', currency: 'KWD' });
  });

  test('a plan can be created archived', async () => {
    const code = listedCode();
    const created = await createPlan(minimalInput(code, { active: false }));
    expect(created.active).toBe(false);
    expect(codes(await listed())).not.toContain(code);
    expect(codes(await listed(true))).toContain(code);
  });

  test('the code is unique: a second plan with it is BAD_USER_INPUT naming code, and the first stays', async () => {
    const code = newCode();
    const first = await createPlan(minimalInput(code, { name: 'First' }));
    const error = await t.opFails(CreatePlanDocument, { input: minimalInput(code, { name: 'Second', allowance: '999' }) });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code' });
    expect(error.message).toContain(code);
    expect(await planOf(code)).toEqual(first);
  });

  const tooMany = Array.from({ length: 101 }, (_, i) => `model-${i}`);
  test.each<[string, Partial<PlanInput>, string]>([
    ['rolloverCap missing with CAPPED', { rollover: 'CAPPED' }, 'rolloverCap'],
    ['rolloverCap with NONE', { rollover: 'NONE', rolloverCap: '10' }, 'rolloverCap'],
    ['rolloverCap with FULL', { rollover: 'FULL', rolloverCap: '10' }, 'rolloverCap'],
    ['rolloverCap 0', { rollover: 'CAPPED', rolloverCap: '0' }, 'rolloverCap'],
    ['a negative allowance', { allowance: '-1' }, 'allowance'],
    ['a negative overdraftLimit', { overdraftLimit: '-5' }, 'overdraftLimit'],
    ['price "9.999" USD', { price: { amount: '9.999', currency: 'USD' } }, 'price.amount'],
    ['price "1.5" JPY', { price: { amount: '1.5', currency: 'JPY' } }, 'price.amount'],
    ['a negative price', { price: { amount: '-1.00', currency: 'USD' } }, 'price.amount'],
    ['a huge price', { price: { amount: '100000000000.01', currency: 'USD' } }, 'price.amount'],
    ['currency "XYZ"', { price: { amount: '9.99', currency: 'XYZ' } }, 'price.currency'],
    ['currency "usd"', { price: { amount: '9.99', currency: 'usd' } }, 'price.currency'],
    // lists longer than 100 are stopped by the API's input guard, which names the field by its path
    ['a list of 101 models', { models: tooMany }, 'input.models'],
    ['a list of 101 actions', { actions: tooMany }, 'input.actions'],
    ['an empty model name', { models: ['sdxl', ' '] }, 'models'],
    ['an action name of 101 characters', { actions: ['a'.repeat(101)] }, 'actions'],
    ['an empty name', { name: '  ' }, 'name'],
    ['a name of 201 characters', { name: 'n'.repeat(201) }, 'name'],
    ['a tier of 65 characters', { tier: 't'.repeat(65) }, 'tier'],
    ['an empty tier', { tier: '' }, 'tier'],
    ['intervalCount 0', { intervalCount: 0 }, 'intervalCount'],
    ['intervalCount 121', { intervalCount: 121 }, 'intervalCount'],
    ['0 seats', { seats: 0 }, 'seats'],
    ['a threshold of 0', { lowCreditThresholds: ['100', '0'] }, 'lowCreditThresholds'],
    ['11 thresholds', { lowCreditThresholds: Array.from({ length: 11 }, (_, i) => String(i + 1)) }, 'lowCreditThresholds'],
  ])('refuses %s: BAD_USER_INPUT naming the field, nothing written', async (_name, fields, field) => {
    const code = newCode();
    const error = await t.opFails(CreatePlanDocument, { input: minimalInput(code, fields) });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await planOf(code)).toBeNull();
  });

  test.each(['', 'Pro', 'pro plan', '-pro', 'p'.repeat(65)])('refuses the code %j: BAD_USER_INPUT naming code', async (code) => {
    const error = await t.opFails(CreatePlanDocument, { input: minimalInput(code) });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code' });
    expect(await planOf(code)).toBeNull();
  });
});

describe('updatePlan', () => {
  test('a change makes a new version and keeps the fields not given', async () => {
    const code = newCode();
    const created = await createPlan(fullInput(code));
    const renamed = (await t.op(UpdatePlanDocument, { code, input: { name: 'Studio Pro+' } })).updatePlan;
    expect(renamed).toEqual({ ...created, name: 'Studio Pro+', version: 2, updatedAt: expect.any(String) as unknown });
    const repriced = (await t.op(UpdatePlanDocument, { code, input: { price: { amount: '59', currency: 'USD' }, allowance: '6000', seats: 5 } })).updatePlan;
    expect(repriced).toEqual({ ...renamed, price: { amount: '59.00', currency: 'USD' }, allowance: '6000', seats: 5, version: 3, updatedAt: expect.any(String) as unknown });
    expect(await planOf(code)).toEqual(repriced);
    expect(repriced.id).toBe(created.id);
  });

  test('leaving CAPPED drops the cap; coming back needs a new one', async () => {
    const code = newCode();
    await createPlan(fullInput(code));
    const none = (await t.op(UpdatePlanDocument, { code, input: { rollover: 'NONE' } })).updatePlan;
    expect(none).toMatchObject({ rollover: 'NONE', rolloverCap: null, version: 2 });

    const uncapped = await t.opFails(UpdatePlanDocument, { code, input: { rollover: 'CAPPED' } });
    expect(uncapped.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'rolloverCap' });
    const capped = (await t.op(UpdatePlanDocument, { code, input: { rollover: 'CAPPED', rolloverCap: '100' } })).updatePlan;
    expect(capped).toMatchObject({ rollover: 'CAPPED', rolloverCap: '100', version: 3 });

    const full = (await t.op(UpdatePlanDocument, { code, input: { rollover: 'FULL' } })).updatePlan;
    expect(full).toMatchObject({ rollover: 'FULL', rolloverCap: null, version: 4 });
  });

  test('an empty tier removes it and empty lists allow every model and action again', async () => {
    const code = newCode();
    await createPlan(fullInput(code));
    const opened = (await t.op(UpdatePlanDocument, { code, input: { tier: '', models: [], actions: [] } })).updatePlan;
    expect(opened).toMatchObject({ tier: null, models: null, actions: null, version: 2 });
  });

  test.each<[string, PlanUpdateInput, string]>([
    ['rolloverCap with NONE', { rolloverCap: '10' }, 'rolloverCap'],
    ['rollover CAPPED without a cap', { rollover: 'CAPPED' }, 'rolloverCap'],
    ['rollover NONE with a cap', { rollover: 'NONE', rolloverCap: '10' }, 'rolloverCap'],
    ['a negative allowance', { allowance: '-1' }, 'allowance'],
    ['price "1.5" JPY', { price: { amount: '1.5', currency: 'JPY' } }, 'price.amount'],
    ['currency "XYZ"', { price: { amount: '1', currency: 'XYZ' } }, 'price.currency'],
    ['101 models', { models: Array.from({ length: 101 }, (_, i) => `m${i}`) }, 'input.models'],
    ['an empty model name', { models: [''] }, 'models'],
    ['0 seats', { seats: 0 }, 'seats'],
    ['a blank name', { name: ' ' }, 'name'],
  ])('refuses %s: BAD_USER_INPUT naming the field, the plan unchanged', async (_name, input, field) => {
    const code = newCode();
    const created = await createPlan(minimalInput(code));
    const error = await t.opFails(UpdatePlanDocument, { code, input });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(await planOf(code)).toEqual(created);
  });

  test('an unknown code is NOT_FOUND', async () => {
    const error = await t.opFails(UpdatePlanDocument, { code: newCode('missing'), input: { name: 'Ghost' } });
    expect(error.extensions.code).toBe('NOT_FOUND');
  });

  test('active: false archives the plan (no new version): plans() leaves it out, plans(includeArchived) and plan(code) show it', async () => {
    const code = listedCode();
    const created = await createPlan(minimalInput(code));
    expect(codes(await listed())).toContain(code);

    const archived = (await t.op(UpdatePlanDocument, { code, input: { active: false } })).updatePlan;
    expect(archived).toEqual({ ...created, active: false, updatedAt: expect.any(String) as unknown });
    expect(codes(await listed())).not.toContain(code);
    expect((await listed(true)).find((p) => p.code === code)).toMatchObject({ active: false, version: 1 });
    expect(await planOf(code)).toMatchObject({ code, active: false, version: 1 });

    const user = await t.userToken(await t.createAccount('Plan reader'));
    expect(await planOf(code, user)).toMatchObject({ code, active: false });
    expect(codes(await listed(false, user))).not.toContain(code);

    const restored = (await t.op(UpdatePlanDocument, { code, input: { active: true } })).updatePlan;
    expect(restored).toMatchObject({ active: true, version: 1 });
    expect(codes(await listed())).toContain(code);
  });
});

describe('who may do what', () => {
  test('createPlan and updatePlan are FORBIDDEN to SERVICE and READONLY keys and user tokens, and write nothing', async () => {
    const code = newCode();
    const created = await createPlan(minimalInput(code));
    const tokens = { SERVICE: await t.key('SERVICE'), READONLY: await t.key('READONLY'), user: await t.userToken(await t.createAccount('Plan user')) };
    for (const [who, token] of Object.entries(tokens)) {
      const attempted = newCode(`by-${who}`);
      const create = await t.opFails(CreatePlanDocument, { input: minimalInput(attempted) }, token);
      expect([who, create.extensions.code]).toEqual([who, 'FORBIDDEN']);
      expect(await planOf(attempted)).toBeNull();
      const update = await t.opFails(UpdatePlanDocument, { code, input: { allowance: '1000000' } }, token);
      expect([who, update.extensions.code]).toEqual([who, 'FORBIDDEN']);
      const archive = await t.opFails(UpdatePlanDocument, { code, input: { active: false } }, token);
      expect([who, archive.extensions.code]).toEqual([who, 'FORBIDDEN']);
    }
    expect(await planOf(code)).toEqual(created);
  });

  test('plans and plan(code) are readable by any authenticated caller; archived plans are for admins', async () => {
    const code = listedCode();
    const created = await createPlan(minimalInput(code));
    const tokens = { SERVICE: await t.key('SERVICE'), READONLY: await t.key('READONLY'), user: await t.userToken(await t.createAccount('Plan user')) };
    for (const [who, token] of Object.entries(tokens)) {
      expect([who, await planOf(code, token)]).toEqual([who, created]);
      expect([who, (await listed(false, token)).find((p) => p.code === code)]).toEqual([who, created]);
      const archived = await t.opFails(PlansDocument, { includeArchived: true }, token);
      expect([who, archived.extensions.code]).toEqual([who, 'FORBIDDEN']);
    }
    expect((await t.opFails(PlansDocument, {}, null)).extensions.code).toBe('UNAUTHENTICATED');
    expect((await t.opFails(PlanDocument, { code }, null)).extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('a plan update reaches subscribers at their next period', () => {
  test('the wallet keeps this period\'s allowance; the renewal grants the new one from version 2', async () => {
    const code = newCode();
    await createPlan(minimalInput(code, { name: 'Monthly', allowance: '100' }));
    const accountId = await t.createAccount('Subscriber');
    const subscription = (await t.op(SubscribeDocument, { input: { accountId, planCode: code, idempotencyKey: uniqueKey('sub') } })).subscribe;
    expect(subscription.plan).toMatchObject({ code, version: 1, allowance: '100' });
    const before = await t.wallet(accountId);
    expect(before.available).toBe('100');

    const updated = (await t.op(UpdatePlanDocument, { code, input: { allowance: '250' } })).updatePlan;
    expect(updated).toMatchObject({ version: 2, allowance: '250' });
    expect(await t.wallet(accountId)).toEqual(before);
    const during = (await t.op(AccountSubscriptionDocument, { id: accountId })).account?.subscription;
    expect(during?.plan).toMatchObject({ code, version: 1, allowance: '100' });
    expect(during?.periods.map((p) => [p.kind, p.allowance, p.plan.version])).toEqual([['START', '100', 1]]);

    // Just before the end: still nothing new.
    const end = new Date(subscription.currentPeriodEnd);
    t.clock.set(new Date(end.getTime() - 1000));
    expect(await t.wallet(accountId)).toEqual(before);

    t.clock.set(new Date(end.getTime() + 1000));
    const after = await t.wallet(accountId);
    expect(after.available).toBe('250');
    const grants = (await t.history(accountId)).filter((tx) => tx.type === 'GRANT');
    expect(grants.map((g) => g.amount)).toEqual(['250', '100']); // newest first

    const renewed = (await t.op(AccountSubscriptionDocument, { id: accountId })).account?.subscription;
    expect(renewed).toMatchObject({ status: 'ACTIVE', currentPeriodStart: subscription.currentPeriodEnd, plan: { code, version: 2, allowance: '250' } });
    expect(renewed?.periods.map((p) => [p.kind, p.allowance, p.plan.code, p.plan.version])).toEqual([
      ['RENEWAL', '250', code, 2],
      ['START', '100', code, 1],
    ]);
    expect(renewed?.periods[0].transactionId).toBe(grants[0].id);
    expect((await t.audit()).ok).toBe(true);
  });
});

describe('the demo catalogue', () => {
  const DEMO = { free: '1500', basic: '500', pro: '5000', enterprise: '50000' };
  const demoPlans = async () => Promise.all(Object.keys(DEMO).map((code) => planOf(code)));

  test('free, basic, pro and enterprise with their allowances and rollover; loading it twice changes nothing', async () => {
    const first = await loadDemo(t.app.services);
    const plans = await demoPlans();
    expect(plans.map((p) => [p?.code, p?.allowance, p?.active])).toEqual(Object.entries(DEMO).map(([code, allowance]) => [code, allowance, true]));
    const byCode = Object.fromEntries(plans.map((p) => [p!.code, p!]));
    expect(byCode.free.rollover).toBe('NONE');
    expect(byCode.basic.rollover).toBe('NONE');
    expect(byCode.enterprise.rollover).not.toBe('NONE');

    const second = await loadDemo(t.app.services);
    expect(second.accountId).toBe(first.accountId);
    expect(await demoPlans()).toEqual(plans);
  });
});
