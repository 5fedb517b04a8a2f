/**
 * Live updates across instances through Redis (README, "Running several instances"): two app
 * instances on one PostgreSQL database and one Redis. A charge on A reaches a subscriber on B in
 * sequence order, with no gap and no duplicate; Redis stopped mid-test loses nothing once it is back
 * (charges during the outage succeed; the subscriber ends with every sequence exactly once);
 * revoking a key on A closes its socket on B, also when the revocation was made while Redis was
 * away; and N subscribers of one wallet with the same selection cost one execution per event.
 *
 * Redis here is a redis-server of this test's own, on a free port, so that it can be stopped and
 * started again (the machine's Redis is never touched). Runs with DATABASE_URL; without the
 * redis-server program it is skipped, except where it is expected (CI=true), where it fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { Redis } from 'ioredis';
import { createApp, type App } from '../../src/main';
import { openDatabase, type Database } from '../../src/db/client';
import { ChargeDocument, createCreditsClient, WalletEventsDocument, type CreditsClient, type WalletEventsSubscription } from '../../src/client';
import { WalletEventsResolver } from '../../src/modules/events';
import { isPostgres, startTestApp, uniqueKey, type TestApp } from '../helpers/harness';
import { freePort } from '../helpers/server-process';
import { eventually, metricSample, stream, type Stream } from '../helpers/live';

const redisInstalled = spawnSync('redis-server', ['--version'], { timeout: 5000 }).status === 0;
const suite = isPostgres() && (redisInstalled || process.env.CI) ? describe : describe.skip;

type Event = WalletEventsSubscription['walletEvents'];
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** A redis-server of the test's own (no persistence), which can be stopped and started on the same port. */
class OwnRedis {
  private child: ChildProcess | null = null;
  constructor(readonly port: number) {}
  get url(): string { return `redis://127.0.0.1:${this.port}`; }

  async start(): Promise<void> {
    const child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.child = child;
    await eventually(async () => {
      const probe = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
      try {
        await probe.connect();
        return (await probe.ping()) === 'PONG';
      } catch {
        return false;
      } finally {
        probe.disconnect();
      }
    }, `redis-server on port ${this.port}`, 10_000);
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL'); // as a crash or a network loss: no goodbye to the clients
    });
  }
}

