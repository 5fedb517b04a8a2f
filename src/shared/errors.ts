import { GraphQLError } from 'graphql';

/**
 * The closed set of refusal codes. Every error a client sees carries one of these
 * in `extensions.code`; anything else is a bug and is reported as INTERNAL_SERVER_ERROR without details.
 */
export const ErrorCode = {
  INSUFFICIENT_CREDITS: 'INSUFFICIENT_CREDITS',
  WALLET_FROZEN: 'WALLET_FROZEN',
  MODEL_NOT_IN_PLAN: 'MODEL_NOT_IN_PLAN',
  QUOTE_EXPIRED: 'QUOTE_EXPIRED',
  HOLD_NOT_FOUND: 'HOLD_NOT_FOUND',
  HOLD_EXPIRED: 'HOLD_EXPIRED',
  RATE_LIMITED: 'RATE_LIMITED',
  BUDGET_EXCEEDED: 'BUDGET_EXCEEDED',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  /** An item of an atomic batch that was not charged because another item of the batch failed. */
  BATCH_ABORTED: 'BATCH_ABORTED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What the user can do about a refusal, shown beside the code. */
const REMEDY: Record<ErrorCode, string> = {
  INSUFFICIENT_CREDITS: 'Top up credits, upgrade the plan, or wait for the next allowance.',
  WALLET_FROZEN: 'The wallet is frozen; contact support to have it reviewed.',
  MODEL_NOT_IN_PLAN: 'Upgrade to a plan that includes this model.',
  QUOTE_EXPIRED: 'Request a new quote.',
  HOLD_NOT_FOUND: 'Check the hold id; it may already be captured or released.',
  HOLD_EXPIRED: 'The hold expired and its credits were returned; reserve again.',
  RATE_LIMITED: 'Wait and retry later.',
  BUDGET_EXCEEDED: 'Ask a team admin to raise the member budget or wait for the next period.',
  IDEMPOTENCY_KEY_REUSED: 'Use a new idempotency key for a different request.',
  BAD_USER_INPUT: 'Correct the input and retry.',
  UNAUTHENTICATED: 'Send a valid API key or user token as "Authorization: Bearer <token>".',
  FORBIDDEN: 'Use a key or token allowed to perform this operation.',
  NOT_FOUND: 'Check the id.',
  SERVICE_UNAVAILABLE: 'A temporary fault (the database is unreachable or restarting); retry with the same idempotency key.',
  BATCH_ABORTED: 'Nothing in this atomic batch was charged: fix or remove the item that failed and send the batch again.',
};

/** Refusals that are not the client's doing: the same request may succeed later (`extensions.retryable`). */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set([ErrorCode.SERVICE_UNAVAILABLE, ErrorCode.RATE_LIMITED]);

/** HTTP status of a response whose errors include this code (others answer 200, as GraphQL over HTTP does). */
const HTTP_STATUS: Partial<Record<ErrorCode, number>> = { SERVICE_UNAVAILABLE: 503, RATE_LIMITED: 429 };

/** An expected refusal. Details are plain JSON (credits as decimal strings). */
export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  /**
   * What clients see in `extensions`. graphql-js copies an error's `extensions` when it wraps it,
   * and Apollo Server turns `http` into the response status (it is not sent to the client).
   */
  get extensions(): Record<string, unknown> {
    const status = HTTP_STATUS[this.code];
    return {
      code: this.code, remedy: REMEDY[this.code], ...(RETRYABLE.has(this.code) ? { retryable: true } : {}), ...this.details,
      ...(status ? { http: { status } } : {}),
    };
  }

  /** `extensions` as the response body carries them (the HTTP status is on the response itself). */
  get clientExtensions(): Record<string, unknown> {
    const { http: _status, ...extensions } = this.extensions;
    return extensions;
  }

  toGraphQL(): GraphQLError {
    return new GraphQLError(this.message, { extensions: this.extensions });
  }

  toJSON(): SerializedAppError {
    return { code: this.code, message: this.message, details: this.details };
  }

  static fromJSON(json: SerializedAppError): AppError {
    return new AppError(json.code, json.message, json.details);
  }
}

export interface SerializedAppError {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

export const badInput = (message: string, field?: string) =>
  new AppError(ErrorCode.BAD_USER_INPUT, message, field ? { field } : {});
export const notFound = (what: string) => new AppError(ErrorCode.NOT_FOUND, `${what} not found`);
export const forbidden = (message = 'not allowed for this caller') => new AppError(ErrorCode.FORBIDDEN, message);
export const serviceUnavailable = (message = 'the service is temporarily unavailable') => new AppError(ErrorCode.SERVICE_UNAVAILABLE, message);
export const unauthenticated = (message = 'authentication required') => new AppError(ErrorCode.UNAUTHENTICATED, message);
