/**
 * The one place errors become what clients see. Expected refusals (AppError) keep their code and
 * details; GraphQL's own validation and input errors keep theirs; anything else is a bug, logged
 * here and reported as INTERNAL_SERVER_ERROR with no message, SQL or stack trace.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { AppError, ErrorCode } from '../shared/errors';
import { logger } from '../shared/logger';

const KNOWN_CODES = new Set<string>([
  ...Object.values(ErrorCode), 'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE',
]);

export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof AppError) {
    const g = original.toGraphQL();
    return { message: g.message, locations: formatted.locations, path: formatted.path, extensions: g.extensions };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && KNOWN_CODES.has(code) && (!(original instanceof Error) || original instanceof GraphQLError)) {
    const { stacktrace: _stack, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
    return { ...formatted, extensions };
  }
  // class-validator / type-graphql argument validation arrives as a plain error with validation details
  if (original instanceof Error && original.name === 'ArgumentValidationError') {
    return { message: original.message, locations: formatted.locations, path: formatted.path, extensions: { code: ErrorCode.BAD_USER_INPUT } };
  }
  // The database refuses NUL characters in text and jsonb: that is the caller's input, not a bug (the transaction rolled back).
  if (isUnstorableText(original)) {
    return { message: 'the input contains a character that cannot be stored (NUL, \\u0000)', locations: formatted.locations, path: formatted.path, extensions: { code: ErrorCode.BAD_USER_INPUT, remedy: 'Remove NUL characters from strings and JSON values and retry.' } };
  }
  logger.error('internal error', { error: original instanceof Error ? { message: original.message, stack: original.stack } : String(original), path: formatted.path });
  return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
}

/** PostgreSQL 22021 (invalid byte sequence: NUL in text) or 22P05 (untranslatable character: \\u0000 in jsonb), on the error or its causes. */
function isUnstorableText(error: unknown): boolean {
  let current = error as { code?: unknown; cause?: unknown } | null | undefined;
  for (let depth = 0; current && typeof current === 'object' && depth < 5; depth++, current = current.cause as typeof current) {
    if (current.code === '22021' || current.code === '22P05') return true;
  }
  return false;
}

/** For graphql-ws, which hands over GraphQLErrors. */
export function formatGraphQLError(error: GraphQLError): GraphQLFormattedError {
  return formatError(error.toJSON(), error);
}
