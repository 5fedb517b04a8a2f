/**
 * GraphQL over HTTP: the Apollo server with its plugins, and the /graphql route (shutdown gate,
 * body limit, authentication and the caller's rate limit before anything is parsed).
 */
import type http from 'node:http';
import express from 'express';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { InMemoryLRUCache } from '@apollo/utils.keyvaluecache';
import { GraphQLError, OperationTypeNode, type DocumentNode, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { Config } from '../config';
import { AppError, serviceUnavailable } from '../shared/errors';
import { isDatabaseUnavailable } from '../db/faults';
import { createContext, type Context } from '../graphql/context';
import type { Services } from '../graphql/services';
import { formatError, serviceUnavailableStatus } from '../graphql/errors';
import { queryCostPlugin } from '../graphql/limits';
import type { Metrics } from './metrics';
import type { RateLimits } from './rate-limit';
import { JitExecutor } from './jit-executor';

// Subscriptions run over graphql-ws only; over HTTP their resolvers would get no event and fail as internal errors.
const subscriptionsOverHttpRefused: ApolloServerPlugin<Context> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation }) {
        if (operation?.operation === OperationTypeNode.SUBSCRIPTION) {
          throw new GraphQLError('subscriptions need the graphql-ws WebSocket protocol on the /graphql endpoint', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
        }
      },
    };
  },
};

/**
 * Parsed and validated documents Apollo keeps, bounded by the size of their JSON (Apollo's own measure).
 * Its default, 30 MiB of JSON, holds about 4× that in heap (an AST keeps every token of its source):
 * clients that write values into their documents instead of variables (the benchmark's seeding, say)
 * filled 120 MB of the server's 200 MB heap and left it collecting garbage on every request, 2–3×
 * slower at everything. Our own operations are a few hundred KB of JSON together.
 */
export const DOCUMENT_STORE_JSON_BYTES_MAX = 4 * 2 ** 20;
export const boundedDocumentStore = () => new InMemoryLRUCache<DocumentNode>({ maxSize: DOCUMENT_STORE_JSON_BYTES_MAX });

/** A started Apollo server; stopping it drains the HTTP server and then runs `onDrain` (the WebSocket side). */
export async function startApollo(options: {
  schema: GraphQLSchema;
  validationRules: ValidationRule[];
  httpServer: http.Server;
  config: Readonly<Config>;
  rateLimits: RateLimits;
  metrics: Metrics;
  onDrain: () => Promise<void>;
}): Promise<ApolloServer<Context>> {
  const { schema, validationRules, httpServer, config, rateLimits, metrics, onDrain } = options;
  // GRAPHQL_EXECUTOR=jit: the same schema served through the gateway interface, executed by graphql-jit.
  const served = config.graphqlExecutor === 'jit' ? { gateway: new JitExecutor(schema).gateway() } : { schema };
  const apollo = new ApolloServer<Context>({
    ...served,
    formatError,
    validationRules,
    documentStore: boundedDocumentStore(),
    introspection: true,
    includeStacktraceInErrorResponses: false,
    // main() handles SIGTERM/SIGINT itself (drain, close the database, exit 0); Apollo's own handler would stop the server a second time.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      queryCostPlugin(config),
      serviceUnavailableStatus,
      rateLimits.plugin,
      metrics.plugin,
      { async serverWillStart() { return { async drainServer() { await onDrain(); } }; } },
      subscriptionsOverHttpRefused,
    ],
  });
  await apollo.start();
  return apollo;
}

/** The /graphql route. `isStopping` turns requests away once stop() has begun. */
export function graphqlRoute(options: {
  apollo: ApolloServer<Context>;
  config: Readonly<Config>;
  services: Services;
  rateLimits: RateLimits;
  isStopping: () => boolean;
}): express.RequestHandler[] {
  const { apollo, config, services, rateLimits, isStopping } = options;
  // Once stop() has begun, a request that still arrives on an open keep-alive connection is not run:
  // the drain may already have half-closed that connection, so its answer could never be delivered
  // and a charge would take effect unseen. The client sees 503 (or a closed connection) and retries.
  const refuseWhileStopping: express.RequestHandler = (_req, res, next) => {
    if (!isStopping()) return next();
    res.setHeader('connection', 'close');
    res.status(503).json({ errors: [{ message: 'the server is shutting down; retry', extensions: serviceUnavailable().clientExtensions }] });
  };
  return [refuseWhileStopping, express.json({ limit: config.bodySizeLimitBytes }), expressMiddleware(apollo, {
    context: async ({ req }) => {
      try {
        const viewer = await services.auth.authenticate(req.headers.authorization);
        await rateLimits.admitCaller(viewer, req.ip); // RATE_LIMITED: 429 with Retry-After, before parsing
        return createContext(viewer, services);
      } catch (error) {
        if (isDatabaseUnavailable(error)) throw serviceUnavailable('the database is unreachable; retry').toGraphQL();
        if (error instanceof AppError) {
          await rateLimits.admitCaller({ kind: 'anonymous' }, req.ip); // a refused credential counts against the client address
          // A bad credential is the client's doing: 401, not the 500 Apollo gives a failed context.
          const g = error.toGraphQL();
          throw new GraphQLError(g.message, { extensions: { ...g.extensions, http: { status: error.code === 'UNAUTHENTICATED' ? 401 : 400 } } });
        }
        throw error;
      }
    },
  })];
}
