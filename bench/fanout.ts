/**
 * The fan-out shape (`npm run bench -- fanout` alone, or after the other shapes of `npm run bench`):
 * live events across two instances through Redis.
 *
 * Two compiled server instances (child processes) on one PostgreSQL database and one Redis
 * (REDIS_URL, default the machine's redis://127.0.0.1:6379; a channel and rate-limit prefix of the
 * run's own). S subscribers (BENCH_FANOUT_SUBSCRIBERS, default 1,000) over graphql-ws, each on its
 * own socket with its account's user token, as that many dashboards: half on each instance, watching
 * S / BENCH_FANOUT_PER_WALLET wallets (default 10 subscribers per wallet, 5 on each instance). They
 * run in two forked processes (bench/fanout-subscribers.ts), one per instance. Charges over HTTP on
 * those wallets, uniform, through both instances (BENCH_CONNECTIONS split between them).
 *
 * The subscribers connect once (each from its wallet's current sequence). Then per round
 * (BENCH_FANOUT_ROUNDS, default 3) two phases of BENCH_SECONDS, in alternating order so that drift of
 * the machine counts against both alike: charges as fast as they go (closed loops) on the watched
 * wallets, and the same on as many wallets nobody watches (the subscribers connected but idle: what
 * the charges cost without anyone to tell). Then charges at a steady BENCH_FANOUT_RATE per second
 * (default 100, open loop, half through each instance) on the watched wallets for BENCH_SECONDS.
 * Then every subscriber must have every sequence of its wallet exactly once (gaps, duplicates and
 * missing events are counted).
 *
 * Figures:
 * - commit to client: from the arrival of the charge's answer at the load generator to the arrival of
 *   its event at each subscriber process (same machine, same clock), p50 / p99 over every event of
 *   the steady-rate charges (target p99 ≤ 50 ms), and also at saturation (the closed-loop phase,
 *   where every request queues, so events wait behind charges too). The server publishes
 *   right after commit, before it answers, so this is close to commit → client, a little under it
 *   (by the answer's own way back); negative when the event beat the answer. (The transaction's
 *   createdAt is no commit stamp: it is taken before the wallet's row lock, so a busy wallet's lock
 *   waits would count.)
 * - charges per second with the subscribers ÷ without, per round, median (target ≥ 0.9); and, less
 *   sensitive to other work on a shared machine, the server side's CPU (both instances, PostgreSQL,
 *   Redis; from /proc) per charge without ÷ with;
 * - executions: subscription results executed vs shared (credits_live_executions_total).
 */
import { execFile, fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import fs from 'node:fs';
import {
  CREATE_ADMIN_KEY, envInt, freePort, freshDatabase, median, percentile, post, runShape, seed, startServer, stopServer,
  type ShapeResult, type Target,
} from './run';
import type { SubscriberReply, SubscriberReport, SubscriberRequest, SubscriptionSpec } from './fanout-subscribers';

const run = promisify(execFile);
// Compiled to dist/bench/fanout.js; the repo root is two levels up from dist/bench or one from bench (as run.ts).
const ROOT = fs.existsSync(path.resolve(__dirname, '../package.json')) ? path.resolve(__dirname, '..') : path.resolve(__dirname, '../..');
const SUBSCRIBER_PROCESS = path.join(ROOT, 'dist/bench/fanout-subscribers.js');
const CHARGE = `mutation Charge($i: ChargeInput!) { charge(input: $i) { id sequence } }`;
const ALIASES_PER_REQUEST = 25; // ≤ the server's alias limit (30)

export interface FanoutRound {
  /** Charges on wallets nobody watches, and on the watched ones (run in alternating order, round by round). */
  without: ShapeResult[];
  with: ShapeResult[];
  /** CPU seconds used by each side during each phase (every PostgreSQL process of the machine counts, other work on it too). */
  cpuWithout: CpuSeconds;
  cpuWith: CpuSeconds;
  chargesPerSecondWithout: number;
  chargesPerSecondWith: number;
  ratio: number;
  /** Server + PostgreSQL + Redis CPU per charge without ÷ with: the capacity ratio, less sensitive to other work on the machine. */
  cpuRatio: number;
}

export interface FanoutSummary {
  subscribers: number;
  wallets: number;
  instances: 2;
  seconds: number;
  connections: number;
  /** Medians over rounds (ratios: of the per-round ratios). */
  chargesPerSecondWithout: number;
  chargesPerSecondWith: number;
  ratio: number;
  cpuRatio: number;
  /** Commit→client at the steady rate (charges/s), and at saturation (the closed-loop phases with subscribers). */
  steadyRate: number;
  steadyPerSecond: number;
  steadyFailures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  saturatedP50Ms: number;
  saturatedP99Ms: number;
  events: number;
  expectedEvents: number;
  gaps: number;
  duplicates: number;
  /** Subscriptions whose last sequence is not their wallet's final one. */
  behind: number;
  errors: number;
  firstError?: string;
  openSeconds: number;
  executions: { executed: number; shared: number };
  /** Resident memory of each instance with the subscribers connected (MB). */
  serverRssMb: number[];
  rounds: FanoutRound[];
}

/** CPU seconds (user + system) a process has used so far (Linux /proc; 0 elsewhere or once it is gone). */
function cpuSecondsOf(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return 0;
  }
}

