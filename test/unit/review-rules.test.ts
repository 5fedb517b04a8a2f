/** The review-hold rules, pure and table-driven: velocity (trip or not, hour rollover, baseline) and fingerprints (derivation, pruning, bound). */
import {
  addFingerprint, baselineDays, baselineFresh, baselinePerHour, canonicalJson, countUse, fingerprintOf, FINGERPRINTS_MAX, hourMillisNow,
  hourStartOf, parseFingerprints, pruneFingerprints, repeatsWith, velocityTrips, type FingerprintEntry, type Thresholds, type VelocityState,
} from '../../src/modules/reviews/review-rules';

const T: Thresholds = { multiplier: 10, floorMillis: 1_000_000, repeats: 20, windowMinutes: 10 };
const at = (iso: string) => new Date(iso);

describe('velocityTrips', () => {
  test.each([
    // hour millis, baseline per hour, trips
    [500_000, 0, false], // under the floor, no baseline (a new account)
    [1_000_000, 0, false], // at the floor
    [1_000_001, 0, true], // over the floor, no baseline
    [1_500_000, 200_000, false], // over the floor, under 10 × baseline
    [2_000_000, 200_000, false], // exactly 10 × baseline
    [2_000_001, 200_000, true],
    [5_000_000, 1_000_000, false], // a big customer: far over the floor, within its own pattern
    [10_000_001, 1_000_000, true],
  ])('%i this hour, baseline %i → %s', (hour, baseline, trips) => {
    expect(velocityTrips(hour, baseline, T)).toBe(trips);
  });

  test('per-plan thresholds', () => {
    expect(velocityTrips(60_000, 0, { ...T, floorMillis: 50_000 })).toBe(true);
    expect(velocityTrips(300_000, 100_000, { ...T, multiplier: 2, floorMillis: 50_000 })).toBe(true);
    expect(velocityTrips(200_000, 100_000, { ...T, multiplier: 2, floorMillis: 50_000 })).toBe(false);
  });
});

describe('the hour counter', () => {
  const state = (hourStart: string | null, millis: number): VelocityState => ({
    velocityHourStart: hourStart ? at(hourStart) : null, velocityHourMillis: millis, velocityBaselineMillis: null, velocityBaselineHour: null,
  });
  test.each([
    // counter of, millis, now, counted now, after a use of 100
    [null, 0, '2033-05-01T10:30:00Z', 0, 100],
    ['2033-05-01T10:00:00Z', 700, '2033-05-01T10:59:59.999Z', 700, 800],
    ['2033-05-01T10:00:00Z', 700, '2033-05-01T11:00:00Z', 0, 100], // rollover at the hour
    ['2033-05-01T09:00:00Z', 700, '2033-05-01T10:00:01Z', 0, 100],
    ['2033-04-30T10:00:00Z', 700, '2033-05-01T10:00:01Z', 0, 100], // same hour of another day
  ])('counter of %s with %i at %s', (hourStart, millis, now, counted, after) => {
    const s = state(hourStart, millis);
    expect(hourMillisNow(s, at(now))).toBe(counted);
    expect(countUse(s, at(now), 100)).toEqual({ velocityHourStart: hourStartOf(at(now)), velocityHourMillis: after });
  });

  test('the baseline is read again once the hour changed', () => {
    const s: VelocityState = { velocityHourStart: null, velocityHourMillis: 0, velocityBaselineMillis: 5, velocityBaselineHour: at('2033-05-01T10:00:00Z') };
    expect(baselineFresh(s, at('2033-05-01T10:45:00Z'))).toBe(true);
    expect(baselineFresh(s, at('2033-05-01T11:00:00Z'))).toBe(false);
    expect(baselineFresh({ ...s, velocityBaselineMillis: null }, at('2033-05-01T10:45:00Z'))).toBe(false);
  });

  test('the baseline: whole UTC days before today, per hour of the window', () => {
    expect(baselineDays(at('2033-05-08T13:00:00Z'), 168)).toEqual({ from: '2033-05-01', to: '2033-05-08' });
    expect(baselineDays(at('2033-03-01T00:00:00Z'), 48)).toEqual({ from: '2033-02-27', to: '2033-03-01' });
    expect(baselinePerHour(33_600_000, 168)).toBe(200_000);
    expect(baselinePerHour(1000, 168)).toBe(5); // rounded down
    expect(baselinePerHour(-10, 168)).toBe(0);
  });
});

