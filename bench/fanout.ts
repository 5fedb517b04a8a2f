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
 * Per round (BENCH_FANOUT_ROUNDS, default 3): charges without subscribers for BENCH_SECONDS; then
 * the subscribers connect (each from its wallet's current sequence); charges with them for
 * BENCH_SECONDS; then every subscriber must have every sequence of its wallet exactly once (gaps,
 * duplicates and missing events are counted); then they disconnect.
 *
 * Figures:
 * - commit to client: from the arrival of the charge's answer at the load generator to the arrival of
 *   its event at each subscriber process (same machine, same clock), p50 / p99 over every event of
 *   the charges answered while the subscribers listened (target p99 ≤ 50 ms). The server publishes
 *   right after commit, before it answers, so this is close to commit → client, a little under it
 *   (by the answer's own way back); negative when the event beat the answer. (The transaction's
 *   createdAt is no commit stamp: it is taken before the wallet's row lock, so a busy wallet's lock
 *   waits would count.)
 * - charges per second with the subscribers ÷ without, per round, median (target ≥ 0.9);
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
  without: ShapeResult[];
  with: ShapeResult[];
  chargesPerSecondWithout: number;
  chargesPerSecondWith: number;
  ratio: number;
  events: number;
  expectedEvents: number;
  gaps: number;
  duplicates: number;
  /** Subscriptions whose last sequence is not their wallet's final one. */
  behind: number;
  errors: number;
  firstError?: string;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  openSeconds: number;
}

