/**
 * The two commands a new user runs: `npm start` on a fresh data folder (PGlite, migrations, demo,
 * printed endpoint/admin key/user token, graceful SIGTERM) and `npm run create-admin-key`.
 * Runs the compiled server as a child process, on loopback only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureBuilt, ROOT } from '../helpers/build';
import type { GqlResult } from '../helpers/harness';

const run = promisify(execFile);
let dataDir: string;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function env(extra: Record<string, string>): NodeJS.ProcessEnv {
  const { DATABASE_URL: _db, ...rest } = process.env;
  return { ...rest, LOG_LEVEL: 'warn', DATA_DIR: dataDir, ...extra };
}

async function gql<T>(url: string, token: string, query: string): Promise<GqlResult<T>> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
  return (await response.json()) as GqlResult<T>;
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-cli-'));
  await ensureBuilt();
}, 120_000);

afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

test('start on a fresh data folder prints the endpoint, an admin key and a user token that work; SIGTERM exits cleanly', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/main.js')], { cwd: ROOT, env: env({ PORT: String(port) }) });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60_000);
    child.stdout.on('data', () => { if (/User token: \S+/.test(out)) { clearTimeout(timer); resolve(); } });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`server exited ${code}: ${out}`)); });
  });
  child.removeAllListeners('exit');
  const endpoint = /ready at (\S+)/.exec(out)![1];
  const adminKey = /Admin key:\s+(ck_\S+)/.exec(out)![1];
  const userToken = /User token: (\S+)/.exec(out)![1];
  expect(endpoint).toBe(`http://localhost:${port}/graphql`);
  // The demo user's dashboard link carries the token in the fragment, which browsers never send to a server.
  expect(/Dashboard:\s+(\S+)/.exec(out)?.[1]).toBe(`http://localhost:${port}/dashboard#token=${encodeURIComponent(userToken)}`);

  const admin = await gql<{ account: { id: string; wallet: { balance: string } } }>(endpoint, adminKey, '{ account(externalId: "demo-user") { id wallet { balance } } }');
  expect(admin.data?.account.wallet.balance).toBe('4000');
  const user = await gql<{ wallet: { balance: string } }>(endpoint, userToken, `{ wallet(accountId: "${admin.data?.account.id}") { balance } }`);
  expect(user.data?.wallet.balance).toBe('4000');
  expect((await fetch(`http://localhost:${port}/healthz`)).status).toBe(200);
  expect((await fetch(`http://localhost:${port}/readyz`)).status).toBe(200);

  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
}, 120_000);

test('create-admin-key prints a working admin key as its last line, against the same data folder', async () => {
  const { stdout } = await run(process.execPath, [path.join(ROOT, 'dist/src/cli/create-admin-key.js')], { cwd: ROOT, env: env({}) });
  const lines = stdout.trim().split('\n');
  const key = lines[lines.length - 1];
  expect(key).toMatch(/^ck_[A-Za-z0-9_-]{20,}$/);

  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, 'dist/src/main.js')], { cwd: ROOT, env: env({ PORT: String(port) }) });
  try {
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 60_000);
      child.stdout.on('data', () => { if (/User token:/.test(out)) { clearTimeout(timer); resolve(); } });
    });
    // Second start on the same folder: the demo is not loaded again and no new admin secret is shown.
    expect(out).not.toMatch(/Admin key:\s+ck_/);
    const result = await gql<{ auditLedger: { ok: boolean; violations: string[] } }>(`http://localhost:${port}/graphql`, key, '{ auditLedger { ok violations } }');
    expect(result.data?.auditLedger).toEqual({ ok: true, violations: [] });
  } finally {
    child.kill('SIGKILL');
  }
}, 120_000);
