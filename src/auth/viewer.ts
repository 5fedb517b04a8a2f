/** Who is calling, and the authorization checks every resolver uses. */
import { forbidden, unauthenticated } from '../shared/errors';
import type { ApiKeyRoleName } from '../db/schema';

/** The closed set lives with the table (src/db/schema.ts), where a CHECK enforces it. */
export type ApiKeyRole = ApiKeyRoleName;

export type Viewer =
  | { kind: 'anonymous' }
  /** `partner`: the partner the key is bound to (it sees only that partner's accounts, src/auth/access.ts); null for operator keys. */
  | { kind: 'key'; keyId: string; role: ApiKeyRole; partner: string | null }
  | { kind: 'user'; accountId: string };

export type Authenticated = Exclude<Viewer, { kind: 'anonymous' }>;

export function requireViewer(viewer: Viewer): Authenticated {
  if (viewer.kind === 'anonymous') throw unauthenticated();
  return viewer;
}

/** Recorded on ledger transactions as "who". */
export function actorOf(viewer: Authenticated): { id: string; scope: string } {
  const id = viewer.kind === 'key' ? `key:${viewer.keyId}` : `user:${viewer.accountId}`;
  return { id, scope: id };
}

/**
 * Reading an account: any key, or the user token of that account. Role only: resolvers call
 * src/auth/access.ts, which adds partner scopes and team roles on top of these checks.
 */
export function assertCanRead(viewer: Viewer, accountId: string): Authenticated {
  const v = requireViewer(viewer);
  if (v.kind === 'user' && v.accountId !== accountId) throw forbidden('a user token reads only its own account');
  return v;
}

/** Moving credits (charge, hold, capture, release, refund): ADMIN or SERVICE keys. */
export function assertCanMoveCredits(viewer: Viewer): Authenticated & { kind: 'key' } {
  const v = requireViewer(viewer);
  if (v.kind !== 'key') throw forbidden('user tokens cannot move credits');
  if (v.role === 'READONLY') throw forbidden('a READONLY key cannot move credits');
  return v;
}

export function assertAdmin(viewer: Viewer): Authenticated & { kind: 'key' } {
  const v = requireViewer(viewer);
  if (v.kind !== 'key' || v.role !== 'ADMIN') throw forbidden('this operation needs an ADMIN key');
  return v;
}

/** Keys other than READONLY, or a user acting on its own account (quotes). */
export function assertKeyRole(viewer: Viewer, roles: readonly ApiKeyRole[]): Authenticated & { kind: 'key' } {
  const v = requireViewer(viewer);
  if (v.kind !== 'key' || !roles.includes(v.role)) throw forbidden(`this operation needs a ${roles.join(' or ')} key`);
  return v;
}