suite('live updates across instances through Redis (PostgreSQL and redis-server)', () => {
  let redis: OwnRedis;
  let a: TestApp;
  let b: App;
  let bUrl: string;
  let bDatabase: Database;
  const clients: CreditsClient[] = [];
  const sockets: Client[] = [];

  beforeAll(async () => {
    if (!redisInstalled) throw new Error('redis-server is expected (CI=true) but not installed');
    redis = new OwnRedis(await freePort());
    await redis.start();
    const channel = `credits-test:${uniqueKey('live')}`;
    // No periodic resync here: what the tests see comes through Redis, or from the catch-up a reconnect starts.
    a = await startTestApp({ redisUrl: redis.url, liveChannel: channel, liveResyncSeconds: 3600, rateLimitKeyPrefix: `${channel}:rl` });
    bDatabase = await openDatabase({ databaseUrl: process.env.DATABASE_URL!, dataDir: null, poolSize: 10 });
    b = await createApp({ config: a.app.services.config, clock: a.clock, database: bDatabase, runJobs: false });
    bUrl = await b.listen(0);
  });

  afterAll(async () => {
    await Promise.all(sockets.map(async (s) => s.dispose()));
    await Promise.all(clients.map((c) => c.close()));
    await b?.stop();
    await bDatabase?.close();
    await a?.close();
    await redis?.stop();
  });

  /** A client of instance B (no retries: tests see each error as it is). */
  const clientOfB = (token: string = a.adminKey) => {
    const client = createCreditsClient({ url: `${bUrl}/graphql`, token, webSocketImpl: WebSocket, webSocket: { retryAttempts: 0 }, retry: { maxAttempts: 1 } });
    clients.push(client);
    return client;
  };
  const eventsOnB = (accountId: string, token?: string): Stream<Event> =>
    stream(clientOfB(token), WalletEventsDocument, { accountId, afterSequence: 0 }, (data) => data.walletEvents);
  const chargeOn = (app: 'a' | 'b', accountId: string, amount = '1') =>
    (app === 'a' ? a.op(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('c') } })
      : clientOfB().request(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey('c') } })).then((r) => r.charge);
  const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();
  const fannedOut = async (url: string) => metricSample(await scrape(url), 'credits_live_fanout_seconds_count', { routed: 'yes' }) ?? 0;
  /** Waits until B's hub has `n` walletEvents subscribers. */
  const subscribersOnB = (n: number) => eventually(() => b.services.events.subscriberCount() >= n, `${n} subscribers on B`);

  test('a charge on A reaches a subscriber on B through Redis, in sequence order, with no gap and no duplicate', async () => {
    const accountId = await a.createAccount();
    await a.grant(accountId, '100');
    const listening = b.services.events.subscriberCount();
    const sub = eventsOnB(accountId);
    await sub.until(1);
    await subscribersOnB(listening + 1);
    const fannedBefore = await fannedOut(bUrl);
    const first = await chargeOn('a', accountId);
    await sub.until(2);
    expect(sub.items[1]).toMatchObject({ sequence: 2, kind: 'CHARGE', transaction: { id: first.id } });
    // Concurrent charges on both instances: commits of one wallet published from two places, arriving in any order.
    await Promise.all(range(1, 30).map((i) => chargeOn(i % 3 === 0 ? 'b' : 'a', accountId)));
    await sub.until(32);
    await new Promise((resolve) => setTimeout(resolve, 200));
    sub.stop();
    expect(sub.items.map((e) => e.sequence)).toEqual(range(1, 32));
    expect(sub.items.map((e) => e.balance)).toEqual(range(0, 31).map((i) => String(100 - i)));
    expect(await fannedOut(bUrl)).toBeGreaterThan(fannedBefore); // A's charges came to B through Redis
  });

  test('Redis stopped mid-test: charges go on, and once Redis is back the subscriber on B has every sequence exactly once', async () => {
    const accountId = await a.createAccount();
    await a.grant(accountId, '100');
    const listening = b.services.events.subscriberCount();
    const sub = eventsOnB(accountId);
    await sub.until(1);
    await subscribersOnB(listening + 1);
    for (let i = 0; i < 3; i += 1) await chargeOn('a', accountId);
    await sub.until(4);

    await redis.stop();
    await eventually(() => a.app.services.events.transport.up() === 0 && b.services.events.transport.up() === 0, 'both instances to see Redis down');
    const duringOutage = await Promise.allSettled(range(1, 10).map(() => chargeOn('a', accountId)));
    expect(duringOutage.filter((r) => r.status === 'rejected')).toEqual([]);
    const dropped = metricSample(await scrape(a.url), 'credits_live_redis_publishes_total', { outcome: 'down' }) ?? 0;
    expect(dropped).toBeGreaterThan(0); // the live messages were dropped, not queued

    await redis.start();
    await eventually(() => a.app.services.events.transport.up() === 1 && b.services.events.transport.up() === 1, 'both instances to reconnect');
    await sub.until(14); // caught up from the ledger when B's subscription came back
    for (let i = 0; i < 3; i += 1) await chargeOn('a', accountId);
    await sub.until(17);
    await new Promise((resolve) => setTimeout(resolve, 200));
    sub.stop();
    expect(sub.items.map((e) => e.sequence)).toEqual(range(1, 17));
    expect((await a.wallet(accountId)).sequence).toBe(17);
    expect(metricSample(await scrape(bUrl), 'credits_live_resyncs_total', { reason: 'reconnect' })).toBeGreaterThanOrEqual(1);
  });

  /** A raw graphql-ws client of B (for its close code) with a subscription open; resolves once it is listening. */
  async function socketOnB(token: string, accountId: string): Promise<{ closed: Promise<number> }> {
    let closedWith!: (code: number) => void;
    const closed = new Promise<number>((resolve) => { closedWith = resolve; });
    const client = createClient({
      url: bUrl.replace('http', 'ws') + '/graphql', webSocketImpl: WebSocket, retryAttempts: 0, connectionParams: { authorization: `Bearer ${token}` },
      on: { closed: (event) => closedWith((event as { code: number }).code) },
    });
    sockets.push(client);
    const listening = b.services.events.subscriberCount();
    client.subscribe({ query: 'subscription($id: ID!) { walletEvents(accountId: $id) { sequence } }', variables: { id: accountId } }, { next: () => {}, error: () => {}, complete: () => {} });
    await subscribersOnB(listening + 1);
    return { closed };
  }

  const revokeOnA = async (keyId: string) => {
    await a.ok(`mutation($id: ID!) { revokeApiKey(id: $id) }`, { id: keyId });
  };

  test('revoking a key on A closes its sockets on B', async () => {
    const accountId = await a.createAccount();
    const key = await a.app.services.auth.createApiKey('revoked across instances', 'READONLY');
    const { closed } = await socketOnB(key.secret, accountId);
    await revokeOnA(key.id);
    expect(await closed).toBe(4403);
  });

  test('a key revoked on A while Redis is away closes its socket on B once Redis is back', async () => {
    const accountId = await a.createAccount();
    const key = await a.app.services.auth.createApiKey('revoked during an outage', 'READONLY');
    const { closed } = await socketOnB(key.secret, accountId);
    await redis.stop();
    await eventually(() => a.app.services.events.transport.up() === 0, 'A to see Redis down');
    await revokeOnA(key.id); // the announcement is lost
    await redis.start();
    expect(await closed).toBe(4403); // B checks its sockets' keys in the database when it reconnects
  });

  test('N subscribers of one wallet on one instance, same selection: the resolver runs once per event, not N times', async () => {
    const N = 10;
    const CHARGES = 5;
    const accountId = await a.createAccount();
    await a.grant(accountId, '100');
    const token = await a.userToken(accountId);
    const listening = b.services.events.subscriberCount();
    // Each on its own socket, as N dashboards; each starts from the sequence it last saw (the same here).
    const subs = range(1, N).map(() => stream(clientOfB(token), WalletEventsDocument, { accountId, afterSequence: 1 }, (data) => data.walletEvents));
    await subscribersOnB(listening + N);
    const resolver = jest.spyOn(WalletEventsResolver.prototype, 'walletEvents');
    const before = await scrape(bUrl);
    try {
      for (let i = 0; i < CHARGES; i += 1) await chargeOn('a', accountId);
      await Promise.all(subs.map((s) => s.until(CHARGES)));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(resolver).toHaveBeenCalledTimes(CHARGES);
    } finally {
      resolver.mockRestore();
      for (const s of subs) s.stop();
    }
    const after = await scrape(bUrl);
    const delta = (result: string) => (metricSample(after, 'credits_live_executions_total', { result }) ?? 0) - (metricSample(before, 'credits_live_executions_total', { result }) ?? 0);
    expect(delta('executed')).toBe(CHARGES);
    expect(delta('shared')).toBe(CHARGES * (N - 1));
    for (const s of subs) expect(s.items.map((e) => e.sequence)).toEqual(range(2, CHARGES + 1));
    expect(subs.every((s) => JSON.stringify(s.items) === JSON.stringify(subs[0].items))).toBe(true);
  });
});
