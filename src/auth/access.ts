/**
 * Access to accounts, in one place: every resolver and route that takes an account id, or the id of
 * something that belongs to an account, asks here before it reads or writes (README, Access; Partners).
 *
 *   const viewer = await access.account(ctx, accountId, 'read');   // reads: any key; the account's user token; a team OWNER/ADMIN's token
 *   const viewer = await access.account(ctx, accountId, 'own');    // what a user may do to its own account: ADMIN/SERVICE keys, its own token
 *   const viewer = await access.account(ctx, accountId, 'move');   // moving credits, subscriptions, user tokens: ADMIN/SERVICE keys
 *   const viewer = await access.account(ctx, accountId, 'admin');  // ADMIN keys
 *   const viewer = await access.accounts(ctx, accountIds, 'move'); // a batch: one statement for the partners not yet known
 *   const viewer = await access.owned(ctx, 'hold', holdId, 'move'); // an id in an input: the role, then (partner keys) the owning account
 *   if (!row) return access.absent(ctx, 'transaction');           // a nullable lookup that found nothing
 *   const partner = access.partnerOf(ctx.viewer);                  // lists: filter by it (null: every account)
 *
 * Order: the role is checked first and never depends on the target existing (FORBIDDEN, as before).
 * Then a PARTNER key (an API key bound to a partner) must name an account of its partner: another
 * partner's account, or an operator's (partner null), answers exactly what an id naming nothing
 * answers to that key (NOT_FOUND, or HOLD_NOT_FOUND for holds), never FORBIDDEN, so a partner cannot
 * learn that it exists. For a partner key an id naming nothing is therefore NOT_FOUND even where an
 * operator key gets null. The check runs before anything is written (no FAILED row, no idempotency key).
 * Operator keys (no partner) pay no query here: the charge path is unchanged. User tokens read their
 * own account, and a TEAM account where they are an OWNER or ADMIN member (team_members); a MEMBER is
 * refused as for any other account; moving credits stays keys-only.
 *
 * An account's partner never changes, so accountId → partner is cached in-process (bounded). Team
 * memberships change, so they are read each time (only for a user token reading another account).
 *
 * Coverage: test/api/access-matrix.test.ts has one row per root field (it fails when a field has no
 * row) with a partner key's and another partner's answer; the CSV routes are in test/api/partners.test.ts.
 * A new root field taking an account or object id calls `access.account` / `access.owned` here, and
 * its matrix row's partner columns follow from its SERVICE column (override where needed).
 */
import type { Context } from '../graphql/context';
import type { Db } from '../db/client';
import { AppError, ErrorCode, forbidden, notFound } from '../shared/errors';
import { isUuid } from '../shared/validate';
import * as repo from './access.repo';
import type { OwnedKind } from './access.repo';
import { assertAdmin, assertCanMoveCredits, requireViewer, type Authenticated, type Viewer } from './viewer';

export type { OwnedKind } from './access.repo';

/** What the caller wants to do with the account (see the top of this file). */
export type AccountUse = 'read' | 'own' | 'move' | 'admin';

/** What an id names: an account or an object of one. Decides the answer when it names nothing the caller may see. */
export type Target = 'account' | OwnedKind;

/** Team roles whose members' user tokens read the team account. */
const TEAM_READERS: ReadonlySet<string> = new Set(['OWNER', 'ADMIN']);
/** Accounts whose partner is remembered; the map is emptied when full (a partner is re-read once). */
const PARTNER_CACHE_SIZE_MAX = 100_000;

/** The answer to an id that names nothing (for this caller), as each field already gave it. */
export function missing(target: Target): AppError {
  return target === 'hold' ? new AppError(ErrorCode.HOLD_NOT_FOUND, 'no hold with this id') : notFound(target);
}

/** The partner a viewer is bound to; null for operator keys, user tokens and anonymous callers. */
export function partnerOf(viewer: Viewer): string | null {
  return viewer.kind === 'key' ? viewer.partner : null;
}

/** The role check alone (no lookup): FORBIDDEN (or UNAUTHENTICATED) whatever the target. */
function checkRole(viewer: Viewer, use: AccountUse): Authenticated {
  switch (use) {
    case 'read': return requireViewer(viewer);
    case 'own': {
      const v = requireViewer(viewer);
      if (v.kind === 'key' && v.role === 'READONLY') throw forbidden('a READONLY key cannot change an account');
      return v;
    }
    case 'move': return assertCanMoveCredits(viewer);
    case 'admin': return assertAdmin(viewer);
  }
}

export class AccessService {
  private readonly partners = new Map<string, string | null>();

  constructor(private readonly db: Db) {}

  /** May the viewer `use` this account? Returns the viewer; throws FORBIDDEN, UNAUTHENTICATED or `missing(as)`. */
  async account(viewer: Viewer, accountId: string, use: AccountUse, as: Target = 'account'): Promise<Authenticated> {
    const v = checkRole(viewer, use);
    if (v.kind === 'user') {
      if (v.accountId === accountId) return v;
      if (use === 'read' && isUuid(accountId)) {
        const role = await repo.teamRoleOf(this.db, accountId, v.accountId);
        if (role && TEAM_READERS.has(role)) return v;
      }
      throw forbidden(use === 'read' ? 'a user token reads only its own account (or a team it owns or administers)' : 'a user token acts only on its own account');
    }
    if (v.partner !== null && (await this.partnerOfAccount(accountId)) !== v.partner) throw missing(as);
    return v;
  }

