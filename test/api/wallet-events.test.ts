/**
 * Live wallet events (PRODUCT.md §6): every committed change, in sequence order, with no gap and no
 * duplicate — across replay-then-live, concurrent commits and out-of-order publishes — and nothing
 * for refused or uncommitted work.
 */
import {
  CaptureHoldDocument, ChargeDocument, ReleaseHoldDocument, ReserveCreditsDocument, TransactionsDocument, WalletDocument, WalletEventsDocument,
  type CreditsClient, type WalletEventsSubscription, type WalletEventsSubscriptionVariables, type WalletQuery,
} from '../../src/client';
import { WalletEventHub, WalletEventsResolver, type WalletEventPayload } from '../../src/modules/events';
import type { TransactionRow } from '../../src/modules/ledger';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { ledgerOnlyStore, metricSample } from '../helpers/live';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

type Event = WalletEventsSubscription['walletEvents'];

const charge = (accountId: string, amount: string, idempotencyKey = uniqueKey('charge')) =>
  t.op(ChargeDocument, { input: { accountId, amount, idempotencyKey } });
const chargeOk = async (accountId: string, amount: string) => (await charge(accountId, amount)).charge;
const chargeRefused = (accountId: string, amount: string) => t.opFails(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('charge') } });
const wallet = (accountId: string) => t.op(WalletDocument, { accountId });

/**
 * A running subscription: events as they arrive, `until(n)` resolves once n have, and `onEvent`
 * runs for each event when it arrives (before the next one is handled).
 */
