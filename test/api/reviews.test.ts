/**
 * Review holds through GraphQL (issue 12 part 4): the velocity rule (this hour's credits above
 * multiplier × the account's baseline and above the floor) and the fingerprint rule (the N-th
 * identical generation within M minutes) put the wallet on hold; charges and holds are then refused
 * WALLET_FROZEN with reason REVIEW and the numbers; admins see an alert and the queue, and approve
 * (charges resume) or reject (the wallet stays frozen). Per-plan thresholds override the defaults
 * (multiplier 10, floor 1000 credits/hour, 20 repeats in 10 minutes). The clock is moved with t.clock.
 */
import { randomUUID } from 'node:crypto';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
// The server's defaults (the harness turns the rules off for other tests): multiplier 10, floor 1000 credits/hour, 20 repeats in 10 minutes.
beforeAll(async () => { t = await startTestApp({ velocityMultiplierDefault: 10, velocityFloorMillisDefault: 1_000_000, fingerprintRepeatsDefault: 20, fingerprintWindowMinutesDefault: 10 }); });
afterAll(async () => { await t.close(); });

/** Each test starts on its own day of 2033, later than the previous test's (the plan caches use the clock). */
let dayOffset = 0;
function startDay(): Date {
  dayOffset += 20;
  const day = new Date(Date.UTC(2033, 0, 1) + dayOffset * 24 * 3600_000);
  t.clock.set(day);
  return day;
}
const at = (day: Date, hours: number, minutes = 0) => t.clock.set(new Date(day.getTime() + hours * 3600_000 + minutes * 60_000));

interface Refusal { message: string; extensions: Record<string, unknown> }

const CHARGE = `mutation($input: ChargeInput!) { charge(input: $input) { id amount } }`;
const RESERVE = `mutation($input: ReserveInput!) { reserveCredits(input: $input) { id } }`;
const CAPTURE = `mutation($input: CaptureInput!) { captureHold(input: $input) { id } }`;
const CHARGE_GENERATION = `mutation($input: ChargeGenerationInput!) { chargeGeneration(input: $input) { id amount } }`;
const REVIEWS = `query($status: ReviewStatus) { reviews(status: $status, limit: 100) { id accountId status rule details transactionId createdAt resolvedAt resolvedBy comment } }`;
const RESOLVE = `mutation($input: ResolveReviewInput!) { resolveReview(input: $input) { id status resolvedAt resolvedBy comment } }`;
const WALLET = `query($id: ID!) { wallet(accountId: $id) { frozen onReview reviewId balance } }`;

type Extra = Record<string, unknown>;
const charge = async (accountId: string, amount: string, extra: Extra = {}) =>
  (await t.ok<{ charge: { id: string } }>(CHARGE, { input: { accountId, amount, idempotencyKey: uniqueKey('c'), ...extra } })).charge;
const chargeFails = (accountId: string, amount: string, extra: Extra = {}) =>
  t.fails(CHARGE, { input: { accountId, amount, idempotencyKey: uniqueKey('c'), ...extra } });
const reserve = async (accountId: string, amount: string, extra: Extra = {}) =>
  (await t.ok<{ reserveCredits: { id: string } }>(RESERVE, { input: { accountId, amount, idempotencyKey: uniqueKey('h'), ...extra } })).reserveCredits;
const reserveFails = (accountId: string, amount: string, extra: Extra = {}) =>
  t.fails(RESERVE, { input: { accountId, amount, idempotencyKey: uniqueKey('h'), ...extra } });

interface ReviewView { id: string; accountId: string; status: string; rule: string; details: Record<string, unknown>; transactionId: string | null; resolvedAt: string | null; resolvedBy: string | null; comment: string | null }
const reviewsOf = async (accountId: string, status: string | null = null) =>
  (await t.ok<{ reviews: ReviewView[] }>(REVIEWS, { status })).reviews.filter((r) => r.accountId === accountId);
