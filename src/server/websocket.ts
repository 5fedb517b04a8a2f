/**
 * graphql-ws on the HTTP server's /graphql path: authentication on connect and again on every
 * subscribe, per-connection and rate limits, the same document checks as HTTP, and sockets opened
 * with an API key closed (4403) when that key is revoked — through any instance: a revocation comes
 * from AuthService (here, or announced by another instance through Redis), and whenever live messages
 * may have been lost (the transport's resync) the keys of open sockets are checked in the database.
 * Subscription results are executed once per event and shared by subscribers with the same
 * operation and access (./shared-execution.ts).
 */
import type http from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { GraphQLError, execute, type GraphQLSchema, type ValidationRule } from 'graphql';
import type { Config } from '../config';
import type { Viewer } from '../auth/viewer';
import { AppError, ErrorCode } from '../shared/errors';
import { isDatabaseUnavailable } from '../db/faults';
import { logger } from '../shared/logger';
import { createContext, type Context } from '../graphql/context';
import type { Services } from '../graphql/services';
import { formatGraphQLError } from '../graphql/errors';
import { CheckedDocuments } from '../graphql/limits';
import type { RateLimits } from './rate-limit';
import { SharedExecution } from './shared-execution';

export interface GraphQLWebSocket {
  server: WebSocketServer;
  /** Closes every connection and stops listening for revocations. */
  dispose(): Promise<void>;
}

/** Connections opened with an API key, by key id, so revoking the key closes them. */
class SocketsByKey {
  private readonly sockets = new Map<string, Set<WebSocket>>();

  add(keyId: string, socket: WebSocket): void {
    let sockets = this.sockets.get(keyId);
    if (!sockets) this.sockets.set(keyId, (sockets = new Set()));
    const own = sockets;
    own.add(socket);
    socket.once('close', () => {
      own.delete(socket);
      if (own.size === 0 && this.sockets.get(keyId) === own) this.sockets.delete(keyId);
    });
  }

  keyIds(): string[] {
    return [...this.sockets.keys()];
  }

  closeAll(keyId: string): void {
    for (const socket of this.sockets.get(keyId) ?? []) socket.close(4403, 'Forbidden: the API key was revoked');
    this.sockets.delete(keyId);
  }
}

export function startGraphQLWebSocket(options: {
  httpServer: http.Server;
  schema: GraphQLSchema;
  validationRules: ValidationRule[];
  config: Readonly<Config>;
  services: Services;
  rateLimits: RateLimits;
  /** Each subscription result: executed, or shared (metrics). */
  onLiveExecution?: (shared: boolean) => void;
}): GraphQLWebSocket {
  const { httpServer, schema, validationRules, config, services, rateLimits } = options;
  const server = new WebSocketServer({ server: httpServer, path: '/graphql', maxPayload: config.bodySizeLimitBytes });
  const byKey = new SocketsByKey();
  const stopClosingRevoked = services.auth.onRevoke((keyId) => byKey.closeAll(keyId));
  // A revocation message lost on the way (Redis away) is found in the database on the next resync.
  const stopCheckingRevoked = services.events.transport.onResync(() => {
    const keyIds = byKey.keyIds();
    if (keyIds.length === 0) return;
    services.auth.revokedAmong(keyIds).then(
      (revoked) => { for (const keyId of revoked) services.auth.revokedElsewhere(keyId); },
      (error) => logger.warn('revocation check failed; the next resync retries', { error: String(error) }),
    );
  });
  const documents = new CheckedDocuments(schema, validationRules, config);
  const shared = new SharedExecution({
    accessOf: (context) => {
      const viewer = (context as Context).viewer;
      // A partner key's results are shared only with keys of the same partner and role (src/auth/access.ts).
      return viewer.kind === 'user' ? `user:${viewer.accountId}` : viewer.kind === 'key' ? `key:${viewer.role}${viewer.partner === null ? '' : `:partner:${viewer.partner}`}` : null;
    },
    freshContext: (context) => createContext((context as Context).viewer, services),
    onExecution: options.onLiveExecution,
  });

  const cleanup = useServer<Record<string, unknown>, { viewer?: Viewer; authorization?: string | null }>({
    schema,
    execute, subscribe: shared.subscribe,
    onConnect: async (ctx) => {
      try {
        const authorization = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        ctx.extra.authorization = typeof authorization === 'string' ? authorization : null;
        const viewer = await services.auth.authenticate(ctx.extra.authorization);
        ctx.extra.viewer = viewer;
        if (viewer.kind === 'key') byKey.add(viewer.keyId, ctx.extra.socket);
        return true;
      } catch (error) {
        // The database is away: 1013 "try again later" (graphql-ws clients reconnect), not a refusal.
        if (isDatabaseUnavailable(error)) ctx.extra.socket.close(1013, 'Service unavailable: retry later');
        return false; // closes with 4403 Forbidden
      }
    },
    // Each new subscription re-checks the credential, so a revoked key or an expired token opens nothing new.
    onSubscribe: async (ctx, _id, payload) => {
      // ctx.subscriptions holds this connection's operations, this one included.
      if (Object.keys(ctx.subscriptions).length > config.subscriptionsPerConnectionMax) {
        return [new AppError(ErrorCode.RATE_LIMITED, `at most ${config.subscriptionsPerConnectionMax} subscriptions per connection; complete one first`, {
          limit: 'subscriptionsPerConnection', subscriptionsMax: config.subscriptionsPerConnectionMax,
        }).toGraphQL()];
      }
      try {
        ctx.extra.viewer = await services.auth.authenticate(ctx.extra.authorization);
      } catch (error) {
        return [error instanceof AppError ? error.toGraphQL() : new GraphQLError('authentication failed', { originalError: error as Error })]; // formatted by onError
      }
      const limited = await rateLimits.admitWsOperation(ctx.extra.viewer, ctx.extra.request.socket.remoteAddress, payload);
      if (limited) return [limited];
      // Parsed and validated (graphql's rules and the limits) once per document, variables and cost checked
      // every time, as over HTTP.
      return documents.check(payload);
    },
    context: (ctx): Context => createContext(ctx.extra.viewer ?? { kind: 'anonymous' }, services),
    onError: (_ctx, _id, _payload, errors) => errors.map(formatGraphQLError),
    onNext: (_ctx, _id, _payload, _args, result) => result.errors ? { ...result, errors: result.errors.map(formatGraphQLError) } : undefined,
  }, server);

  return {
    server,
    dispose: async () => {
      stopClosingRevoked();
      stopCheckingRevoked();
      await cleanup.dispose();
    },
  };
}
