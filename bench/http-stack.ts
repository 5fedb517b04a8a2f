/**
 * The HTTP stack alone: Apollo Server 5 on Express 5 (what the server runs) against Apollo Server 5 on
 * Fastify 5, each in its own process, with the same ApolloServer: our schema, our validation rules,
 * the cost plugin and formatError, a context that reads the authorization header and does no I/O.
 * `{ __typename }` then measures what a framework adds per request: routing, body parsing, Apollo's
 * request/response mapping. Rounds alternate which stack goes first; figures are medians of per-round
 * ratios, and the servers' own CPU per request (from /proc), which other load on the machine moves far
 * less than requests per second.
 *
 * Part of `npm run bench` (BENCH_STACK=0 skips it); `npm run bench -- stack` runs it alone.
 * env: BENCH_SECONDS (5), BENCH_REPEATS (3), BENCH_CONNECTIONS (64).
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
// Development dependencies: measured here, not served.
import Fastify from 'fastify';
import fastifyApollo from '@as-integrations/fastify';
import { buildAppSchema } from '../src/graphql/schema';
import { limitRules, queryCostPlugin } from '../src/graphql/limits';
import { formatError } from '../src/graphql/errors';
import { loadConfig } from '../src/config';
import { envInt, freePort, median, processCpuMs, runShape, type Shape, type Target } from './run';

type Stack = 'express' | 'fastify';
const STACKS: Stack[] = ['express', 'fastify'];
const BODY_LIMIT_BYTES = 256 * 1024;

export interface StackRound { stack: Stack; perSecond: number; p50Ms: number; p99Ms: number; serverCpuMsPerRequest: number | null; failures: number }
export interface StackResult {
  rounds: StackRound[][];
  /** Median over rounds of Fastify's requests/s ÷ Express's in the same round. */
  fastifyVsExpress: number;
  /** Median over rounds of Express's server CPU ms per request − Fastify's. */
  cpuSavedMsPerRequest: number | null;
}

// ---------------------------------------------------------------- the servers (child processes)

async function serve(stack: Stack): Promise<void> {
  const config = loadConfig({ databaseUrl: null, dataDir: '', loadDemo: false });
  const apollo = new ApolloServer<{ authorization: string | null }>({
    schema: await buildAppSchema(), validationRules: limitRules(config), formatError, introspection: false,
    plugins: [queryCostPlugin(config)],
  });
  await apollo.start();
  const context = (authorization: string | string[] | undefined) => Promise.resolve({ authorization: typeof authorization === 'string' ? authorization : null });
  const port = await freePort();
  if (stack === 'express') {
    const app = express();
    app.disable('x-powered-by');
    app.use('/graphql', express.json({ limit: BODY_LIMIT_BYTES }), expressMiddleware(apollo, { context: ({ req }) => context(req.headers.authorization) }));
    await new Promise<void>((resolve) => http.createServer(app).listen(port, '127.0.0.1', resolve));
  } else {
    const app = Fastify({ bodyLimit: BODY_LIMIT_BYTES });
    await app.register(fastifyApollo(apollo), { context: (request) => context(request.headers.authorization) });
    await app.listen({ port, host: '127.0.0.1' });
  }
  process.send?.({ port });
}

