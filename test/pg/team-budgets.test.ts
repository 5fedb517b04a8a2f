/**
 * Member budgets under concurrency on PostgreSQL (issue 12): many requests at once by one member of a
 * team, through two server instances on the same database, never spend past the budget. Runs only
 * when DATABASE_URL names a PostgreSQL database.
 */
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

const suite = isPostgres() ? describe : describe.skip;

suite('member budgets on PostgreSQL (runs only with DATABASE_URL)', () => {
  let a: TestApp;
  let b: TestApp;
  beforeAll(async () => { [a, b] = await Promise.all([startTestApp(), startTestApp()]); });
  afterAll(async () => { await Promise.all([a?.close(), b?.close()]); });

  async function teamWithBudget(budget: string): Promise<{ teamId: string; memberId: string }> {
    const teamId = await a.createAccount('budget race', { kind: 'TEAM' });
    const memberId = await a.createAccount('member');
    await a.ok(`mutation($i: AddTeamMemberInput!) { addTeamMember(input: $i) { accountId } }`, { i: { teamId, accountId: memberId, role: 'OWNER', budget } });
    await a.grant(teamId, '1000');
    return { teamId, memberId };
  }

  /** 'ok', or a refusal's code. */
  type Outcome = string;
  /** Runs a mutation on one of the two instances; a refusal is its code. */
  async function run(i: number, query: string, input: Record<string, unknown>): Promise<Outcome> {
    const t = i % 2 === 0 ? a : b;
    const result = await t.gql(query, { i: input }, t.adminKey);
    if (result.errors?.length) return String(result.errors[0].extensions?.code);
    return 'ok';
  }

  const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id } }`;
  const RESERVE = `mutation($i: ReserveInput!) { reserveCredits(input: $i) { id } }`;
  const tally = (outcomes: Outcome[]) => outcomes.reduce<Record<string, number>>((acc, o) => ({ ...acc, [o]: (acc[o] ?? 0) + 1 }), {});

  test('100 concurrent charges of 1 by one member against a budget of 50: exactly 50 succeed, 50 are BUDGET_EXCEEDED', async () => {
    const { teamId, memberId } = await teamWithBudget('50');
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) =>
      run(i, CHARGE, { accountId: teamId, amount: '1', memberId, idempotencyKey: uniqueKey('race') })));
    expect(tally(outcomes)).toEqual({ ok: 50, BUDGET_EXCEEDED: 50 });
    const member = await a.ok<{ teamMember: { budgetUsed: string } }>(`query($t: ID!, $m: ID!) { teamMember(teamId: $t, accountId: $m) { budgetUsed } }`, { t: teamId, m: memberId });
    expect(member.teamMember.budgetUsed).toBe('50');
    expect(await a.wallet(teamId)).toMatchObject({ balance: '950', held: '0' });
    expect(await a.audit()).toEqual({ ok: true, violations: [] });
  });

  test('with holds counting: 100 concurrent holds and charges of 1 against a budget of 50 give exactly 50', async () => {
    const { teamId, memberId } = await teamWithBudget('50');
    const outcomes = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 3 === 0
      ? run(i, RESERVE, { accountId: teamId, amount: '1', memberId, idempotencyKey: uniqueKey('hold') })
      : run(i, CHARGE, { accountId: teamId, amount: '1', memberId, idempotencyKey: uniqueKey('race') }))));
    expect(tally(outcomes)).toEqual({ ok: 50, BUDGET_EXCEEDED: 50 });
    const wallet = await a.wallet(teamId);
    // what was charged plus what is held is exactly the budget
    expect(1000 - Number(wallet.balance) + Number(wallet.held)).toBe(50);
    expect(await a.audit()).toEqual({ ok: true, violations: [] });
  });
});
