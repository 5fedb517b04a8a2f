/**
 * GET /metrics (Prometheus text format, prom-client): requests and latency by route and by GraphQL
 * operation and outcome, charges by outcome, coalesced batch sizes, database pool, open WebSocket
 * connections and subscriptions, rate-limit refusals, job runs and failures; one registry per app
 * instance. And no X-Powered-By header.
 */
import { Metrics } from '../../src/server/metrics';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

const METRICS_TOKEN = 'metrics-secret-for-tests';

/** The value of one sample (name and exactly these labels, in any order), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.keys(found).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3]);
  }
  return undefined;
}

let t: TestApp;
beforeAll(async () => { t = await startTestApp({ metricsToken: METRICS_TOKEN, rateLimitAnonymousPerMinute: 1 }); });
afterAll(async () => { await t.close(); });

async function scrape(): Promise<string> {
  const response = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

const M_CHARGE = `mutation Charge($input: ChargeInput!) { charge(input: $input) { id } }`;
const charge = (accountId: string, amount: string) => t.gql(M_CHARGE, { input: { accountId, amount, idempotencyKey: uniqueKey('c') } });

it('counts charges by outcome, coalesced batch sizes and GraphQL requests by operation and outcome', async () => {
  const accountId = await t.createAccount();
  // an unnamed operation (t.grant's is named GrantCredits): counted as 'anonymous'
  await t.ok(`mutation($input: GrantCreditsInput!) { grantCredits(input: $input) { id } }`,
    { input: { accountId, amount: '100', source: 'PURCHASE', idempotencyKey: uniqueKey('g') } });
  for (let i = 0; i < 3; i++) expect((await charge(accountId, '2')).errors).toBeUndefined();
  expect((await charge(accountId, '1000')).errors?.[0].extensions?.code).toBe('INSUFFICIENT_CREDITS');
  // Charges submitted together are coalesced: the first runs at once, the 19 that wait run as one batch.
  const actor = { id: 'key:metrics-test', scope: 'key:metrics-test' };
  await Promise.all(Array.from({ length: 20 }, () => t.app.services.ledger.charge(actor, { accountId, amountMillis: 1000, idempotencyKey: uniqueKey('c') })));

  const text = await scrape();
  expect(sample(text, 'credits_charges_total', { outcome: 'succeeded' })).toBe(23);
  expect(sample(text, 'credits_charges_total', { outcome: 'INSUFFICIENT_CREDITS' })).toBe(1);
  expect(sample(text, 'credits_charge_batch_size_sum')).toBe(24);
  expect(sample(text, 'credits_charge_batch_size_count')).toBe(6);
  expect(sample(text, 'credits_charge_batch_size_bucket', { le: '1' })).toBe(5);
  expect(sample(text, 'credits_charge_batch_size_bucket', { le: '20' })).toBe(6);

  expect(sample(text, 'credits_graphql_request_duration_seconds_count', { operation: 'Charge', root_field: 'charge', outcome: 'ok' })).toBe(3);
  expect(sample(text, 'credits_graphql_request_duration_seconds_count', { operation: 'Charge', root_field: 'charge', outcome: 'INSUFFICIENT_CREDITS' })).toBe(1);
  expect(sample(text, 'credits_graphql_request_duration_seconds_count', { operation: 'anonymous', root_field: 'grantCredits', outcome: 'ok' })).toBe(1);
  expect(sample(text, 'credits_graphql_request_duration_seconds_bucket', { operation: 'Charge', root_field: 'charge', outcome: 'ok', le: '+Inf' })).toBe(3);
  expect(sample(text, 'credits_http_request_duration_seconds_count', { route: '/graphql', method: 'POST', status: '200' })).toBeGreaterThanOrEqual(6);
});

it('labels requests refused before execution and by the rate limiter', async () => {
  await t.gql(`query Broken { noSuchField }`);
  expect((await t.gql(`{ __typename }`, {}, null)).errors).toBeUndefined();
  expect((await t.gql(`{ __typename }`, {}, null)).errors?.[0].extensions?.code).toBe('RATE_LIMITED');
  const text = await scrape();
  expect(sample(text, 'credits_graphql_request_duration_seconds_count', { operation: 'invalid', root_field: 'none', outcome: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);
  expect(sample(text, 'credits_rate_limited_total', { limit: 'anonymous' })).toBe(1);
  expect(sample(text, 'credits_http_request_duration_seconds_count', { route: '/graphql', method: 'POST', status: '429' })).toBe(1);
});

it('reports open WebSocket connections and subscriptions, the database pool and process metrics', async () => {
  const accountId = await t.createAccount();
  await t.grant(accountId, '1');
  const client = t.ws();
  const first = new Promise<void>((resolve, reject) => {
    client.subscribe({ query: `subscription($id: ID!) { walletEvents(accountId: $id, afterSequence: 0) { sequence } }`, variables: { id: accountId } }, {
      next: () => resolve(), error: reject, complete: () => {},
    });
  });
  await first;
  let text = await scrape();
  expect(sample(text, 'credits_websocket_connections')).toBe(1);
  expect(sample(text, 'credits_subscriptions')).toBe(1);
  await client.dispose();
  for (let i = 0; i < 50 && sample(text, 'credits_websocket_connections') !== 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    text = await scrape();
  }
  expect(sample(text, 'credits_websocket_connections')).toBe(0);
  expect(sample(text, 'credits_subscriptions')).toBe(0);

  const driver = t.database.driver;
  expect(sample(text, 'credits_db_pool_connections_max', { driver })).toBe(driver === 'pglite' ? 1 : t.app.services.config.databasePoolSize);
  expect(sample(text, 'credits_job_runs_total', { job: 'expiry', outcome: 'failed' })).toBe(0);
  expect(sample(text, 'credits_process_cpu_user_seconds_total')).toBeGreaterThan(0);
  expect(sample(text, 'credits_rate_limit_store_up')).toBeUndefined(); // no Redis configured
});

it('needs the bearer token when METRICS_TOKEN is set', async () => {
  expect((await fetch(`${t.url}/metrics`)).status).toBe(401);
  expect((await fetch(`${t.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
});

it('sends no X-Powered-By header', async () => {
  for (const [path, init] of [['/healthz', {}], ['/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } }], ['/graphql', {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${t.adminKey}` }, body: JSON.stringify({ query: '{ __typename }' }),
  }]] as const) {
    const response = await fetch(`${t.url}${path}`, init);
    expect(response.status).toBe(200);
    expect(response.headers.get('x-powered-by')).toBeNull();
  }
});

describe('Metrics (one registry per instance)', () => {
  it('counts job runs and failures', async () => {
    const metrics = new Metrics();
    expect(await metrics.runJob('expiry', async () => 3)).toBe(3);
    await expect(metrics.runJob('expiry', async () => { throw new Error('database away'); })).rejects.toThrow('database away');
    const text = await metrics.registry.metrics();
    expect(sample(text, 'credits_job_runs_total', { job: 'expiry', outcome: 'ok' })).toBe(1);
    expect(sample(text, 'credits_job_runs_total', { job: 'expiry', outcome: 'failed' })).toBe(1);
    expect(sample(text, 'credits_job_duration_seconds_count', { job: 'expiry' })).toBe(2);
  });

  it('instances do not share counts', async () => {
    const [one, two] = [new Metrics(), new Metrics()];
    one.ledgerObserver.chargeSettled('succeeded');
    expect(sample(await one.registry.metrics(), 'credits_charges_total', { outcome: 'succeeded' })).toBe(1);
    expect(sample(await two.registry.metrics(), 'credits_charges_total', { outcome: 'succeeded' })).toBe(0);
  });
});

it('counts payment webhook deliveries by outcome', async () => {
  const post = (body: string, signature?: string) => fetch(`${t.url}/webhooks/payments`, {
    method: 'POST', body, headers: { 'content-type': 'application/json', ...(signature ? { 'credits-signature': signature } : {}) },
  });
  expect((await post('{}')).status).toBe(400); // no signature
  expect((await post('{}', 't=1,v1=' + '0'.repeat(64))).status).toBe(400); // stale
  const text = await scrape();
  expect(sample(text, 'credits_payment_webhooks_total', { outcome: 'rejected' })).toBe(2);
});
