/**
 * Alerts live (PRODUCT.md §6): `lowCreditAlerts` over graphql-ws — a user token sees its own
 * account's alerts, an admin key without accountId sees every account's, anyone else is refused —
 * and `WalletEvent.alert`, the alert a transaction raised, on live and on replayed events.
 *
 * Most alerts are made here by inserting them and publishing them as the ledger (publish(rows,
 * alerts)) and the jobs (publishAlerts) do after their commits, so every kind and every path is
 * covered; one test crosses a real level with a charge (the rules of crossing are tested with them).
 */
import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { ChargeDocument, LowCreditAlertsDocument, WalletEventsDocument, type AlertFieldsFragment, type WalletEventsSubscription } from '../../src/client';
import { alerts } from '../../src/db/schema';
import { insertAlert } from '../../src/modules/alerts/alerts.repo';
import type { AlertRow } from '../../src/modules/alerts';
import { WalletEventHub } from '../../src/modules/events';
import type { TransactionRow } from '../../src/modules/ledger';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { eventually, ledgerOnlyStore, stream } from '../helpers/live';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

type Kind = AlertRow['kind'];

/** Inserts an alert (committed) and returns its row as stored. */
async function insert(accountId: string, kind: Kind = 'LOW_BALANCE', transactionId: string | null = null): Promise<AlertRow> {
  const id = randomUUID();
  await t.app.services.db.transaction((tx) => insertAlert(tx, {
    id, accountId, kind, thresholdMillis: kind === 'LOW_BALANCE' ? 5_000 : null, availableMillis: 4_000, message: `test ${kind}`,
    transactionId, memberId: null, dedupeKey: null, createdAt: t.clock.now(), readAt: null,
  }));
  const [row] = await t.app.services.db.select().from(alerts).where(eq(alerts.id, id));
  return row;
}

/** Raises an alert outside the ledger, as a job does: insert, commit, publishAlerts. */
async function raise(accountId: string, kind: Kind = 'LOW_BALANCE'): Promise<AlertRow> {
  const row = await insert(accountId, kind);
  t.app.services.events.publishAlerts([row]);
  return row;
}

const alertsOf = (client: ReturnType<TestApp['client']>, accountId?: string) =>
  stream(client, LowCreditAlertsDocument, accountId ? { accountId } : {}, (data) => data.lowCreditAlerts);

/** Waits until the hub has `n` more alert subscribers than `before`. */
const alertSubscribers = (before: number, n = 1) =>
  eventually(() => t.app.services.events.alertSubscriberCount() >= before + n, `${before + n} alert subscribers`);