const wallet = async (id: string) => (await t.ok<{ wallet: { frozen: boolean; onReview: boolean; reviewId: string | null; balance: string } }>(WALLET, { id })).wallet;
const resolve = (id: string, approve: boolean, comment: string | null = 'checked with the customer') =>
  t.ok<{ resolveReview: { id: string; status: string; resolvedAt: string; resolvedBy: string; comment: string } }>(RESOLVE, { input: { id, approve, comment } });

async function funded(credits = '1000000'): Promise<string> {
  const id = await t.createAccount(uniqueKey('reviews'));
  await t.grant(id, credits);
  return id;
}

function expectReviewRefusal(error: Refusal, rule: string, numbers: Extra = {}): string {
  expect(error.extensions).toMatchObject({ code: 'WALLET_FROZEN', reason: 'REVIEW', rule, ...numbers });
  expect(error.extensions.reviewId).toEqual(expect.any(String));
  expect(String(error.extensions.remedy)).toMatch(/review/);
  return error.extensions.reviewId as string;
}

async function createPlan(fields: Extra): Promise<Record<string, unknown>> {
  const code = uniqueKey('rv-plan').toLowerCase();
  const created = await t.ok<{ createPlan: Record<string, unknown> }>(
    `mutation($input: PlanInput!) { createPlan(input: $input) { code velocityMultiplier velocityFloor fingerprintRepeats fingerprintWindowMinutes requestsPerMinute } }`,
    { input: { code, name: 'Reviewed', price: { amount: '0', currency: 'USD' }, allowance: '1', ...fields } },
  );
  return created.createPlan;
}

async function subscribe(accountId: string, planCode: string): Promise<void> {
  await t.ok(`mutation($input: SubscribeInput!) { subscribe(input: $input) { id } }`, { input: { accountId, planCode, idempotencyKey: uniqueKey('sub') } });
}