/** CPU seconds of every process whose command line contains `needle` (PostgreSQL backends, Redis). */
function cpuSecondsMatching(needle: string): number {
  let sum = 0;
  try {
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) sum += cpuSecondsOf(Number(entry));
      } catch { /* gone meanwhile */ }
    }
  } catch { /* not Linux */ }
  return sum;
}

export interface CpuSeconds { servers: number; subscribers: number; loadGenerator: number; postgres: number; redis: number }

function redisAnswers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(port) || 6379, hostname || '127.0.0.1');
    socket.setTimeout(1000, () => { socket.destroy(); resolve(false); });
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

function reply<T extends SubscriberReply['type']>(child: ChildProcess, type: T, timeoutMs: number): Promise<Extract<SubscriberReply, { type: T }>> {
  return new Promise((resolve, reject) => {
    const done = () => { clearTimeout(timer); child.off('message', onMessage); child.off('exit', onExit); };
    const onMessage = (message: SubscriberReply) => {
      if (message.type === type) { done(); resolve(message as Extract<SubscriberReply, { type: T }>); }
      else if (message.type === 'error') { done(); reject(new Error(`subscribers: ${message.message}`)); }
    };
    const onExit = (code: number | null) => { done(); reject(new Error(`subscriber process exited (${code}) waiting for ${type}`)); };
    const timer = setTimeout(() => { done(); reject(new Error(`subscribers: no ${type} in ${timeoutMs / 1000} s`)); }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

const tell = (child: ChildProcess, request: SubscriberRequest) => child.send(request);

async function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve(text));
    }).on('error', reject);
  });
}

function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(match[3]);
  }
  return sum;
}

/** The wallets' current sequences (aliased reads, 25 per request). */
async function sequencesOf(target: Target, wallets: string[]): Promise<Map<string, number>> {
  const result = new Map<string, number>();
  for (let i = 0; i < wallets.length; i += ALIASES_PER_REQUEST) {
    const chunk = wallets.slice(i, i + ALIASES_PER_REQUEST);
    const query = `query {\n${chunk.map((id, k) => `w${k}: wallet(accountId: "${id}") { sequence }`).join('\n')}\n}`;
    const { json } = await post(target, { query });
    if (json.errors) throw new Error(`reading sequences failed: ${JSON.stringify(json.errors).slice(0, 300)}`);
    chunk.forEach((id, k) => result.set(id, Number((json.data?.[`w${k}`] as { sequence?: number } | null)?.sequence)));
  }
  return result;
}

/** A user token per wallet (aliased, 25 per request). */
async function userTokens(target: Target, wallets: string[]): Promise<Map<string, string>> {
  const result = new Map<string, string>();
  for (let i = 0; i < wallets.length; i += ALIASES_PER_REQUEST) {
    const chunk = wallets.slice(i, i + ALIASES_PER_REQUEST);
    const query = `mutation {\n${chunk.map((id, k) => `t${k}: issueUserToken(accountId: "${id}", ttlSeconds: 86400) { token }`).join('\n')}\n}`;
    const { json } = await post(target, { query });
    if (json.errors) throw new Error(`issuing user tokens failed: ${JSON.stringify(json.errors).slice(0, 300)}`);
    chunk.forEach((id, k) => result.set(id, String((json.data?.[`t${k}`] as { token?: string } | null)?.token)));
  }
  return result;
}

