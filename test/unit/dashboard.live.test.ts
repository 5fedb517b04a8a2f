/** The dashboard's subscriptions stay open (src/dashboard/live.ts): reopened after a loss with a growing wait, never after a refusal. */
import { LiveSubscription, type LiveHandlers } from '../../src/dashboard/live';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

function subject(giveUpOn: (error: unknown) => boolean = () => false) {
  const opened: LiveHandlers[] = [];
  let ends = 0;
  let reopens = 0;
  const live = new LiveSubscription((handlers) => {
    opened.push(handlers);
    return () => { ends += 1; };
  }, giveUpOn, () => { reopens += 1; });
  return { live, opened, ends: () => ends, reopens: () => reopens };
}

test('a lost subscription is opened again after 1 s, 2 s, 4 s …, at most 30 s; something arriving resets the wait', () => {
  const { live, opened, reopens } = subject();
  live.start();
  const waits: number[] = [];
  for (let loss = 0; loss < 7; loss += 1) {
    opened[opened.length - 1].ended(new Error('socket closed'));
    const before = opened.length;
    let waited = 0;
    while (opened.length === before) {
      jest.advanceTimersByTime(500);
      waited += 500;
    }
    waits.push(waited);
  }
  expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000]);
  expect(reopens()).toBe(7);
  opened[opened.length - 1].alive();
  opened[opened.length - 1].ended(null);
  jest.advanceTimersByTime(1_000);
  expect(opened).toHaveLength(9);
});

test('a refusal ends it for good; stop() ends the open one and cancels a pending reopen', () => {
  const refused = subject((error) => error === 'FORBIDDEN');
  refused.live.start();
  refused.opened[0].ended('FORBIDDEN');
  jest.advanceTimersByTime(60_000);
  expect(refused.opened).toHaveLength(1);

  const stopped = subject();
  stopped.live.start();
  stopped.live.stop();
  expect(stopped.ends()).toBe(1);
  const pending = subject();
  pending.live.start();
  pending.opened[0].ended(new Error('lost'));
  pending.live.stop();
  jest.advanceTimersByTime(60_000);
  expect(pending.opened).toHaveLength(1);
});
