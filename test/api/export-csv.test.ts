/**
 * CSV exports over HTTP: the transaction log (content, column order, credit kinds, quoting, formula
 * neutralisation, range filter), authentication and refusals as GraphQL's, and streaming (several
 * chunks, page by page, stops when the client goes away). The clock runs in 2311–2319 (helper H2).
 */
import http from 'node:http';
import { parse } from 'csv-parse/sync';
import { sql } from 'drizzle-orm';
import { ChargeDocument, CreditsApiError, RefundDocument, type ChargeInput } from '../../src/client';
import { startTestApp, uniqueKey, type TestApp } from '../helpers/harness';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t.close(); });

const COLUMNS = ['time', 'transaction_id', 'sequence', 'type', 'status', 'actor', 'action', 'model', 'credits', 'credit_kind', 'comment', 'failure_code', 'failure_message'];

/** RFC 4180 records (csv-parse: a different implementation from the one that wrote them). */
const parseCsv = (text: string): string[][] => parse(text);
const at = (iso: string) => t.clock.set(new Date(iso));
const charge = (accountId: string, amount: string, extra: Partial<ChargeInput> = {}) =>
  t.op(ChargeDocument, { input: { accountId, amount, idempotencyKey: uniqueKey(), ...extra } }).then((data) => data.charge, (error: unknown) => {
    if (error instanceof CreditsApiError) return error;
    throw error;
  });

function exportUrl(path: string, params: Record<string, string>): string {
  return `${t.url}/reports/${path}?${new URLSearchParams(params).toString()}`;
}

