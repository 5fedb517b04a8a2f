/**
 * `npm run bench`: the charge path over HTTP against PostgreSQL, as a ratio to the bare-SQL floor
 * measured in the same run (../shared/bench/sql-floor.sh, pgbench). These machines are noisy, so
 * every figure is a median over BENCH_REPEATS rounds; each round measures the floor (server idle)
 * and then every shape, and a shape's ratio is the median of its per-round ratios.
 *
 * It starts the compiled server (dist/src/main.js) as a child process on PostgreSQL with
 * LOAD_DEMO=false, creates an admin key with the create-admin-key CLI, seeds BENCH_WALLETS wallets
 * over GraphQL, then drives each shape with BENCH_CONNECTIONS keep-alive connections for
 * BENCH_SECONDS. Prints a table, then one JSON line.
 *
 * Then the renewal shape (after the other shapes, so their figures are unchanged): BENCH_RENEWALS
 * subscriptions to a daily plan, all started at one instant through a second instance
 * (bench/renewer.ts: the app with a ManualClock, in its own process), fall due together a day later
 * on that instance's clock, which runs the renewal job (services.plans.runRenewals in batches of
 * jobBatchSize) until nothing is due, while charges run on the main server; reports renewals per
 * second, the renewer's memory, and charge p99 during the run against charge p99 just before it
 * (same server, same run), with their ratio (target ≤ 2).
 *
 * env: DATABASE_URL      use this database as is (default: a fresh credits_bench on the local server,
 *                        dropped at the end)
 *      BENCH_SECONDS     per shape and round (default 5)     BENCH_REPEATS  rounds (default 3)
 *      BENCH_CONNECTIONS HTTP connections (default 64)       BENCH_WALLETS  wallets (default 10000)
 *      FLOOR_CLIENTS     pgbench clients (default 16)        BENCH_SKIP_FLOOR=1 skips the floor
 *      BENCH_RENEWALS    subscriptions renewed (default 10000; 0 skips the renewal shape)
 *      BENCH_RENEWAL_ROUNDS  renewal runs, a day apart on the renewer's clock (default 1)
 *      BENCH_SHAPES      only these shapes, comma-separated names (default all)
 *      BENCH_JIT=0       skips the executor comparison: a second server with GRAPHQL_EXECUTOR=jit on the same
 *                        database runs JIT_SHAPES each round, right after graphql-js's, as "<shape> (jit)"
 *
 * Then the fan-out shape (bench/fanout.ts: two more instances with Redis, live subscribers; env there;
 * BENCH_FANOUT_SUBSCRIBERS=0 skips it). `npm run bench -- fanout` runs the fan-out shape alone.
 * The team shape (bench/teams.ts): charges on BENCH_TEAMS team wallets (default 2,000; 0 skips it),
 * each for one of BENCH_TEAM_MEMBERS members with a budget (default 3), each with its own fingerprint,
 * compared round by round with `charge uniform` (target ≥ 0.9).
 * The HTTP stack comparison (bench/http-stack.ts: { __typename } on the same ApolloServer over Express
 * and over Fastify, no database; BENCH_STACK=0 skips it). `npm run bench -- stack` runs it alone.
 * Last, the report shape (bench/report.ts: a one-year usageReport on 1,000,000 vs 1,000 ledger
 * transactions, on a database of its own after the others; BENCH_REPORT=0 skips it).
 * `npm run bench -- report` runs it alone.
 */
import { execFile, fork, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { postGraphQL, type GraphQLResponse } from './http';
import type { RenewalRun, RenewerReply, RenewerRequest } from './renewer';
// fanout.ts imports from this file too: it uses nothing of it while loading, only when it runs.
import { fanoutLines, fanoutMain, runFanoutShape } from './fanout';
import { reportLines, reportMain, runReportShape, type ReportBenchResult } from './report';
import { seedTeams, teamShape, type TeamFixture } from './teams';
import { runStackShape, stackLines, stackMain } from './http-stack';

const run = promisify(execFile);
// Compiled to dist/bench/run.js; sources at bench/run.ts. Either way the repo root is two levels up
// from dist/bench or one level up from bench.
const ROOT = fs.existsSync(path.resolve(__dirname, '../package.json')) ? path.resolve(__dirname, '..') : path.resolve(__dirname, '../..');
const MAIN = path.join(ROOT, 'dist/src/main.js');
const CREATE_ADMIN_KEY = path.join(ROOT, 'dist/src/cli/create-admin-key.js');
const RENEWER = path.join(ROOT, 'dist/bench/renewer.js');
const FLOOR_SCRIPT = path.resolve(ROOT, '../shared/bench/sql-floor.sh');

export function envInt(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`${name} must be an integer ≥ ${min}, got "${raw}"`);
  return value;
}

// ---------------------------------------------------------------- HTTP load generator

export interface Target {
  port: number;
  token: string;
  agent: http.Agent;
}

export interface GraphQLBody {
  query: string;
  variables?: Record<string, unknown>;
}

/** Produces the request body of the i-th request on connection `connection`. */
export type BodyGenerator = (connection: number, i: number) => GraphQLBody;

export interface Shape {
  name: string;
  body: BodyGenerator;
  /** Whether a response counts as a success (default: no `errors`). */
  ok?: (response: GraphQLResponse) => boolean;
  /** Charges per request (a batch): the shape's rate is in charges per second. */
  itemsPerRequest?: number;
}