async function waitForSubscriptions(ports: number[], expected: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await Promise.all(ports.map(async (p) => sampleSum(await scrape(p), 'credits_subscriptions')));
    const total = counts.reduce((a, b) => a + b, 0);
    if (total === expected) return;
    if (Date.now() > deadline) throw new Error(`${total} subscriptions on the instances (${counts.join(' + ')}), expected ${expected}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function runFanoutShape(options: {
  databaseUrl: string;
  /** An ADMIN key of the database (none: one is created with the CLI). */
  adminToken?: string;
  subscribers: number;
  log: (message: string) => void;
}): Promise<FanoutSummary | null> {
  const { databaseUrl, log } = options;
  const subscribers = options.subscribers;
  const perWallet = envInt('BENCH_FANOUT_PER_WALLET', 10);
  const rounds = envInt('BENCH_FANOUT_ROUNDS', 3);
  const seconds = envInt('BENCH_SECONDS', 5);
  const connections = envInt('BENCH_CONNECTIONS', 64);
  const steadyRate = envInt('BENCH_FANOUT_RATE', 100);
  const redisUrl = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
  if (!(await redisAnswers(redisUrl))) {
    log(`fan-out skipped: nothing answers at ${redisUrl} (set REDIS_URL)`);
    return null;
  }
  if (subscribers % 2 !== 0 || perWallet % 2 !== 0 || subscribers % perWallet !== 0) throw new Error('BENCH_FANOUT_SUBSCRIBERS must be a multiple of BENCH_FANOUT_PER_WALLET, both even');
  const walletCount = subscribers / perWallet;
  const runTag = `fanout-${process.pid}-${Date.now().toString(36)}`;
  const env = { REDIS_URL: redisUrl, LIVE_CHANNEL: `bench:${runTag}:live`, RATE_LIMIT_KEY_PREFIX: `bench:${runTag}:rl` };
  const ports = [await freePort(), await freePort()];
  const servers: ChildProcess[] = [];
  const children: ChildProcess[] = [];
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  try {
    for (const port of ports) servers.push(await startServer(port, databaseUrl, env));
    const token = options.adminToken ?? (await run(process.execPath, [CREATE_ADMIN_KEY, 'bench fanout'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' } })).stdout.trim().split('\n').pop()!.trim();
    const targets: Target[] = ports.map((port) => ({ port, token, agent }));
    const watched = await seed(targets[0], walletCount, '1000000', `${runTag}-w`, 16);
    const unwatched = await seed(targets[0], walletCount, '1000000', `${runTag}-u`, 16);
    const tokens = await userTokens(targets[0], watched);
    log(`fan-out: ${subscribers} subscribers on ${walletCount} wallets (${perWallet} per wallet, half on each of 2 instances); ${walletCount} more wallets nobody watches`);

    let chargeRound = 0;
    /** Closed-loop charges on `wallets` through both instances; with `answered`, when each charge's answer arrived (by transaction id). */
    const charges = async (wallets: string[], secs: number, answered?: Map<string, number>): Promise<ShapeResult[]> => {
      const tag = chargeRound++;
      return Promise.all(targets.map((target, t) => runShape(target, {
        name: `fanout charge ${t === 0 ? 'A' : 'B'}`,
        body: (c, i) => ({ query: CHARGE, variables: { i: { accountId: wallets[Math.floor(Math.random() * wallets.length)], amount: '1', idempotencyKey: `${runTag}-${tag}-${t}-${c}-${i}` } } }),
        ok: (r) => {
          const id = (r.data?.charge as { id?: string } | null | undefined)?.id;
          if (id) answered?.set(id, Date.now());
          return Boolean(id);
        },
      }, secs, Math.max(1, Math.floor(connections / 2)))));
    };
    /** Charges at a steady rate (open loop: sent on time whatever the answers), alternating between the instances. */
    const steady = async (perSecond: number, secs: number, answered: Map<string, number>): Promise<{ perSecond: number; failures: number }> => {
      const tag = chargeRound++;
      const total = Math.round(perSecond * secs);
      const started = Date.now();
      let failures = 0;
      const inFlight: Promise<void>[] = [];
      for (let i = 0; i < total; i += 1) {
        const wait = started + (i * 1000) / perSecond - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        const body = { query: CHARGE, variables: { i: { accountId: watched[Math.floor(Math.random() * watched.length)], amount: '1', idempotencyKey: `${runTag}-${tag}-steady-${i}` } } };
        inFlight.push(post(targets[i % 2], body).then(({ json }) => {
          const id = (json.data?.charge as { id?: string } | null | undefined)?.id;
          if (id) answered.set(id, Date.now());
          else failures += 1;
        }, () => { failures += 1; }));
      }
      await Promise.all(inFlight);
      return { perSecond: (total - failures) / ((Date.now() - started) / 1000), failures };
    };
    const cpuNow = (): CpuSeconds => ({
      servers: servers.reduce((sum, c) => sum + cpuSecondsOf(c.pid), 0), subscribers: children.reduce((sum, c) => sum + cpuSecondsOf(c.pid), 0),
      loadGenerator: (process.cpuUsage().user + process.cpuUsage().system) / 1e6, postgres: cpuSecondsMatching('postgres'), redis: cpuSecondsMatching('redis-server'),
    });
    const measured = async (wallets: string[], answered?: Map<string, number>) => {
      const start = cpuNow();
      const results = await charges(wallets, seconds, answered);
      const end = cpuNow();
      const cpu: CpuSeconds = {
        servers: end.servers - start.servers, subscribers: end.subscribers - start.subscribers, loadGenerator: end.loadGenerator - start.loadGenerator,
        postgres: end.postgres - start.postgres, redis: end.redis - start.redis,
      };
      return { results, cpu };
    };
    await charges(watched, Math.min(2, seconds)); // warm-up (before anyone subscribes), not reported

    // The subscribers connect once, each from its wallet's current sequence: every later event must arrive, once.
    for (let i = 0; i < 2; i += 1) children.push(fork(SUBSCRIBER_PROCESS, [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    const sequences = await sequencesOf(targets[0], watched);
    const specs: SubscriptionSpec[][] = [[], []];
    for (const accountId of watched) {
      for (let k = 0; k < perWallet; k += 1) specs[k % 2].push({ accountId, token: tokens.get(accountId)!, afterSequence: sequences.get(accountId)! });
    }
    const opened = Date.now();
    children.forEach((child, i) => tell(child, { type: 'open', wsUrl: `ws://127.0.0.1:${ports[i]}/graphql`, subscriptions: specs[i], parallel: 64 }));
    await Promise.all(children.map((child) => reply(child, 'opened', 600_000)));
    await waitForSubscriptions(ports, subscribers, 120_000);
    const openSeconds = (Date.now() - opened) / 1000;
    const serverRssMb = await Promise.all(ports.map(async (p) => sampleSum(await scrape(p), 'credits_process_resident_memory_bytes') / 1e6));
    const metricsBefore = await Promise.all(ports.map(scrape));
    log(`fan-out: ${subscribers} subscriptions open in ${openSeconds.toFixed(1)} s; server rss ${serverRssMb.map((m) => m.toFixed(0)).join(' / ')} MB`);

    // Rounds: charges on wallets nobody watches (the subscribers idle) and on the watched ones, in
    // alternating order so that drift of the machine counts against both alike.
    const results: FanoutRound[] = [];
    const answered = new Map<string, number>();
    for (let round = 0; round < rounds; round += 1) {
      const withoutFirst = round % 2 === 0;
      const first = withoutFirst ? await measured(unwatched) : await measured(watched, answered);
      const second = withoutFirst ? await measured(watched, answered) : await measured(unwatched);
      const [without, withSubscribers] = withoutFirst ? [first, second] : [second, first];
      const perSecond = (rs: ShapeResult[]) => rs.reduce((sum, r) => sum + r.perSecond, 0);
      const requests = (rs: ShapeResult[]) => rs.reduce((sum, r) => sum + r.requests, 0);
      const serverCost = (cpu: CpuSeconds) => cpu.servers + cpu.postgres + cpu.redis;
      const result: FanoutRound = {
        without: without.results, with: withSubscribers.results, cpuWithout: without.cpu, cpuWith: withSubscribers.cpu,
        chargesPerSecondWithout: perSecond(without.results), chargesPerSecondWith: perSecond(withSubscribers.results),
        ratio: perSecond(withSubscribers.results) / perSecond(without.results),
        cpuRatio: (serverCost(without.cpu) / requests(without.results)) / (serverCost(withSubscribers.cpu) / requests(withSubscribers.results)),
      };
      results.push(result);
      const failures = [...without.results, ...withSubscribers.results].reduce((s, r) => s + r.failures, 0);
      const cpu = (c: CpuSeconds) => `servers ${c.servers.toFixed(1)}, postgres ${c.postgres.toFixed(1)}, redis ${c.redis.toFixed(1)}, subscribers ${c.subscribers.toFixed(1)}, load generator ${c.loadGenerator.toFixed(1)}`;
      log(`fan-out round ${round + 1}/${rounds}: ${result.chargesPerSecondWithout.toFixed(0)} charges/s on unwatched wallets, ${result.chargesPerSecondWith.toFixed(0)} on watched ones`
        + ` (ratio ${result.ratio.toFixed(3)}; server-side CPU per charge ratio ${result.cpuRatio.toFixed(3)}); CPU s without: ${cpu(without.cpu)}; with: ${cpu(withSubscribers.cpu)}`
        + `${failures ? `; charge failures ${failures}: ${[...without.results, ...withSubscribers.results].find((r) => r.firstFailure)?.firstFailure}` : ''}`);
    }
    const answeredSteady = new Map<string, number>();
    const steadyRun = await steady(steadyRate, seconds, answeredSteady);

    // Let the last events arrive, then check every subscription against its wallet's final sequence.
    const finalSequences = await sequencesOf(targets[0], watched);
    const expectedEvents = specs.flat().reduce((sum, s) => sum + finalSequences.get(s.accountId)! - s.afterSequence, 0);
    let reports: SubscriberReport[] = [];
    for (let wait = 0; wait < 100; wait += 1) {
      children.forEach((child) => tell(child, { type: 'report' }));
      reports = await Promise.all(children.map((child) => reply(child, 'report', 120_000)));
      const done = reports.every((r, i) => r.lastSequences.every((last, k) => last >= finalSequences.get(specs[i][k].accountId)!));
      if (done) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const behind = reports.reduce((sum, r, i) => sum + r.lastSequences.filter((last, k) => last !== finalSequences.get(specs[i][k].accountId)).length, 0);
    const latenciesOf = (answeredAt: Map<string, number>) => reports.flatMap((r) => r.receipts.flatMap(([id, at]) => {
      const t = answeredAt.get(id);
      return t === undefined ? [] : [at - t];
    })).sort((x, y) => x - y);
    const latencies = latenciesOf(answeredSteady);
    const saturated = latenciesOf(answered);
    const metricsAfter = await Promise.all(ports.map(scrape));
    const executions = (result: string) => metricsAfter.reduce((sum, text, i) => sum + sampleSum(text, 'credits_live_executions_total', { result }) - sampleSum(metricsBefore[i], 'credits_live_executions_total', { result }), 0);
    children.forEach((child) => tell(child, { type: 'close' }));
    await Promise.all(children.map((child) => reply(child, 'closed', 120_000)));
    const firstError = reports.find((r) => r.firstError)?.firstError;
    const summary: FanoutSummary = {
      subscribers, wallets: walletCount, instances: 2, seconds, connections,
      chargesPerSecondWithout: median(results.map((r) => r.chargesPerSecondWithout)), chargesPerSecondWith: median(results.map((r) => r.chargesPerSecondWith)),
      ratio: median(results.map((r) => r.ratio)), cpuRatio: median(results.map((r) => r.cpuRatio)),
      steadyRate, steadyPerSecond: steadyRun.perSecond, steadyFailures: steadyRun.failures,
      p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies[latencies.length - 1] ?? NaN,
      saturatedP50Ms: percentile(saturated, 50), saturatedP99Ms: percentile(saturated, 99),
      events: reports.reduce((s, r) => s + r.events, 0), expectedEvents,
      gaps: reports.reduce((s, r) => s + r.gaps, 0), duplicates: reports.reduce((s, r) => s + r.duplicates, 0), behind,
      errors: reports.reduce((s, r) => s + r.errors, 0), ...(firstError ? { firstError } : {}), openSeconds,
      executions: { executed: executions('executed'), shared: executions('shared') }, serverRssMb, rounds: results,
    };
    log(`fan-out: commit→client at ${steadyRun.perSecond.toFixed(0)} charges/s p50 ${summary.p50Ms.toFixed(1)} ms p99 ${summary.p99Ms.toFixed(1)} ms (${steadyRun.failures} failed);`
      + ` ${summary.events}/${expectedEvents} events, gaps ${summary.gaps}, duplicates ${summary.duplicates}, behind ${behind}, errors ${summary.errors}${firstError ? ` (${firstError})` : ''}`);
    return summary;
  } finally {
    agent.destroy();
    for (const child of children) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) tell(child, { type: 'stop' });
      const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(force);
    }
    for (const server of servers) await stopServer(server);
  }
}

