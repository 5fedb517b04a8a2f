/**
 * The compiled production server as a child process (crash, database-restart and shutdown tests):
 * start it on a free loopback port, wait for its ready line, talk to it over a keep-alive agent.
 * Every wait here is bounded.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, ensureBuilt } from './build';

export const MAIN = path.join(ROOT, 'dist/src/main.js');
const CREATE_ADMIN_KEY = path.join(ROOT, 'dist/src/cli/create-admin-key.js');
const run = promisify(execFile);

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Compiles what is there now (tsc emits even when other files have type errors mid-edit). */
export async function buildServer(): Promise<void> {
  await ensureBuilt().catch((error) => { if (!fs.existsSync(MAIN)) throw error; });
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} was not built`);
}

/** A new admin key in the database named by env.DATABASE_URL, through the real CLI. */
export async function createAdminKey(name: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const { stdout } = await run(process.execPath, [CREATE_ADMIN_KEY, name], { cwd: ROOT, env: { ...process.env, LOG_LEVEL: 'silent', ...env } });
  return stdout.trim().split('\n').pop()!.trim();
}

export interface ServerProcess {
  child: ChildProcess;
  output: string[];
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `node dist/src/main.js` and waits (≤ 30 s) for its ready line. NODE_ENV is removed from
 * the child's environment (jest sets it to "test"), so the process runs as in production.
 */
export function startServer(port: number, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOAD_DEMO: 'false', LOG_LEVEL: 'warn', JOB_INTERVAL_SECONDS: '3600', ...env };
  delete childEnv.NODE_ENV;
  const child = spawn(process.execPath, [MAIN], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`server did not start in 30 s:\n${output.join('')}`)); }, 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      if (output.length < 500) output.push(chunk.toString());
      if (output.join('').includes('Credits server ready at')) { clearTimeout(timer); resolve({ child, output, exited }); }
    });
    child.stderr.on('data', (chunk: Buffer) => { if (output.length < 500) output.push(chunk.toString()); });
    void exited.then(({ code, signal }) => { clearTimeout(timer); reject(new Error(`server exited (${code ?? signal}) before ready:\n${output.join('')}`)); });
  });
}

/** SIGKILLs the process (if it still runs) and waits for it to be gone. */
export async function kill(server: ServerProcess): Promise<void> {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
  await server.exited;
}