describe('velocity', () => {
  test('normal use over days builds a baseline and does not trip; a burst over multiplier × baseline puts the wallet on hold; approving resumes charges', async () => {
    const day = startDay();
    at(day, -8 * 24);
    const id = await funded();
    // Seven days of 6 × 800 credits at different hours (each hour under the floor): 33,600 over 168 h = 200 credits/hour.
    for (let d = -7; d < 0; d++) {
      for (let h = 0; h < 6; h++) {
        at(day, d * 24 + h * 3);
        await charge(id, '800');
      }
    }
    at(day, 10);
    await charge(id, '900');
    await charge(id, '900'); // 1800 this hour: over the floor, under 10 × 200
    expect(await wallet(id)).toMatchObject({ onReview: false, reviewId: null });
    expect(await reviewsOf(id)).toEqual([]);

    // 2100 > 2000: refused, and the wallet goes on hold.
    const refused = await chargeFails(id, '300');
    const reviewId = expectReviewRefusal(refused, 'VELOCITY', { observedHourCredits: '2100', baselinePerHourCredits: '200', multiplier: 10, floorCredits: '1000' });
    expect(await wallet(id)).toMatchObject({ onReview: true, reviewId, frozen: false });

    // Later charges and holds too, with the same numbers.
    const later = await chargeFails(id, '1');
    expect(expectReviewRefusal(later, 'VELOCITY', { observedHourCredits: '2100' })).toBe(reviewId);
    expect(expectReviewRefusal(await reserveFails(id, '1'), 'VELOCITY')).toBe(reviewId);
    at(day, 30); // a later hour: still on hold
    expect(expectReviewRefusal(await chargeFails(id, '1'), 'VELOCITY')).toBe(reviewId);

    // The refused attempt that opened it, the queue and the admin alert.
    const failed = (await t.history(id, { statuses: ['FAILED'] })).at(-1)!;
    expect(failed.failureCode).toBe('WALLET_FROZEN');
    const [open] = await reviewsOf(id, 'OPEN');
    expect(open).toMatchObject({ id: reviewId, status: 'OPEN', rule: 'VELOCITY', transactionId: failed.id, resolvedAt: null });
    expect(open.details).toMatchObject({ observedHourCredits: '2100', baselinePerHourCredits: '200', multiplier: 10, floorCredits: '1000' });
    const alerts = await t.ok<{ adminAlerts: { edges: { node: { kind: string; subjectId: string; message: string } }[] } }>(
      `query { adminAlerts(first: 100) { edges { node { kind subjectId message } } } }`);
    expect(alerts.adminAlerts.edges.map((e) => e.node)).toContainEqual(expect.objectContaining({ kind: 'REVIEW_HOLD', subjectId: reviewId }));

    const balanceBefore = (await wallet(id)).balance;
    const resolved = await resolve(reviewId, true);
    expect(resolved.resolveReview).toMatchObject({ id: reviewId, status: 'APPROVED', comment: 'checked with the customer', resolvedAt: t.clock.now().toISOString() });
    expect(resolved.resolveReview.resolvedBy).toMatch(/^key:/);
    expect(await wallet(id)).toMatchObject({ onReview: false, reviewId: null, frozen: false, balance: balanceBefore });
    expect(await reviewsOf(id, 'OPEN')).toEqual([]);
    expect((await reviewsOf(id, 'APPROVED')).map((r) => r.id)).toEqual([reviewId]);
    // Charges resume; the hour counter started over, so the same traffic does not trip again at once.
    await charge(id, '300');
    await charge(id, '1500');
    expect(await wallet(id)).toMatchObject({ onReview: false });
    expect((await t.audit()).ok).toBe(true);
  });

  test('rejecting leaves the wallet frozen (reason ADMIN) until an admin unfreezes it', async () => {
    startDay();
    const id = await funded();
    const reviewId = expectReviewRefusal(await chargeFails(id, '1001'), 'VELOCITY', { baselinePerHourCredits: '0' });
    const rejected = await resolve(reviewId, false, 'card testing');
    expect(rejected.resolveReview).toMatchObject({ status: 'REJECTED', comment: 'card testing' });
    expect(await wallet(id)).toMatchObject({ frozen: true, onReview: false, reviewId: null });
    const frozen = await chargeFails(id, '1');
    expect(frozen.extensions).toMatchObject({ code: 'WALLET_FROZEN', reason: 'ADMIN' });
    expect(frozen.extensions.reviewId).toBeUndefined();
    expect((await reserveFails(id, '1')).extensions).toMatchObject({ code: 'WALLET_FROZEN', reason: 'ADMIN' });
    await t.ok(`mutation($input: UpdateWalletInput!) { updateWallet(input: $input) { frozen } }`, { input: { accountId: id, frozen: false } });
    await charge(id, '10');
  });

  test('the floor protects a new account with no baseline; the counter restarts each UTC hour', async () => {
    const day = startDay();
    const id = await funded();
    at(day, 5, 1);
    await charge(id, '999');
    await charge(id, '1'); // exactly the floor
    at(day, 6, 0); // the next hour
    await charge(id, '1000');
    const reviewId = expectReviewRefusal(await chargeFails(id, '0.001'), 'VELOCITY', { observedHourCredits: '1000.001', baselinePerHourCredits: '0', floorCredits: '1000' });
    expect((await reviewsOf(id, 'OPEN')).map((r) => r.id)).toEqual([reviewId]);
  });

  test('concurrent charges on several wallets (coalesced into batches): each wallet trips once, at its crossing charge', async () => {
    const day = startDay();
    const ids = await Promise.all([0, 1, 2].map(() => funded()));
    at(day, 8);
    const outcomes = await Promise.all(ids.flatMap((id) => Array.from({ length: 10 }, async () => {
      const result = await t.gql(CHARGE, { input: { accountId: id, amount: '150', idempotencyKey: uniqueKey('cc') } });
      return { id, code: result.errors?.[0]?.extensions?.code ?? 'OK' };
    })));
    for (const id of ids) {
      const mine = outcomes.filter((o) => o.id === id);
      expect(mine.filter((o) => o.code === 'OK')).toHaveLength(6); // 900 credits; the 7th (1050) is over the floor with no baseline
      expect(mine.filter((o) => o.code === 'WALLET_FROZEN')).toHaveLength(4);
      const open = await reviewsOf(id, 'OPEN');
      expect(open).toHaveLength(1);
      const failed = (await t.history(id, { statuses: ['FAILED'] })).at(-1)!;
      expect(open[0].transactionId).toBe(failed.id);
      expect(open[0].details.observedHourCredits).toBe('1050');
      expect(await wallet(id)).toMatchObject({ onReview: true, reviewId: open[0].id, balance: '999100' });
    }
    expect((await t.audit()).ok).toBe(true);
  });

  test('a use the wallet cannot pay consumes nothing: refused as usual, no review', async () => {
    const day = startDay();
    const id = await funded('10');
    at(day, 7);
    expect((await chargeFails(id, '5000')).extensions.code).toBe('INSUFFICIENT_CREDITS');
    expect((await reserveFails(id, '5000')).extensions.code).toBe('INSUFFICIENT_CREDITS');
    expect(await reviewsOf(id)).toEqual([]);
    await charge(id, '10');
  });

  test('holds count at hold time; their capture is not counted again', async () => {
    const day = startDay();
    const id = await funded();
    at(day, 1);
    const hold = await reserve(id, '600');
    await t.ok(CAPTURE, { input: { holdId: hold.id, idempotencyKey: uniqueKey('cap') } });
    await charge(id, '400'); // 1000: the hold and this charge, not the capture
    const reviewId = expectReviewRefusal(await reserveFails(id, '1'), 'VELOCITY', { observedHourCredits: '1001' });
    expect(expectReviewRefusal(await chargeFails(id, '1'), 'VELOCITY')).toBe(reviewId);
  });
});

