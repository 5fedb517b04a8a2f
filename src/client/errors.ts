import { ErrorCode } from '../shared/errors';

/**
 * Every code a caller can see: the server's closed set of refusals, GraphQL's own request errors,
 * and INTERNAL_SERVER_ERROR for a bug on the server (no details are sent with it).
 */
const REQUEST_CODES = [
  'GRAPHQL_VALIDATION_FAILED', 'GRAPHQL_PARSE_FAILED', 'BAD_REQUEST', 'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED', 'OPERATION_RESOLUTION_FAILURE', 'INTERNAL_SERVER_ERROR',
] as const;
export type CreditsErrorCode = ErrorCode | (typeof REQUEST_CODES)[number];

const KNOWN_CODES: ReadonlySet<string> = new Set<string>([...Object.values(ErrorCode), ...REQUEST_CODES]);

/** One error as GraphQL sends it. */
export interface GraphQLErrorPayload {
  message: string;
  extensions?: Record<string, unknown>;
  path?: readonly (string | number)[];
  locations?: readonly { line: number; column: number }[];
}

/**
 * A refusal or failure reported by the server. `code` and `extensions` are those of the first
 * error; `errors` holds all of them (a request rarely gets more than one).
 */
export class CreditsApiError extends Error {
  readonly code: CreditsErrorCode;
  readonly extensions: Record<string, unknown> & { code: CreditsErrorCode };
  /** Whether the same request (with the same idempotency key) may succeed later. */
  readonly retryable: boolean;
  /** Seconds to wait before retrying, when the server said (RATE_LIMITED). */
  readonly retryAfterSeconds: number | null;

  constructor(
    readonly errors: readonly GraphQLErrorPayload[],
    /** HTTP status of the response, or null over WebSocket. */
    readonly status: number | null = null,
    /** Data the server returned beside the errors, if any. */
    readonly data: unknown = null,
  ) {
    const first = errors[0] ?? { message: 'the server answered with an error and no details' };
    super(first.message);
    this.name = 'CreditsApiError';
    const reported = first.extensions?.code;
    // An unknown code (a proxy's answer, a newer server) is not trusted to mean anything specific.
    this.code = typeof reported === 'string' && KNOWN_CODES.has(reported)
      ? (reported as CreditsErrorCode)
      : status === 503 ? ErrorCode.SERVICE_UNAVAILABLE : 'INTERNAL_SERVER_ERROR';
    this.extensions = { ...first.extensions, code: this.code };
    this.retryable = first.extensions?.retryable === true || status === 503;
    const after = first.extensions?.retryAfterSeconds;
    this.retryAfterSeconds = typeof after === 'number' && Number.isFinite(after) && after >= 0 ? after : null;
  }
}
