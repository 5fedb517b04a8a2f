/**
 * The one place errors become what clients see. Expected refusals (AppError) keep their code and
 * details; GraphQL's own validation and input errors keep theirs; anything else is a bug, logged
 * here and reported as INTERNAL_SERVER_ERROR with no message, SQL or stack trace.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { AppError, ErrorCode, serviceUnavailable } from '../shared/errors';
import { logger } from '../shared/logger';
import { isDatabaseUnavailable } from '../db/faults';

const KNOWN_CODES = new Set<string>([
  ...Object.values(ErrorCode), 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE',
]);

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  const refusal = original instanceof AppError ? original : isDatabaseUnavailable(original) ? databaseUnavailable() : null;
  if (refusal) {
    return { message: refusal.message, locations: formatted.locations, path: formatted.path, extensions: refusal.clientExtensions };
  }
  // Graphql-js and Apollo re-wrap errors raised while validating the document (a Credits literal
  // such as "1.0001", the depth and alias limits): our BAD_USER_INPUT sits in the wrapped chain.
  if (badInputInChain(original)) {
    return { message: formatted.message, locations: formatted.locations, path: formatted.path, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && KNOWN_CODES.has(code) && (!(original instanceof Error) || original instanceof GraphQLError)) {
    const { stacktrace: _stack, http: _status, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
    return { ...formatted, extensions };
  }
  logger.error('internal error', { error: original instanceof Error ? { message: original.message, stack: original.stack } : String(original), path: formatted.path });
  return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

function badInputInChain(error: unknown): boolean {
  let current = error as { extensions?: Record<string, unknown>; originalError?: unknown } | null | undefined;
  for (let depth = 0; current instanceof GraphQLError && depth < 5; depth++, current = current.originalError as typeof current) {
    if (current.extensions?.code === ErrorCode.BAD_USER_INPUT) return true;
  }
  return false;
}

const databaseUnavailable = () => serviceUnavailable('the database is unreachable or restarting; retry with the same idempotency key');

/**
 * A resolver that failed because the database is away answers HTTP 503 (like an AppError with
 * SERVICE_UNAVAILABLE, whose status Apollo reads from its extensions).
 */
export const serviceUnavailableStatus: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didEncounterErrors({ errors, response }) {
        if (errors.some((e) => isDatabaseUnavailable(unwrapResolverError(e)))) response.http.status = 503;
      },
    };
  },
};

/** For graphql-ws, which hands over GraphQLErrors. */
export function formatGraphQLError(error: GraphQLError): GraphQLFormattedError {
  return formatError(error.toJSON(), error);
}

/**
 * One item of a batch that failed, as clients see it: the code, message and details `formatError`
 * gives the same failure of a single operation (an unexpected error: logged, INTERNAL_SERVER_ERROR).
 */
export function batchItemError(error: unknown): { code: string; message: string; details: Record<string, unknown> | null } {
  const refusal = error instanceof AppError ? error : isDatabaseUnavailable(error) ? databaseUnavailable() : null;
  if (refusal) {
    const { code: _code, ...details } = refusal.clientExtensions;
    return { code: refusal.code, message: refusal.message, details };
  }
  logger.error('internal error in a batch item', { error: error instanceof Error ? { message: error.message, stack: error.stack } : String(error) });
  return { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error', details: null };
}
