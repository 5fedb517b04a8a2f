/**
 * The report shape (`npm run bench -- report` alone, or last in `npm run bench`): a one-year
 * usageReport on a wallet with BENCH_REPORT_TRANSACTIONS ledger transactions (default 1,000,000)
 * against the same report on a wallet with 1,000, same server, same run. Target: p99 ≤ 1.5×.
 *
 * A fresh database and the compiled server. The two wallets' ledgers are written in SQL (a million
 * charges through the API would take a quarter of an hour): a PURCHASE grant, then charges of 1 credit
 * spread evenly over 2025 across 3 actions × 4 models; their report aggregates are then built by
 * migration 0007's own backfill (the same rule the server applies as it charges; a test checks that
 * they agree); entries, buckets, balances and aggregates must add up. Then BENCH_REPORT_REQUESTS requests per wallet and
 * report kind, one at a time, alternating between the wallets so drift of the machine counts against
 * both alike: MONTH in UTC (the default report), MONTH in Europe/Berlin (the dashboard's kind), and
 * DAY in Asia/Kolkata (+05:30: every local day boundary splits a UTC day, the costliest kind).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import { CREATE_ADMIN_KEY, envInt, freePort, freshDatabase, percentile, post, startServer, stopServer, type Target } from './run';

const run = promisify(execFile);
const ROOT = fs.existsSync(path.resolve(__dirname, '../package.json')) ? path.resolve(__dirname, '..') : path.resolve(__dirname, '../..');
const MIGRATION = path.join(ROOT, 'drizzle/0007_reports_aggregates.sql');

const REPORT = `query($id: ID!, $from: DateTime!, $to: DateTime!, $g: ReportGranularity!, $tz: String!) {
  usageReport(accountId: $id, from: $from, to: $to, granularity: $g, timeZone: $tz) {
    totals { consumed consumedFree consumedPurchased remaining debt charges }
    periods { start totals { consumed consumedFree consumedPurchased allocated purchased refunded expired remaining } }
    byAction { key credits count } byModel { key credits count } } }`;

interface ReportKind {
  name: string;
  granularity: 'MONTH' | 'DAY';
  timeZone: string;
}

const KINDS: ReportKind[] = [
  { name: 'MONTH, UTC', granularity: 'MONTH', timeZone: 'UTC' },
  // What the dashboard asks for: months in the browser's zone.
  { name: 'MONTH, Europe/Berlin', granularity: 'MONTH', timeZone: 'Europe/Berlin' },
  { name: 'DAY, Asia/Kolkata', granularity: 'DAY', timeZone: 'Asia/Kolkata' },
];

export interface ReportKindResult {
  kind: string;
  small: { p50Ms: number; p99Ms: number };
  large: { p50Ms: number; p99Ms: number };
  p99Ratio: number;
}

export interface ReportBenchResult {
  transactionsSmall: number;
  transactionsLarge: number;
  requestsPerWallet: number;
  seedSeconds: number;
  kinds: ReportKindResult[];
}

async function withSql<T>(url: string, fn: (sql: import('postgres').Sql) => Promise<T>): Promise<T> {
  const { default: postgres } = await import('postgres');
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Writes `charges` charges of 1 credit over 2025 into the wallet's ledger (after a PURCHASE grant covering them). */
async function writeLedger(sql: import('postgres').Sql, accountId: string, charges: number): Promise<void> {
  const grantMillis = (charges + 1000) * 1000;
  const [bucket] = await sql<{ id: string }[]>`
    insert into buckets (id, account_id, source, amount_millis, remaining_millis, priority, effective_at, expires_at, cost_per_credit, currency, created_at)
    values (gen_random_uuid(), ${accountId}, 'PURCHASE', ${grantMillis}, ${grantMillis - charges * 1000}, 60, '2024-12-31T00:00:00Z', null, '0.01', 'USD', '2024-12-31T00:00:00Z')
    returning id`;
  const [grant] = await sql<{ id: string }[]>`
    insert into ledger_transactions (id, account_id, sequence, type, status, amount_millis, balance_after_millis, available_after_millis, actor, created_at)
    values (gen_random_uuid(), ${accountId}, 1, 'PURCHASE', 'SUCCEEDED', ${grantMillis}, ${grantMillis}, ${grantMillis}, 'bench', '2024-12-31T00:00:00Z')
    returning id`;
  await sql`insert into ledger_entries (transaction_id, account_id, kind, bucket_id, amount_millis) values (${grant.id}, ${accountId}, 'BUCKET', ${bucket.id}, ${grantMillis})`;
  const secondsApart = (365 * 86_400) / charges;
  await sql`
    insert into ledger_transactions (id, account_id, sequence, type, status, amount_millis, balance_after_millis, available_after_millis, action, model, actor, created_at)
    select gen_random_uuid(), ${accountId}, 1 + i, 'CHARGE', 'SUCCEEDED', -1000, ${grantMillis} - i * 1000, ${grantMillis} - i * 1000,
      (array['text.generate', 'image.generate', 'video.generate'])[1 + i % 3], (array['gpt-4o', 'flux', 'sdxl', 'veo'])[1 + i % 4], 'bench',
      '2025-01-01T00:00:00Z'::timestamptz + ((i - 1) * ${secondsApart}::float8) * interval '1 second'
    from generate_series(1, ${charges}) i`;
  await sql`
    insert into ledger_entries (transaction_id, account_id, kind, bucket_id, amount_millis)
    select id, account_id, 'BUCKET', ${bucket.id}, -1000 from ledger_transactions where account_id = ${accountId} and type = 'CHARGE'`;
  await sql`update wallets set sequence = ${charges + 1} where account_id = ${accountId}`;
}