export interface ShapeResult {
  shape: string;
  seconds: number;
  requests: number;
  failures: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** This round's throughput over this round's floor figure (when the shape has one). */
  ratioToFloor?: number;
  firstFailure?: string;
}

export function post(target: Target, body: unknown, timeoutMs = 30_000): Promise<{ status: number; json: GraphQLResponse }> {
  return postGraphQL(target, body, timeoutMs);
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/**
 * Runs one shape: `connections` closed loops, each sending the next request as soon as the previous
 * answers, for `seconds` (or until `until` settles, if sooner). Latency is measured per request on
 * the client (includes queueing).
 */
export { CREATE_ADMIN_KEY };

export async function runShape(target: Target, shape: Shape, seconds: number, connections: number, until?: Promise<unknown>): Promise<ShapeResult> {
  const isOk = shape.ok ?? ((r) => !r.errors);
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(seconds * 1e9));
  let stopped = false;
  until?.then(() => { stopped = true; }, () => { stopped = true; });
  const loop = async (connection: number) => {
    for (let i = 0; i < 10_000_000; i += 1) {
      const t0 = process.hrtime.bigint();
      if (t0 >= deadline || stopped) return;
      try {
        const { json } = await post(target, shape.body(connection, i));
        if (isOk(json)) latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
        else {
          failures += 1;
          firstFailure ??= JSON.stringify(json).slice(0, 300);
        }
      } catch (error) {
        failures += 1;
        firstFailure ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, (_, c) => loop(c)));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const sorted = Float64Array.from(latencies).sort();
  return {
    shape: shape.name, seconds: elapsed, requests: latencies.length, failures,
    perSecond: (latencies.length * (shape.itemsPerRequest ?? 1)) / elapsed, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99),
    ...(firstFailure ? { firstFailure } : {}),
  };
}

// ---------------------------------------------------------------- shapes

const CHARGE = `mutation Charge($i: ChargeInput!) { charge(input: $i) { id sequence balanceAfter } }`;
const WALLET = `query Wallet($id: ID!) { wallet(accountId: $id) { balance available held sequence } }`;
const CHARGE_BATCH = `mutation ChargeBatch($i: ChargeBatchInput!) { chargeBatch(input: $i) { results { transaction { id } error { code } } } }`;
/** Charges per chargeBatch request in the batch shapes. */
const BATCH_SIZE = 100;
const allCharged = (r: GraphQLResponse) => {
  const results = (r.data?.chargeBatch as { results?: { transaction: unknown }[] } | undefined)?.results;
  return results?.length === BATCH_SIZE && results.every((item) => item.transaction);
};

export interface Fixture {
  /** Account ids of the seeded wallets; wallets[0] is the hot one. */
  wallets: string[];
  /** As many wallets again, each with low-credit levels set (absolute and percent): the levels shape. */
  leveledWallets: string[];
  /** Unique per process run, so idempotency keys never repeat across runs on the same database. */
  runTag: string;
  /** Team wallets with members and budgets (the team shape); null: skipped. */
  teams: TeamFixture | null;
}

/** A key unique per (run, shape, round, connection, request). */
const QUOTE = `query($id: ID!, $g: GenerationInput!) { quote(accountId: $id, generation: $g) { id credits affordable lineItems { label credits } } }`;

/** Publishes the rate card the quote shape prices with. */
async function publishBenchRateCard(target: Target): Promise<void> {
  const draft = await post(target, { query: 'mutation { createRateCardDraft(input: { name: "bench", empty: true }) { id } }' });
  const draftId = draft.json.data?.createRateCardDraft?.id;
  if (typeof draftId !== 'string') throw new Error(`creating the bench rate card draft failed: ${JSON.stringify(draft.json.errors)}`);
  const rates = [{ action: 'image.generate', model: 'sdxl', components: [{ unit: 'IMAGE', pricePerUnit: '5' }],
    resolutions: { '720p': '1', '1080p': '2', '4K': '3', '8K': '4' }, modifiers: { quality: { standard: '1', hd: '2.5' } },
    batchDiscounts: [{ minCount: 10, percentOff: '10' }] }];
  await post(target, { query: 'mutation($i: SetRatesInput!) { setRateCardRates(input: $i) { id } }', variables: { i: { draftId, rates } } });
  const published = await post(target, { query: 'mutation($id: ID!) { publishRateCard(draftId: $id) { version } }', variables: { id: draftId } });
  if (published.json.errors) throw new Error(`publishing the bench rate card failed: ${JSON.stringify(published.json.errors)}`);
}

const keyOf = (fixture: Fixture, shape: string, round: number, connection: number, i: number) =>
  `${fixture.runTag}-${shape}-${round}-${connection}-${i}`;

const pick = (n: number) => Math.floor(Math.random() * n);