/** Lets in-flight frames through, so a stray extra alert would be seen. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 100));

function expectAlert(received: AlertFieldsFragment, row: AlertRow) {
  expect(received).toEqual({
    id: row.id, accountId: row.accountId, kind: row.kind, threshold: row.thresholdMillis === null ? null : String(row.thresholdMillis / 1000),
    available: String(row.availableMillis / 1000), message: row.message, createdAt: row.createdAt.toISOString(), readAt: null,
  });
}

describe('lowCreditAlerts', () => {
  test('a user token gets its own account\'s alerts, of every kind, and none of another account', async () => {
    const accountId = await t.createAccount();
    const other = await t.createAccount();
    const before = t.app.services.events.alertSubscriberCount();
    const sub = alertsOf(t.client(await t.userToken(accountId)), accountId);
    await alertSubscribers(before);
    await raise(other); // not this subscriber's
    const raised: AlertRow[] = [];
    for (const kind of ['LOW_BALANCE', 'DEPLETED', 'RUN_OUT_SOON', 'CREDITS_EXPIRING', 'AUTO_TOP_UP_FAILED'] as const) raised.push(await raise(accountId, kind));
    await sub.until(5);
    await settle();
    sub.stop();
    expect(sub.items).toHaveLength(5);
    sub.items.forEach((item, i) => expectAlert(item, raised[i]));
  });

  test('an admin key without accountId gets every account\'s alerts; with one, that account\'s', async () => {
    const a = await t.createAccount();
    const b = await t.createAccount();
    const before = t.app.services.events.alertSubscriberCount();
    const all = alertsOf(t.client());
    const onlyB = alertsOf(t.client(), b);
    await alertSubscribers(before, 2);
    const first = await raise(a, 'DEPLETED');
    const second = await raise(b, 'RUN_OUT_SOON');
    await all.until(2);
    await onlyB.until(1);
    await settle();
    all.stop();
    onlyB.stop();
    // Other files' alerts are not published here; this file's own run sequentially, so these two are all.
    expect(all.items.map((i) => i.id)).toEqual([first.id, second.id]);
    expect(onlyB.items.map((i) => i.id)).toEqual([second.id]);
  });

  test('alerts raised with a ledger transaction (publish(rows, alerts)) go to lowCreditAlerts too', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '10');
    const before = t.app.services.events.alertSubscriberCount();
    const sub = alertsOf(t.client(await t.userToken(accountId)), accountId);
    await alertSubscribers(before);
    const charge = (await t.op(ChargeDocument, { input: { accountId, amount: '1', idempotencyKey: uniqueKey('c') } })).charge;
    const row = await insert(accountId, 'LOW_BALANCE', charge.id);
    t.app.services.events.publish([], [row]);
    await sub.until(1);
    sub.stop();
    expectAlert(sub.items[0], row);
  });

  test('refused: a user token on another account or on all accounts, a non-admin key on all accounts, an anonymous caller; an unknown account is not found', async () => {
    const accountId = await t.createAccount();
    const other = await t.createAccount();
    const userToken = await t.userToken(accountId);
    const codeOf = async (token: string | null, forAccount?: string) => {
      const failure = await alertsOf(t.client(token), forAccount).failure();
      return (failure as { code?: string }).code;
    };
    expect(await codeOf(userToken, other)).toBe('FORBIDDEN');
    expect(await codeOf(userToken)).toBe('FORBIDDEN');
    expect(await codeOf(await t.key('READONLY'))).toBe('FORBIDDEN');
    expect(await codeOf(await t.key('SERVICE'))).toBe('FORBIDDEN');
    expect(await codeOf(null, accountId)).toBe('UNAUTHENTICATED');
    expect(await codeOf(t.adminKey, randomUUID())).toBe('NOT_FOUND');
    // Allowed with an account: any key reads any account.
    const before = t.app.services.events.alertSubscriberCount();
    const readonly = alertsOf(t.client(await t.key('READONLY')), accountId);
    await alertSubscribers(before);
    const row = await raise(accountId);
    await readonly.until(1);
    readonly.stop();
    expect(readonly.items[0].id).toBe(row.id);
  });

  test('a catch-up (as after Redis was away) delivers an alert raised since the subscription began and never published, once; not older ones', async () => {
    const accountId = await t.createAccount();
    const older = await insert(accountId, 'RUN_OUT_SOON'); // before the subscription: never delivered
    const before = t.app.services.events.alertSubscriberCount();
    const sub = alertsOf(t.client(await t.userToken(accountId)), accountId);
    await alertSubscribers(before);
    const published = await raise(accountId);
    await sub.until(1); // the subscription has read where it starts
    const lost = await insert(accountId, 'DEPLETED'); // committed, its publish lost
    await t.app.services.events.catchUp();
    await sub.until(2);
    await t.app.services.events.catchUp(); // again: nothing new
    await settle();
    sub.stop();
    expect(sub.items.map((i) => i.id)).toEqual([published.id, lost.id]);
    expect(sub.items.map((i) => i.id)).not.toContain(older.id);
  });
});

describe('WalletEvent.alert', () => {
  type Event = WalletEventsSubscription['walletEvents'];
  const eventsOf = (client: ReturnType<TestApp['client']>, accountId: string, afterSequence?: number) =>
    stream(client, WalletEventsDocument, { accountId, afterSequence }, (data): Event => data.walletEvents);

  test('a live event carries the alert its transaction raised; others carry none', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '10');
    const events = t.app.services.events;
    const sub = eventsOf(t.client(await t.userToken(accountId)), accountId, 0);
    await sub.until(1);
    // The charge's own publish is held back and repeated with its alert, as the ledger publishes
    // rows and the alerts raised in the same database transaction.
    const held: TransactionRow[] = [];
    const holding = jest.spyOn(events, 'publish').mockImplementation((rows = []) => { held.push(...rows); });
    let chargeId: string;
    try {
      chargeId = (await t.op(ChargeDocument, { input: { accountId, amount: '7', idempotencyKey: uniqueKey('c') } })).charge.id;
    } finally {
      holding.mockRestore();
    }
    const alert = await insert(accountId, 'LOW_BALANCE', chargeId);
    events.publish(held, [alert]);
    await t.op(ChargeDocument, { input: { accountId, amount: '1', idempotencyKey: uniqueKey('c') } });
    await sub.until(3);
    sub.stop();
    expect(sub.items.map((e) => [e.sequence, e.kind, e.alert?.id ?? null])).toEqual([[1, 'GRANT', null], [2, 'CHARGE', alert.id], [3, 'CHARGE', null]]);
    expectAlert(sub.items[1].alert!, alert);
  });

  test('a charge crossing a level: its live event carries the alert, lowCreditAlerts pushes it, and a replay has it too', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '10');
    await t.ok(`mutation($i: UpdateWalletInput!) { updateWallet(input: $i) { lowCreditThresholds } }`, { i: { accountId, lowCreditThresholds: ['5'] } });
    const token = await t.userToken(accountId);
    const before = t.app.services.events.alertSubscriberCount();
    const pushed = alertsOf(t.client(token), accountId);
    await alertSubscribers(before);
    const events = eventsOf(t.client(token), accountId, 0);
    await events.until(1);
    await t.op(ChargeDocument, { input: { accountId, amount: '2', idempotencyKey: uniqueKey('c') } }); // 8: above the level
    const crossing = (await t.op(ChargeDocument, { input: { accountId, amount: '4', idempotencyKey: uniqueKey('c') } })).charge; // 4: crosses 5
    await events.until(3);
    await pushed.until(1);
    events.stop();
    pushed.stop();
    expect(events.items.map((e) => [e.sequence, e.alert?.kind ?? null])).toEqual([[1, null], [2, null], [3, 'LOW_BALANCE']]);
    expect(events.items[2]).toMatchObject({ transaction: { id: crossing.id }, alert: { threshold: '5', available: '4', accountId } });
    expect(pushed.items).toEqual([events.items[2].alert]);
    const replay = eventsOf(t.client(), accountId, 2);
    await replay.until(1);
    replay.stop();
    expect(replay.items[0].alert).toEqual(events.items[2].alert);
  });

  test('replayed events carry their alerts, read from the alerts table', async () => {
    const accountId = await t.createAccount();
    await t.grant(accountId, '10');
    const charges: string[] = [];
    for (let i = 0; i < 3; i += 1) charges.push((await t.op(ChargeDocument, { input: { accountId, amount: '2', idempotencyKey: uniqueKey('c') } })).charge.id);
    const low = await insert(accountId, 'LOW_BALANCE', charges[1]);
    const auto = await insert(accountId, 'AUTO_TOP_UP_FAILED', null); // not a transaction's: on no event
    const sub = eventsOf(t.client(), accountId, 0);
    await sub.until(4);
    sub.stop();
    expect(sub.items.map((e) => [e.sequence, e.alert?.id ?? null])).toEqual([[1, null], [2, null], [3, low.id], [4, null]]);
    expectAlert(sub.items[2].alert!, low);
    expect(sub.items.some((e) => e.alert?.id === auto.id)).toBe(false);
  });

  test('a replay reads the alerts of each page of transactions in one query', async () => {
    const ACCOUNT = 'acc-1';
    const history = Array.from({ length: 150 }, (_, i) => ({ id: `tx-${i + 1}`, accountId: ACCOUNT, sequence: i + 1 }) as TransactionRow);
    const alertReads: string[][] = [];
    const alertOf = (transactionId: string) => ({ id: `alert-${transactionId}`, transactionId, accountId: ACCOUNT }) as AlertRow;
    const hub = new WalletEventHub({
      store: {
        ...ledgerOnlyStore(async (_accountId, after, limit) => history.filter((r) => r.sequence! > after).slice(0, limit)),
        alertsOfTransactions: async (ids) => {
          alertReads.push([...ids]);
          return ids.filter((id) => id === 'tx-50' || id === 'tx-120').map(alertOf);
        },
      },
      subscriptionsPerAccountMax: 10,
    });
    const iterator = hub.subscribe(ACCOUNT, 0);
    const withAlerts: [number, string][] = [];
    for (let i = 0; i < 150; i += 1) {
      const next = await iterator.next();
      if (next.done) throw new Error('ended');
      if (next.value.alert) withAlerts.push([next.value.row.sequence!, next.value.alert.id]);
    }
    await iterator.return!();
    expect(withAlerts).toEqual([[50, 'alert-tx-50'], [120, 'alert-tx-120']]);
    expect(alertReads.map((ids) => ids.length)).toEqual([100, 50]);
  });
});