describe('fingerprints', () => {
  test('the client\'s fingerprint, or one derived from action + model + canonical params; none for a plain amount', () => {
    const use = (fields: Partial<Parameters<typeof fingerprintOf>[0]>) => fingerprintOf({ fingerprint: null, action: null, model: null, params: null, ...fields });
    expect(use({})).toBeNull();
    expect(use({ model: 'sdxl' })).toBeNull();
    expect(use({ fingerprint: 'abc' })).toMatch(/^[0-9a-f]{16}$/);
    expect(use({ fingerprint: 'abc', action: 'x' })).toBe(use({ fingerprint: 'abc' }));
    expect(use({ action: 'image.generate', model: 'sdxl', params: { a: 1, b: [1, { d: 2, c: 3 }] } }))
      .toBe(use({ action: 'image.generate', model: 'sdxl', params: { b: [1, { c: 3, d: 2 }], a: 1 } }));
    expect(use({ action: 'image.generate', model: 'sdxl', params: { a: 1 } })).not.toBe(use({ action: 'image.generate', model: 'sdxl', params: { a: 2 } }));
    expect(use({ action: 'image.generate', model: 'sdxl' })).not.toBe(use({ action: 'image.generate', model: 'flux' }));
    expect(use({ action: 'image.generate' })).not.toBe(use({ fingerprint: 'image.generate' }));
    expect(canonicalJson({ b: 1, a: [null, 'x'] })).toBe('{"a":[null,"x"],"b":1}');
  });

  const list = (...entries: [string, number][]): FingerprintEntry[] => entries;

  test.each([
    // list, now (s), window (min), expected repeats of "h" counting this use
    [list(), 1000, 10, 1],
    [list(['h', 500], ['h', 900], ['g', 950]), 1000, 10, 3],
    [list(['h', 400], ['h', 401]), 1000, 10, 2], // 400 is exactly 600 s old: out of the window
    [list(['h', 100], ['h', 200]), 1000, 10, 1], // all out of the window
    [list(['h', 100], ['h', 200]), 1000, 60, 3], // a longer window
  ])('repeats in %j at %i within %i min', (entries, now, window, repeats) => {
    expect(repeatsWith(entries, 'h', now, window)).toBe(repeats);
  });

  test('pruning keeps the window and at most FINGERPRINTS_MAX entries, the newest', () => {
    expect(pruneFingerprints(list(['a', 1], ['b', 500], ['c', 999]), 1000, 10)).toEqual(list(['b', 500], ['c', 999]));
    const many: FingerprintEntry[] = Array.from({ length: FINGERPRINTS_MAX + 30 }, (_, i) => [`f${i}`, 900 + (i % 50)]);
    const pruned = pruneFingerprints(many, 1000, 10);
    expect(pruned).toHaveLength(FINGERPRINTS_MAX);
    expect(pruned.at(-1)).toEqual(many.at(-1));
    let grown: FingerprintEntry[] = [];
    for (let i = 0; i < FINGERPRINTS_MAX * 2; i++) grown = addFingerprint(grown, `f${i}`, 1000 + i, 60);
    expect(grown).toHaveLength(FINGERPRINTS_MAX);
    expect(grown[0]).toEqual([`f${FINGERPRINTS_MAX}`, 1000 + FINGERPRINTS_MAX]);
    expect(addFingerprint(list(['h', 1]), 'h', 1000, 10)).toEqual(list(['h', 1000]));
  });

  test('a malformed stored list is read as empty or filtered', () => {
    expect(parseFingerprints(null)).toEqual([]);
    expect(parseFingerprints({})).toEqual([]);
    expect(parseFingerprints([['h', 1], ['x'], [1, 2], 'y', ['g', 1.5], ['k', 3]])).toEqual([['h', 1], ['k', 3]]);
  });
});