/** Migration 0007's backfill: the aggregates of the whole ledger (the database holds only this bench's wallets). */
async function buildAggregates(sql: import('postgres').Sql): Promise<void> {
  const text = fs.readFileSync(MIGRATION, 'utf8');
  const part = text.slice(text.indexOf('-- backfill:start'), text.indexOf('-- backfill:end'));
  for (const table of ['usage_daily', 'usage_quarterly', 'balance_daily', 'model_costs_daily', 'failures_daily']) await sql.unsafe(`delete from ${table}`);
  for (const statement of part.split('--> statement-breakpoint').map((s) => s.replace(/^\s*--.*$/gm, '').trim()).filter(Boolean)) await sql.unsafe(statement);
  await sql`analyze`;
}

async function timeReport(target: Target, accountId: string, kind: ReportKind): Promise<{ ms: number; consumed: string }> {
  const started = process.hrtime.bigint();
  const { json } = await post(target, {
    query: REPORT, variables: { id: accountId, from: '2025-01-01T00:00:00Z', to: '2026-01-01T00:00:00Z', g: kind.granularity, tz: kind.timeZone },
  });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  if (json.errors) throw new Error(`usageReport failed: ${JSON.stringify(json.errors).slice(0, 500)}`);
  return { ms, consumed: (json.data as { usageReport: { totals: { consumed: string } } }).usageReport.totals.consumed };
}

const stats = (values: number[]) => {
  const sorted = Float64Array.from(values).sort();
  return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
};