export interface FanoutSummary {
  subscribers: number;
  wallets: number;
  instances: 2;
  seconds: number;
  connections: number;
  /** Medians over rounds (ratio: of the per-round ratios); latencies over every event of every round. */
  chargesPerSecondWithout: number;
  chargesPerSecondWith: number;
  ratio: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  events: number;
  gaps: number;
  duplicates: number;
  behind: number;
  errors: number;
  executions: { executed: number; shared: number };
  /** Resident memory of each instance with the subscribers connected (MB, last round). */
  serverRssMb: number[];
  rounds: FanoutRound[];
}

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
    const wallets = await seed(targets[0], walletCount, '1000000', runTag, 16);
    const tokens = await userTokens(targets[0], wallets);
    log(`fan-out: ${walletCount} wallets, ${subscribers} subscribers (${perWallet} per wallet, half on each of 2 instances)`);

    for (let i = 0; i < 2; i += 1) {
      children.push(fork(SUBSCRIBER_PROCESS, [], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    }
    let chargeRound = 0;
    /** Charges through both instances; with `answered`, when each charge's answer arrived (by transaction id). */
    const charges = async (secs: number, answered?: Map<string, number>): Promise<ShapeResult[]> => {
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
    await charges(Math.min(2, seconds)); // warm-up, not reported

    const results: FanoutRound[] = [];
    const allLatencies: number[] = [];
    let serverRssMb: number[] = [];
    const metricsBefore = await Promise.all(ports.map(scrape));
    for (let round = 0; round < rounds; round += 1) {
      const without = await charges(seconds);
      // Subscribe from each wallet's current sequence: every later event must arrive, once.
      const sequences = await sequencesOf(targets[0], wallets);
      const specs: SubscriptionSpec[][] = [[], []];
      for (const accountId of wallets) {
        for (let k = 0; k < perWallet; k += 1) specs[k % 2].push({ accountId, token: tokens.get(accountId)!, afterSequence: sequences.get(accountId)! });
      }
      const opened = Date.now();
      children.forEach((child, i) => tell(child, { type: 'open', wsUrl: `ws://127.0.0.1:${ports[i]}/graphql`, subscriptions: specs[i], parallel: 64 }));
      await Promise.all(children.map((child) => reply(child, 'opened', 600_000)));
      await waitForSubscriptions(ports, subscribers, 120_000);
      const openSeconds = (Date.now() - opened) / 1000;
      children.forEach((child) => tell(child, { type: 'reset' }));
      const answered = new Map<string, number>();
      const withSubscribers = await charges(seconds, answered);
      serverRssMb = await Promise.all(ports.map(async (p) => sampleSum(await scrape(p), 'credits_process_resident_memory_bytes') / 1e6));
      // Let the last events arrive, then check every subscription against its wallet's final sequence.
      const finalSequences = await sequencesOf(targets[0], wallets);
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
      const latencies = reports.flatMap((r) => r.receipts.flatMap(([id, at]) => {
        const answeredAt = answered.get(id);
        return answeredAt === undefined ? [] : [at - answeredAt];
      })).sort((x, y) => x - y);
      allLatencies.push(...latencies);
      children.forEach((child) => tell(child, { type: 'close' }));
      await Promise.all(children.map((child) => reply(child, 'closed', 120_000)));
      await waitForSubscriptions(ports, 0, 60_000);
      const perSecond = (rs: ShapeResult[]) => rs.reduce((sum, r) => sum + r.perSecond, 0);
      const result: FanoutRound = {
        without, with: withSubscribers, chargesPerSecondWithout: perSecond(without), chargesPerSecondWith: perSecond(withSubscribers),
        ratio: perSecond(withSubscribers) / perSecond(without),
        events: reports.reduce((s, r) => s + r.events, 0), expectedEvents,
        gaps: reports.reduce((s, r) => s + r.gaps, 0), duplicates: reports.reduce((s, r) => s + r.duplicates, 0), behind,
        errors: reports.reduce((s, r) => s + r.errors, 0), ...(reports.find((r) => r.firstError) ? { firstError: reports.find((r) => r.firstError)!.firstError } : {}),
        p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: latencies[latencies.length - 1] ?? NaN, openSeconds,
      };
      results.push(result);
      const failures = [...without, ...withSubscribers].reduce((s, r) => s + r.failures, 0);
      log(`fan-out round ${round + 1}/${rounds}: ${result.chargesPerSecondWithout.toFixed(0)} charges/s without, ${result.chargesPerSecondWith.toFixed(0)} with ${subscribers} subscribers`
        + ` (ratio ${result.ratio.toFixed(3)}); commit→client p50 ${result.p50Ms.toFixed(1)} ms p99 ${result.p99Ms.toFixed(1)} ms max ${result.maxMs.toFixed(0)} ms;`
        + ` ${result.events}/${result.expectedEvents} events, gaps ${result.gaps}, duplicates ${result.duplicates}, behind ${result.behind}, errors ${result.errors}`
        + `; subscribed in ${openSeconds.toFixed(1)} s; server rss ${serverRssMb.map((m) => m.toFixed(0)).join(' / ')} MB`
        + `${failures ? `; charge failures ${failures}: ${[...without, ...withSubscribers].find((r) => r.firstFailure)?.firstFailure}` : ''}${result.firstError ? `; first error ${result.firstError}` : ''}`);
    }
    const metricsAfter = await Promise.all(ports.map(scrape));
    const executions = (result: string) => metricsAfter.reduce((sum, text, i) => sum + sampleSum(text, 'credits_live_executions_total', { result }) - sampleSum(metricsBefore[i], 'credits_live_executions_total', { result }), 0);
    allLatencies.sort((x, y) => x - y);
    return {
      subscribers, wallets: walletCount, instances: 2, seconds, connections,
      chargesPerSecondWithout: median(results.map((r) => r.chargesPerSecondWithout)), chargesPerSecondWith: median(results.map((r) => r.chargesPerSecondWith)),
      ratio: median(results.map((r) => r.ratio)),
      p50Ms: percentile(allLatencies, 50), p99Ms: percentile(allLatencies, 99), maxMs: allLatencies[allLatencies.length - 1] ?? NaN,
      events: results.reduce((s, r) => s + r.events, 0), gaps: results.reduce((s, r) => s + r.gaps, 0), duplicates: results.reduce((s, r) => s + r.duplicates, 0),
      behind: results.reduce((s, r) => s + r.behind, 0), errors: results.reduce((s, r) => s + r.errors, 0),
      executions: { executed: executions('executed'), shared: executions('shared') }, serverRssMb, rounds: results,
    };
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
    `  commit→client (charge answered → event received) p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms, max ${f.maxMs.toFixed(0)} ms over ${f.events} events (target p99 ≤ 50 ms);`
      + ` gaps ${f.gaps}, duplicates ${f.duplicates}, subscriptions behind at the end ${f.behind}, errors ${f.errors}`,
    `  charges/s ${f.chargesPerSecondWith.toFixed(0)} with the subscribers vs ${f.chargesPerSecondWithout.toFixed(0)} without: ratio ${f.ratio.toFixed(3)} (target ≥ 0.9)`,
    `  subscription results executed ${f.executions.executed}, shared ${f.executions.shared}; server rss with the subscribers ${f.serverRssMb.map((m) => m.toFixed(0)).join(' / ')} MB`,
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
