/**
 * Which database errors mean "the database is unreachable or restarting" (retry later), as opposed
 * to a bug or a refused statement. They become SERVICE_UNAVAILABLE (HTTP 503, retryable) in one
 * place, src/graphql/errors.ts.
 */

/** postgres.js's own connection errors and Node's socket errors. */
const CONNECTION_ERROR_CODES = new Set([
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND',
]);

/** SQLSTATEs of a server that is going away, coming back, full, or cancelled a statement by timeout. */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown (a restart or fast shutdown terminated the session)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down, in recovery)
  '53300', // too_many_connections
  '57014', // query_canceled (statement_timeout)
  '25P03', // idle_in_transaction_session_timeout
]);

const CAUSE_DEPTH_MAX = 5;

export function isDatabaseUnavailable(error: unknown): boolean {
  let current = error as { code?: unknown; cause?: unknown; originalError?: unknown } | null | undefined;
  for (let depth = 0; current && typeof current === 'object' && depth < CAUSE_DEPTH_MAX; depth += 1) {
    const code = current.code;
    if (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08'))) return true;
    // drizzle wraps driver errors in `cause`; graphql-js wraps resolver errors in `originalError`
    current = (current.cause ?? current.originalError) as typeof current;
  }
  return false;
}
