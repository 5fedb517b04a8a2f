/**
 * graphql-jit as Apollo Server's executor (GRAPHQL_EXECUTOR=jit; the default is graphql-js).
 *
 * Apollo Server 5 takes no executor option; its gateway interface is the one place an executor can be
 * given. This "gateway" serves our own schema and executes through a compiled query cached per
 * document: Apollo keeps parsing, validation (our limit rules), its document cache, every plugin
 * (cost, rate limits, metrics, the 503 status) and formatError exactly as without it — only the
 * execute step changes. Apollo's document store hands the same DocumentNode to every request with
 * the same text, so the compiled queries live in a WeakMap on it and go when Apollo evicts the document.
 * A document graphql-jit cannot compile runs on graphql-js instead.
 *
 * Measured with `npm run bench` (README, "Executor and HTTP stack"): it did not win on our resolvers,
 * whose time is in the database and the services, so graphql-js stays the default.
 */
import type { ApolloServerOptionsWithGateway } from '@apollo/server';
import { GraphQLError, execute, getVariableValues, printSchema, type DocumentNode, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { compileQuery, isCompiledQuery, type CompiledQuery } from 'graphql-jit';
import { logger } from '../shared/logger';

type Gateway = ApolloServerOptionsWithGateway<never>['gateway'];
type SchemaListener = Parameters<Gateway['onSchemaLoadOrUpdate']>[0];
type Executor = NonNullable<Awaited<ReturnType<Gateway['load']>>['executor']>;

/** What a document compiles to, per operation name ('' when the request names none). */
type Compiled = CompiledQuery | ExecutionResult | 'graphql-js';

export class JitExecutor {
  private readonly compiled = new WeakMap<DocumentNode, Map<string, Compiled>>();
  /** Documents compiled (for tests: a document is compiled once, however often it runs). */
  compilations = 0;

  constructor(private readonly schema: GraphQLSchema) {}

  /** The gateway Apollo is given instead of `schema`. */
  gateway(): Gateway {
    const listeners = new Set<SchemaListener>();
    return {
      onSchemaLoadOrUpdate: (listener) => {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
      load: async () => {
        // Apollo learns the schema from this callback (its document store and plugins use it).
        const schemaContext = { apiSchema: this.schema, coreSupergraphSdl: printSchema(this.schema) };
        for (const listener of listeners) listener(schemaContext);
        return { executor: this.executor };
      },
      stop: async () => undefined,
    };
  }

  readonly executor: Executor = async (request) => {
    const { document, operationName, context } = request;
    const variables = request.request.variables ?? {};
    const compiled = this.compiledFor(document, operationName ?? null);
    if (compiled === 'graphql-js') {
      return execute({ schema: this.schema, document, operationName, variableValues: variables, contextValue: context });
    }
    if (!isCompiledQuery(compiled)) return compiled; // the document's own error (e.g. an unknown operation)
    const result = compiled.query(undefined, context, variables);
    return 'then' in result ? result : this.withInputErrors(result, request.operation, variables);
  };

  /**
   * Variables graphql-jit cannot coerce come back at once as errors without data, worded its own way
   * and without the variable's node. On that (rare) path graphql-js coerces them again, so the client
   * gets graphql-js's errors, with their locations and, from Apollo, BAD_USER_INPUT.
   */
  private withInputErrors(result: ExecutionResult, operation: OperationDefinitionNode | undefined, variables: Record<string, unknown>): ExecutionResult {
    if ('data' in result || !result.errors?.length || !operation) return result;
    const coerced = getVariableValues(this.schema, operation.variableDefinitions ?? [], variables);
    if (coerced.errors) return { errors: coerced.errors };
    return { errors: result.errors.map((e) => new GraphQLError(e.message, { extensions: { code: 'BAD_USER_INPUT' } })) };
  }

  private compiledFor(document: DocumentNode, operationName: string | null): Compiled {
    let byOperation = this.compiled.get(document);
    if (!byOperation) this.compiled.set(document, (byOperation = new Map<string, Compiled>()));
    const key = operationName ?? '';
    let compiled = byOperation.get(key);
    if (compiled === undefined) {
      this.compilations += 1;
      try {
        compiled = compileQuery(this.schema, document, operationName ?? undefined);
      } catch (error) {
        logger.warn('graphql-jit could not compile a document; it runs on graphql-js', { error: String(error) });
        compiled = 'graphql-js';
      }
      byOperation.set(key, compiled);
    }
    return compiled;
  }
}
