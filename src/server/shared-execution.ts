/**
 * Subscription results executed once per event, not once per subscriber.
 *
 * graphql-js's `subscribe` maps each event through `execute` for each subscriber: N dashboards on one
 * wallet run the same selection, and its database reads, N times per event. This `subscribe` (given to
 * graphql-ws) runs each event through a short-lived table of results keyed by
 *   - the operation as written, without stream-position arguments (walletEvents' `afterSequence` says
 *     where a stream starts, not what an event looks like) and without its name, printed and hashed;
 *   - the values of the variables that operation still uses (so `accountId` is always in the key);
 *   - the viewer's access: a user token's account, or an API key's role — what field resolvers
 *     authorize by — so a result only ever goes to a subscriber who may read all of it;
 *   - the event's identity (`eventKey` of the hub's payloads: a ledger transaction, or an alert).
 * The first subscriber to reach an event runs the selection; the others that reach the same event
 * within RESULT_TTL_MS get the same result object (graphql-ws serializes it per socket). Events with no
 * identity and viewers with no access key are executed per subscriber, as graphql-js does. Every
 * execution gets a fresh context (`freshContext`): a subscription's context lives as long as the
 * subscription, and its DataLoaders would otherwise serve one event's reads to the next.
 */
import { createHash } from 'node:crypto';
import {
  Kind, createSourceEventStream, execute, getOperationAST, print, visit,
  type ASTNode, type ExecutionArgs, type ExecutionResult, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionNode,
} from 'graphql';

/** Root-field arguments that only position the stream: results of one event do not depend on them. */
const STREAM_POSITION_ARGUMENTS: Readonly<Record<string, readonly string[]>> = { walletEvents: ['afterSequence'] };
/** How long a result is reused for late subscribers of the same event, and how many are kept. */
const RESULT_TTL_MS = 5_000;
const RESULTS_MAX = 10_000;

export interface SharedExecutionOptions {
  /** The viewer's access as a key (what authorization depends on); null: never shared. */
  accessOf(contextValue: unknown): string | null;
  /** A context for one execution (fresh per-request state, same viewer). */
  freshContext(contextValue: unknown): unknown;
  /** Each result: executed, or shared from another subscriber's execution. */
  onExecution?(shared: boolean): void;
}

export class SharedExecution {
  private readonly results = new Map<string, { result: Promise<ExecutionResult>; expiresAtMs: number }>();

  constructor(private readonly options: SharedExecutionOptions) {}

  /** A drop-in for graphql's `subscribe`. */
  readonly subscribe = async (args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> => {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream; // errors before the stream: answered as graphql-js does
    const access = this.options.accessOf(args.contextValue);
    const operationKey = access === null ? null : operationKeyOf(args, access);
    return mapAsyncIterator(stream, (payload) => this.resultOf(args, payload, operationKey));
  };

  /** Results kept for reuse (for tests and metrics). */
  size(): number {
    return this.results.size;
  }

  private resultOf(args: ExecutionArgs, payload: unknown, operationKey: string | null): Promise<ExecutionResult> | ExecutionResult {
    const run = () => execute({ ...args, rootValue: payload, contextValue: this.options.freshContext(args.contextValue) });
    const eventKey = eventKeyOf(payload);
    if (operationKey === null || eventKey === null) {
      this.options.onExecution?.(false);
      return run();
    }
    const key = `${operationKey}\n${eventKey}`;
    const now = Date.now();
    const cached = this.results.get(key);
    if (cached && cached.expiresAtMs > now) {
      this.options.onExecution?.(true);
      return cached.result;
    }
    const result = Promise.resolve(run());
    const entry = { result, expiresAtMs: now + RESULT_TTL_MS };
    this.results.delete(key); // re-inserted last: the table stays in expiry order
    this.results.set(key, entry);
    result.catch(() => { if (this.results.get(key) === entry) this.results.delete(key); });
    this.prune(now);
    this.options.onExecution?.(false);
    return result;
  }

  /** Drops expired results, and the oldest beyond RESULTS_MAX (entries are in expiry order). */
  private prune(now: number): void {
    for (const [key, entry] of this.results) {
      if (entry.expiresAtMs > now && this.results.size <= RESULTS_MAX) return;
      this.results.delete(key);
    }
  }
}

function eventKeyOf(payload: unknown): string | null {
  const key = typeof payload === 'object' && payload !== null ? (payload as { eventKey?: unknown }).eventKey : undefined;
  return typeof key === 'string' ? key : null;
}

/** The operation (stream-position arguments and name removed), the values of the variables it uses, and the access, hashed. */
function operationKeyOf(args: ExecutionArgs, access: string): string | null {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return null;
  const selections = operation.selectionSet.selections.map(withoutStreamPosition);
  const body: OperationDefinitionNode = { ...operation, name: undefined, selectionSet: { ...operation.selectionSet, selections } };
  const fragments = args.document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION);
  const used = new Set<string>();
  const collect = (node: ASTNode) => visit(node, { Variable: (variable) => { used.add(variable.name.value); } });
  collect(body.selectionSet);
  for (const fragment of fragments) collect(fragment);
  const keyed: OperationDefinitionNode = { ...body, variableDefinitions: body.variableDefinitions?.filter((d) => used.has(d.variable.name.value)) };
  const values = [...used].sort().map((name) => [name, args.variableValues?.[name] ?? null]);
  return createHash('sha256')
    .update(access).update('\n')
    .update(print({ kind: Kind.DOCUMENT, definitions: [keyed, ...fragments] })).update('\n')
    .update(JSON.stringify(values))
    .digest('base64url');
}

function withoutStreamPosition(selection: SelectionNode): SelectionNode {
  if (selection.kind !== Kind.FIELD) return selection;
  const dropped = STREAM_POSITION_ARGUMENTS[selection.name.value];
  if (!dropped || !selection.arguments) return selection;
  return { ...selection, arguments: selection.arguments.filter((a) => !dropped.includes(a.name.value)) };
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as AsyncIterable<unknown>)[Symbol.asyncIterator] === 'function';
}

/** graphql-js's mapping of a source stream: `return` goes straight to the source (a subscriber waiting for its next event ends at once). */
function mapAsyncIterator<T, U>(iterable: AsyncIterable<T>, map: (value: T) => Promise<U> | U): AsyncIterableIterator<U> {
  const iterator = iterable[Symbol.asyncIterator]();
  const mapResult = async (result: IteratorResult<T>): Promise<IteratorResult<U>> => {
    if (result.done) return { value: undefined, done: true };
    try {
      return { value: await map(result.value), done: false };
    } catch (error) {
      await iterator.return?.().catch(() => undefined);
      throw error;
    }
  };
  const mapped: AsyncIterableIterator<U> = {
    next: async () => mapResult(await iterator.next()),
    return: async () => {
      if (iterator.return) await iterator.return();
      return { value: undefined, done: true };
    },
    throw: async (error: unknown) => {
      if (iterator.throw) return mapResult(await iterator.throw(error));
      throw error;
    },
    [Symbol.asyncIterator]: () => mapped,
  };
  return mapped;
}
