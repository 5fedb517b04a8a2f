/** Liveness (/healthz: the process answers) and readiness (/readyz: not stopping and the database answers in time). */
import type express from 'express';
import { sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { withTimeout } from '../shared/timeout';

export function mountHealth(app: express.Express, options: { db: Db; readinessTimeoutMs: number; isStopping: () => boolean }): void {
  const { db, readinessTimeoutMs, isStopping } = options;
  app.get('/healthz', (_req, res) => { res.json({ status: 'ok' }); });
  app.get('/readyz', async (_req, res) => {
    try {
      if (isStopping()) throw new Error('shutting down');
      await withTimeout(db.execute(sql`select 1`), readinessTimeoutMs);
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'not ready' });
    }
  });
}
