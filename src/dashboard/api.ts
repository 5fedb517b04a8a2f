/** The typed client (src/client) as the dashboard uses it: this origin's /graphql over fetch and graphql-ws. */
import { createCreditsClient, CreditsApiError, type CreditsClient } from '../client';

export type SocketState = 'connected' | 'closed';

export function connect(token: string, onSocket: (state: SocketState) => void): CreditsClient {
  return createCreditsClient({
    url: new URL('/graphql', window.location.href).href,
    token,
    retry: { maxAttempts: 3, maxDelayMs: 5_000 },
    // Subscriptions are restarted by the views themselves, from the last sequence they saw (see
    // AccountView.subscribe), so graphql-ws does not retry with the variables of the first subscribe.
    webSocket: { retryAttempts: 0, on: { connected: () => onSocket('connected'), closed: () => onSocket('closed') } },
  });
}

/**
 * A fresh idempotency key. crypto.randomUUID exists only in secure contexts (https, localhost);
 * getRandomValues exists everywhere.
 */
export function newIdempotencyKey(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  return 'dash-' + Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}

export const isUnauthenticated = (error: unknown): boolean => error instanceof CreditsApiError && error.code === 'UNAUTHENTICATED';

/**
 * Runs a view's request: an expired or revoked credential signs out, other failures show as a notice
 * (nothing once the view has stopped); the error is rethrown for the caller to stop what it was doing.
 */
export async function guarded<T>(request: Promise<T>, view: { isStopped(): boolean; onUnauthenticated(): void; onNotice(text: string): void }): Promise<T> {
  try {
    return await request;
  } catch (error) {
    if (!view.isStopped()) {
      if (isUnauthenticated(error)) view.onUnauthenticated();
      else view.onNotice(`Something could not be loaded: ${problem(error)}`);
    }
    throw error;
  }
}

/** A sentence for a failed request. */
export function problem(error: unknown): string {
  if (error instanceof CreditsApiError) return error.message;
  if (error instanceof Error) return `the server could not be reached (${error.message})`;
  return String(error);
}