export function shapes(fixture: Fixture, round: number): Shape[] {
  const { wallets } = fixture;
  return [
    {
      name: 'charge uniform',
      body: (c, i) => ({ query: CHARGE, variables: { i: { accountId: wallets[pick(wallets.length)], amount: '1', idempotencyKey: keyOf(fixture, 'u', round, c, i) } } }),
      ok: (r) => Boolean(r.data?.charge?.id),
    },
    {
      // The same charges on wallets with levels set (far below their balance, as most wallets are most of the time).
      name: 'charge uniform, levels set',
      body: (c, i) => ({ query: CHARGE, variables: { i: { accountId: fixture.leveledWallets[pick(fixture.leveledWallets.length)], amount: '1', idempotencyKey: keyOf(fixture, 'l', round, c, i) } } }),
      ok: (r) => Boolean(r.data?.charge?.id),
    },
    {
      name: 'charge hot wallet',
      body: (c, i) => ({ query: CHARGE, variables: { i: { accountId: wallets[0], amount: '1', idempotencyKey: keyOf(fixture, 'h', round, c, i) } } }),
      ok: (r) => Boolean(r.data?.charge?.id),
    },
    {
      name: 'wallet query',
      body: () => ({ query: WALLET, variables: { id: wallets[pick(wallets.length)] } }),
      ok: (r) => Boolean(r.data?.wallet),
    },
    {
      // Prices an image generation with the cached rate card, checks affordability and stores the quote.
      name: 'quote',
      body: () => ({ query: QUOTE, variables: { id: wallets[pick(wallets.length)], g: { action: 'image.generate', model: 'sdxl', params: { count: 2, resolution: '1080p', quality: 'hd' } } } }),
      ok: (r) => Boolean(r.data?.quote?.id),
    },
    ...(fixture.teams ? [teamShape(fixture.teams, round)] : []),
    {
      // The stack's own ceiling: authentication, rate limits, parse/validate (cached), execute, no database.
      name: 'typename',
      body: () => ({ query: '{ __typename }' }),
      ok: (r) => (r.data as { __typename?: string } | undefined)?.__typename === 'Query',
    },
    {
      name: 'chargeBatch uniform',
      body: (c, i) => ({ query: CHARGE_BATCH, variables: { i: { charges: Array.from({ length: BATCH_SIZE }, (_v, j) => ({
        accountId: wallets[pick(wallets.length)], amount: '1', idempotencyKey: `${keyOf(fixture, 'bu', round, c, i)}-${j}`,
      })) } } }),
      ok: allCharged, itemsPerRequest: BATCH_SIZE,
    },
    {
      name: 'chargeBatch hot wallet',
      body: (c, i) => ({ query: CHARGE_BATCH, variables: { i: { charges: Array.from({ length: BATCH_SIZE }, (_v, j) => ({
        accountId: wallets[0], amount: '1', idempotencyKey: `${keyOf(fixture, 'bh', round, c, i)}-${j}`,
      })) } } }),
      ok: allCharged, itemsPerRequest: BATCH_SIZE,
    },
    // Every shape runs once per round, interleaved with the others, and is reported as a median.
  ];
}

/** Shapes also measured on a server executing with graphql-jit (GRAPHQL_EXECUTOR=jit), compared round by round. */
const JIT_SHAPES = ['typename', 'wallet query', 'quote', 'charge uniform', 'charge hot wallet', 'chargeBatch uniform'];

/** Which floor figure a shape is compared with (shapes without one show no ratio). */
function floorFor(shape: string, floor: Floor | null): number | null {
  if (!floor) return null;
  if (shape === 'charge uniform' || shape === 'charge uniform, levels set' || shape === 'charge uniform, team members' || shape === 'chargeBatch uniform') return floor.uniform_tps;
  if (shape === 'charge hot wallet' || shape === 'chargeBatch hot wallet') return floor.hot_tps;
  return null;
}

/** A process's peak resident set size so far (Linux /proc), in MB; null where there is no /proc. */
function peakRssMb(pid: number): number | null {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------- the floor

interface Floor { uniform_tps: number; hot_tps: number; seconds: number; clients: number }

async function measureFloor(databaseUrl: string, seconds: number, clients: number): Promise<Floor | { skipped: string }> {
  if (process.env.BENCH_SKIP_FLOOR === '1') return { skipped: 'BENCH_SKIP_FLOOR=1' };
  if (!fs.existsSync(FLOOR_SCRIPT)) return { skipped: `${FLOOR_SCRIPT} not found` };
  try {
    await run('sh', ['-c', 'command -v pgbench']);
  } catch {
    return { skipped: 'pgbench not found (Debian package postgresql-client)' };
  }
  try {
    const { stdout } = await run('bash', [FLOOR_SCRIPT, String(seconds), String(clients)], {
      cwd: ROOT, env: { ...process.env, FLOOR_DATABASE_URL: databaseUrl }, timeout: (seconds * 2 + 60) * 1000,
    });
    const line = stdout.trim().split('\n').pop() ?? '';
    const floor = JSON.parse(line) as Floor;
    if (!floor.uniform_tps || !floor.hot_tps) return { skipped: `floor script printed no figures: ${line}` };
    return floor;
  } catch (error) {
    return { skipped: `floor script failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}` };
  }
}

// ---------------------------------------------------------------- server, database, seeding

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** CPU time (user + system) a process used so far, in ms, from /proc (null where there is none, e.g. macOS). */
export function processCpuMs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return null;
  }
}

