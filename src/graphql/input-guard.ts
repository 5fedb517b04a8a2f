/**
 * Text PostgreSQL cannot store (NUL characters) is refused up front as BAD_USER_INPUT, for every
 * operation and every argument, rather than reaching the database as an internal error.
 */
import { GraphQLError } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';

const NESTING_MAX = 20;

export function containsNul(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (depth > NESTING_MAX || value === null || typeof value !== 'object') return false;
  if (Array.isArray(value)) return value.some((v) => containsNul(v, depth + 1));
  return Object.entries(value).some(([k, v]) => k.includes('\u0000') || containsNul(v, depth + 1));
}

export function nulInputError(): GraphQLError {
  return new GraphQLError('text inputs must not contain NUL (\\u0000) characters', { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });
}

/** Checks the variables and the literal arguments of each HTTP operation. */
export const nulInputGuard: ApolloServerPlugin = {
  async requestDidStart() {
    return {
      async didResolveOperation({ request }) {
        if (containsNul(request.variables) || (request.query !== undefined && /\\u0000|\u0000/.test(request.query))) throw nulInputError();
      },
    };
  },
};
