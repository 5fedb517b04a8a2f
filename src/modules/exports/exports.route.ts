/**
 * GET /reports/transactions.csv and /reports/usage.csv. Authenticated as GraphQL is (Authorization:
 * Bearer <API key or user token>, the same rate limits, src/auth/access.ts); refusals are JSON with the
 * GraphQL error codes and the matching HTTP status. The transaction log is streamed: one page of the
 * ledger at a time, written with backpressure (the next page is read only once the client took the
 * previous one), and a client that goes away stops the reading.
 */
import type { ServerResponse } from 'node:http';
import express from 'express';
import { stringify } from 'csv-stringify/sync';
import { requireViewer, type Viewer } from '../../auth/viewer';
import { AppError, ErrorCode, serviceUnavailable } from '../../shared/errors';
import { isDatabaseUnavailable } from '../../db/faults';
import { logger } from '../../shared/logger';
import type { Services } from '../../graphql/services';
import type { RateLimits } from '../../server/rate-limit';
import { exportFileName, exportRange, TRANSACTION_COLUMNS } from './csv-rules';
import { ExportsService } from './exports.service';
import { usageCsvRows, USAGE_COLUMNS, usageReportInput, type UsageReportSource } from './usage-csv';

const STATUS: Partial<Record<ErrorCode, number>> = {
  BAD_USER_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, RATE_LIMITED: 429, SERVICE_UNAVAILABLE: 503,
};

/** RFC 4180 records (CRLF); csv-stringify quotes a cell holding a comma, a quote or a line break. */
const csv = (records: readonly (readonly string[])[]) => stringify(records as string[][], { record_delimiter: 'windows' });

export interface ExportsRouteDeps {
  services: Pick<Services, 'auth' | 'database' | 'access'>;
  rateLimits?: RateLimits;
  isStopping?: () => boolean;
  /** The usage report (src/modules/reports; NOT_FOUND for an unknown account); without it /usage.csv answers 404. */
  usageReport?: UsageReportSource;
  /** Tests use smaller pages. */
  exports?: ExportsService;
}

export function exportsRoute(deps: ExportsRouteDeps): express.Router {
  const exportsService = deps.exports ?? new ExportsService(deps.services.database);
  const router = express.Router();

  /** Who calls: 401 without a valid credential; a refused credential counts against the client address, as on /graphql. */
  async function authenticate(req: express.Request): Promise<Viewer> {
    if (deps.isStopping?.()) throw serviceUnavailable('the server is shutting down; retry');
    try {
      return requireViewer(await deps.services.auth.authenticate(req.headers.authorization));
    } catch (error) {
      if (error instanceof AppError) await admitted({ kind: 'anonymous' }, req.ip, null);
      throw error;
    }
  }

  /** The caller may read the account (src/auth/access.ts: FORBIDDEN, or NOT_FOUND for a partner key), within the caller's and the account's rate limits. */
  async function authorize(viewer: Viewer, req: express.Request, accountId: string): Promise<void> {
    await deps.services.access.account(viewer, accountId, 'read');
    await admitted(viewer, req.ip, accountId);
  }

  async function admitted(viewer: Viewer, ip: string | undefined, accountId: string | null): Promise<void> {
    const refusal = await deps.rateLimits?.admitRequest(viewer, ip, accountId);
    if (refusal) throw refusal;
  }

  router.get('/transactions.csv', async (req, res) => {
    try {
      const viewer = await authenticate(req);
      const range = exportRange(req.query);
      await authorize(viewer, req, range.accountId);
      await exportsService.assertAccount(range.accountId);
      await streamTransactions(res, exportsService.transactionPages(range), exportFileName('transactions', range));
    } catch (error) {
      fail(res, error, 'transactions');
    }
  });

  router.get('/usage.csv', async (req, res) => {
    try {
      const viewer = await authenticate(req);
      const given = usageReportInput(req.query);
      await authorize(viewer, req, given.accountId);
      if (!deps.usageReport) throw new AppError(ErrorCode.NOT_FOUND, 'the usage report is not available on this server');
      const view = await deps.usageReport.usageReport(given);
      const body = csv([USAGE_COLUMNS, ...usageCsvRows(view, given.granularity, given.timeZone)]);
      startCsv(res, exportFileName(`usage-${given.granularity.toLowerCase()}`, given));
      res.end(body);
    } catch (error) {
      fail(res, error, 'usage');
    }
  });

  return router;
}

function startCsv(res: express.Response, fileName: string): void {
  res.status(200);
  res.setHeader('content-type', 'text/csv; charset=utf-8');
  res.setHeader('content-disposition', `attachment; filename="${fileName}"`);
  res.setHeader('cache-control', 'no-store');
  res.setHeader('x-content-type-options', 'nosniff');
}

/** Writes a chunk; resolves once the client can take more (true), or false when it went away. */
export function writeWithBackpressure(res: ServerResponse, chunk: string): Promise<boolean> {
  if (res.destroyed || res.writableEnded) return Promise.resolve(false);
  if (res.write(chunk)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Headers once the first page is read (so a failure before any row still answers a JSON error), then
 * a chunk per page. Leaving the loop early (client gone) closes the generator: no further page is read.
 */
async function streamTransactions(res: express.Response, pages: AsyncGenerator<string[][]>, fileName: string): Promise<void> {
  let started = false;
  for await (const page of pages) {
    if (!started) {
      startCsv(res, fileName);
      started = true;
      if (!(await writeWithBackpressure(res, csv([TRANSACTION_COLUMNS])))) return;
    }
    if (!(await writeWithBackpressure(res, csv(page)))) return;
  }
  if (!started) {
    startCsv(res, fileName);
    res.end(csv([TRANSACTION_COLUMNS]));
    return;
  }
  res.end();
}

/** A refusal as JSON (the GraphQL error shape and codes); a failure once rows were sent cuts the response, so it is never taken as complete. */
function fail(res: express.Response, error: unknown, what: string): void {
  const refusal = error instanceof AppError ? error : isDatabaseUnavailable(error) ? serviceUnavailable('the database is unreachable; retry') : null;
  if (!refusal) logger.error('csv export failed', { export: what, error: error instanceof Error ? error.stack : String(error) });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = refusal ? STATUS[refusal.code] ?? 400 : 500;
  if (refusal?.code === ErrorCode.RATE_LIMITED) res.setHeader('retry-after', String(refusal.details.retryAfterSeconds));
  res.status(status).json({
    errors: [refusal ? { message: refusal.message, extensions: refusal.clientExtensions } : { message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }],
  });
}