export function fanoutLines(f: FanoutSummary): string {
  return [
    `fan-out: ${f.subscribers} subscribers (graphql-ws, one socket each) on ${f.wallets} wallets, half on each of 2 instances with Redis; charges through both instances`
      + ` (${f.connections} connections, ${f.seconds} s per phase, median of ${f.rounds.length} round(s)):`,
    `  commit→client (charge answered → event received) at ${f.steadyPerSecond.toFixed(0)} charges/s: p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms, max ${f.maxMs.toFixed(0)} ms (target p99 ≤ 50 ms);`
      + ` at saturation: p50 ${f.saturatedP50Ms.toFixed(1)} ms, p99 ${f.saturatedP99Ms.toFixed(1)} ms`,
    `  ${f.events} of ${f.expectedEvents} events delivered: gaps ${f.gaps}, duplicates ${f.duplicates}, subscriptions behind at the end ${f.behind}, errors ${f.errors}`,
    `  charges/s ${f.chargesPerSecondWith.toFixed(0)} on watched wallets vs ${f.chargesPerSecondWithout.toFixed(0)} on unwatched ones: ratio ${f.ratio.toFixed(3)} (target ≥ 0.9);`
      + ` server-side CPU per charge, without ÷ with: ${f.cpuRatio.toFixed(3)}`,
    `  subscription results executed ${f.executions.executed}, shared ${f.executions.shared}; ${f.subscribers} subscriptions opened in ${f.openSeconds.toFixed(1)} s;`
      + ` server rss with them ${f.serverRssMb.map((m) => m.toFixed(0)).join(' / ')} MB`,
  ].join('\n');
}

/** `npm run bench -- fanout`: the fan-out shape alone, on a fresh database (or DATABASE_URL). */
export async function fanoutMain(): Promise<void> {
  const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  const owned = process.env.DATABASE_URL ? null : await freshDatabase();
  const databaseUrl = process.env.DATABASE_URL || owned!.url;
  const started = Date.now();
  try {
    const subscribers = envInt('BENCH_FANOUT_SUBSCRIBERS', 1_000);
    const summary = await runFanoutShape({ databaseUrl, subscribers, log });
    if (!summary) return;
    process.stdout.write(`\n${fanoutLines(summary)}\nmachine: ${os.cpus().length} CPUs (clients, servers, PostgreSQL and Redis share them), node ${process.version}\n\n`);
    process.stdout.write(JSON.stringify({ fanout: summary, totalSeconds: (Date.now() - started) / 1000 }) + '\n');
  } finally {
    if (owned) await owned.drop().catch((error) => log(`could not drop the bench database: ${String(error)}`));
  }
}
