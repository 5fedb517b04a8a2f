/** Graceful shutdown: charges the server has already received finish and are answered before it stops. */
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.database.close().catch(() => {}); });

test('stop() lets in-flight charges commit and answer, then refuses new connections', async () => {
  const accountId = await t.createAccount();
  await t.grant(accountId, '100');
  const ledger = t.app.services.ledger;
  const original = ledger.charge.bind(ledger);
  let entered = 0;
  ledger.charge = async (...args: Parameters<typeof ledger.charge>) => {
    entered += 1;
    return original(...args);
  };
  const charges = Array.from({ length: 30 }, () => t.gql<{ charge: { status: string } | null }>(`mutation($i: ChargeInput!) { charge(input: $i) { status } }`,
    { i: { accountId, amount: '1', idempotencyKey: uniqueKey('shutdown') } }));
  for (let spins = 0; entered < 30; spins++) {
    if (spins > 1_000_000) throw new Error(`only ${entered} of 30 charges reached the server`);
    await new Promise((resolve) => setImmediate(resolve));
  }

  let stopFinished = false;
  const stopped = t.app.stop().then(() => { stopFinished = true; });
  // Each answer must reach the client before stop() resolves: stop waits for in-flight requests.
  const answeredBeforeStop = charges.map((c) => c.then(() => !stopFinished));
  const answers = await Promise.all(charges);
  await stopped;
  expect(await Promise.all(answeredBeforeStop)).toEqual(Array(30).fill(true));
  expect(answers.map((a) => a.data?.charge?.status)).toEqual(Array(30).fill('SUCCEEDED'));
  await expect(fetch(`${t.url}/healthz`)).rejects.toThrow();
  const balance = await t.app.services.wallets.get(accountId);
  expect(balance?.balanceMillis).toBe(70_000);
});
