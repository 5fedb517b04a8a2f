/** The pure rules of member budgets: period key and reset, used in a period, remaining, the check, alert levels, input. */
import {
  alertedIn, budgetAlertKey, budgetPeriod, budgetRefusal, checkedBudget, checkedRole, crossedLevels, levelMillis, monthKey, nextMonthStart,
  remainingOf, usedIn,
} from '../../src/modules/teams/teams.rules';

const d = (text: string) => new Date(text);

describe('budgetPeriod', () => {
  test.each([
    ['no plan: the UTC month', null, '2031-03-15T10:00:00Z', '2031-03', '2031-04-01T00:00:00.000Z'],
    ['no plan, December: next year', null, '2031-12-31T23:59:59Z', '2031-12', '2032-01-01T00:00:00.000Z'],
    ['no plan, the first instant of a month', null, '2031-04-01T00:00:00Z', '2031-04', '2031-05-01T00:00:00.000Z'],
    ['a plan: its period end', '2031-03-20T12:00:00Z', '2031-03-15T10:00:00Z', '2031-03-20T12:00:00.000Z', '2031-03-20T12:00:00.000Z'],
    ['a plan period that ended (not renewed yet): the month', '2031-03-10T00:00:00Z', '2031-03-15T10:00:00Z', '2031-03', '2031-04-01T00:00:00.000Z'],
    ['a plan period ending exactly now: ended', '2031-03-15T10:00:00Z', '2031-03-15T10:00:00Z', '2031-03', '2031-04-01T00:00:00.000Z'],
  ])('%s', (_name, renewsAt, now, key, resetsAt) => {
    const period = budgetPeriod(renewsAt ? d(renewsAt) : null, d(now));
    expect({ key: period.key, resetsAt: period.resetsAt.toISOString() }).toEqual({ key, resetsAt });
  });

  test('month helpers', () => {
    expect(monthKey(d('2031-02-28T23:00:00Z'))).toBe('2031-02');
    expect(nextMonthStart(d('2031-02-28T23:00:00Z')).toISOString()).toBe('2031-03-01T00:00:00.000Z');
  });
});

describe('usedIn / alertedIn: a stale key reads as a new period', () => {
  const period = { key: '2031-03', resetsAt: d('2031-04-01T00:00:00Z') };
  test.each([
    ['same key', '2031-03', 500, [80], 500, [80]],
    ['older key', '2031-02', 500, [80, 100], 0, []],
    ['never used', '', 0, [], 0, []],
  ])('%s', (_name, periodKey, usedMillis, alerted, used, fired) => {
    expect(usedIn({ periodKey, usedMillis }, period)).toBe(used);
    expect(alertedIn({ periodKey, alerted }, period)).toEqual(fired);
  });
});

describe('remainingOf', () => {
  test.each([
    [null, 10, 10, null],
    [100, 0, 0, 100],
    [100, 30, 20, 50],
    [100, 90, 20, 0],
    [0, 0, 0, 0],
  ])('budget %p used %p held %p → %p', (budget, used, held, remaining) => {
    expect(remainingOf(budget, used, held)).toBe(remaining);
  });
});

describe('budgetRefusal', () => {
  const period = { key: '2031-03', resetsAt: d('2031-04-01T00:00:00Z') };
  const state = (budgetMillis: number | null, usedMillis: number, heldMillis: number) => ({ teamId: 't', memberId: 'm', budgetMillis, usedMillis, heldMillis, period });
  test.each([
    ['no budget', null, 1e9, 0, 1e9, false],
    ['exactly the budget', 50_000, 40_000, 5_000, 5_000, false],
    ['one milli over', 50_000, 40_000, 5_000, 5_001, true],
    ['holds count', 50_000, 0, 50_000, 1, true],
    ['budget 0', 0, 0, 0, 1, true],
  ])('%s', (_name, budget, used, held, amount, refused) => {
    expect(budgetRefusal(state(budget, used, held), amount) !== null).toBe(refused);
  });

  test('names the member, the budget, used, held, what is left and when it resets', () => {
    const error = budgetRefusal(state(50_000, 40_000, 6_000), 5_000)!;
    expect(error.code).toBe('BUDGET_EXCEEDED');
    expect(error.details).toMatchObject({
      memberId: 'm', teamId: 't', budget: '50', used: '40', held: '6', remaining: '4', requested: '5', resetsAt: '2031-04-01T00:00:00.000Z',
    });
    expect(String(error.details.remedy)).toMatch(/raise this member's budget/);
  });
});

describe('crossedLevels (80% and 100%)', () => {
  test.each([
    [100_000, 79_999, [], []],
    [100_000, 80_000, [], [80]],
    [100_000, 100_000, [], [80, 100]],
    [100_000, 100_000, [80], [100]],
    [100_000, 120_000, [80, 100], []],
    [null, 1e9, [], []],
    [0, 0, [], []],
  ])('budget %p used %p fired %p → %p', (budget, used, fired, levels) => {
    expect(crossedLevels(budget, used, fired)).toEqual(levels);
  });

  test('levels and keys', () => {
    expect(levelMillis(1_001, 80)).toBe(801);
    expect(budgetAlertKey('t', 'm', '2031-03', 80)).toBe('member-budget:t:m:2031-03:80');
  });
});

/** The AppError `fn` throws (fails the test when it does not throw one). */
function thrown(fn: () => unknown): { code: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (error) {
    return error as { code: string; details: Record<string, unknown> };
  }
  throw new Error('expected a refusal');
}

describe('input', () => {
  test('budget: ≥ 0 or null', () => {
    expect(checkedBudget(null)).toBeNull();
    expect(checkedBudget(undefined)).toBeNull();
    expect(checkedBudget(0)).toBe(0);
    expect(thrown(() => checkedBudget(-1))).toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'budget' } });
    expect(thrown(() => checkedBudget(1e16))).toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'budget' } });
  });
  test('role: OWNER, ADMIN or MEMBER', () => {
    expect(checkedRole('ADMIN')).toBe('ADMIN');
    expect(thrown(() => checkedRole('owner'))).toMatchObject({ code: 'BAD_USER_INPUT', details: { field: 'role' } });
  });
});
