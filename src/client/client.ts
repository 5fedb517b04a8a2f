/**
 * A small typed client for the credits API, for front ends and partners: queries and mutations
 * over fetch, subscriptions over graphql-ws, with the operations of ./operations/*.graphql typed
 * by `npm run codegen`.
 *
 * Mutations whose input has an `idempotencyKey` get one per call when the caller leaves it out,
 * and every retry of that call sends the same key, so a retried charge is charged once.
 */
import { Kind, OperationTypeNode, print, type DocumentNode, type OperationDefinitionNode, type TypeNode } from 'graphql';
import { createClient, type Client as WsClient, type ClientOptions as WsClientOptions } from 'graphql-ws';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { idempotentInputTypes, idempotentListFields } from './generated/graphql';
import { CreditsApiError, type GraphQLErrorPayload } from './errors';

/** An input whose `idempotencyKey` the client may fill in. */
type KeyOptional<T> = T extends { idempotencyKey: string }
  ? Omit<T, 'idempotencyKey'> & { idempotencyKey?: string }
  // A batch (chargeBatch, chargeGenerationBatch): each item's key may be left out.
  : T extends { charges: Array<infer I> } ? Omit<T, 'charges'> & { charges: KeyOptional<I>[] } : T;

/** An operation's variables as callers give them: idempotency keys may be left out. */
export type VariablesOf<V> = { [K in keyof V]: KeyOptional<V[K]> };

/** Variables are optional for operations that need none. */
type VariablesArg<V> = Record<string, never> extends V ? [variables?: VariablesOf<V>] : [variables: VariablesOf<V>];

export interface RetryOptions {
  /** Attempts in all, the first included (1: never retry). Default 4. */
  maxAttempts?: number;
  /** The first backoff; each retry doubles it, with jitter. Default 200. */
  baseDelayMs?: number;
  /**
   * The longest wait before a retry. A server asking for more (RATE_LIMITED's retryAfterSeconds)
   * gets its error raised at once, for the caller to schedule. Default 10000.
   */
  maxDelayMs?: number;
}

export interface CreditsClientOptions {
  /** The GraphQL endpoint, e.g. https://credits.example.com/graphql. */
  url: string;
  /** An API key or a user token, or a function returning the current one (read before every attempt). */
  token?: string | null | (() => string | null | Promise<string | null>);
  retry?: RetryOptions;
  /** Replaces the global fetch (a proxy, a test, an older runtime). */
  fetch?: typeof fetch;
  /** The WebSocket endpoint; default: `url` with http(s) replaced by ws(s). */
  wsUrl?: string;
  /** A WebSocket implementation where there is no global one (Node 20: the `ws` package). */
  webSocketImpl?: unknown;
  /** Further graphql-ws options (reconnection attempts, keep-alive, …). */
  webSocket?: Omit<WsClientOptions, 'url' | 'webSocketImpl' | 'connectionParams'>;
}

export interface SubscriptionHandlers<R> {
  next(data: R): void;
  /** A refusal (CreditsApiError) or a lost connection; the subscription is over. */
  error?(error: unknown): void;
  complete?(): void;
}

export interface CreditsClient {
  /** Runs a query or mutation; resolves with its data or rejects with a CreditsApiError. */
  request<R, V>(document: TypedDocumentNode<R, V>, ...variables: VariablesArg<V>): Promise<R>;
  /** Starts a subscription; returns the function that ends it. */
  subscribe<R, V>(document: TypedDocumentNode<R, V>, variables: VariablesOf<V>, handlers: SubscriptionHandlers<R>): () => void;
  /** A subscription as an async iterator; `break` or `return()` ends it. */
  iterate<R, V>(document: TypedDocumentNode<R, V>, variables: VariablesOf<V>): AsyncIterableIterator<R>;
  /** Closes the WebSocket, if one was opened. */
  close(): Promise<void>;
}

const DEFAULT_RETRY: Required<RetryOptions> = { maxAttempts: 4, baseDelayMs: 200, maxDelayMs: 10_000 };

interface GraphQLResponse {
  data?: unknown;
  errors?: GraphQLErrorPayload[];
}

