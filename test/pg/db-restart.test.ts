/**
 * PostgreSQL restarted under charge load (runs only with DATABASE_URL, on the machine's own
 * cluster): the compiled server keeps running, answers what it cannot do with a retryable
 * SERVICE_UNAVAILABLE (HTTP 503), reports /readyz 503 while the database is away and 200 soon after,
 * and no acknowledged charge is lost or doubled: clients retry with the same idempotency key until
 * the charge is answered, and each key has exactly one effect. The test waits for PostgreSQL to be
 * back before it ends; every loop is bounded.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { promisify } from 'node:util';
import { isPostgres } from '../helpers/harness';
import { buildServer, createAdminKey, freePort, kill, startServer, type ServerProcess } from '../helpers/server-process';
import { postGraphQL, type GraphQLResponse } from '../../bench/http';

const run = promisify(execFile);
const LOOPS = 12;
const WALLETS = 3;
const RESTARTS = ['fast', 'immediate'] as const; // pg_ctlcluster shutdown modes, one restart each
const ATTEMPTS_PER_CHARGE_MAX = 200; // retries of one idempotency key (≥ 100 ms apart) before the test gives up
/** A hang detector, not a speed assertion: an answer later than this means the request was stuck. */
const ANSWER_TIMEOUT_MS = 10_000;
const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id status amount idempotencyKey } }`;
/** What CHARGE selects; `charge` is null when the charge is refused. */
interface ChargeData { charge: { id: string; status: string; amount: string; idempotencyKey: string } | null }
/** A page of CHARGE transactions as the final check reads it. */
interface ChargePage {
  transactions: { edges: { node: { id: string; status: string; idempotencyKey: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pgCluster(action: 'restart' | 'start', mode: string): Promise<void> {
  const version = fs.readdirSync('/etc/postgresql').sort()[0];
  const args = ['--skip-systemctl-redirect', version, 'main', action, ...(action === 'restart' ? ['--', '-m', mode] : [])];
  await run('pg_ctlcluster', args, { timeout: 120_000 });
}

async function pgReady(): Promise<boolean> {
  try { await run('pg_isready', ['-h', '127.0.0.1', '-p', '5432', '-q'], { timeout: 5_000 }); return true; } catch { return false; }
}

function getStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 5_000, agent: false }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(0));
  });
}

const suite = isPostgres() ? describe : describe.skip;

suite('PostgreSQL restart under load (runs only with DATABASE_URL)', () => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: LOOPS + 2 });
  let server: ServerProcess | null = null;
  let port = 0;
  let adminKey = '';

  beforeAll(async () => {
    await buildServer();
    adminKey = await createAdminKey('restart test');
    port = await freePort();
  }, 180_000);

  afterAll(async () => {
    if (server) await kill(server);
    agent.destroy();
    // Never leave the machine's PostgreSQL down for the tests after this one.
    for (let i = 0; i < 60 && !(await pgReady()); i += 1) {
      if (i === 0) await pgCluster('start', '').catch(() => {});
      await sleep(1000);
    }
  }, 120_000);

  const gql = async <T,>(query: string, variables: Record<string, unknown>) =>
    postGraphQL<T>({ agent, port, token: adminKey }, { query, variables }, ANSWER_TIMEOUT_MS);
  const ok = async <T,>(query: string, variables: Record<string, unknown>): Promise<T> => {
    const { json } = await gql<T>(query, variables);
    if (json.errors?.length || !json.data) throw new Error(`GraphQL errors: ${JSON.stringify(json.errors)}`);
    return json.data;
  };

  test('the server survives, refuses with a retryable 503 while the database is away, and every charge takes effect exactly once', async () => {
    server = await startServer(port, { DATABASE_URL: process.env.DATABASE_URL });
    const runId = `restart-${process.pid}-${Date.now()}`;
    const grantedMillis = 10_000_000;
    const accounts: string[] = [];
    for (let w = 0; w < WALLETS; w += 1) {
      const accountId = (await ok<{ createAccount: { id: string } }>(`mutation($i: CreateAccountInput!) { createAccount(input: $i) { id } }`, { i: { name: `restart ${w}`, kind: 'USER' } })).createAccount.id;
      await ok(`mutation($i: GrantCreditsInput!) { grantCredits(input: $i) { id } }`,
        { i: { accountId, amount: String(grantedMillis / 1000), source: 'PURCHASE', idempotencyKey: `${runId}-grant-${w}` } });
      accounts.push(accountId);
    }

    interface Charge { key: string; wallet: number; millis: number; id?: string; attempts: number }
    const charges: Charge[] = [];
    const unavailable: { status: number; retryable: unknown }[] = [];
    const otherErrors: unknown[] = [];
    let slowestMs = 0;
    let stop = false;

    // Each loop charges until told to stop; a charge is retried with its key until it is answered.
    const loop = async (n: number) => {
      for (let i = 0; !stop && i < 5_000; i += 1) {
        const charge: Charge = { key: `${runId}-${n}-${i}`, wallet: n % WALLETS, millis: 1000 + ((n + i) % 4) * 250, attempts: 0 };
        charges.push(charge);
        while (!charge.id) {
          if (++charge.attempts > ATTEMPTS_PER_CHARGE_MAX) throw new Error(`charge ${charge.key} never succeeded`);
          const started = Date.now();
          let answer: { status: number; json: GraphQLResponse<ChargeData> };
          try {
            answer = await gql<ChargeData>(CHARGE, { i: { accountId: accounts[charge.wallet], amount: (charge.millis / 1000).toFixed(3), idempotencyKey: charge.key } });
          } catch (error) {
            throw new Error(`no answer from the server (it must stay up and answer within ${ANSWER_TIMEOUT_MS} ms): ${String(error)}\n${server?.output.join('')}`, { cause: error });
          }
          slowestMs = Math.max(slowestMs, Date.now() - started);
          const { status, json } = answer;
          const charged = json.data?.charge;
          if (charged?.status === 'SUCCEEDED') { charge.id = charged.id; break; }
          const extensions = json.errors?.[0]?.extensions;
          if (extensions?.code === 'SERVICE_UNAVAILABLE') unavailable.push({ status, retryable: extensions.retryable });
          else otherErrors.push({ status, errors: json.errors });
          await sleep(100);
        }
      }
    };

    const loops = Array.from({ length: LOOPS }, (_, n) => loop(n));
    const readiness: { restart: string; sawNotReady: boolean; backAfterMs: number }[] = [];
    try {
      for (const mode of RESTARTS) {
        await sleep(1500); // load runs against a healthy database first
        const restartStarted = Date.now();
        let sawNotReady = false;
        const restarting = pgCluster('restart', mode);
        let restarted = false;
        void restarting.then(() => { restarted = true; }, () => { restarted = true; });
        while (!restarted) {
          if ((await getStatus(port, '/readyz')) === 503) sawNotReady = true;
          await sleep(50);
        }
        await restarting;
        const backAt = Date.now();
        let backAfterMs = -1;
        for (let i = 0; i < 300; i += 1) {
          if ((await getStatus(port, '/readyz')) === 200) { backAfterMs = Date.now() - backAt; break; }
          await sleep(100);
        }
        readiness.push({ restart: `${mode} (${backAt - restartStarted} ms)`, sawNotReady, backAfterMs });
        expect(backAfterMs).toBeGreaterThanOrEqual(0); // /readyz said 200 again
      }
      await sleep(1500); // and load runs on the restarted database
    } finally {
      stop = true;
      await Promise.allSettled(loops);
    }
    await Promise.all(loops);

    expect(server.child.exitCode).toBeNull(); // the process survived both restarts
    expect(server.output.join('')).not.toMatch(/uncaught|TypeError/i);
    expect(otherErrors).toEqual([]);
    expect(readiness.every((r) => r.sawNotReady)).toBe(true);
    expect(unavailable.length).toBeGreaterThan(0); // the restarts did land mid-load
    for (const u of unavailable) expect(u).toEqual({ status: 503, retryable: true });

    // Every key has exactly one CHARGE, with the id its client was given.
    const posted = new Map<string, string[]>();
    for (const accountId of accounts) {
      let after: string | null = null;
      for (let page = 0; ; page += 1) {
        if (page >= 1000) throw new Error('too many pages');
        const data: ChargePage = await ok<ChargePage>(`query($id: ID!, $after: String) { transactions(accountId: $id, first: 100, after: $after, filter: { types: [CHARGE] }) {
          edges { node { id status idempotencyKey } } pageInfo { hasNextPage endCursor } } }`, { id: accountId, after });
        for (const { node } of data.transactions.edges) {
          expect(node.status).toBe('SUCCEEDED');
          posted.set(node.idempotencyKey, [...(posted.get(node.idempotencyKey) ?? []), node.id]);
        }
        if (!data.transactions.pageInfo.hasNextPage) break;
        after = data.transactions.pageInfo.endCursor;
      }
    }
    const answered = charges.filter((c) => c.id);
    expect(answered.length).toBe(charges.length);
    expect(posted.size).toBe(charges.length);
    for (const c of charges) expect(posted.get(c.key)).toEqual([c.id]);
    for (const [w, accountId] of accounts.entries()) {
      const mine = charges.filter((c) => c.wallet === w);
      const wallet = (await ok<{ wallet: { balance: string; sequence: number } }>(`query($id: ID!) { wallet(accountId: $id) { balance sequence } }`, { id: accountId })).wallet;
      expect(Math.round(Number(wallet.balance) * 1000)).toBe(grantedMillis - mine.reduce((s, c) => s + c.millis, 0));
      expect(wallet.sequence).toBe(1 + mine.length);
    }
    expect((await ok<{ auditLedger: unknown }>(`{ auditLedger { ok violations } }`, {})).auditLedger).toEqual({ ok: true, violations: [] });

    console.log(`database restart: ${charges.length} charges, ${unavailable.length} SERVICE_UNAVAILABLE answers retried, `
      + `slowest answer ${slowestMs} ms, ${readiness.map((r) => `${r.restart}: /readyz 200 ${r.backAfterMs} ms after PostgreSQL was back`).join('; ')}`);
  }, 300_000);
});

if (!isPostgres()) {
  test.skip('PostgreSQL restart test needs DATABASE_URL (skipped on PGlite)', () => {});
}
