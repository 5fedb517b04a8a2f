/** The typed client for the credits API: `createCreditsClient`, its errors, and the generated operations. */
export { createCreditsClient, type CreditsClient, type CreditsClientOptions, type RetryOptions, type SubscriptionHandlers, type VariablesOf } from './client';
export { CreditsApiError, type CreditsErrorCode, type GraphQLErrorPayload } from './errors';
export * from './generated/graphql';