function live(client: CreditsClient, variables: WalletEventsSubscriptionVariables, onEvent?: (event: Event) => void) {
  const events: Event[] = [];
  let failure: Error | null = null;
  const waiters: { n: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    for (const w of [...waiters]) {
      if (failure) w.reject(failure);
      else if (events.length >= w.n) w.resolve();
      else continue;
      waiters.splice(waiters.indexOf(w), 1);
    }
  };
  const unsubscribe = client.subscribe(WalletEventsDocument, variables, {
    next: (data) => {
      events.push(data.walletEvents);
      onEvent?.(data.walletEvents);
      check();
    },
    error: (error) => { failure = error instanceof Error ? error : new Error(`subscription failed: ${JSON.stringify(error)}`); check(); },
    complete: () => { failure = failure ?? new Error('subscription completed'); check(); },
  });
  return {
    events,
    until(n: number): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${events.length}/${n} events: ${JSON.stringify(events.map((e) => e.sequence))}`)), 20000);
        waiters.push({ n, resolve: () => { clearTimeout(timer); resolve(); }, reject: (e) => { clearTimeout(timer); reject(e); } });
        check();
      });
    },
    stop: () => unsubscribe(),
  };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Waits until the server's hub has `n` listeners (a subscription is live once it is listening). */
async function subscribers(n: number): Promise<void> {
  for (let i = 0; t.app.services.events.subscriberCount() < n; i += 1) {
    if (i > 2000) throw new Error(`${t.app.services.events.subscriberCount()} subscribers, expected ${n}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Lets in-flight publishes and socket frames through, so a stray extra event would be seen. */
async function settle(accountId: string): Promise<void> {
  await wallet(accountId);
  await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('walletEvents', () => {
  test('pushes each committed change in order with balance/available after and the transaction', async () => {
    const accountId = await t.createAccount();
    const sub = live(t.client(), { accountId, afterSequence: 0 });
    const grant = await t.grant(accountId, '10');
    await sub.until(1);
    const first = await chargeOk(accountId, '2.5');
    const second = await chargeOk(accountId, '0.125');
    await sub.until(3);
    await settle(accountId);
    sub.stop();
    // the transaction carries every field; these are the ones an event must agree with
    expect(sub.events).toMatchObject([
      { accountId, sequence: 1, kind: 'GRANT', balance: '10', available: '10', transaction: { id: grant.id, type: 'GRANT', status: 'SUCCEEDED', amount: '10', sequence: 1, balanceAfter: '10' } },
      { accountId, sequence: 2, kind: 'CHARGE', balance: '7.5', available: '7.5', transaction: { id: first.id, type: 'CHARGE', status: 'SUCCEEDED', amount: '-2.5', sequence: 2, balanceAfter: '7.5' } },
      { accountId, sequence: 3, kind: 'CHARGE', balance: '7.375', available: '7.375', transaction: { id: second.id, type: 'CHARGE', status: 'SUCCEEDED', amount: '-0.125', sequence: 3, balanceAfter: '7.375' } },
    ]);
  });

  test('without afterSequence only live events arrive', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '10');
    await chargeOk(accountId, '1');
    const listening = t.app.services.events.subscriberCount();
    const sub = live(t.client(), { accountId });
    await subscribers(listening + 1);
    await chargeOk(accountId, '1');
    await sub.until(1);
    await settle(accountId);
    sub.stop();
    expect(sub.events.map((e) => e.sequence)).toEqual([3]);
    expect(sub.events[0]).toMatchObject({ kind: 'CHARGE', balance: '8', available: '8' });
  });

  test('afterSequence replays from the ledger, then continues live with no gap and no duplicate', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '100');
    await chargeOk(accountId, '1');
    await t.grant(accountId, '5');
    await chargeOk(accountId, '2');
    await chargeOk(accountId, '3'); // sequences 1..5
    const sub = live(t.client(), { accountId, afterSequence: 2 });
    await sub.until(3); // 3, 4, 5 replayed: the subscription is live from here
    const more = [];
    for (let i = 0; i < 5; i += 1) more.push(await chargeOk(accountId, '1'));
    await t.grant(accountId, '1'); // sequences 6..11
    await sub.until(9);
    await settle(accountId);
    sub.stop();
    expect(sub.events.map((e) => e.sequence)).toEqual(range(3, 11));
    expect(sub.events.map((e) => e.kind)).toEqual(['GRANT', 'CHARGE', 'CHARGE', 'CHARGE', 'CHARGE', 'CHARGE', 'CHARGE', 'CHARGE', 'GRANT']);
    expect(sub.events.slice(3, 8).map((e) => e.transaction.id)).toEqual(more.map((m) => m.id));
    expect(sub.events.map((e) => e.balance)).toEqual(['104', '102', '99', '98', '97', '96', '95', '94', '95']);
    expect(sub.events.every((e) => e.transaction.sequence === e.sequence && e.transaction.balanceAfter === e.balance)).toBe(true);
  });

  test('afterSequence 0 replays everything, and changes committed while it starts are neither lost nor repeated', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '1000');
    for (let i = 0; i < 9; i += 1) await chargeOk(accountId, '1'); // sequences 1..10
    const sub = live(t.client(), { accountId, afterSequence: 0 });
    // Commits racing with the subscription's start: each lands in the replay read, arrives live, or both.
    const racing = Promise.all(range(1, 10).map(() => chargeOk(accountId, '1')));
    await racing;
    await sub.until(20);
    await settle(accountId);
    sub.stop();
    expect(sub.events.map((e) => e.sequence)).toEqual(range(1, 20));
    expect(sub.events[19].balance).toBe('981');
  });

  test('concurrent charges arrive as consecutive sequences with no gap or duplicate', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '100');
    const sub = live(t.client(), { accountId, afterSequence: 0 });
    await sub.until(1);
    const charged = await Promise.all(range(1, 20).map(() => chargeOk(accountId, '1.5')));
    await sub.until(21);
    await settle(accountId);
    sub.stop();
    expect(sub.events.map((e) => e.sequence)).toEqual(range(1, 21));
    expect(charged.map((c) => c.sequence).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(range(2, 21));
    // Each event carries the transaction that took that sequence, and balances fall by 1.5 each step.
    const bySequence = new Map(charged.map((c) => [c.sequence, c.id]));
    for (const event of sub.events.slice(1)) {
      expect(event.transaction.id).toBe(bySequence.get(event.sequence));
      expect(event).toMatchObject({ kind: 'CHARGE', transaction: { type: 'CHARGE', amount: '-1.5' } });
    }
    expect(sub.events.map((e) => Number(e.balance))).toEqual(range(0, 20).map((i) => 100 - 1.5 * i));
    expect((await wallet(accountId)).wallet).toMatchObject({ balance: '70', sequence: 21 });
  });

  test('two subscribers of one wallet each get the same complete sequence', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '50');
    const a = live(t.client(), { accountId, afterSequence: 0 });
    const b = live(t.client(await t.userToken(accountId)), { accountId, afterSequence: 0 });
    await Promise.all([a.until(1), b.until(1)]);
    await Promise.all(range(1, 10).map(() => chargeOk(accountId, '1')));
    await Promise.all([a.until(11), b.until(11)]);
    await settle(accountId);
    a.stop();
    b.stop();
    expect(a.events.map((e) => e.sequence)).toEqual(range(1, 11));
    expect(b.events).toEqual(a.events);
  });

  test('a refused charge produces no event, and events are only delivered once committed', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '5');
    const seenAtDelivery: { sequence: number; wallet: Promise<WalletQuery> }[] = [];
    // When an event arrives, the wallet read at that moment must already show it: it was committed first.
    const sub = live(t.client(), { accountId, afterSequence: 0 }, (event) => {
      seenAtDelivery.push({ sequence: event.sequence, wallet: wallet(accountId) });
    });
    await sub.until(1);
    expect((await chargeRefused(accountId, '100')).code).toBe('INSUFFICIENT_CREDITS');
    expect((await chargeRefused(accountId, '5.001')).code).toBe('INSUFFICIENT_CREDITS');
    const ok = await chargeOk(accountId, '2');
    expect(ok.sequence).toBe(2);
    await sub.until(2);
    await settle(accountId);
    sub.stop();
    expect(sub.events.map((e) => [e.sequence, e.kind, e.transaction.status, e.transaction.amount])).toEqual([
      [1, 'GRANT', 'SUCCEEDED', '5'],
      [2, 'CHARGE', 'SUCCEEDED', '-2'],
    ]);
    // The refusals were recorded (FAILED, no sequence) but never pushed.
    const history = await t.op(TransactionsDocument, { accountId, filter: { statuses: ['FAILED'] } });
    const failedIds = history.transactions.edges.map((e) => e.node.id);
    expect(failedIds).toHaveLength(2);
    expect(history.transactions.edges.every((e) => e.node.sequence === null)).toBe(true);
    expect(sub.events.some((e) => failedIds.includes(e.transaction.id))).toBe(false);
    for (const { sequence, wallet } of seenAtDelivery) expect((await wallet).wallet?.sequence).toBeGreaterThanOrEqual(sequence);
  });

  test('an idempotent retry of a charge produces no second event', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '10');
    const sub = live(t.client(), { accountId, afterSequence: 0 });
    await sub.until(1);
    const key = uniqueKey('retry');
    const first = (await charge(accountId, '3', key)).charge;
    const again = (await charge(accountId, '3', key)).charge;
    expect(again.id).toBe(first.id);
    await chargeOk(accountId, '1');
    await sub.until(3);
    await settle(accountId);
    sub.stop();
    expect(sub.events.map((e) => [e.sequence, e.kind, e.balance])).toEqual([[1, 'GRANT', '10'], [2, 'CHARGE', '7'], [3, 'CHARGE', '6']]);
  });

  test('holds produce HOLD, CAPTURE and RELEASE events', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '10');
    const sub = live(t.client(), { accountId, afterSequence: 0 });
    await sub.until(1);
    const hold = (await t.op(ReserveCreditsDocument, { input: { accountId, amount: '4', idempotencyKey: uniqueKey('hold') } })).reserveCredits;
    await t.op(CaptureHoldDocument, { input: { holdId: hold.id, amount: '3', idempotencyKey: uniqueKey('capture') } });
    const second = (await t.op(ReserveCreditsDocument, { input: { accountId, amount: '2', idempotencyKey: uniqueKey('hold') } })).reserveCredits;
    await t.op(ReleaseHoldDocument, { input: { holdId: second.id, idempotencyKey: uniqueKey('release') } });
    await sub.until(5);
    await settle(accountId);
    sub.stop();
    expect(sub.events.map((e) => [e.sequence, e.kind, e.balance, e.available, e.transaction.type, e.transaction.amount])).toEqual([
      [1, 'GRANT', '10', '10', 'GRANT', '10'],
      [2, 'HOLD', '10', '6', 'HOLD', '0'], // held, not spent
      [3, 'CAPTURE', '7', '7', 'CAPTURE', '-3'], // 3 of the 4 debited, the rest available again
      [4, 'HOLD', '7', '5', 'HOLD', '0'],
      [5, 'RELEASE', '7', '7', 'RELEASE', '0'],
    ]);
    expect((await wallet(accountId)).wallet).toMatchObject({ balance: '7', available: '7', held: '0', sequence: 5 });
  });

  test('a subscription ends cleanly and leaves no listener behind', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '3');
    const before = t.app.services.events.subscriberCount();
    const events = t.client().iterate(WalletEventsDocument, { accountId, afterSequence: 0 });
    const first = await events.next();
    expect(first.done ? null : first.value.walletEvents.sequence).toBe(1);
    await events.return!();
    await settle(accountId);
    expect(t.app.services.events.subscriberCount()).toBe(before);
  });
});

