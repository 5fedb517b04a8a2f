/**
 * The rules of low-credit levels (src/modules/alerts/levels.ts): which levels are in effect, when one
 * fires (once, on the way down; one alert for the lowest of several crossed at once), when it re-arms
 * (above the level plus the hysteresis), and validation. Table-driven cases, then properties against
 * an independent step-by-step model.
 */
import fc from 'fast-check';
import {
  DEPLETED_LEVEL, HYSTERESIS_MIN_MILLIS, LEVELS_MAX, checkLevels, effectiveLevels, levelsProblem, percentLevelsProblem, rearmAbove,
} from '../../src/modules/alerts/levels';

const c = (n: number) => Math.round(n * 1000); // credits → millis

describe('effectiveLevels', () => {
  test.each([
    ['absolute only, highest first, duplicates once', [c(10), c(100), c(10)], [], null, [c(100), c(10)]],
    ['percents need an allowance', [c(50)], [20], null, [c(50)]],
    ['percents of the allowance', [], [20, 5], c(1000), [c(200), c(50)]],
    ['absolute and percent merge when equal', [c(200)], [20], c(1000), [c(200)]],
    ['a percent level rounds down to the millicredit', [], [33], 1001, [330]],
    ['a percent level that rounds to 0 is dropped', [], [1], 50, []],
    ['a zero allowance gives no percent levels', [], [50], 0, []],
  ])('%s', (_name, absolute, percents, allowance, expected) => {
    expect(effectiveLevels(absolute, percents, allowance)).toEqual(expected);
  });
});

describe('rearmAbove', () => {
  test.each([
    ['10% of the level', c(100), c(110)],
    ['at least 1 credit', c(5), c(6)],
    ['DEPLETED re-arms above 1 credit', DEPLETED_LEVEL, HYSTERESIS_MIN_MILLIS],
    ['rounds down', 1_234_567, 1_234_567 + 123_456],
  ])('%s', (_name, level, expected) => {
    expect(rearmAbove(level)).toBe(expected);
  });
});

describe('checkLevels', () => {
  const L = [c(100), c(50)];
  test.each([
    // name, levels, fired, before, after, alert, fired after, changed
    ['no level crossed', L, [], c(500), c(200), null, [], false],
    ['crossing one level', L, [], c(120), c(80), { kind: 'LOW_BALANCE', levelMillis: c(100) }, [c(100)], true],
    ['landing exactly on a level fires it', L, [], c(120), c(100), { kind: 'LOW_BALANCE', levelMillis: c(100) }, [c(100)], true],
    ['one charge crossing two levels: one alert, for the lowest', L, [], c(120), c(40), { kind: 'LOW_BALANCE', levelMillis: c(50) }, [c(100), c(50)], true],
    ['crossing every level to zero: DEPLETED only', L, [], c(120), 0, { kind: 'DEPLETED', levelMillis: 0 }, [c(100), c(50), 0], true],
    ['a fired level does not fire again', L, [c(100)], c(90), c(70), null, [c(100)], false],
    ['the next level still fires', L, [c(100)], c(70), c(45), { kind: 'LOW_BALANCE', levelMillis: c(50) }, [c(100), c(50)], true],
    ['recovering above the level but within the hysteresis keeps it fired', L, [c(100)], c(70), c(110), null, [c(100)], false],
    ['recovering above level + hysteresis re-arms it', L, [c(100)], c(70), c(110) + 1, null, [], true],
    ['recovering re-arms lower levels too', L, [c(100), c(50), 0], 0, c(500), null, [], true],
    ['partial recovery re-arms only the levels it clears', L, [c(100), c(50), 0], 0, c(60), null, [c(100)], true],
    ['a grant never fires, even below an armed level', L, [], c(10), c(20), null, [], false],
    ['levels set while already below them fire at the next decrease (one alert)', L, [], c(30), c(29), { kind: 'LOW_BALANCE', levelMillis: c(50) }, [c(100), c(50)], true],
    ['no levels: only DEPLETED', [], [], c(10), 0, { kind: 'DEPLETED', levelMillis: 0 }, [0], true],
    ['going further below zero after DEPLETED: nothing', [], [0], 0, -c(5), null, [0], false],
    ['overdraft: DEPLETED fires when available reaches 0 from above', [], [], c(3), -c(2), { kind: 'DEPLETED', levelMillis: 0 }, [0], true],
    ['a removed level is dropped from the state', [c(50)], [c(100)], c(60), c(55), null, [], true],
  ] as const)('%s', (_name, levels, fired, before, after, alert, firedAfter, changed) => {
    const result = checkLevels([...levels], [...fired], before, after);
    expect(result.alert).toEqual(alert);
    expect(result.fired).toEqual(firedAfter);
    expect(result.changed).toBe(changed);
  });

  test('a balance hovering around a level alerts once until it recovers past the hysteresis', () => {
    let fired: number[] = [];
    let available = c(120);
    const alerts: string[] = [];
    for (const next of [c(99), c(101), c(98), c(105), c(97), c(111), c(99)]) {
      const r = checkLevels([c(100)], fired, available, next);
      if (r.alert) alerts.push(`${r.alert.kind}@${next}`);
      fired = r.fired;
      available = next;
    }
    expect(alerts).toEqual([`LOW_BALANCE@${c(99)}`, `LOW_BALANCE@${c(99)}`]); // the second after re-arming at 111
  });
});

