/** Errors before GraphQL (body too large, malformed JSON): a JSON error, never Express's HTML page with a stack trace. */
import { inspect } from 'node:util';
import type express from 'express';
import { logger } from '../shared/logger';

type HttpError = { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };

export function httpErrorHandler(bodySizeLimitBytes: number): express.ErrorRequestHandler {
  return (error: HttpError, _req, res, next) => {
    if (res.headersSent) return next(error);
    const raw = Number(error?.status ?? error?.statusCode);
    const status = Number.isInteger(raw) && raw >= 400 && raw < 500 ? raw : 500;
    if (status === 500) logger.error('http error', { error: error instanceof Error ? { message: error.message, stack: error.stack } : inspect(error, { depth: 2 }) });
    const message = status === 413 ? `request body exceeds ${bodySizeLimitBytes} bytes`
      : status < 500 && error.expose === true && typeof error.message === 'string' ? error.message
      : status < 500 ? 'bad request' : 'Internal server error';
    res.status(status).json({ errors: [{ message, extensions: { code: status < 500 ? 'BAD_REQUEST' : 'INTERNAL_SERVER_ERROR' } }] });
  };
}
