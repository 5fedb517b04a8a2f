/**
 * SIGTERM and SIGINT on the real process (`node dist/src/main.js`, production environment: no
 * NODE_ENV=test) with charges in flight: it stops accepting, answers every charge it had taken,
 * closes the database and exits 0 — on PGlite (a folder of its own) and, with DATABASE_URL, on
 * PostgreSQL. Afterwards the ledger holds exactly the charges that were answered.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { isPostgres } from '../helpers/harness';
import { buildServer, createAdminKey, freePort, kill, startServer, type ServerProcess } from '../helpers/server-process';
import { postGraphQL } from '../../bench/http';

const CHARGES = 120;
const SOCKETS = 16;
const CHARGE = `mutation($i: ChargeInput!) { charge(input: $i) { id status } }`;

let dataDir = '';
let env: NodeJS.ProcessEnv = {};
let adminKey = '';
let server: ServerProcess | null = null;

beforeAll(async () => {
  await buildServer();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'credits-shutdown-'));
  env = isPostgres() ? { DATABASE_URL: process.env.DATABASE_URL } : { DATABASE_URL: '', DATA_DIR: dataDir };
  adminKey = await createAdminKey('shutdown test', env);
}, 180_000);

afterAll(async () => {
  if (server) await kill(server);
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function stopUnderLoad(signal: 'SIGTERM' | 'SIGINT') {
  const port = await freePort();
  server = await startServer(port, env);
  const agent = new http.Agent({ keepAlive: true, maxSockets: SOCKETS });
  const gql = async <T,>(query: string, variables: Record<string, unknown>) => (await postGraphQL<T>({ agent, port, token: adminKey }, { query, variables }, 30_000)).json;
  const accountId = (await gql<{ createAccount: { id: string } }>(`mutation { createAccount(input: { name: "shutdown", kind: USER }) { id } }`, {})).data!.createAccount.id;
  await gql(`mutation($i: GrantCreditsInput!) { grantCredits(input: $i) { id } }`, { i: { accountId, amount: '1000', source: 'PURCHASE', idempotencyKey: `grant-${signal}` } });

  let signalledAt = 0;
  const answeredAfterSignal: boolean[] = [];
  const charges = Array.from({ length: CHARGES }, async (_, n) => {
    try {
      const result = await gql<{ charge: { status: string } }>(CHARGE, { i: { accountId, amount: '1', idempotencyKey: `${signal}-${n}` } });
      if (signalledAt) answeredAfterSignal.push(true);
      if (!signalledAt) { signalledAt = Date.now(); server!.child.kill(signal); } // the first answer triggers the signal
      return result.data?.charge?.status ?? JSON.stringify(result.errors);
    } catch {
      return 'no answer'; // the connection was refused or closed before the server read the request
    }
  });
  const statuses = await Promise.all(charges);
  const exit = await server.exited;
  const exitMs = Date.now() - signalledAt;
  server = null;
  agent.destroy();

  expect(exit).toEqual({ code: 0, signal: null });
  expect(statuses.filter((s) => s !== 'SUCCEEDED' && s !== 'no answer')).toEqual([]);
  expect(answeredAfterSignal.length).toBeGreaterThan(0); // charges were in flight when the signal came
  const answered = statuses.filter((s) => s === 'SUCCEEDED').length;

  // The ledger has exactly the answered charges: none was taken and then dropped.
  server = await startServer(port, env); // (afterAll kills it if an expectation below fails)
  const agent2 = new http.Agent({ keepAlive: true });
  const wallet = (await postGraphQL<{ wallet: { balance: string; sequence: number } }>({ agent: agent2, port, token: adminKey }, { query: `query($id: ID!) { wallet(accountId: $id) { balance sequence } }`, variables: { id: accountId } })).json.data!.wallet;
  agent2.destroy();
  expect(wallet).toEqual({ balance: String(1000 - answered), sequence: 1 + answered });
  server.child.kill('SIGTERM');
  expect(await server.exited).toEqual({ code: 0, signal: null });
  server = null;
  console.log(`${signal} with charges in flight (${isPostgres() ? 'PostgreSQL' : 'PGlite'}): exit 0 after ${exitMs} ms; ${answered} of ${CHARGES} charges answered, ${answeredAfterSignal.length} of them after the signal`);
}

test('SIGTERM with charges in flight: every taken charge answered, database closed, exit 0', () => stopUnderLoad('SIGTERM'), 120_000);
test('SIGINT behaves the same', () => stopUnderLoad('SIGINT'), 120_000);