  /**
   * Many accounts at once (a batch of charges): the role once; for partner keys the partners not yet
   * known are read in one statement; any account the caller may not use refuses the whole batch.
   */
  async accounts(viewer: Viewer, accountIds: readonly string[], use: AccountUse, as: Target = 'account'): Promise<Authenticated> {
    const v = checkRole(viewer, use);
    const unique = [...new Set(accountIds)];
    if (v.kind === 'user') {
      for (const id of unique) await this.account(v, id, use, as);
      return v;
    }
    if (v.partner === null) return v;
    if (!unique.every(isUuid)) throw missing(as);
    const known = await this.partnersOfAccounts(unique);
    // An account that does not exist is absent from `known`: get() is undefined, never the partner.
    for (const id of unique) if (known.get(id) !== v.partner) throw missing(as);
    return v;
  }

  /**
   * Many accounts whose uses succeed or fail one by one (a non-atomic batch): the role once (a role that
   * may not `use` refuses the whole request); each account the caller may not use gets its own refusal,
   * exactly what `account` would throw for it alone. Partner keys: one statement for unknown partners.
   */
  async refusalsOf(viewer: Viewer, accountIds: readonly string[], use: AccountUse): Promise<{ viewer: Authenticated; refused: Map<string, AppError> }> {
    const v = checkRole(viewer, use);
    const refused = new Map<string, AppError>();
    const unique = [...new Set(accountIds)];
    if (v.kind === 'user') {
      for (const id of unique) {
        try { await this.account(v, id, use); } catch (error) { if (error instanceof AppError) refused.set(id, error); else throw error; }
      }
      return { viewer: v, refused };
    }
    if (v.partner === null) return { viewer: v, refused };
    const known = await this.partnersOfAccounts(unique.filter(isUuid));
    for (const id of unique) if (known.get(id) !== v.partner) refused.set(id, missing('account'));
    return { viewer: v, refused };
  }

  /**
   * An object id in an input (a hold, a transaction, a quote, a purchase, an alert): the role first;
   * then, for partner keys only, the object's account must be the partner's (one statement). Operator
   * keys are not looked up here: the service answers a missing id as it always did.
   */
  async owned(viewer: Viewer, kind: OwnedKind, id: string, use: AccountUse): Promise<Authenticated> {
    return this.ownedMany(viewer, kind, [id], use);
  }

  /** As `owned`, for a list of ids (one statement): any one naming nothing the partner may see refuses all. */
  async ownedMany(viewer: Viewer, kind: OwnedKind, ids: readonly string[], use: AccountUse): Promise<Authenticated> {
    const v = checkRole(viewer, use);
    if (v.kind !== 'key' || v.partner === null) return v;
    const unique = [...new Set(ids)];
    if (!unique.every(isUuid)) throw missing(kind);
    const owners = await repo.ownersOf(this.db, kind, unique);
    for (const id of unique) {
      const owner = owners.get(id);
      if (!owner || owner.partner !== v.partner) throw missing(kind);
      this.remember(owner.accountId, owner.partner);
    }
    return v;
  }

  /** The partner of an account (null: an operator's); undefined when there is no such account. */
  private async partnerOfAccount(accountId: string): Promise<string | null | undefined> {
    if (!isUuid(accountId)) return undefined;
    return (await this.partnersOfAccounts([accountId])).get(accountId);
  }

  /** Partners of accounts (uuids): the cached ones, the rest in one statement; accounts that do not exist are absent. */
  private async partnersOfAccounts(ids: readonly string[]): Promise<Map<string, string | null>> {
    const known = new Map<string, string | null>();
    for (const id of ids) if (this.partners.has(id)) known.set(id, this.partners.get(id)!);
    // Only accounts that exist are remembered: an id naming nothing may name an account later.
    for (const [id, partner] of await repo.partnersOf(this.db, ids.filter((id) => !known.has(id)))) {
      known.set(id, partner);
      this.remember(id, partner);
    }
    return known;
  }

  private remember(accountId: string, partner: string | null): void {
    if (this.partners.size >= PARTNER_CACHE_SIZE_MAX) this.partners.clear();
    this.partners.set(accountId, partner);
  }
}

/** The calls resolvers make, with their request context. */
export const access = {
  account: (ctx: Context, accountId: string, use: AccountUse, as: Target = 'account') => ctx.services.access.account(ctx.viewer, accountId, use, as),
  accounts: (ctx: Context, accountIds: readonly string[], use: AccountUse, as: Target = 'account') => ctx.services.access.accounts(ctx.viewer, accountIds, use, as),
  refusalsOf: (ctx: Context, accountIds: readonly string[], use: AccountUse) => ctx.services.access.refusalsOf(ctx.viewer, accountIds, use),
  owned: (ctx: Context, kind: OwnedKind, id: string, use: AccountUse) => ctx.services.access.owned(ctx.viewer, kind, id, use),
  ownedMany: (ctx: Context, kind: OwnedKind, ids: readonly string[], use: AccountUse) => ctx.services.access.ownedMany(ctx.viewer, kind, ids, use),
  /** A nullable lookup found nothing: null, except for partner keys, which get `missing(target)` (as for another partner's). */
  absent(ctx: Context, target: Target): null {
    if (partnerOf(ctx.viewer) !== null) throw missing(target);
    return null;
  },
  partnerOf: (viewer: Viewer) => partnerOf(viewer),
};