async function get(path: string, params: Record<string, string>, token: string | null = t.adminKey): Promise<Response> {
  return fetch(exportUrl(path, params), { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

/** The CSV as records keyed by column (the header checked). */
async function records(response: Response, columns = COLUMNS): Promise<Record<string, string>[]> {
  expect(response.status).toBe(200);
  const text = await response.text();
  const rows = parseCsv(text);
  expect(rows[0]).toEqual(columns);
  return rows.slice(1).map((row) => Object.fromEntries(columns.map((c, i) => [c, row[i]])));
}

async function errorOf(response: Response): Promise<{ code: string; field?: string }> {
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await response.json()) as { errors: { extensions: { code: string; field?: string } }[] };
  expect(body.errors).toHaveLength(1);
  return body.errors[0].extensions;
}

describe('the transaction log', () => {
  let id: string;
  const march = { from: '2311-03-01T00:00:00Z', to: '2311-04-01T00:00:00Z' };
  let firstChargeId: string;

  beforeAll(async () => {
    at('2311-03-02T10:00:00Z');
    id = await t.createAccount('Export');
    await t.grant(id, '10', { source: 'PURCHASE', comment: 'pack' });
    await t.grant(id, '5', { source: 'PROMO' }); // PROMO burns first (priority 10)
    at('2311-03-02T11:00:00Z');
    const first = await charge(id, '2', { action: 'chat', model: 'gpt-x', comment: 'first' }); // PROMO: FREE
    if (first instanceof CreditsApiError) throw first;
    firstChargeId = first.id;
    await charge(id, '4', { action: 'chat', model: 'gpt-x' }); // PROMO 3 + PURCHASE 1: MIXED
    await charge(id, '1.25', { action: 'image' }); // PURCHASE
    await t.op(RefundDocument, { input: { transactionId: firstChargeId, amount: '0.5', comment: 'goodwill', idempotencyKey: uniqueKey() } });
    await charge(id, '1000', { action: 'video' }); // refused: FAILED, no entries
    await charge(id, '0.5', { action: '=HYPERLINK("http://x")', model: '+cmd', comment: 'a, "quoted"\nsecond line' });
    await charge(id, '0.25', { comment: '@SUM(A1)' });
    await charge(id, '0.25', { comment: '-5 credits' });
    at('2311-06-15T00:00:00Z');
    await charge(id, '1', { action: 'later' }); // outside March
  });

  test('columns in order, one row per transaction in ledger order, failed attempts included', async () => {
    const rows = await records(await get('transactions.csv', { accountId: id, ...march }));
    expect(rows.map((r) => [r.type, r.status, r.credits, r.credit_kind])).toEqual([
      ['GRANT', 'SUCCEEDED', '10', 'PURCHASED'],
      ['GRANT', 'SUCCEEDED', '5', 'FREE'],
      ['CHARGE', 'SUCCEEDED', '-2', 'FREE'],
      ['CHARGE', 'SUCCEEDED', '-4', 'MIXED'],
      ['CHARGE', 'SUCCEEDED', '-1.25', 'PURCHASED'],
      ['REFUND', 'SUCCEEDED', '0.5', 'FREE'],
      ['CHARGE', 'FAILED', '0', ''],
      ['CHARGE', 'SUCCEEDED', '-0.5', 'FREE'], // the refund's bucket (REFUND, priority 40) burns before PURCHASE
      ['CHARGE', 'SUCCEEDED', '-0.25', 'PURCHASED'],
      ['CHARGE', 'SUCCEEDED', '-0.25', 'PURCHASED'],
    ].map(([type, status, credits, kind]) => [type, status, credits, kind]));
    expect(rows[0]).toMatchObject({ time: '2311-03-02T10:00:00.000Z', sequence: '1', comment: 'pack', action: '', model: '', failure_code: '' });
    expect(rows[2]).toMatchObject({ transaction_id: firstChargeId, time: '2311-03-02T11:00:00.000Z', sequence: '3', action: 'chat', model: 'gpt-x', comment: 'first' });
    expect(rows[2].actor).toMatch(/^key:/);
    expect(rows[5]).toMatchObject({ comment: 'goodwill' });
    expect(rows[6]).toMatchObject({ sequence: '', action: 'video', failure_code: 'INSUFFICIENT_CREDITS' });
    expect(rows[6].failure_message).not.toBe('');
    // The same transactions, the same order, as the history (newest first there).
    const history = (await t.history(id)).filter((n) => n.createdAt < '2311-04').map((n) => n.id).reverse();
    expect(rows.map((r) => r.transaction_id)).toEqual(history);
  });

  test('overdraft: DEBT alone, and MIXED with a bucket', async () => {
    at('2311-05-01T00:00:00Z');
    const debtor = await t.createAccount('Debtor', { overdraftLimit: '10' });
    await charge(debtor, '2'); // nothing in buckets: all debt
    await t.grant(debtor, '1', { source: 'PROMO' }); // repays part of the debt
    await t.grant(debtor, '3', { source: 'PROMO' });
    await charge(debtor, '4');
    const rows = await records(await get('transactions.csv', { accountId: debtor, from: '2311-05-01T00:00:00Z', to: '2311-05-02T00:00:00Z' }));
    expect(rows[0]).toMatchObject({ type: 'CHARGE', credits: '-2', credit_kind: 'DEBT' });
    expect(rows[rows.length - 1]).toMatchObject({ type: 'CHARGE', credits: '-4' });
    expect(rows.map((r) => r.credit_kind)).toContain('MIXED');
  });

  test('quoting and spreadsheet formulas: free text is quoted and neutralised, credits never', async () => {
    const response = await get('transactions.csv', { accountId: id, ...march });
    const text = await response.text();
    expect(text).toContain('"a, ""quoted""\nsecond line"');
    expect(text.split('\r\n')[0]).toBe(COLUMNS.join(','));
    const rows = parseCsv(text);
    const byComment = (c: string) => rows.find((r) => r[10] === c);
    expect(byComment('a, "quoted"\nsecond line')?.slice(6, 8)).toEqual(['\'=HYPERLINK("http://x")', '\'+cmd']);
    expect(byComment('\'@SUM(A1)')?.[8]).toBe('-0.25');
    expect(byComment('\'-5 credits')?.[8]).toBe('-0.25');
  });

  test('headers: CSV in UTF-8, a download with a file name, not cached', async () => {
    const response = await get('transactions.csv', { accountId: id, ...march });
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="transactions-${id}-2311-03-01-to-2311-03-31.csv"`);
    expect(response.headers.get('cache-control')).toBe('no-store');
    await response.arrayBuffer();
  });

  test('the range is [from, to) on the transaction time', async () => {
    const june = await records(await get('transactions.csv', { accountId: id, from: '2311-06-15T00:00:00Z', to: '2311-06-15T00:00:01Z' }));
    expect(june.map((r) => r.action)).toEqual(['later']);
    const before = await records(await get('transactions.csv', { accountId: id, from: '2311-06-14T00:00:00Z', to: '2311-06-15T00:00:00Z' }));
    expect(before).toEqual([]);
    // Offsets are instants: 11:00Z is 12:00+01:00.
    const hour = await records(await get('transactions.csv', { accountId: id, from: '2311-03-02T12:00:00+01:00', to: '2311-03-02T12:00:00.001+01:00' }));
    expect(hour.map((r) => r.credits)).toEqual(['-2', '-4', '-1.25', '0.5', '0', '-0.5', '-0.25', '-0.25']);
  });

  test('authentication and access as on GraphQL', async () => {
    const params = { accountId: id, ...march };
    let response = await get('transactions.csv', params, null);
    expect(response.status).toBe(401);
    expect(await errorOf(response)).toMatchObject({ code: 'UNAUTHENTICATED' });
    response = await get('transactions.csv', params, 'ck_not-a-key');
    expect(response.status).toBe(401);
    expect(await errorOf(response)).toMatchObject({ code: 'UNAUTHENTICATED' });

    expect(await records(await get('transactions.csv', params, await t.userToken(id)))).toHaveLength(10);
    expect(await records(await get('transactions.csv', params, await t.key('READONLY')))).toHaveLength(10);
    const other = await t.createAccount('Other');
    response = await get('transactions.csv', params, await t.userToken(other));
    expect(response.status).toBe(403);
    expect(await errorOf(response)).toMatchObject({ code: 'FORBIDDEN' });
    // The GraphQL answer to the same caller is the same code.
    const viaGraphql = await t.fails('query($id: ID!) { wallet(accountId: $id) { balance } }', { id }, await t.userToken(other));
    expect(viaGraphql.extensions.code).toBe('FORBIDDEN');

    response = await get('transactions.csv', { ...params, accountId: '00000000-0000-4000-8000-000000000000' });
    expect(response.status).toBe(404);
    expect(await errorOf(response)).toMatchObject({ code: 'NOT_FOUND' });
  });

  test('bad input: 400 with the field', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ from: march.from, to: march.to }, 'accountId'],
      [{ accountId: 'nope', ...march }, 'accountId'],
      [{ accountId: id, to: march.to }, 'from'],
      [{ accountId: id, from: '2311-03-01', to: march.to }, 'from'],
      [{ accountId: id, from: march.from, to: '2311-02-30T00:00:00Z' }, 'to'],
      [{ accountId: id, from: march.to, to: march.from }, 'to'],
      [{ accountId: id, from: march.from, to: march.from }, 'to'],
      [{ accountId: id, from: '2311-01-01T00:00:00Z', to: '2312-01-02T00:00:00.001Z' }, 'to'], // 366 days and a bit
    ];
    for (const [params, field] of cases) {
      const response = await get('transactions.csv', params);
      expect(response.status).toBe(400);
      expect(await errorOf(response)).toEqual(expect.objectContaining({ code: 'BAD_USER_INPUT', field }));
    }
    // 366 days exactly is allowed.
    expect((await get('transactions.csv', { accountId: id, from: '2311-01-01T00:00:00Z', to: '2312-01-02T00:00:00Z' })).status).toBe(200);
    // A parameter given twice.
    const twice = await fetch(`${exportUrl('transactions.csv', { accountId: id, ...march })}&accountId=${id}`, { headers: { authorization: `Bearer ${t.adminKey}` } });
    expect(twice.status).toBe(400);
    expect(await errorOf(twice)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'accountId' });
  });
});

describe('streaming', () => {
  /**
   * `count` refused attempts a second apart from `start` (within its UTC day), in one statement, as the
   * ledger records them (no entries, no sequence, counted in failures_daily), with `comment`.
   */
  async function insertAttempts(accountId: string, count: number, start: string, comment: string | null = null): Promise<void> {
    await t.database.db.execute(sql`insert into ledger_transactions (id, account_id, sequence, type, status, amount_millis, actor, action, comment, failure_code, failure_message, created_at)
      select gen_random_uuid(), ${accountId}::uuid, null, 'CHARGE', 'FAILED', 0, 'key:stream', 'bulk ' || g, ${comment}, 'INSUFFICIENT_CREDITS', 'not enough credits',
        ${start}::timestamptz + make_interval(secs => g)
      from generate_series(1, ${count}) as g`);
    await t.database.db.execute(sql`insert into failures_daily (account_id, day, failure_code, attempts) values (${accountId}::uuid, ${start.slice(0, 10)}, 'INSUFFICIENT_CREDITS', ${count})`);
  }

  test('5,000 rows arrive in several chunks, read a page (1,000 rows, two queries) at a time', async () => {
    at('2312-01-01T00:00:00Z');
    const id = await t.createAccount('Stream');
    await insertAttempts(id, 5000, '2312-01-01T00:00:00Z');
    let chunks = 0;
    let text = '';
    const queries = await t.countQueries(async () => {
      const response = await get('transactions.csv', { accountId: id, from: '2312-01-01T00:00:00Z', to: '2312-02-01T00:00:00Z' });
      expect(response.headers.get('transfer-encoding')).toBe('chunked');
      const reader = response.body!.getReader() as ReadableStreamDefaultReader<Uint8Array>;
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks += 1;
        text += decoder.decode(value, { stream: true });
      }
    });
    const rows = parseCsv(text);
    expect(rows).toHaveLength(5001);
    expect(rows[1][6]).toBe('bulk 1');
    expect(rows[5000][6]).toBe('bulk 5000');
    expect(chunks).toBeGreaterThan(1);
    // The account check, then 5 full pages of 2 queries and the empty sixth page (12); the key is authenticated from cache,
    // or once; the plan rate limiter asks at most once per TTL whether any plan sets requestsPerMinute (the clock moved
    // since) and, only when one does (on a PostgreSQL database other test files share), looks the account's plan up once.
    expect(queries).toBeGreaterThanOrEqual(12);
    expect(queries).toBeLessThanOrEqual(15);
  });

  test('a slow client holds the reading back (backpressure); one that goes away stops it', async () => {
    at('2313-01-01T00:00:00Z');
    const id = await t.createAccount('Slow');
    // 20 pages of about 2 MB: far more than the socket buffers between server and client hold.
    await insertAttempts(id, 20_000, '2313-01-01T00:00:00Z', 'x'.repeat(2000));
    const quiet = async () => { // until the server runs no query for 300 ms
      for (let i = 0; i < 100 && (await t.countQueries(() => new Promise((resolve) => setTimeout(resolve, 300)))) > 0; i++);
    };
    let whilePaused = 0;
    const queries = await t.countQueries(async () => {
      // node:http on a connection of its own (no pooled keep-alive socket the server may be closing); paused after the first chunk.
      const request = http.get(exportUrl('transactions.csv', { accountId: id, from: '2313-01-01T00:00:00Z', to: '2313-02-01T00:00:00Z' }), {
        headers: { authorization: `Bearer ${t.adminKey}` }, agent: false,
      });
      const response = await new Promise<http.IncomingMessage>((resolve, reject) => request.once('response', resolve).once('error', reject));
      expect(response.statusCode).toBe(200);
      await new Promise((resolve) => response.once('data', resolve));
      response.pause();
      whilePaused = await t.countQueries(quiet); // the client reads nothing more: the server waits
      request.destroy();
      await quiet();
    });
    // The whole log would be 1 + 2 × 20 + 1 queries.
    expect(queries).toBeLessThan(20);
    expect(whilePaused).toBeLessThan(20);
  });
});

describe('the usage summary', () => {
  const USAGE = [
    'period', 'period_start', 'period_end', 'allocated', 'purchased', 'granted', 'consumed', 'consumed_free', 'consumed_purchased', 'consumed_on_credit',
    'expired', 'refunded', 'reversed', 'carried_forward', 'debt', 'remaining', 'remaining_at_start', 'debt_at_start', 'charges',
  ];
  const FLOWS = ['allocated', 'purchased', 'granted', 'consumed', 'consumed_free', 'consumed_purchased', 'consumed_on_credit', 'expired', 'refunded', 'reversed', 'carried_forward', 'charges'];
  const millis = (text: string) => Math.round(Number(text) * 1000);
  let id: string;

  beforeAll(async () => {
    at('2314-01-05T12:00:00Z');
    id = await t.createAccount('Summary');
    await t.grant(id, '10', { source: 'PURCHASE' });
    at('2314-01-10T12:00:00Z');
    const first = await charge(id, '3', { action: 'chat' });
    if (first instanceof CreditsApiError) throw first;
    at('2314-02-03T12:00:00Z');
    await t.grant(id, '5', { source: 'PROMO' });
    at('2314-02-10T12:00:00Z');
    await charge(id, '6', { action: 'chat' }); // PROMO 5 + PURCHASE 1
    await t.op(RefundDocument, { input: { transactionId: first.id, amount: '1', idempotencyKey: uniqueKey() } });
    await charge(id, '1000'); // refused: no figure moves
  });

  test('a row per month and TOTAL; the months add up to it, and remaining follows the flows', async () => {
    const response = await get('usage.csv', { accountId: id, from: '2314-01-01T00:00:00Z', to: '2314-03-01T00:00:00Z', granularity: 'MONTH', timeZone: 'UTC' });
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="usage-month-${id}-2314-01-01-to-2314-02-28.csv"`);
    const rows = await records(response, USAGE);
    expect(rows.map((r) => [r.period, r.period_start, r.period_end])).toEqual([
      ['2314-01', '2314-01-01T00:00:00.000Z', '2314-02-01T00:00:00.000Z'],
      ['2314-02', '2314-02-01T00:00:00.000Z', '2314-03-01T00:00:00.000Z'],
      ['TOTAL', '2314-01-01T00:00:00.000Z', '2314-03-01T00:00:00.000Z'],
    ]);
    const [january, february, total] = rows;
    expect(january).toMatchObject({ purchased: '10', consumed: '3', consumed_purchased: '3', charges: '1', remaining_at_start: '0', remaining: '7' });
    expect(february).toMatchObject({ granted: '5', consumed: '6', consumed_free: '5', consumed_purchased: '1', refunded: '1', charges: '1', remaining_at_start: '7', remaining: '7' });
    for (const column of FLOWS) expect(millis(total[column])).toBe(millis(january[column]) + millis(february[column]));
    expect(total).toMatchObject({ remaining_at_start: january.remaining_at_start, remaining: february.remaining, debt: february.debt });
    for (const row of rows) {
      const flows = ['allocated', 'purchased', 'granted', 'refunded'].reduce((sum, c) => sum + millis(row[c]), 0)
        - ['consumed', 'expired', 'reversed'].reduce((sum, c) => sum + millis(row[c]), 0);
      expect(millis(row.remaining) - millis(row.debt)).toBe(millis(row.remaining_at_start) - millis(row.debt_at_start) + flows);
    }
    // The same figures as the GraphQL report.
    const { usageReport } = await t.ok<{ usageReport: { totals: { consumed: string; remaining: string; charges: number } } }>(
      'query($id: ID!) { usageReport(accountId: $id, from: "2314-01-01T00:00:00Z", to: "2314-03-01T00:00:00Z") { totals { consumed remaining charges } } }', { id });
    expect([total.consumed, total.remaining, total.charges]).toEqual([usageReport.totals.consumed, usageReport.totals.remaining, String(usageReport.totals.charges)]);
  });

  test('by day in a zone: a row per local day', async () => {
    const rows = await records(await get('usage.csv', { accountId: id, from: '2314-02-09T23:00:00Z', to: '2314-02-11T23:00:00Z', granularity: 'DAY', timeZone: 'Europe/Paris' }, await t.userToken(id)), USAGE);
    expect(rows.map((r) => r.period)).toEqual(['2314-02-10', '2314-02-11', 'TOTAL']);
    expect(rows[0]).toMatchObject({ consumed: '6', refunded: '1' });
  });

  test('refusals as GraphQL: no token, another account\'s token, bad granularity or zone, unknown account', async () => {
    const params = { accountId: id, from: '2314-01-01T00:00:00Z', to: '2314-03-01T00:00:00Z' };
    let response = await get('usage.csv', params, null);
    expect(response.status).toBe(401);
    response = await get('usage.csv', params, await t.userToken(await t.createAccount('Someone else')));
    expect([response.status, (await errorOf(response)).code]).toEqual([403, 'FORBIDDEN']);
    response = await get('usage.csv', { ...params, granularity: 'WEEK' });
    expect([response.status, (await errorOf(response)).field]).toEqual([400, 'granularity']);
    response = await get('usage.csv', { ...params, timeZone: 'Nowhere/Else' });
    expect([response.status, (await errorOf(response)).field]).toEqual([400, 'timeZone']);
    response = await get('usage.csv', { ...params, accountId: '00000000-0000-4000-8000-000000000000' });
    expect([response.status, (await errorOf(response)).code]).toEqual([404, 'NOT_FOUND']);
    expect((await get('usage.csv', params, await t.key('READONLY'))).status).toBe(200);
  });
});

describe('rate limits', () => {
  let limited: TestApp;
  beforeAll(async () => { limited = await startTestApp({ redisUrl: null, rateLimitReadonlyPerMinute: 2, rateLimitAccountPerMinute: 0 }); });
  afterAll(async () => { await limited.close(); });

  test('an export counts as a request of the caller: 429 with Retry-After once over the limit', async () => {
    limited.clock.set(new Date('2315-01-01T00:00:00Z'));
    const id = await limited.createAccount('Limited');
    const key = await limited.key('READONLY');
    const url = `${limited.url}/reports/transactions.csv?${new URLSearchParams({ accountId: id, from: '2315-01-01T00:00:00Z', to: '2315-01-02T00:00:00Z' }).toString()}`;
    const statuses: number[] = [];
    let last: Response | null = null;
    for (let i = 0; i < 3; i++) {
      last = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
      statuses.push(last.status);
      if (last.status === 200) await last.arrayBuffer();
    }
    expect(statuses).toEqual([200, 200, 429]);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await errorOf(last!)).toMatchObject({ code: 'RATE_LIMITED' });
  });
});