describe('shared execution', () => {
  const executions = async () => {
    const text = await (await fetch(`${t.url}/metrics`)).text();
    return { executed: metricSample(text, 'credits_live_executions_total', { result: 'executed' }) ?? 0, shared: metricSample(text, 'credits_live_executions_total', { result: 'shared' }) ?? 0 };
  };

  test('subscribers with the same selection and access run it once per event, whatever their afterSequence; other access runs its own', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '100');
    const userToken = await t.userToken(accountId);
    const listening = t.app.services.events.subscriberCount();
    // Four dashboards of the account (one live only, three from the sequence they saw), each on its own socket, and an admin key.
    const users = [live(t.client(userToken), { accountId }), ...range(1, 3).map(() => live(t.client(userToken), { accountId, afterSequence: 1 }))];
    const admin = live(t.client(), { accountId, afterSequence: 1 });
    await subscribers(listening + 5);
    const resolver = jest.spyOn(WalletEventsResolver.prototype, 'walletEvents');
    const before = await executions();
    try {
      for (let i = 0; i < 3; i += 1) await chargeOk(accountId, '1');
      await Promise.all([...users, admin].map((s) => s.until(3)));
      await settle(accountId);
      expect(resolver).toHaveBeenCalledTimes(6); // 3 events × 2 kinds of access, not × 5 subscribers
    } finally {
      resolver.mockRestore();
      for (const s of [...users, admin]) s.stop();
    }
    const after = await executions();
    expect({ executed: after.executed - before.executed, shared: after.shared - before.shared }).toEqual({ executed: 6, shared: 9 });
    for (const s of [...users, admin]) expect(s.events).toEqual(users[0].events);
    expect(users[0].events.map((e) => e.sequence)).toEqual([2, 3, 4]);
  });
});