describe('cost', () => {
  test('the rules cost a charge no statement: counters ride on the wallet UPDATE, thresholds are cached, no baseline read under the floor', async () => {
    const day = startDay();
    const plan = await createPlan({ fingerprintRepeats: 50 });
    const plain = await funded();
    const planned = await funded();
    await subscribe(planned, plan.code as string);
    at(day, 9);
    await charge(plain, '1');
    await charge(planned, '1'); // the plan's thresholds are cached from here
    const base = await t.countQueries(() => charge(plain, '1'));
    expect(await t.countQueries(() => charge(plain, '1', { fingerprint: 'x', action: 'chat', model: 'm' }))).toBe(base);
    expect(await t.countQueries(() => charge(planned, '1', { action: 'chat' }))).toBe(base);
  });
});

describe('per-plan thresholds', () => {
  test('a plan\'s thresholds are shown and override the defaults', async () => {
    const day = startDay();
    const plan = await createPlan({ velocityMultiplier: 2, velocityFloor: '50', fingerprintRepeats: 3, fingerprintWindowMinutes: 5, requestsPerMinute: 1000 });
    expect(plan).toMatchObject({ velocityMultiplier: 2, velocityFloor: '50', fingerprintRepeats: 3, fingerprintWindowMinutes: 5, requestsPerMinute: 1000 });
    const id = await funded();
    await subscribe(id, plan.code as string);
    at(day, 2);
    await charge(id, '40');
    expectReviewRefusal(await chargeFails(id, '20'), 'VELOCITY', { observedHourCredits: '60', floorCredits: '50', multiplier: 2 });
    // A plan without thresholds: the defaults.
    const plain = await createPlan({});
    expect(plain).toMatchObject({ velocityMultiplier: null, velocityFloor: null, fingerprintRepeats: null, fingerprintWindowMinutes: null, requestsPerMinute: null });
    const other = await funded();
    await subscribe(other, plain.code as string);
    await charge(other, '1000');
  });

  test('thresholds out of bounds are BAD_USER_INPUT naming the field, and write nothing', async () => {
    const bad: [Extra, string][] = [
      [{ velocityMultiplier: 0 }, 'velocityMultiplier'], [{ velocityMultiplier: 1001 }, 'velocityMultiplier'],
      [{ velocityFloor: '0' }, 'velocityFloor'], [{ fingerprintRepeats: 1 }, 'fingerprintRepeats'], [{ fingerprintRepeats: 101 }, 'fingerprintRepeats'],
      [{ fingerprintWindowMinutes: 0 }, 'fingerprintWindowMinutes'], [{ fingerprintWindowMinutes: 1441 }, 'fingerprintWindowMinutes'],
      [{ requestsPerMinute: 0 }, 'requestsPerMinute'],
    ];
    for (const [fields, field] of bad) {
      const code = uniqueKey('rv-bad').toLowerCase();
      const error = await t.fails(`mutation($input: PlanInput!) { createPlan(input: $input) { code } }`,
        { input: { code, name: 'Bad', price: { amount: '0', currency: 'USD' }, allowance: '0', ...fields } });
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect((await t.ok<{ plan: unknown }>(`query($code: String!) { plan(code: $code) { code } }`, { code })).plan).toBeNull();
    }
    const plan = await createPlan({ fingerprintRepeats: 5 });
    const error = await t.fails(`mutation($code: String!, $input: PlanUpdateInput!) { updatePlan(code: $code, input: $input) { code } }`, { code: plan.code, input: { fingerprintRepeats: 1 } });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'fingerprintRepeats' });
    const updated = await t.ok<{ updatePlan: Extra }>(`mutation($code: String!, $input: PlanUpdateInput!) { updatePlan(code: $code, input: $input) { fingerprintRepeats requestsPerMinute } }`, { code: plan.code, input: { requestsPerMinute: 60 } });
    expect(updated.updatePlan).toEqual({ fingerprintRepeats: 5, requestsPerMinute: 60 });
  });
});