function startStack(stack: Stack): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(__filename, ['serve', stack], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${stack} did not start in 60 s`)); }, 60_000);
    child.once('message', (message: { port: number }) => { clearTimeout(timer); resolve({ child, port: message.port }); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`${stack} exited (${code}) before ready`)); });
  });
}

function stopStack(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => { clearTimeout(force); resolve(); });
    child.kill('SIGTERM');
  });
}

// ---------------------------------------------------------------- the measurement

const TYPENAME: Shape = {
  name: 'typename', body: () => ({ query: '{ __typename }' }),
  ok: (r) => (r.data as { __typename?: string } | undefined)?.__typename === 'Query',
};

export async function runStackShape(options: { seconds: number; connections: number; repeats: number; log: (message: string) => void }): Promise<StackResult> {
  const { seconds, connections, repeats, log } = options;
  const started: { stack: Stack; child: ChildProcess; target: Target }[] = [];
  try {
    for (const stack of STACKS) {
      const { child, port } = await startStack(stack);
      const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
      started.push({ stack, child, target: { port, token: 'bench', agent } });
    }
    // Both answer { __typename } correctly (or the comparison means nothing); this also warms them up.
    for (const { stack, target } of started) {
      const check = await runShape(target, TYPENAME, 1, 4);
      if (check.failures > 0 || check.requests === 0) throw new Error(`${stack} failed { __typename }: ${check.firstFailure ?? 'no answer'}`);
    }
    const rounds: StackRound[][] = [];
    for (let round = 0; round < repeats; round += 1) {
      const order = round % 2 === 0 ? started : [...started].reverse();
      const results: StackRound[] = [];
      for (const { stack, child, target } of order) {
        const before = processCpuMs(child.pid);
        const result = await runShape(target, TYPENAME, seconds, connections);
        const after = processCpuMs(child.pid);
        const serverCpuMsPerRequest = before !== null && after !== null && result.requests > 0 ? (after - before) / result.requests : null;
        log(`stack round ${round + 1}/${repeats} ${stack}: ${result.perSecond.toFixed(0)}/s p50 ${result.p50Ms.toFixed(1)} ms${serverCpuMsPerRequest === null ? '' : ` server cpu ${serverCpuMsPerRequest.toFixed(2)} ms/req`}`);
        results.push({ stack, perSecond: result.perSecond, p50Ms: result.p50Ms, p99Ms: result.p99Ms, serverCpuMsPerRequest, failures: result.failures });
      }
      rounds.push(STACKS.map((stack) => results.find((r) => r.stack === stack)!));
    }
    const [express, fastify] = [0, 1];
    const cpuSaved = rounds.map((r) => (r[express].serverCpuMsPerRequest === null || r[fastify].serverCpuMsPerRequest === null ? NaN : r[express].serverCpuMsPerRequest - r[fastify].serverCpuMsPerRequest));
    return {
      rounds,
      fastifyVsExpress: median(rounds.map((r) => r[fastify].perSecond / r[express].perSecond)),
      cpuSavedMsPerRequest: cpuSaved.every(Number.isNaN) ? null : median(cpuSaved),
    };
  } finally {
    for (const { child, target } of started) {
      target.agent.destroy();
      await stopStack(child);
    }
  }
}

export function stackLines(result: StackResult): string {
  const medianOf = (stack: Stack, pick: (r: StackRound) => number | null) => median(result.rounds.map((r) => pick(r.find((s) => s.stack === stack)!) ?? NaN));
  const describe = (stack: Stack) => `${stack} ${medianOf(stack, (r) => r.perSecond).toFixed(0)}/s (server cpu ${medianOf(stack, (r) => r.serverCpuMsPerRequest).toFixed(2)} ms/req)`;
  return [
    `HTTP stack, { __typename } on the same ApolloServer (our schema, limit rules, cost plugin, formatError), median of ${result.rounds.length} round(s): ${describe('express')}, ${describe('fastify')}`,
    `fastify vs express: ${result.fastifyVsExpress.toFixed(3)} (median of per-round ratios); server cpu saved per request: ${result.cpuSavedMsPerRequest === null ? 'unknown' : `${result.cpuSavedMsPerRequest.toFixed(2)} ms`}`,
  ].join('\n');
}

export async function stackMain(): Promise<void> {
  const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  const result = await runStackShape({ seconds: envInt('BENCH_SECONDS', 5), repeats: envInt('BENCH_REPEATS', 3), connections: envInt('BENCH_CONNECTIONS', 64), log });
  process.stdout.write(`\n${stackLines(result)}\n\n${JSON.stringify({ stack: result })}\n`);
}

if (require.main === module) {
  const main = process.argv[2] === 'serve' ? serve(process.argv[3] === 'fastify' ? 'fastify' : 'express') : stackMain();
  main.catch((error) => {
    process.stderr.write(`stack bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