describe('WalletEventHub', () => {
  const ACCOUNT = 'acc-1';
  const row = (sequence: number, accountId = ACCOUNT) =>
    ({ id: `tx-${accountId}-${sequence}`, accountId, sequence, type: 'CHARGE', balanceAfterMillis: -sequence, availableAfterMillis: -sequence }) as unknown as TransactionRow;

  /** The "ledger" the hub reads back from: committed rows per account. */
  function fakeLedger() {
    const committed: TransactionRow[] = [];
    const reads: [number, number][] = [];
    const readAfter = async (accountId: string, after: number, limit: number) => {
      reads.push([after, limit]);
      return committed.filter((r) => r.accountId === accountId && r.sequence! > after).sort((a, b) => a.sequence! - b.sequence!).slice(0, limit);
    };
    return { committed, reads, readAfter };
  }

  async function take(iterator: AsyncIterator<WalletEventPayload>, n: number): Promise<number[]> {
    const out: number[] = [];
    while (out.length < n) {
      let timer: NodeJS.Timeout | undefined;
      const next = await Promise.race([
        iterator.next(),
        new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`stalled after ${JSON.stringify(out)}`)), 5000); }),
      ]).finally(() => clearTimeout(timer));
      if (next.done) throw new Error(`ended after ${JSON.stringify(out)}`);
      out.push(next.value.row.sequence!);
    }
    return out;
  }

  test('an out-of-order publish (3 before 2) still yields 1, 2, 3 by filling the gap from the ledger', async () => {
    const ledger = fakeLedger();
    const hub = new WalletEventHub({ store: ledgerOnlyStore(ledger.readAfter), subscriptionsPerAccountMax: 10 });
    const iterator = hub.subscribe(ACCOUNT, 0);
    const firstThree = take(iterator, 3);
    await new Promise((resolve) => setImmediate(resolve)); // the initial (empty) replay has run
    ledger.committed.push(row(1), row(2), row(3));
    hub.publish([row(1)]);
    hub.publish([row(3)]); // commit 3 finished publishing before commit 2
    hub.publish([row(2)]);
    expect(await firstThree).toEqual([1, 2, 3]);
    expect(ledger.reads.map(([after]) => after)).toEqual([0, 1]); // the initial replay, then the gap after 1
    ledger.committed.push(row(4));
    hub.publish([row(4)]);
    expect(await take(iterator, 1)).toEqual([4]);
    await iterator.return!();
    expect(hub.subscriberCount()).toBe(0);
  });

  test('a gap at the start is filled too: only 3 published, 1..3 delivered once', async () => {
    const ledger = fakeLedger();
    const hub = new WalletEventHub({ store: ledgerOnlyStore(ledger.readAfter), subscriptionsPerAccountMax: 10 });
    const iterator = hub.subscribe(ACCOUNT, 0);
    const pending = take(iterator, 3);
    await new Promise((resolve) => setImmediate(resolve));
    ledger.committed.push(row(1), row(2), row(3));
    hub.publish([row(3)]);
    expect(await pending).toEqual([1, 2, 3]);
    hub.publish([row(2)]); // late publishes of what was already delivered are dropped
    hub.publish([row(1)]);
    ledger.committed.push(row(4));
    hub.publish([row(4)]);
    expect(await take(iterator, 1)).toEqual([4]);
    await iterator.return!();
  });

  test('replay after a sequence, then live, with no duplicate when a live publish races the replay', async () => {
    const ledger = fakeLedger();
    ledger.committed.push(row(1), row(2), row(3));
    const hub = new WalletEventHub({ store: ledgerOnlyStore(ledger.readAfter), subscriptionsPerAccountMax: 10 });
    const iterator = hub.subscribe(ACCOUNT, 1);
    // Row 3 is published after the subscription started but before the replay read it.
    hub.publish([row(3)]);
    expect(await take(iterator, 2)).toEqual([2, 3]);
    ledger.committed.push(row(4), row(5));
    hub.publish([row(5), row(4)].reverse());
    expect(await take(iterator, 2)).toEqual([4, 5]);
    await iterator.return!();
  });

  test('other accounts and unsequenced rows are not delivered', async () => {
    const ledger = fakeLedger();
    const hub = new WalletEventHub({ store: ledgerOnlyStore(ledger.readAfter), subscriptionsPerAccountMax: 10 });
    const iterator = hub.subscribe(ACCOUNT, 0);
    const pending = take(iterator, 1);
    await new Promise((resolve) => setImmediate(resolve));
    ledger.committed.push(row(1, 'acc-2'));
    hub.publish([row(1, 'acc-2'), { ...row(99), sequence: null }]);
    ledger.committed.push(row(1));
    hub.publish([row(1)]);
    expect(await pending).toEqual([1]);
    await iterator.return!();
    expect(hub.subscriberCount()).toBe(0);
  });
});