describe('fingerprints', () => {
  test('the client\'s fingerprint: 19 identical pass, the 20th within 10 minutes is refused (defaults)', async () => {
    const day = startDay();
    const id = await funded();
    at(day, 3);
    for (let i = 0; i < 19; i++) {
      t.clock.advanceSeconds(20);
      await charge(id, '1', { fingerprint: 'prompt-42' });
    }
    await charge(id, '1', { fingerprint: 'prompt-43' }); // another fingerprint
    await charge(id, '1'); // a plain amount is not fingerprinted
    const refused = await chargeFails(id, '1', { fingerprint: 'prompt-42' });
    expectReviewRefusal(refused, 'FINGERPRINT', { repeats: 20, repeatsLimit: 20, windowMinutes: 10 });
    expect(refused.extensions.fingerprint).toEqual(expect.any(String));
    const [open] = await reviewsOf(id, 'OPEN');
    expect(open.details).toMatchObject({ rule: 'FINGERPRINT', repeats: 20, repeatsLimit: 20, windowMinutes: 10 });
  });

  test('derived from action, model and params (charges, generation charges and holds); outside the window nothing trips', async () => {
    const day = startDay();
    const plan = await createPlan({ fingerprintRepeats: 3, fingerprintWindowMinutes: 5 });
    const id = await funded();
    await subscribe(id, plan.code as string);
    at(day, 4);
    // Plain amounts are never fingerprinted.
    for (let i = 0; i < 5; i++) await charge(id, '1');
    // Same action and model, no params: derived. Two pass; five minutes later they are out of the window.
    await charge(id, '1', { action: 'image.generate', model: 'sdxl' });
    await reserve(id, '1', { action: 'image.generate', model: 'sdxl' });
    t.clock.advanceSeconds(5 * 60);
    await charge(id, '1', { action: 'image.generate', model: 'sdxl' });
    await charge(id, '1', { action: 'image.generate', model: 'other' });
    await charge(id, '1', { action: 'image.generate', model: 'sdxl' });

    // Generation charges: params count, whatever their key order.
    await publishCard();
    const generation = (params: Extra) => ({ input: { accountId: id, idempotencyKey: uniqueKey('g'), generation: { action: 'image.generate', model: 'sdxl', params } } });
    await t.ok(CHARGE_GENERATION, generation({ count: 1, quality: 'standard' }));
    await t.ok(CHARGE_GENERATION, generation({ count: 2, quality: 'standard' }));
    await t.ok(CHARGE_GENERATION, generation({ quality: 'standard', count: 1 }));
    const refused = await t.fails(CHARGE_GENERATION, generation({ quality: 'standard', count: 1 }));
    expectReviewRefusal(refused, 'FINGERPRINT', { repeats: 3, repeatsLimit: 3, windowMinutes: 5 });
    // On hold now: any charge is refused, and a quote is not affordable, for the same reason.
    expectReviewRefusal(await chargeFails(id, '1'), 'FINGERPRINT');
    const quote = await t.ok<{ quote: { affordable: boolean; refusal: { code: string } | null } }>(
      `query($id: ID!) { quote(accountId: $id, generation: { action: "image.generate", model: "sdxl" }) { affordable refusal { code } } }`, { id });
    expect(quote.quote).toEqual({ affordable: false, refusal: { code: 'WALLET_FROZEN' } });
  });

  test('a fingerprint longer than 128 characters is BAD_USER_INPUT', async () => {
    const id = await funded();
    const error = await chargeFails(id, '1', { fingerprint: 'x'.repeat(129) });
    expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'fingerprint' });
    expect(await t.history(id, { statuses: ['FAILED'] })).toEqual([]);
  });
});