export function createCreditsClient(options: CreditsClientOptions): CreditsClient {
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1) throw new Error('retry.maxAttempts must be a positive integer');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const printed = new WeakMap<DocumentNode, string>();
  let ws: WsClient | null = null;

  const tokenNow = async () => (typeof options.token === 'function' ? options.token() : options.token ?? null);
  const queryText = (document: DocumentNode) => {
    let text = printed.get(document);
    if (text === undefined) printed.set(document, (text = print(document)));
    return text;
  };
  const websocket = () => {
    ws ??= createClient({
      lazy: true,
      ...options.webSocket,
      url: options.wsUrl ?? options.url.replace(/^http/, 'ws'),
      ...(options.webSocketImpl ? { webSocketImpl: options.webSocketImpl } : {}),
      connectionParams: async () => {
        const token = await tokenNow();
        return token ? { authorization: `Bearer ${token}` } : {};
      },
    });
    return ws;
  };

  async function post(query: string, variables: unknown, operationName: string | undefined): Promise<{ status: number; body: GraphQLResponse | null; retryAfterHeader: string | null }> {
    const token = await tokenNow();
    const response = await fetchImpl(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables, ...(operationName ? { operationName } : {}) }),
    });
    const text = await response.text();
    let body: GraphQLResponse | null = null;
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object') body = parsed;
    } catch {
      body = null; // a proxy's HTML page, an empty 503: judged by the status alone
    }
    return { status: response.status, body, retryAfterHeader: response.headers.get('retry-after') };
  }

  async function request<R, V>(document: TypedDocumentNode<R, V>, ...[variables]: VariablesArg<V>): Promise<R> {
    const operation = operationOf(document);
    const { variables: sent, keyed } = withIdempotencyKeys(operation, variables ?? {});
    const query = queryText(document);
    // A network failure may hide a committed mutation: only what is safe to repeat is retried then.
    const repeatable = operation.operation === OperationTypeNode.QUERY || keyed;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= retry.maxAttempts;
      let result: Awaited<ReturnType<typeof post>>;
      try {
        result = await post(query, sent, operation.name?.value);
      } catch (error) {
        if (last || !repeatable) throw error;
        await sleep(backoff(attempt));
        continue;
      }
      const { status, body } = result;
      if (body?.errors?.length || !body || status >= 400 || body.data == null) {
        const errors = body?.errors?.length ? body.errors : [{ message: `HTTP ${status} without a GraphQL result` }];
        const error = new CreditsApiError(errors, status, body?.data ?? null);
        const wait = error.retryAfterSeconds !== null ? error.retryAfterSeconds * 1000 : retryAfterMs(result.retryAfterHeader) ?? backoff(attempt);
        if (last || !error.retryable || wait > retry.maxDelayMs) throw error;
        await sleep(wait);
        continue;
      }
      return body.data as R;
    }
  }

  function subscribe<R, V>(document: TypedDocumentNode<R, V>, variables: VariablesOf<V>, handlers: SubscriptionHandlers<R>): () => void {
    let ended = false;
    const end = websocket().subscribe<R>({ query: queryText(document), variables }, {
      next: (result) => {
        if (ended) return;
        if (result.errors?.length) {
          ended = true;
          end();
          handlers.error?.(new CreditsApiError(result.errors, null, result.data ?? null));
          return;
        }
        handlers.next(result.data as R);
      },
      error: (error) => {
        if (ended) return;
        ended = true;
        handlers.error?.(asApiError(error));
      },
      complete: () => {
        if (ended) return;
        ended = true;
        handlers.complete?.();
      },
    });
    return () => {
      ended = true;
      end();
    };
  }

  function iterate<R, V>(document: TypedDocumentNode<R, V>, variables: VariablesOf<V>): AsyncIterableIterator<R> {
    const results = websocket().iterate<R>({ query: queryText(document), variables });
    const iterator: AsyncIterableIterator<R> = {
      async next() {
        let step: IteratorResult<{ data?: R | null; errors?: readonly unknown[] }>;
        try {
          step = await results.next();
        } catch (error) {
          throw asApiError(error);
        }
        if (step.done) return { done: true, value: undefined };
        if (step.value.errors?.length) {
          await results.return?.();
          throw new CreditsApiError(step.value.errors as GraphQLErrorPayload[], null, step.value.data ?? null);
        }
        return { done: false, value: step.value.data as R };
      },
      async return() {
        await results.return?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    return iterator;
  }

  /** Exponential backoff with jitter, so many clients retrying do not arrive together. */
  function backoff(attempt: number): number {
    const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  return {
    request,
    subscribe,
    iterate,
    async close() {
      const socket = ws;
      ws = null;
      await socket?.dispose();
    },
  };
}

function operationOf(document: DocumentNode): OperationDefinitionNode {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operations.length !== 1) throw new Error(`a document for the client holds exactly one operation, not ${operations.length}`);
  return operations[0];
}

const namedType = (type: TypeNode): string => (type.kind === Kind.NAMED_TYPE ? type.name.value : namedType(type.type));

/**
 * Fills in a fresh idempotency key for each variable of an idempotent input type that has none.
 * Returns new objects (the caller's stay as they were) and whether the request carries any key.
 */
function withIdempotencyKeys(operation: OperationDefinitionNode, variables: Record<string, unknown>): { variables: Record<string, unknown>; keyed: boolean } {
  if (operation.operation !== OperationTypeNode.MUTATION) return { variables, keyed: false };
  let keyed = false;
  const filled = { ...variables };
  const withKey = (input: object): object => ((input as { idempotencyKey?: unknown }).idempotencyKey == null ? { ...input, idempotencyKey: globalThis.crypto.randomUUID() } : input);
  for (const definition of operation.variableDefinitions ?? []) {
    const type = namedType(definition.type);
    const listField = idempotentListFields.get(type);
    if (!idempotentInputTypes.has(type) && !listField) continue;
    const name = definition.variable.name.value;
    const input = filled[name];
    if (!input || typeof input !== 'object' || Array.isArray(input)) continue;
    keyed = true;
    if (!listField) {
      filled[name] = withKey(input);
      continue;
    }
    const items = (input as Record<string, unknown>)[listField];
    if (Array.isArray(items)) filled[name] = { ...input, [listField]: items.map((item: unknown) => (item && typeof item === 'object' ? withKey(item) : item)) };
  }
  return { variables: filled, keyed };
}

/** graphql-ws reports a refused subscription as the array of its GraphQL errors; anything else (a lost connection) passes as it is. */
function asApiError(error: unknown): unknown {
  return Array.isArray(error) ? new CreditsApiError(error as GraphQLErrorPayload[]) : error;
}

function retryAfterMs(header: string | null): number | null {
  if (header === null || !/^\d+$/.test(header.trim())) return null;
  return Number(header.trim()) * 1000;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
