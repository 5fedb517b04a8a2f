/**
 * The renewal shape's second server instance, forked by run.ts: the server's app (createApp) on the
 * bench database with a ManualClock, so that many subscriptions start at one instant (run.ts creates
 * them through this instance's GraphQL endpoint) and all fall due together a period later, when
 * run.ts asks this process to run the renewal job — services.plans.runRenewals(jobBatchSize), again
 * until a run renews nothing — while it measures charges on the main server (real clock, which never
 * sees these subscriptions due). A process of its own, so its CPU work does not delay the load
 * generator's event loop and its memory is its own.
 *
 * Talks to run.ts over the IPC channel: it sends `ready` once listening; `renew` answers `renewed`
 * (count, seconds, memory); `cancel` ends the subscriptions of a plan (a database the bench keeps);
 * `stop` closes the app and exits.
 */
import 'reflect-metadata';
import { sql } from 'drizzle-orm';
import { createApp } from '../src/main';
import { loadConfig } from '../src/config';
import { openDatabase, rows } from '../src/db/client';
import { ManualClock } from '../src/shared/clock';

export type RenewerRequest =
  | { type: 'renew'; clockMs: number }
  | { type: 'cancel'; planCode: string }
  | { type: 'stop' };

export interface RenewalRun {
  renewed: number;
  /** Job runs (runRenewals calls), the last one finding nothing due. */
  runs: number;
  seconds: number;
  jobBatchSize: number;
  /**
   * This process's heap and resident memory (MB): live heap when the run started (after a full GC, when
   * run with --expose-gc, as run.ts does), peaks while it ran (sampled every 50 ms), live heap after it.
   */
  heapStartMb: number;
  heapPeakMb: number;
  heapEndMb: number;
  rssStartMb: number;
  rssPeakMb: number;
}

export type RenewerReply =
  | { type: 'ready'; port: number; jobBatchSize: number }
  | ({ type: 'renewed' } & RenewalRun)
  | { type: 'canceled'; count: number }
  | { type: 'error'; message: string };

const MB = 1024 * 1024;
/** A full collection when the process runs with --expose-gc; otherwise nothing. */
const collect = () => (globalThis as { gc?: () => void }).gc?.();

async function main(): Promise<void> {
  const send = (reply: RenewerReply) => process.send?.(reply);
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl || !process.send) throw new Error('renewer: run by bench/run.ts (DATABASE_URL and an IPC channel)');
  const clock = new ManualClock(new Date(Number(process.env.BENCH_RENEWER_CLOCK_MS ?? Date.now())));
  const config = loadConfig({ port: 0, host: '127.0.0.1', databaseUrl, loadDemo: false });
  const database = await openDatabase({ databaseUrl, dataDir: null, poolSize: config.databasePoolSize });
  const app = await createApp({ config, clock, database, runJobs: false });
  const url = await app.listen(0);

  const renew = async (clockMs: number): Promise<RenewalRun> => {
    clock.set(new Date(clockMs));
    collect();
    const start = process.memoryUsage();
    let heapPeak = start.heapUsed;
    let rssPeak = start.rss;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      heapPeak = Math.max(heapPeak, m.heapUsed);
      rssPeak = Math.max(rssPeak, m.rss);
    }, 50);
    const started = process.hrtime.bigint();
    let renewed = 0;
    let runs = 0;
    try {
      // As the job does on its timer, back to back: each run renews at most 50 batches of jobBatchSize.
      for (;;) {
        runs += 1;
        const n = await app.services.plans.runRenewals(config.jobBatchSize);
        renewed += n;
        if (n === 0 || runs >= 1000) break;
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    collect();
    return {
      renewed, runs, seconds, jobBatchSize: config.jobBatchSize, heapStartMb: start.heapUsed / MB, heapPeakMb: heapPeak / MB,
      heapEndMb: process.memoryUsage().heapUsed / MB, rssStartMb: start.rss / MB, rssPeakMb: rssPeak / MB,
    };
  };

  /** Ends every live subscription of the plan now (the bench's subscriptions in a database it does not drop). */
  const cancel = async (planCode: string): Promise<number> => {
    const found = await rows<{ account_id: string }>(database.db, sql`select s.account_id from subscriptions s join plans p on p.id = s.plan_id
      where p.code = ${planCode} and s.status <> 'CANCELED'`);
    const actor = { id: 'system:bench', scope: 'system:bench' };
    let next = 0;
    const worker = async () => {
      while (next < found.length) {
        const accountId = found[next++].account_id;
        await app.services.plans.cancel(actor, { accountId, atPeriodEnd: false, idempotencyKey: `bench-cancel-${accountId}-${clock.now().getTime()}` });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    return found.length;
  };

  process.on('message', (message: RenewerRequest) => {
    const handle = async (): Promise<boolean> => {
      if (message.type === 'renew') send({ type: 'renewed', ...await renew(message.clockMs) });
      else if (message.type === 'cancel') send({ type: 'canceled', count: await cancel(message.planCode) });
      else {
        await app.stop();
        await database.close();
        return true;
      }
      return false;
    };
    handle().then((done) => { if (done) process.exit(0); }, (error: unknown) => {
      send({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) });
    });
  });
  send({ type: 'ready', port: Number(new URL(url).port), jobBatchSize: config.jobBatchSize });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`renewer failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