export function startServer(port: number, databaseUrl: string, env: NodeJS.ProcessEnv = {}): Promise<ChildProcess> {
  // BENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the server.
  // The heap limit `npm start` gives the server (SERVER_HEAP_MB, default 200), so the figures are those of the server as run.
  const nodeArgs = [`--max-old-space-size=${process.env.SERVER_HEAP_MB || 200}`, ...(process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const child = spawn(process.execPath, [...nodeArgs, MAIN], {
    cwd: ROOT,
    // The hot-wallet shape spends far more than any floor in an hour: the velocity rule still counts every
    // charge (its cost is measured) but never trips. Distinct fingerprints never repeat.
    env: { ...process.env, PORT: String(port), DATABASE_URL: databaseUrl, LOAD_DEMO: 'false', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', VELOCITY_FLOOR_CREDITS: '1000000000', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`server did not start in 60 s: ${output}`)); }, 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Credits server ready at')) { clearTimeout(timer); resolve(child); }
    });
    child.once('exit', (code, signal) => { clearTimeout(timer); reject(new Error(`server exited (${code ?? signal}) before ready: ${output}`)); });
  });
}

export async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.once('exit', () => { clearTimeout(force); resolve(); });
    child.kill('SIGTERM');
  });
}

async function adminSql(url: string, statement: string): Promise<void> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(statement);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** A fresh database on the local server (dropped by the returned function). */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = 'postgres://postgres@127.0.0.1:5432';
  const name = 'credits_bench';
  await adminSql(`${base}/postgres`, `drop database if exists ${name} with (force)`);
  await adminSql(`${base}/postgres`, `create database ${name}`);
  return { url: `${base}/${name}`, drop: () => adminSql(`${base}/postgres`, `drop database if exists ${name} with (force)`) };
}

/**
 * Creates `count` accounts and grants each `credits` (none: null), over GraphQL: aliased batches, in
 * parallel; with `planCode`, each account is subscribed to that plan as it is created.
 */