export async function runReportShape(log: (message: string) => void): Promise<ReportBenchResult> {
  const large = envInt('BENCH_REPORT_TRANSACTIONS', 1_000_000);
  const small = 1_000;
  const requests = envInt('BENCH_REPORT_REQUESTS', 200);
  const owned = await freshDatabase();
  const port = await freePort();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let server: ChildProcess | null = null;
  try {
    server = await startServer(port, owned.url);
    const { stdout } = await run(process.execPath, [CREATE_ADMIN_KEY, 'bench'], { cwd: ROOT, env: { ...process.env, DATABASE_URL: owned.url, LOG_LEVEL: 'silent' } });
    const target: Target = { port, token: stdout.trim().split('\n').pop()!.trim(), agent };
    const created = await post(target, { query: 'mutation { s: createAccount(input: { name: "report small" }) { id } l: createAccount(input: { name: "report large" }) { id } }' });
    const ids = created.json.data as { s: { id: string }; l: { id: string } } | undefined;
    if (!ids) throw new Error(`creating the report accounts failed: ${JSON.stringify(created.json.errors)}`);

    const seedStarted = Date.now();
    await withSql(owned.url, async (sql) => {
      await writeLedger(sql, ids.s.id, small);
      await writeLedger(sql, ids.l.id, large);
      log(`report: wrote ${small} and ${large} charges in ${((Date.now() - seedStarted) / 1000).toFixed(0)} s`);
      await buildAggregates(sql);
    });
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    log(`report: aggregates built; ${seedSeconds.toFixed(0)} s in all`);
    // The seeded ledger is consistent: entries add up to the balance after the last transaction, and to the bucket.
    // (auditLedger checks the same and more, but over a million rows it runs past the server's statement timeout.)
    await withSql(owned.url, async (sql) => {
      const bad = await sql`
        select w.account_id from wallets w
        where (select sum(e.amount_millis) from ledger_entries e where e.account_id = w.account_id)
          <> (select balance_after_millis from ledger_transactions t where t.account_id = w.account_id order by sequence desc limit 1)
          or (select sum(e.amount_millis) from ledger_entries e where e.account_id = w.account_id)
          <> (select sum(remaining_millis) from buckets b where b.account_id = w.account_id)
          or (select sum(balance_change_millis) from usage_daily u where u.account_id = w.account_id)
          <> (select sum(e.amount_millis) from ledger_entries e where e.account_id = w.account_id)`;
      if (bad.length > 0) throw new Error(`the seeded ledger does not add up for ${bad.length} wallet(s)`);
    });

    const kinds: ReportKindResult[] = [];
    for (const kind of KINDS) {
      // Warm-up (JIT, plans, caches), and a check that each report sees every charge.
      for (let i = 0; i < 20; i += 1) {
        const [s, l] = [await timeReport(target, ids.s.id, kind), await timeReport(target, ids.l.id, kind)];
        if (i === 0 && (s.consumed !== String(small) || l.consumed !== String(large))) throw new Error(`report totals ${s.consumed} / ${l.consumed}, expected ${small} / ${large}`);
      }
      const times = { small: [] as number[], large: [] as number[] };
      for (let i = 0; i < requests; i += 1) {
        // Alternate which goes first, so neither always follows the other.
        if (i % 2 === 0) {
          times.small.push((await timeReport(target, ids.s.id, kind)).ms);
          times.large.push((await timeReport(target, ids.l.id, kind)).ms);
        } else {
          times.large.push((await timeReport(target, ids.l.id, kind)).ms);
          times.small.push((await timeReport(target, ids.s.id, kind)).ms);
        }
      }
      const result = { kind: kind.name, small: stats(times.small), large: stats(times.large), p99Ratio: 0 };
      result.p99Ratio = result.large.p99Ms / result.small.p99Ms;
      log(`report ${kind.name}: ${small} transactions p50 ${result.small.p50Ms.toFixed(1)} / p99 ${result.small.p99Ms.toFixed(1)} ms; ${large}: p50 ${result.large.p50Ms.toFixed(1)} / p99 ${result.large.p99Ms.toFixed(1)} ms; p99 ratio ${result.p99Ratio.toFixed(2)}`);
      kinds.push(result);
    }
    return { transactionsSmall: small, transactionsLarge: large, requestsPerWallet: requests, seedSeconds, kinds };
  } finally {
    agent.destroy();
    if (server) await stopServer(server);
    await owned.drop().catch((error) => log(`could not drop the bench database: ${String(error)}`));
  }
}

export function reportLines(r: ReportBenchResult): string {
  return [
    `usageReport over one year (2025), ${r.requestsPerWallet} requests per wallet, one at a time, alternating: ${r.transactionsLarge} vs ${r.transactionsSmall} ledger transactions (target p99 ratio ≤ 1.5):`,
    ...r.kinds.map((k) => `  ${k.kind}: p50 ${k.small.p50Ms.toFixed(1)} → ${k.large.p50Ms.toFixed(1)} ms, p99 ${k.small.p99Ms.toFixed(1)} → ${k.large.p99Ms.toFixed(1)} ms, p99 ratio ${k.p99Ratio.toFixed(2)}`),
  ].join('\n');
}

export async function reportMain(): Promise<void> {
  const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
  const result = await runReportShape(log);
  process.stdout.write(`\n${reportLines(result)}\n\n${JSON.stringify({ report: result })}\n`);
}