describe('validation', () => {
  test.each([
    ['no levels', [], null],
    ['the most levels', Array.from({ length: LEVELS_MAX }, (_, i) => (i + 1) * 1000), null],
    ['too many levels', Array.from({ length: LEVELS_MAX + 1 }, (_, i) => (i + 1) * 1000), `at most ${LEVELS_MAX} levels`],
    ['zero', [0], 'each level must be positive'],
    ['negative', [-1000], 'each level must be positive'],
  ])('levels: %s', (_name, levels, problem) => {
    expect(levelsProblem(levels)).toBe(problem);
  });

  test.each([
    ['1 and 100 are allowed', [1, 100], null],
    ['0', [0], 'each percent level must be a whole number from 1 to 100'],
    ['101', [101], 'each percent level must be a whole number from 1 to 100'],
    ['a fraction', [12.5], 'each percent level must be a whole number from 1 to 100'],
    ['too many', Array.from({ length: LEVELS_MAX + 1 }, (_, i) => i + 1), `at most ${LEVELS_MAX} percent levels`],
  ])('percent levels: %s', (_name, percents, problem) => {
    expect(percentLevelsProblem(percents)).toBe(problem);
  });
});

describe('properties', () => {
  const levelsArb = fc.uniqueArray(fc.integer({ min: 1, max: 1_000_000 }), { maxLength: LEVELS_MAX });
  const walk = fc.array(fc.integer({ min: -200_000, max: 1_200_000 }), { minLength: 1, maxLength: 60 });

  test('over any walk: at most one alert per step, each for a level crossed on the way down, never for an already fired level', () => {
    fc.assert(fc.property(levelsArb, fc.integer({ min: 0, max: 1_200_000 }), walk, (levels, start, steps) => {
      let fired: number[] = [];
      let available = start;
      for (const next of steps) {
        const r = checkLevels(levels, fired, available, next);
        if (r.alert) {
          expect(next).toBeLessThan(available);
          expect(next).toBeLessThanOrEqual(r.alert.levelMillis);
          expect(fired).not.toContain(r.alert.levelMillis);
          // the lowest crossed: no armed level below it that `next` also reached
          for (const l of [...levels, 0]) if (!fired.includes(l) && next <= l) expect(l).toBeGreaterThanOrEqual(r.alert.levelMillis);
        }
        // every fired level is one `available` is not above (plus hysteresis) — the state matches the balance
        for (const l of r.fired) expect(next).toBeLessThanOrEqual(rearmAbove(l));
        fired = r.fired;
        available = next;
      }
    }));
  });

  test('between two alerts for the same level, available rose above its re-arm point', () => {
    fc.assert(fc.property(levelsArb, walk, (levels, steps) => {
      let fired: number[] = [];
      let available = 2_000_000;
      const lastAlertAt = new Map<number, number>(); // level → index of the step that alerted
      const highestSince = new Map<number, number>();
      steps.forEach((next, i) => {
        const r = checkLevels(levels, fired, available, next);
        for (const [l, h] of highestSince) highestSince.set(l, Math.max(h, next));
        if (r.alert) {
          const level = r.alert.levelMillis;
          if (lastAlertAt.has(level)) expect(highestSince.get(level)!).toBeGreaterThan(rearmAbove(level));
          lastAlertAt.set(level, i);
          highestSince.set(level, next);
        }
        fired = r.fired;
        available = next;
      });
    }));
  });
});