export async function seed(target: Target, count: number, credits: string | null, runTag: string, parallel = 16, planCode: string | null = null): Promise<string[]> {
  const batch = 25; // ≤ the server's alias limit (30)
  const ids = new Array<string>(count);
  const batches = Math.ceil(count / batch);
  let nextBatch = 0;
  const worker = async () => {
    for (let b = nextBatch++; b < batches; b = nextBatch++) {
      const from = b * batch;
      const to = Math.min(count, from + batch);
      const create = Array.from({ length: to - from }, (_, k) =>
        `a${k}: createAccount(input: { name: "bench ${from + k}", kind: USER${planCode ? `, planCode: "${planCode}"` : ''} }) { id }`).join('\n');
      const created = await post(target, { query: `mutation {\n${create}\n}` });
      if (created.json.errors) throw new Error(`seeding accounts failed: ${JSON.stringify(created.json.errors).slice(0, 500)}`);
      for (let k = 0; k < to - from; k += 1) {
        const id = created.json.data?.[`a${k}`]?.id;
        if (typeof id !== 'string') throw new Error(`seeding accounts answered no id for account ${from + k}`);
        ids[from + k] = id;
      }
      if (credits === null) continue;
      const grant = Array.from({ length: to - from }, (_, k) =>
        `g${k}: grantCredits(input: { accountId: "${ids[from + k]}", amount: "${credits}", source: PURCHASE, idempotencyKey: "${runTag}-seed-${from + k}" }) { id }`).join('\n');
      const granted = await post(target, { query: `mutation {\n${grant}\n}` });
      if (granted.json.errors) throw new Error(`seeding grants failed: ${JSON.stringify(granted.json.errors).slice(0, 500)}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return ids;
}

/** Sets three absolute low-credit levels on each wallet (aliased updateWallet batches, in parallel). */
async function setLevels(target: Target, accountIds: string[], parallel = 16): Promise<void> {
  const batch = 25;
  let next = 0;
  const worker = async () => {
    for (let from = (next++) * batch; from < accountIds.length; from = (next++) * batch) {
      const update = accountIds.slice(from, from + batch).map((id, k) =>
        `u${k}: updateWallet(input: { accountId: "${id}", lowCreditThresholds: ["10000", "1000", "100"] }) { accountId }`).join('\n');
      const updated = await post(target, { query: `mutation {\n${update}\n}` });
      if (updated.json.errors) throw new Error(`setting levels failed: ${JSON.stringify(updated.json.errors).slice(0, 500)}`);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

// ---------------------------------------------------------------- the renewal shape

const DAY_MS = 86_400_000;

export interface RenewalRound extends RenewalRun {
  perSecond: number;
  /** Charges on the main server just before the renewal run, while it ran, and just after it. */
  chargeBefore: ShapeResult;
  chargeDuring: ShapeResult;
  chargeAfter: ShapeResult;
  /** Charge p99 without renewals: the mean of the before and after p99s (the machine drifts; this brackets the run). */
  p99WithoutMs: number;
  /** chargeDuring p99 ÷ p99WithoutMs. */
  p99Ratio: number;
}

export interface RenewalSummary {
  subscriptions: number;
  seedSeconds: number;
  jobBatchSize: number;
  /** Medians over rounds. */
  renewalsPerSecond: number;
  chargeP99WithoutMs: number;
  chargeP99DuringMs: number;
  p99Ratio: number;
  /** The renewer process's live heap when the first run started and after the last, and its largest heap and resident size over all runs (MB). */
  heapStartMb: number;
  heapEndMb: number;
  heapPeakMb: number;
  rssPeakMb: number;
  rounds: RenewalRound[];
}

/** The renewer's next reply of this type (an error reply, its exit or the timeout rejects). */
function renewerReply<T extends RenewerReply['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<RenewerReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (reply: RenewerReply) => {
      if (reply.type === type) { done(); resolve(reply as Extract<RenewerReply, { type: T }>); }
      else if (reply.type === 'error') { done(); reject(new Error(`renewer: ${reply.message}`)); }
    };
    const onExit = (code: number | null, signal: string | null) => { done(); reject(new Error(`renewer exited (${code ?? signal}) waiting for ${type}`)); };
    const timer = setTimeout(() => { done(); reject(new Error(`renewer: no ${type} in ${timeoutMs / 1000} s`)); }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function tell(child: ChildProcess, request: RenewerRequest): void {
  child.send(request);
}

/**
 * The renewal shape: `count` subscriptions started at one instant on the renewer's clock; then, per
 * round, charges alone on the main server for `baselineSeconds`, then the renewal job on the renewer
 * (its clock a day further each round, so every subscription is due again) with the same charges
 * running until it is done, then charges alone again for `baselineSeconds`.
 */
async function runRenewalShape(
  target: Target, fixture: Fixture, databaseUrl: string, options: { count: number; rounds: number; baselineSeconds: number; connections: number; cancelAfter: boolean },
  log: (message: string) => void,
): Promise<RenewalSummary> {
  const startedAt = Date.now();
  const planCode = `${fixture.runTag}-renew`;
  const created = await post(target, { query: `mutation { createPlan(input: { code: "${planCode}", name: "Bench daily", price: { amount: "10.00", currency: "USD" },
    interval: DAY, allowance: "100", rollover: CAPPED, rolloverCap: "10" }) { id } }` });
  if (created.json.errors) throw new Error(`creating the renewal plan failed: ${JSON.stringify(created.json.errors)}`);

  // BENCH_RENEWER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the renewer.
  const child = fork(RENEWER, [], {
    cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc', ...(process.env.BENCH_RENEWER_NODE_ARGS ?? '').split(' ').filter(Boolean)],
    env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', BENCH_RENEWER_CLOCK_MS: String(startedAt) },
  });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
  try {
    const ready = await renewerReply(child, 'ready', 60_000);
    const renewer: Target = { port: ready.port, token: target.token, agent };
    const seedStarted = Date.now();
    await seed(renewer, options.count, null, `${fixture.runTag}-renew`, 16, planCode);
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    log(`renewals: ${options.count} subscriptions started at one instant in ${seedSeconds.toFixed(1)} s`);

    const rounds: RenewalRound[] = [];
    for (let round = 0; round < options.rounds; round += 1) {
      const charge = (tag: number) => shapes(fixture, tag)[0]; // 'charge uniform', its own idempotency keys
      const chargeBefore = await runShape(target, charge(1000 + round), options.baselineSeconds, options.connections);
      const renewal = renewerReply(child, 'renewed', 30 * 60_000);
      tell(child, { type: 'renew', clockMs: startedAt + (round + 1) * DAY_MS + 1000 });
      const chargeDuring = await runShape(target, charge(2000 + round), 30 * 60, options.connections, renewal);
      const { type: _type, ...run } = await renewal;
      const chargeAfter = await runShape(target, charge(3000 + round), options.baselineSeconds, options.connections);
      const p99WithoutMs = (chargeBefore.p99Ms + chargeAfter.p99Ms) / 2;
      const result: RenewalRound = {
        ...run, perSecond: run.renewed / run.seconds, chargeBefore, chargeDuring, chargeAfter, p99WithoutMs, p99Ratio: chargeDuring.p99Ms / p99WithoutMs,
      };
      rounds.push(result);
      const charges = [chargeBefore, chargeDuring, chargeAfter];
      const failures = charges.reduce((sum, c) => sum + c.failures, 0);
      log(`renewals round ${round + 1}/${options.rounds}: ${run.renewed} in ${run.seconds.toFixed(1)} s (${result.perSecond.toFixed(0)}/s, ${run.runs} job runs, `
        + `heap ${run.heapStartMb.toFixed(0)} MB, peak ${run.heapPeakMb.toFixed(0)}, after ${run.heapEndMb.toFixed(0)}); charge p99 before / during / after: `
        + `${charges.map((c) => c.p99Ms.toFixed(1)).join(' / ')} ms (${charges.map((c) => c.perSecond.toFixed(0)).join(' / ')} charges/s): ratio ${result.p99Ratio.toFixed(2)}`
        + `${failures ? `; charge failures ${failures}: ${charges.find((c) => c.firstFailure)?.firstFailure}` : ''}`);
      if (run.renewed < options.count) log(`renewals round ${round + 1}: only ${run.renewed} of ${options.count} renewed`);
    }
    if (options.cancelAfter) {
      tell(child, { type: 'cancel', planCode });
      const { count } = await renewerReply(child, 'canceled', 30 * 60_000);
      log(`renewals: canceled the ${count} bench subscriptions (a database the bench does not drop)`);
    }
    return {
      subscriptions: options.count, seedSeconds, jobBatchSize: ready.jobBatchSize,
      renewalsPerSecond: median(rounds.map((r) => r.perSecond)),
      chargeP99WithoutMs: median(rounds.map((r) => r.p99WithoutMs)), chargeP99DuringMs: median(rounds.map((r) => r.chargeDuring.p99Ms)),
      p99Ratio: median(rounds.map((r) => r.p99Ratio)),
      heapStartMb: rounds[0]?.heapStartMb ?? NaN, heapEndMb: rounds[rounds.length - 1]?.heapEndMb ?? NaN, heapPeakMb: Math.max(...rounds.map((r) => r.heapPeakMb)), rssPeakMb: Math.max(...rounds.map((r) => r.rssPeakMb)),
      rounds,
    };
  } finally {
    agent.destroy();
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) tell(child, { type: 'stop' });
      const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(force);
    }
  }
}

// ---------------------------------------------------------------- report

export const median = (values: number[]) => {
  const finite = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (finite.length === 0) return NaN;
  const mid = Math.floor(finite.length / 2);
  return finite.length % 2 ? finite[mid] : (finite[mid - 1] + finite[mid]) / 2;
};

export interface SummaryRow {
  shape: string;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  failures: number;
  floorPerSecond: number | null;
  ratioToFloor: number | null;
  rounds: ShapeResult[];
}

function summarize(results: ShapeResult[], floor: Floor | null): SummaryRow[] {
  const byShape = new Map<string, ShapeResult[]>();
  for (const r of results) byShape.set(r.shape, [...(byShape.get(r.shape) ?? []), r]);
  return [...byShape].map(([shape, rounds]) => {
    const perSecond = median(rounds.map((r) => r.perSecond));
    const floorPerSecond = floorFor(shape, floor);
    return {
      shape, perSecond, p50Ms: median(rounds.map((r) => r.p50Ms)), p99Ms: median(rounds.map((r) => r.p99Ms)),
      failures: rounds.reduce((s, r) => s + r.failures, 0), floorPerSecond,
      ratioToFloor: rounds.some((r) => r.ratioToFloor !== undefined) ? median(rounds.map((r) => r.ratioToFloor ?? NaN)) : null, rounds,
    };
  });
}

function table(rows: SummaryRow[]): string {
  const header = ['shape', 'req/s', 'p50 ms', 'p99 ms', 'failures', 'floor tps', 'ratio to floor'];
  const lines = rows.map((r) => [
    r.shape, r.perSecond.toFixed(0), r.p50Ms.toFixed(1), r.p99Ms.toFixed(1), String(r.failures),
    r.floorPerSecond === null ? '-' : r.floorPerSecond.toFixed(0), r.ratioToFloor === null ? '-' : r.ratioToFloor.toFixed(3),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(fmt)].join('\n');
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (process.argv.slice(2).includes('fanout')) return fanoutMain();
  if (process.argv.slice(2).includes('report')) return reportMain();
  if (process.argv.slice(2).includes('stack')) return stackMain();
  const seconds = envInt('BENCH_SECONDS', 5);
  const repeats = envInt('BENCH_REPEATS', 3);
  const connections = envInt('BENCH_CONNECTIONS', 64);
  const walletCount = envInt('BENCH_WALLETS', 10_000);
  const floorClients = envInt('FLOOR_CLIENTS', 16);
  const renewalCount = envInt('BENCH_RENEWALS', 10_000, 0);
  const renewalRounds = envInt('BENCH_RENEWAL_ROUNDS', 1);
  const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} not found: run \`npm run build\` first (npm run bench does)`);

  const owned = process.env.DATABASE_URL ? null : await freshDatabase();
  const databaseUrl = process.env.DATABASE_URL || owned!.url;
  log(`database ${databaseUrl.replace(/\/\/[^@]*@/, '//')}${owned ? ' (fresh, dropped at the end)' : ''}`);
  const port = await freePort();
  let server: ChildProcess | null = null;
  let jitServer: ChildProcess | null = null;
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const jitAgent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const started = Date.now();
  try {
    server = await startServer(port, databaseUrl);
    const { stdout } = await run(process.execPath, [CREATE_ADMIN_KEY, 'bench'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' } });
    const target: Target = { port, token: stdout.trim().split('\n').pop()!.trim(), agent };
    const runTag = `bench-${process.pid}-${Date.now().toString(36)}`;

    const seedStarted = Date.now();
    const wallets = await seed(target, walletCount, '1000000', runTag, 32);
    log(`seeded ${wallets.length} wallets in ${((Date.now() - seedStarted) / 1000).toFixed(1)} s`);
    const leveledWallets = await seed(target, walletCount, '1000000', `${runTag}-levels`, 32);
    await setLevels(target, leveledWallets);
    log(`seeded ${leveledWallets.length} wallets with low-credit levels`);
    const teamCount = envInt('BENCH_TEAMS', 2_000, 0);
    const teams = teamCount === 0 ? null : await seedTeams(target, teamCount, envInt('BENCH_TEAM_MEMBERS', 3), `${runTag}-teams`);
    if (teams) log(`seeded ${teams.teams.length} team wallets with ${teams.teams[0]?.memberIds.length ?? 0} members each`);
    const fixture: Fixture = { wallets, leveledWallets, runTag, teams };
    await publishBenchRateCard(target);

    // The same server executing with graphql-jit, on the same database and wallets (idle while the other runs).
    let jitTarget: Target | null = null;
    if (process.env.BENCH_JIT !== '0') {
      const jitPort = await freePort();
      jitServer = await startServer(jitPort, databaseUrl, { GRAPHQL_EXECUTOR: 'jit' });
      jitTarget = { port: jitPort, token: target.token, agent: jitAgent };
    }

    // Warm-up: JIT, connection pools, caches. Not reported.
    await runShape(target, shapes(fixture, -1)[0], Math.min(2, seconds), connections);
    if (jitTarget) {
      for (const shape of shapes(fixture, -2)) if (JIT_SHAPES.includes(shape.name)) await runShape(jitTarget, shape, Math.min(1, seconds), connections);
    }

    // Each round measures the floor (server idle) and then every shape, so a ratio compares figures
    // taken minutes apart at most; the table shows medians over rounds.
    const results: ShapeResult[] = [];
    const floors: (Floor | { skipped: string })[] = [];
    // BENCH_SHAPES="quote,wallet query" measures only the shapes named (e.g. to take a CPU profile of one shape).
    const onlyShapes = process.env.BENCH_SHAPES ? process.env.BENCH_SHAPES.split(',').map((name) => name.trim()) : null;
    for (let round = 0; round < repeats; round += 1) {
      const floorResult = await measureFloor(databaseUrl, seconds, floorClients);
      floors.push(floorResult);
      if ('skipped' in floorResult) log(`round ${round + 1}/${repeats} floor skipped: ${floorResult.skipped}`);
      else log(`round ${round + 1}/${repeats} floor: ${floorResult.uniform_tps.toFixed(0)} uniform / ${floorResult.hot_tps.toFixed(0)} hot tps`);
      const runs: { on: Target; pid: number | undefined; shape: Shape }[] = [];
      for (const shape of shapes(fixture, round)) {
        if (onlyShapes && !onlyShapes.includes(shape.name)) continue;
        runs.push({ on: target, pid: server.pid, shape });
        if (jitTarget && JIT_SHAPES.includes(shape.name)) {
          // Its own idempotency keys: the graphql-js run of this round used the shape's.
          runs.push({ on: jitTarget, pid: jitServer?.pid, shape: { ...shape, name: `${shape.name} (jit)`, body: (c, i) => shape.body(c + connections, i) } });
        }
      }
      for (const { on, pid, shape } of runs) {
        const cpuBefore = processCpuMs(pid);
        const result = await runShape(on, shape, seconds, connections);
        const cpuAfter = processCpuMs(pid);
        // The server's own CPU per request: a figure other load on the machine moves far less than req/s.
        const cpuPerRequest = cpuBefore !== null && cpuAfter !== null && result.requests > 0 ? ` server cpu ${((cpuAfter - cpuBefore) / result.requests).toFixed(2)} ms/req` : '';
        const f = floorFor(shape.name, 'skipped' in floorResult ? null : floorResult);
        if (f) result.ratioToFloor = result.perSecond / f;
        log(`round ${round + 1}/${repeats} ${shape.name}: ${result.perSecond.toFixed(0)}/s p50 ${result.p50Ms.toFixed(1)} ms p99 ${result.p99Ms.toFixed(1)} ms${f ? ` ratio ${result.ratioToFloor!.toFixed(3)}` : ''}${result.failures ? ` failures ${result.failures}: ${result.firstFailure}` : ''}${cpuPerRequest}`);
        results.push(result);
      }
    }
    const measured = floors.filter((f): f is Floor => !('skipped' in f));
    const floor: Floor | null = measured.length === 0 ? null : {
      uniform_tps: median(measured.map((f) => f.uniform_tps)), hot_tps: median(measured.map((f) => f.hot_tps)), seconds, clients: floorClients,
    };
    const floorResult = floor ?? floors[0];

    const renewals = renewalCount === 0 ? null : await runRenewalShape(target, fixture, databaseUrl, {
      count: renewalCount, rounds: renewalRounds, baselineSeconds: seconds * 2, connections, cancelAfter: !owned,
    }, log);

    const fanoutSubscribers = envInt('BENCH_FANOUT_SUBSCRIBERS', 1_000, 0);
    const fanout = fanoutSubscribers === 0 ? null : await runFanoutShape({ databaseUrl, adminToken: target.token, subscribers: fanoutSubscribers, log });

    // The server's peak resident memory over the whole run so far (Linux: VmHWM; target ≤ 300 MB).
    const serverRssPeakMb = server.pid ? peakRssMb(server.pid) : null;
    const rows = summarize(results, floor);
    // Quote vs wallet read (target ≥ 0.8): median over rounds of quote/s ÷ the same round's wallet/s.
    const perRound = (name: string) => results.filter((r) => r.shape === name).map((r) => r.perSecond);
    const quoteRatios = perRound('quote').map((q, i) => q / perRound('wallet query')[i]);
    const quoteVsWallet = median(quoteRatios);
    // Charges with levels set vs without (target ≥ 0.95): median over rounds of the same round's ratio.
    const levelsVsWithout = median(perRound('charge uniform, levels set').map((l, i) => l / perRound('charge uniform')[i]));
    // Team charges (member budgets, fingerprints, velocity) vs plain charges (target ≥ 0.9), likewise.
    const teamsVsPlain = teams ? median(perRound('charge uniform, team members').map((m, i) => m / perRound('charge uniform')[i])) : null;
    // A single charge vs the stack's ceiling `{ __typename }` (target ≥ 0.6), likewise.
    const chargeVsTypename = median(perRound('charge uniform').map((c, i) => c / perRound('typename')[i]));
    const hotChargeVsTypename = median(perRound('charge hot wallet').map((c, i) => c / perRound('typename')[i]));
    // graphql-jit vs graphql-js per shape: median over rounds of (jit server's rate / graphql-js server's, same round).
    const jitVsGraphqlJs = Object.fromEntries(JIT_SHAPES.filter((name) => perRound(`${name} (jit)`).length > 0)
      .map((name) => [name, median(perRound(`${name} (jit)`).map((j, i) => j / perRound(name)[i]))]));
    const jitLine = Object.keys(jitVsGraphqlJs).length === 0 ? ''
      : `graphql-jit vs graphql-js (GRAPHQL_EXECUTOR=jit, median of per-round ratios): ${Object.entries(jitVsGraphqlJs).map(([name, ratio]) => `${name} ${ratio.toFixed(3)}`).join(', ')}\n`;
    const note = [
      `charges over HTTP: ${connections} keep-alive connections, ${seconds} s per shape, median of ${repeats} round(s); ${walletCount} wallets;`,
      `floor: pgbench ${floorClients} clients, ${seconds} s each, once per round: ${floor ? `median ${floor.uniform_tps.toFixed(0)} uniform / ${floor.hot_tps.toFixed(0)} hot tps; ratio = median over rounds of (shape / same round's floor)` : `skipped (${(floors[0] as { skipped: string }).skipped})`};`,
      `machine: ${os.cpus().length} CPUs (client, server and PostgreSQL share them), node ${process.version}`,
    ].join('\n');
    const renewalLines = renewals ? [
      `renewals: ${renewals.subscriptions} subscriptions due at one instant, renewed by a second instance's job (runRenewals, batches of ${renewals.jobBatchSize}):`
        + ` ${renewals.renewalsPerSecond.toFixed(0)} renewals/s (median of ${renewals.rounds.length} run(s); ${renewals.rounds.map((r) => `${r.renewed} in ${r.seconds.toFixed(1)} s`).join(', ')});`
        + ` renewer heap ${renewals.heapStartMb.toFixed(0)} MB live before, peak ${renewals.heapPeakMb.toFixed(0)} MB, ${renewals.heapEndMb.toFixed(0)} MB live after (rss peak ${renewals.rssPeakMb.toFixed(0)} MB)`,
      `charge p99 while renewing: ${renewals.chargeP99DuringMs.toFixed(1)} ms vs ${renewals.chargeP99WithoutMs.toFixed(1)} ms without (mean of ${seconds * 2} s just before and just after, same server):`
        + ` ratio ${renewals.p99Ratio.toFixed(2)} (target ≤ 2)`,
      '',
    ].join('\n') + '\n' : '';
    const fanoutText = fanout ? `${fanoutLines(fanout)}\n\n` : '';
    process.stdout.write(`\n${table(rows)}\n\nquote vs wallet query: ${quoteVsWallet.toFixed(3)} (median of per-round ratios; target ≥ 0.8)\ncharges with low-credit levels set vs without: ${levelsVsWithout.toFixed(3)} (median of per-round ratios; target ≥ 0.95)\n${teamsVsPlain === null ? '' : `team member charges (budgets, fingerprints, velocity) vs plain charges: ${teamsVsPlain.toFixed(3)} (median of per-round ratios; target ≥ 0.9)\n`}single charge vs typename: ${chargeVsTypename.toFixed(3)} uniform, ${hotChargeVsTypename.toFixed(3)} hot wallet (median of per-round ratios; target ≥ 0.6)\n${jitLine}server peak RSS: ${serverRssPeakMb === null ? 'unknown' : `${serverRssPeakMb.toFixed(0)} MB`} (target ≤ 300 MB)\n\n${renewalLines}${fanoutText}${note}\n\n`);
    process.stdout.write(JSON.stringify({
      seconds, repeats, connections, wallets: walletCount, cpus: os.cpus().length, node: process.version,
      floor: floorResult, floorRounds: floors, totalSeconds: (Date.now() - started) / 1000, quoteVsWallet, levelsVsWithout, teamsVsPlain,
      chargeVsTypename, hotChargeVsTypename, jitVsGraphqlJs, serverRssPeakMb,
      renewals, fanout,
      shapes: rows.map(({ rounds, ...row }) => ({ ...row, rounds: rounds.map(({ firstFailure, ...r }) => ({ ...r, ...(firstFailure ? { firstFailure } : {}) })) })),
    }) + '\n');
  } finally {
    agent.destroy();
    jitAgent.destroy();
    if (jitServer) await stopServer(jitServer);
    if (server) await stopServer(server);
    if (owned) await owned.drop().catch((error) => log(`could not drop the bench database: ${String(error)}`));
  }
  if (process.env.BENCH_STACK !== '0') {
    const stack = await runStackShape({ seconds, connections, repeats, log });
    process.stdout.write(`\n${stackLines(stack)}\n\n${JSON.stringify({ stack })}\n`);
  }
  // On a fresh database of its own (after the main one is dropped), so the shapes above are unaffected.
  if (process.env.BENCH_REPORT !== '0' && !process.env.DATABASE_URL) {
    const report: ReportBenchResult = await runReportShape(log);
    process.stdout.write(`\n${reportLines(report)}\n\n${JSON.stringify({ report })}\n`);
  }
}

if (require.main === module) {
  main().catch((error) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