async function publishCard(): Promise<void> {
  const draft = await t.ok<{ createRateCardDraft: { id: string } }>(`mutation($input: CreateRateCardDraftInput!) { createRateCardDraft(input: $input) { id } }`, { input: { name: uniqueKey('card'), empty: true } });
  const draftId = draft.createRateCardDraft.id;
  await t.ok(`mutation($input: SetRatesInput!) { setRateCardRates(input: $input) { id } }`, {
    input: { draftId, rates: [{ action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }], modifiers: { quality: { standard: '1', hd: '2' } } }] },
  });
  await t.ok(`mutation($id: ID!) { publishRateCard(draftId: $id) { version } }`, { id: draftId });
}

describe('resolveReview bad input writes nothing', () => {
  test('unknown id, already resolved, missing or too long comment', async () => {
    startDay();
    const id = await funded();
    const reviewId = expectReviewRefusal(await chargeFails(id, '1001'), 'VELOCITY');
    const input = (fields: Extra) => ({ input: { id: reviewId, approve: true, comment: 'ok', ...fields } });

    expect((await t.fails(RESOLVE, input({ id: randomUUID() }))).extensions.code).toBe('NOT_FOUND');
    expect((await t.fails(RESOLVE, input({ id: 'not-an-id' }))).extensions.code).toBe('NOT_FOUND');
    const expectCommentRefused = (error: Refusal) => {
      expect(error.extensions.code).toBe('BAD_USER_INPUT');
      expect(String(error.extensions.field)).toMatch(/comment$/); // "input.comment" when the generic input guard refuses it first
    };
    for (const comment of [null, '', '   ', 'x'.repeat(1001)]) expectCommentRefused(await t.fails(RESOLVE, input({ comment })));
    expectCommentRefused(await t.fails(`mutation { resolveReview(input: { id: "${reviewId}", approve: true }) { id } }`));
    const [still] = await reviewsOf(id, 'OPEN');
    expect(still).toMatchObject({ id: reviewId, status: 'OPEN', comment: null, resolvedAt: null, resolvedBy: null });
    expect(await wallet(id)).toMatchObject({ onReview: true });

    await resolve(reviewId, false, 'first decision');
    const again = await t.fails(RESOLVE, input({ comment: 'second decision' }));
    expect(again.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(again.message).toMatch(/REJECTED/);
    const [closed] = await reviewsOf(id, 'REJECTED');
    expect(closed).toMatchObject({ status: 'REJECTED', comment: 'first decision' });
    expect(await wallet(id)).toMatchObject({ frozen: true, onReview: false });
  });

  test('reviews and resolveReview are for ADMIN keys only', async () => {
    const service = await t.key('SERVICE');
    expect((await t.fails(REVIEWS, {}, service)).extensions.code).toBe('FORBIDDEN');
    expect((await t.fails(RESOLVE, { input: { id: randomUUID(), approve: true, comment: 'x' } }, service)).extensions.code).toBe('FORBIDDEN');
    expect((await t.fails(`query { reviews(limit: 0) { id } }`)).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'limit' });
  });
});
