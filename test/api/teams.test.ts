/**
 * Teams and member budgets through GraphQL (issue 12): members within the seats, the refusals that
 * write nothing, budgets checked with holds, reset by period key across a month end and a plan period
 * end (the clock moved by the test), captures and refunds, MEMBER_BUDGET alerts, byMember in usageReport.
 * Dates are in 2031 (this file's year: the plans catalogue is shared on PostgreSQL).
 */
import { sql } from 'drizzle-orm';
import { rows } from '../../src/db/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { planSteps } from '../helpers/plans';
import { stream } from '../helpers/live';
import { LowCreditAlertsDocument } from '../../src/client';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const { createPlan, subscribe, cleanAudit } = planSteps(() => t);

const MEMBER_FIELDS = 'accountId teamId role budget budgetUsed budgetResetsAt';

async function team(name = 'team'): Promise<string> {
  return t.createAccount(name, { kind: 'TEAM' });
}

async function user(name = 'member'): Promise<string> {
  return t.createAccount(name);
}

interface MemberView { accountId: string; teamId: string; role: string; budget: string | null; budgetUsed: string; budgetResetsAt: string | null }

const ADD = `mutation($i: AddTeamMemberInput!) { addTeamMember(input: $i) { ${MEMBER_FIELDS} } }`;
const UPDATE = `mutation($i: UpdateTeamMemberInput!) { updateTeamMember(input: $i) { ${MEMBER_FIELDS} } }`;
const REMOVE = `mutation($i: RemoveTeamMemberInput!) { removeTeamMember(input: $i) }`;
const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id amount memberId } }`;
const RESERVE = `mutation($i: ReserveInput!) { reserveCredits(input: $i) { id amount memberId } }`;

async function add(teamId: string, accountId: string, role = 'MEMBER', budget: string | null = null): Promise<MemberView> {
  return (await t.ok<{ addTeamMember: MemberView }>(ADD, { i: { teamId, accountId, role, budget } })).addTeamMember;
}

async function member(teamId: string, accountId: string, token?: string): Promise<MemberView | null> {
  return (await t.ok<{ teamMember: MemberView | null }>(`query($t: ID!, $a: ID!) { teamMember(teamId: $t, accountId: $a) { ${MEMBER_FIELDS} } }`, { t: teamId, a: accountId }, token)).teamMember;
}

async function members(teamId: string): Promise<MemberView[]> {
  return (await t.ok<{ account: { members: MemberView[] } }>(`query($id: ID!) { account(id: $id) { members { ${MEMBER_FIELDS} } } }`, { id: teamId })).account.members;
}

async function charge(accountId: string, amount: string, memberId?: string | null): Promise<{ id: string }> {
  return (await t.ok<{ charge: { id: string } }>(CHARGE, { i: { accountId, amount, memberId, idempotencyKey: uniqueKey('c') } })).charge;
}

async function chargeFails(accountId: string, amount: string, memberId?: string | null) {
  return t.fails(CHARGE, { i: { accountId, amount, memberId, idempotencyKey: uniqueKey('c') } });
}

async function reserve(accountId: string, amount: string, memberId: string, ttlSeconds?: number): Promise<string> {
  return (await t.ok<{ reserveCredits: { id: string } }>(RESERVE, { i: { accountId, amount, memberId, ttlSeconds, idempotencyKey: uniqueKey('h') } })).reserveCredits.id;
}

async function count(table: string, where: string, ...params: string[]): Promise<number> {
  const query = sql.raw(`select count(*)::text as n from ${table} where ${where.replace(/\$(\d)/g, (_m, i: string) => `'${params[Number(i) - 1]}'`)}`);
  const [r] = await rows<{ n: string }>(t.app.services.db, query);
  return Number(r.n);
}

/** Rows a refusal must not have written: the team's members, and the account's transactions. */
async function snapshot(teamId: string) {
  return {
    members: await count('team_members', 'team_id = $1', teamId),
    transactions: await count('ledger_transactions', 'account_id = $1', teamId),
    alerts: await count('alerts', 'account_id = $1', teamId),
  };
}

async function teamWithMember(budget: string | null, credits = '1000') {
  const teamId = await team();
  const owner = await user('owner');
  const memberId = await user();
  await add(teamId, owner, 'OWNER');
  await add(teamId, memberId, 'MEMBER', budget);
  if (credits !== '0') await t.grant(teamId, credits);
  return { teamId, owner, memberId };
}

// ================================================================================================

describe('members', () => {
  test('added, listed on Account.members (oldest first), changed and removed; USER accounts list none', async () => {
    t.clock.set(new Date('2031-01-10T10:00:00Z'));
    const teamId = await team();
    const a = await user('a');
    const b = await user('b');
    expect(await add(teamId, a, 'OWNER')).toEqual({ accountId: a, teamId, role: 'OWNER', budget: null, budgetUsed: '0', budgetResetsAt: '2031-02-01T00:00:00.000Z' });
    t.clock.set(new Date('2031-01-10T10:00:01Z'));
    expect(await add(teamId, b, 'MEMBER', '25.5')).toMatchObject({ accountId: b, role: 'MEMBER', budget: '25.5', budgetUsed: '0' });
    expect((await members(teamId)).map((m) => [m.accountId, m.role, m.budget])).toEqual([[a, 'OWNER', null], [b, 'MEMBER', '25.5']]);
    expect(await members(a)).toEqual([]);

    // role alone keeps the budget; budget alone keeps the role; an explicit null removes the budget
    expect(await t.ok(UPDATE, { i: { teamId, accountId: b, role: 'ADMIN' } })).toMatchObject({ updateTeamMember: { role: 'ADMIN', budget: '25.5' } });
    expect(await t.ok(UPDATE, { i: { teamId, accountId: b, budget: '10' } })).toMatchObject({ updateTeamMember: { role: 'ADMIN', budget: '10' } });
    expect(await t.ok(UPDATE, { i: { teamId, accountId: b, budget: null } })).toMatchObject({ updateTeamMember: { role: 'ADMIN', budget: null } });

    expect(await t.ok(REMOVE, { i: { teamId, accountId: b } })).toEqual({ removeTeamMember: true });
    expect((await members(teamId)).map((m) => m.accountId)).toEqual([a]);
    // removed: it may join another team
    const other = await team('other');
    await add(other, b);
    expect((await t.fails(REMOVE, { i: { teamId, accountId: b } })).extensions.code).toBe('NOT_FOUND');
  });

  test('teamMember: keys, the team\'s token, and the member\'s own token read it; another user\'s token is FORBIDDEN', async () => {
    const { teamId, memberId } = await teamWithMember('10');
    expect(await member(teamId, memberId, await t.userToken(memberId))).toMatchObject({ accountId: memberId, budget: '10' });
    expect(await member(teamId, memberId, await t.userToken(teamId))).toMatchObject({ accountId: memberId });
    expect(await member(teamId, memberId, await t.key('READONLY'))).toMatchObject({ accountId: memberId });
    const stranger = await user('stranger');
    const refused = await t.fails(`query($t: ID!, $a: ID!) { teamMember(teamId: $t, accountId: $a) { accountId } }`, { t: teamId, a: memberId }, await t.userToken(stranger));
    expect(refused.extensions.code).toBe('FORBIDDEN');
    expect(await member(teamId, stranger)).toBeNull();
  });

  test('management needs an ADMIN or SERVICE key', async () => {
    const teamId = await team();
    const a = await user();
    for (const token of [await t.key('READONLY'), await t.userToken(teamId)]) {
      expect((await t.fails(ADD, { i: { teamId, accountId: a, role: 'OWNER' } }, token)).extensions.code).toBe('FORBIDDEN');
    }
    await t.ok(ADD, { i: { teamId, accountId: a, role: 'OWNER' } }, await t.key('SERVICE'));
  });
});

describe('bad input writes nothing', () => {
  test('the team must be a TEAM account, the member a USER account of no team, the budget ≥ 0, the role known', async () => {
    const teamId = await team();
    const owner = await user();
    await add(teamId, owner, 'OWNER');
    const otherTeam = await team('other');
    const taken = await user('taken');
    await add(otherTeam, taken);
    const free = await user('free');
    const before = await snapshot(teamId);
    const cases: [Record<string, unknown>, string][] = [
      [{ teamId: owner, accountId: free, role: 'MEMBER' }, 'teamId'],
      [{ teamId, accountId: otherTeam, role: 'MEMBER' }, 'accountId'],
      [{ teamId, accountId: taken, role: 'MEMBER' }, 'accountId'],
      [{ teamId, accountId: owner, role: 'MEMBER' }, 'accountId'],
      [{ teamId, accountId: free, role: 'MEMBER', budget: '-1' }, 'budget'],
      [{ teamId, accountId: free, role: 'BOSS' }, 'role'],
    ];
    for (const [input, field] of cases) {
      const error = await t.fails(ADD, { i: input });
      expect({ input, code: error.extensions.code, field: error.extensions.field }).toEqual({ input, code: 'BAD_USER_INPUT', field });
    }
    expect((await t.fails(ADD, { i: { teamId, accountId: taken, role: 'MEMBER' } })).message).toMatch(/another team/);
    expect((await t.fails(UPDATE, { i: { teamId, accountId: owner, budget: '-0.001' } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'budget' });
    expect(await snapshot(teamId)).toEqual(before);
    expect(await count('team_members', 'account_id = $1', free)).toBe(0);
    expect((await members(otherTeam)).map((m) => m.accountId)).toEqual([taken]);
  });

  test('seats: the configured number without a plan (5), the plan version\'s seats with one', async () => {
    t.clock.set(new Date('2031-02-03T10:00:00Z'));
    const teamId = await team();
    for (let i = 0; i < 5; i++) await add(teamId, await user(`m${i}`), i === 0 ? 'OWNER' : 'MEMBER');
    const sixth = await user('sixth');
    const before = await snapshot(teamId);
    const refused = await t.fails(ADD, { i: { teamId, accountId: sixth, role: 'MEMBER' } });
    expect(refused.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'accountId' });
    expect(refused.message).toMatch(/5 of 5/);
    expect(await snapshot(teamId)).toEqual(before);

    const small = await team('small');
    const plan = await createPlan({ seats: 2, allowance: '10' }, 'teams-seats');
    await subscribe(small, plan.code);
    await add(small, await user(), 'OWNER');
    await add(small, await user());
    expect((await t.fails(ADD, { i: { teamId: small, accountId: sixth, role: 'MEMBER' } })).message).toMatch(/2 of 2/);
    expect(await count('team_members', 'team_id = $1', small)).toBe(2);
  });

  test('the last OWNER can be neither removed nor demoted; with a second OWNER it can', async () => {
    const teamId = await team();
    const a = await user();
    const b = await user();
    await add(teamId, a, 'OWNER');
    await add(teamId, b, 'ADMIN');
    const before = await snapshot(teamId);
    expect((await t.fails(REMOVE, { i: { teamId, accountId: a } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'accountId' });
    expect((await t.fails(UPDATE, { i: { teamId, accountId: a, role: 'ADMIN' } })).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'role' });
    expect(await snapshot(teamId)).toEqual(before);
    expect((await members(teamId)).find((m) => m.accountId === a)?.role).toBe('OWNER');
    await t.ok(UPDATE, { i: { teamId, accountId: b, role: 'OWNER' } });
    await t.ok(UPDATE, { i: { teamId, accountId: a, role: 'MEMBER' } });
    expect(await t.ok(REMOVE, { i: { teamId, accountId: a } })).toEqual({ removeTeamMember: true });
  });
});

describe('budgets', () => {
  test('a charge within the budget passes and counts; beyond it BUDGET_EXCEEDED names member, budget, used, held, remaining, resetsAt', async () => {
    t.clock.set(new Date('2031-03-10T10:00:00Z'));
    const { teamId, memberId } = await teamWithMember('10');
    await charge(teamId, '6', memberId);
    const before = await t.wallet(teamId);
    const refused = await chargeFails(teamId, '5', memberId);
    expect(refused.extensions).toMatchObject({
      code: 'BUDGET_EXCEEDED', memberId, budget: '10', used: '6', held: '0', remaining: '4', resetsAt: '2031-04-01T00:00:00.000Z',
    });
    expect(String(refused.extensions.remedy)).toMatch(/raise this member's budget/);
    expect((await t.wallet(teamId)).balance).toBe(before.balance);
    // the refusal is recorded like any other (a FAILED transaction naming the member)
    const failed = (await t.history(teamId)).find((x) => x.status === 'FAILED');
    expect(failed).toMatchObject({ failureCode: 'BUDGET_EXCEEDED' });
    await charge(teamId, '4', memberId);
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '10', budget: '10' });
    // no budget: counted, never refused; no memberId on a team wallet: the operator's charge, not counted
    const other = await user('unlimited');
    await add(teamId, other);
    await charge(teamId, '100', other);
    expect(await member(teamId, other)).toMatchObject({ budget: null, budgetUsed: '100' });
    await charge(teamId, '5');
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '10' });
    await cleanAudit();
  });

  test('a member\'s charge costs two statements more than the operator\'s (one read, one write); a charge without memberId none', async () => {
    const { teamId, memberId } = await teamWithMember('100');
    await charge(teamId, '1', memberId); // warm: authentication cached
    const plain = await t.countQueries(() => charge(teamId, '1'));
    const ofMember = await t.countQueries(() => charge(teamId, '1', memberId));
    expect(ofMember - plain).toBe(2);
  });

  test('a memberId in capitals names the same member', async () => {
    const { teamId, memberId } = await teamWithMember('10');
    const posted = await t.ok<{ charge: { memberId: string } }>(CHARGE, { i: { accountId: teamId, amount: '4', memberId: memberId.toUpperCase(), idempotencyKey: uniqueKey('c') } });
    expect(posted.charge.memberId).toBe(memberId);
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '4' });
  });

  test('a memberId that is not a member of that team is BAD_USER_INPUT (field memberId)', async () => {
    const { teamId } = await teamWithMember('10');
    const stranger = await user('stranger');
    const other = await teamWithMember('10');
    for (const memberId of [stranger, other.memberId, teamId]) {
      expect((await chargeFails(teamId, '1', memberId)).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'memberId' });
    }
    expect((await chargeFails(teamId, '1', 'not-an-id')).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'memberId' });
    // a USER wallet has no members
    expect((await chargeFails(stranger, '1', other.memberId)).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'memberId' });
  });

  test('holds count against the budget; released or expired ones free it; a capture counts what it took', async () => {
    t.clock.set(new Date('2031-03-12T10:00:00Z'));
    const { teamId, memberId } = await teamWithMember('10');
    const hold = await reserve(teamId, '6', memberId);
    expect((await chargeFails(teamId, '5', memberId)).extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', used: '0', held: '6', remaining: '4' });
    expect((await t.fails(RESERVE, { i: { accountId: teamId, amount: '5', memberId, idempotencyKey: uniqueKey('h') } })).extensions.code).toBe('BUDGET_EXCEEDED');
    await t.ok(`mutation($i: ReleaseInput!) { releaseHold(input: $i) { id } }`, { i: { holdId: hold, idempotencyKey: uniqueKey('r') } });
    await charge(teamId, '5', memberId);

    // expiry: a hold past its TTL no longer counts
    await reserve(teamId, '5', memberId, 60);
    expect((await chargeFails(teamId, '1', memberId)).extensions.code).toBe('BUDGET_EXCEEDED');
    t.clock.set(new Date('2031-03-12T10:01:01Z'));
    await charge(teamId, '1', memberId);

    // a capture counts what it took (not what it held), and is never refused
    const held = await reserve(teamId, '4', memberId);
    await t.ok(`mutation($i: CaptureInput!) { captureHold(input: $i) { id } }`, { i: { holdId: held, amount: '3', idempotencyKey: uniqueKey('cap') } });
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '9' });
    await charge(teamId, '1', memberId);
    expect((await chargeFails(teamId, '0.001', memberId)).extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', used: '10', remaining: '0' });
    await cleanAudit();
  });

  test('a refund or reversal of the member\'s charge in the same period gives the budget back', async () => {
    t.clock.set(new Date('2031-03-14T10:00:00Z'));
    const { teamId, memberId } = await teamWithMember('10');
    const first = await charge(teamId, '8', memberId);
    await t.ok(`mutation($i: RefundInput!) { refund(input: $i) { id } }`, { i: { transactionId: first.id, amount: '5', idempotencyKey: uniqueKey('rf') } });
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '3' });
    const second = await charge(teamId, '7', memberId);
    await t.ok(`mutation($i: ReverseInput!) { reverseTransaction(input: $i) { id } }`, { i: { transactionId: second.id, idempotencyKey: uniqueKey('rv') } });
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '3' });
    await cleanAudit();
  });

  test('resets at the UTC month end without a plan: reads show 0 and the next resetsAt, the next use starts from 0', async () => {
    t.clock.set(new Date('2031-04-30T23:59:00Z'));
    const { teamId, memberId } = await teamWithMember('10');
    const april = await charge(teamId, '10', memberId);
    expect((await chargeFails(teamId, '1', memberId)).extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', resetsAt: '2031-05-01T00:00:00.000Z' });
    t.clock.set(new Date('2031-05-01T00:00:00Z'));
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '0', budgetResetsAt: '2031-06-01T00:00:00.000Z' });
    expect((await members(teamId)).find((m) => m.accountId === memberId)).toMatchObject({ budgetUsed: '0' });
    await charge(teamId, '9', memberId);
    // a refund of last month's charge gives nothing back to this month's budget
    await t.ok(`mutation($i: RefundInput!) { refund(input: $i) { id } }`, { i: { transactionId: april.id, idempotencyKey: uniqueKey('rf') } });
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '9' });
    expect((await chargeFails(teamId, '2', memberId)).extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', used: '9', remaining: '1' });
  });

  test('resets at the team plan\'s period end (the key is the period end)', async () => {
    t.clock.set(new Date('2031-06-10T12:00:00Z'));
    const teamId = await team();
    const plan = await createPlan({ seats: 5, allowance: '100', interval: 'MONTH' }, 'teams-period');
    await subscribe(teamId, plan.code);
    const memberId = await user();
    await add(teamId, memberId, 'OWNER', '10');
    expect(await member(teamId, memberId)).toMatchObject({ budgetResetsAt: '2031-07-10T12:00:00.000Z' });
    await charge(teamId, '10', memberId);
    expect((await chargeFails(teamId, '1', memberId)).extensions).toMatchObject({ code: 'BUDGET_EXCEEDED', resetsAt: '2031-07-10T12:00:00.000Z' });
    // the calendar month ends: nothing resets
    t.clock.set(new Date('2031-07-01T00:00:01Z'));
    expect((await chargeFails(teamId, '1', memberId)).extensions.code).toBe('BUDGET_EXCEEDED');
    // the plan period ends
    t.clock.set(new Date('2031-07-10T12:00:01Z'));
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '0', budgetResetsAt: '2031-08-10T12:00:00.000Z' });
    await charge(teamId, '10', memberId);
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '10' });
    await cleanAudit();
  });
});

describe('generations', () => {
  test('chargeGeneration and reserveCredits with a generation take memberId and count the priced amount', async () => {
    t.clock.set(new Date('2031-11-03T10:00:00Z'));
    const action = `teams.generate.${uniqueKey('a')}`;
    const draft = await t.ok<{ createRateCardDraft: { id: string } }>(`mutation { createRateCardDraft(input: { name: "teams", empty: true }) { id } }`);
    const draftId = draft.createRateCardDraft.id;
    await t.ok(`mutation($i: SetRatesInput!) { setRateCardRates(input: $i) { id } }`, { i: { draftId, rates: [{ action, components: [{ unit: 'REQUEST', pricePerUnit: '3' }] }] } });
    await t.ok(`mutation($id: ID!) { publishRateCard(draftId: $id) { version } }`, { id: draftId });
    const { teamId, memberId } = await teamWithMember('7');
    const generate = `mutation($i: ChargeGenerationInput!) { chargeGeneration(input: $i) { amount memberId } }`;
    expect(await t.ok(generate, { i: { accountId: teamId, generation: { action }, memberId, idempotencyKey: uniqueKey('g') } }))
      .toEqual({ chargeGeneration: { amount: '-3', memberId } });
    const hold = `mutation($i: ReserveInput!) { reserveCredits(input: $i) { amount memberId } }`;
    expect(await t.ok(hold, { i: { accountId: teamId, generation: { action }, memberId, idempotencyKey: uniqueKey('g') } }))
      .toEqual({ reserveCredits: { amount: '3', memberId } });
    // 3 used + 3 held + 3 > 7
    expect((await t.fails(generate, { i: { accountId: teamId, generation: { action }, memberId, idempotencyKey: uniqueKey('g') } })).extensions)
      .toMatchObject({ code: 'BUDGET_EXCEEDED', used: '3', held: '3', remaining: '1' });
    expect(await member(teamId, memberId)).toMatchObject({ budgetUsed: '3' });
  });
});

describe('alerts and reports', () => {
  test('MEMBER_BUDGET alerts at 80% and 100%, once per level per period, on the team account', async () => {
    t.clock.set(new Date('2031-08-05T10:00:00Z'));
    const { teamId, memberId } = await teamWithMember('10');
    const alerts = async () => (await t.ok<{ alerts: { edges: { node: { kind: string; memberId: string | null; threshold: string | null } }[] } }>(
      `query($a: ID!) { alerts(accountId: $a, first: 50) { edges { node { kind memberId threshold } } } }`, { a: teamId })).alerts.edges
      .map((e) => e.node).filter((n) => n.kind === 'MEMBER_BUDGET');
    await charge(teamId, '7', memberId);
    expect(await alerts()).toEqual([]);
    const eighty = await charge(teamId, '1', memberId);
    expect(await alerts()).toEqual([{ kind: 'MEMBER_BUDGET', memberId, threshold: '8' }]);
    await charge(teamId, '1', memberId);
    expect(await alerts()).toHaveLength(1);
    await t.ok(`mutation($i: RefundInput!) { refund(input: $i) { id } }`, { i: { transactionId: eighty.id, idempotencyKey: uniqueKey('rf') } });
    await charge(teamId, '2', memberId); // back over 80% and up to 100%: only 100% is new
    expect((await alerts()).map((a) => a.threshold).sort()).toEqual(['10', '8']);
    // the next period fires again
    t.clock.set(new Date('2031-09-01T00:00:00Z'));
    await charge(teamId, '8', memberId);
    expect((await alerts()).map((a) => a.threshold).sort()).toEqual(['10', '8', '8']);
  });

  test('a MEMBER_BUDGET alert is pushed live once, after commit', async () => {
    t.clock.set(new Date('2031-08-20T10:00:00Z'));
    const { teamId, memberId } = await teamWithMember('10');
    const before = t.app.services.events.alertSubscriberCount();
    const pushed = stream(t.client(), LowCreditAlertsDocument, { accountId: teamId }, (data) => data.lowCreditAlerts);
    for (let i = 0; i < 100 && t.app.services.events.alertSubscriberCount() <= before; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    await charge(teamId, '9', memberId);
    await pushed.until(1);
    await new Promise((resolve) => setTimeout(resolve, 150)); // a duplicate would arrive by now
    pushed.stop();
    expect(pushed.items.map((a) => [a.kind, a.threshold, a.accountId])).toEqual([['MEMBER_BUDGET', '8', teamId]]);
  });

  test('usageReport.byMember: consumed, refunded and transactions per member over the range, cut at a zone\'s midnight', async () => {
    t.clock.set(new Date('2031-10-05T10:00:00Z'));
    const { teamId, owner, memberId } = await teamWithMember(null);
    const c = await charge(teamId, '5', memberId);
    await charge(teamId, '3', owner);
    await charge(teamId, '2', memberId);
    await charge(teamId, '1');
    await t.ok(`mutation($i: RefundInput!) { refund(input: $i) { id } }`, { i: { transactionId: c.id, amount: '1', idempotencyKey: uniqueKey('rf') } });
    // 2031-10-06T03:00Z is the 5th in New York (UTC−4): outside a report of the 6th there
    t.clock.set(new Date('2031-10-06T03:00:00Z'));
    await charge(teamId, '4', owner);
    const report = async (from: string, to: string, timeZone: string) => (await t.ok<{ usageReport: { byMember: unknown[] } }>(
      `query($a: ID!, $f: DateTime!, $to: DateTime!, $z: String) { usageReport(accountId: $a, from: $f, to: $to, granularity: DAY, timeZone: $z) { byMember { accountId consumed refunded transactions } } }`,
      { a: teamId, f: from, to, z: timeZone })).usageReport.byMember;
    expect(await report('2031-10-05T00:00:00Z', '2031-10-07T00:00:00Z', 'UTC')).toEqual([
      { accountId: owner, consumed: '7', refunded: '0', transactions: 2 },
      { accountId: memberId, consumed: '7', refunded: '1', transactions: 2 },
    ].sort((a, b) => (a.accountId < b.accountId ? -1 : 1)));
    expect(await report('2031-10-05T04:00:00Z', '2031-10-06T04:00:00Z', 'America/New_York')).toEqual(expect.arrayContaining([
      { accountId: owner, consumed: '7', refunded: '0', transactions: 2 },
    ]));
    expect(await report('2031-10-06T04:00:00Z', '2031-10-07T04:00:00Z', 'America/New_York')).toEqual([]);
    expect(await report('2031-10-05T00:00:00Z', '2031-10-06T00:00:00Z', 'UTC')).toEqual([
      { accountId: memberId, consumed: '7', refunded: '1', transactions: 2 },
      { accountId: owner, consumed: '3', refunded: '0', transactions: 1 },
    ]);
  });
});
