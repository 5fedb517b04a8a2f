/**
 * Periodic jobs on one timer: each tick runs the jobs one after another, skipped while the previous
 * tick still runs. Each job is safe with several instances (locks, idempotent effects), so every
 * instance runs them.
 */
import { logger } from '../shared/logger';
import type { Metrics } from './metrics';

export interface Job {
  name: string;
  run: () => Promise<unknown>;
}

export interface JobTimer {
  /** Stops the timer and waits for a tick that is running. */
  stop(): Promise<void>;
}

export function startJobs(jobs: readonly Job[], intervalSeconds: number, metrics: Metrics): JobTimer {
  let running: Promise<void> | null = null;
  const tick = async () => {
    // Each job on its own: one failing (e.g. the database is away) does not stop the next.
    for (const job of jobs) {
      await metrics.runJob(job.name, job.run).catch((error) => logger.error(`${job.name} job failed`, { error: String(error) }));
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = tick().finally(() => { running = null; });
  }, intervalSeconds * 1000);
  timer.unref(); // the server's sockets keep the process alive, not the job timer
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
