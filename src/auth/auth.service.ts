/**
 * API keys (random, shown once, stored as a SHA-256 hash, revocable) and user tokens (HMAC-signed,
 * short-lived, for one account). The signing secret comes from TOKEN_SECRET or is generated once and
 * kept in the database, so every instance sharing it accepts the same tokens.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/client';
import type { Clock } from '../shared/clock';
import { badInput, notFound, unauthenticated } from '../shared/errors';
import { newId, randomSecret } from '../shared/ids';
import * as repo from './auth.repo';
import type { ApiKeyRole, Viewer } from './viewer';

const API_KEY_PREFIX = 'ck_';
const USER_TOKEN_PREFIX = 'ut1.';
const BASE64URL = /^[A-Za-z0-9_-]{1,1000}$/;
/** Authenticated keys are remembered this long; a revocation takes effect at once on this instance, and on the others when its message arrives. */
const KEY_CACHE_TTL_MS = 5_000;
const KEY_CACHE_SIZE_MAX = 10_000;

export interface NewApiKey {
  id: string;
  secret: string;
  role: ApiKeyRole;
  name: string;
  partner: string | null;
}

/** A partner's name: trimmed, 1 to PARTNER_LENGTH_MAX characters. */
const PARTNER_LENGTH_MAX = 100;

/** `here`: revoked through this instance; `elsewhere`: another instance said so (Redis), or the database shows it. */
export type RevokeListener = (keyId: string, where: 'here' | 'elsewhere') => void;

/** Key ids one revocation check reads. */
const REVOCATION_CHECK_CHUNK = 500;

export class AuthService {
  private readonly keyCache = new Map<string, { viewer: Viewer; keyId: string; until: number }>();
  private readonly revokeListeners = new Set<RevokeListener>();

  private constructor(private readonly db: Db, private readonly clock: Clock, private readonly tokenSecret: Buffer) {}

  static async create(db: Db, clock: Clock, configuredSecret: string | null): Promise<AuthService> {
    const secret = configuredSecret ?? (await repo.getOrCreateSetting(db, 'user_token_secret', randomSecret(32)));
    return new AuthService(db, clock, Buffer.from(secret));
  }

  /**
   * A partner key (README, Partners) is SERVICE or READONLY: an ADMIN key is the operator's and sees
   * every account, so ADMIN with a partner is refused rather than silently unscoped.
   */
  async createApiKey(name: string, role: ApiKeyRole, partnerGiven: string | null = null): Promise<NewApiKey> {
    if (!name.trim() || name.length > 200) throw badInput('name must be 1 to 200 characters', 'name');
    const partner = partnerGiven === null ? null : partnerGiven.trim();
    if (partner !== null && (!partner || partner.length > PARTNER_LENGTH_MAX)) throw badInput(`partner must be 1 to ${PARTNER_LENGTH_MAX} characters`, 'partner');
    if (partner !== null && role === 'ADMIN') throw badInput('a partner key is SERVICE or READONLY: an ADMIN key sees every account', 'role');
    const secret = API_KEY_PREFIX + randomSecret(32);
    const id = newId();
    await repo.insertApiKey(this.db, { id, name, role, secretHash: hash(secret), partner, createdAt: this.clock.now(), revokedAt: null });
    return { id, secret, role, name, partner };
  }

  async revokeApiKey(id: string): Promise<boolean> {
    const revoked = await repo.revokeApiKey(this.db, id, this.clock.now());
    if (!revoked) throw notFound('API key');
    this.forget(id, 'here');
    return true;
  }

  /** A key revoked through another instance: forgotten here too (its cached authentication, its sockets). */
  revokedElsewhere(keyId: string): void {
    this.forget(keyId, 'elsewhere');
  }

  /** Of these key ids, those revoked (in chunks of REVOCATION_CHECK_CHUNK, one query each). */
  async revokedAmong(keyIds: readonly string[]): Promise<string[]> {
    const revoked: string[] = [];
    for (let i = 0; i < keyIds.length; i += REVOCATION_CHECK_CHUNK) revoked.push(...await repo.revokedKeyIds(this.db, keyIds.slice(i, i + REVOCATION_CHECK_CHUNK)));
    return revoked;
  }

  /** Called with the key id when a key is revoked (e.g. to close its WebSocket connections). */
  onRevoke(listener: RevokeListener): () => void {
    this.revokeListeners.add(listener);
    return () => this.revokeListeners.delete(listener);
  }

  private forget(keyId: string, where: 'here' | 'elsewhere'): void {
    for (const [k, v] of this.keyCache) if (v.keyId === keyId) this.keyCache.delete(k);
    for (const listener of this.revokeListeners) listener(keyId, where);
  }

  issueUserToken(accountId: string, ttlSeconds: number): { token: string; expiresAt: Date } {
    const expiresAt = new Date(this.clock.now().getTime() + ttlSeconds * 1000);
    const payload = Buffer.from(JSON.stringify({ a: accountId, e: Math.floor(expiresAt.getTime() / 1000) })).toString('base64url');
    return { token: `${USER_TOKEN_PREFIX}${payload}.${this.sign(payload)}`, expiresAt };
  }

  /** Resolves a bearer credential; null/empty is anonymous, anything invalid is UNAUTHENTICATED. */
  async authenticate(authorization: string | null | undefined): Promise<Viewer> {
    if (!authorization) return { kind: 'anonymous' };
    const token = authorization.replace(/^Bearer\s+/i, '').trim();
    if (!token) return { kind: 'anonymous' };
    if (token.startsWith(USER_TOKEN_PREFIX)) return this.verifyUserToken(token);
    if (!token.startsWith(API_KEY_PREFIX) || token.length > 100) throw unauthenticated('invalid credentials');
    const secretHash = hash(token);
    const cached = this.keyCache.get(secretHash);
    if (cached && cached.until > Date.now()) return cached.viewer;
    const row = await repo.findApiKeyByHash(this.db, secretHash);
    if (!row || row.revokedAt) throw unauthenticated('invalid or revoked API key');
    const viewer: Viewer = { kind: 'key', keyId: row.id, role: row.role, partner: row.partner };
    if (this.keyCache.size >= KEY_CACHE_SIZE_MAX) this.keyCache.clear();
    this.keyCache.set(secretHash, { viewer, keyId: row.id, until: Date.now() + KEY_CACHE_TTL_MS });
    return viewer;
  }

  private verifyUserToken(token: string): Viewer {
    // Exactly "ut1.<payload>.<signature>", both base64url: anything else (an extra segment, padding) is refused.
    const parts = token.slice(USER_TOKEN_PREFIX.length).split('.');
    if (parts.length !== 2 || !parts.every((part) => BASE64URL.test(part))) throw unauthenticated('malformed user token');
    const [payload, signature] = parts;
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw unauthenticated('invalid user token');
    let claims: { a?: unknown; e?: unknown };
    try {
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { a?: unknown; e?: unknown };
    } catch {
      throw unauthenticated('malformed user token');
    }
    if (typeof claims.a !== 'string' || typeof claims.e !== 'number') throw unauthenticated('malformed user token');
    if (claims.e * 1000 <= this.clock.now().getTime()) throw unauthenticated('the user token expired');
    return { kind: 'user', accountId: claims.a };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.tokenSecret).update(payload).digest('base64url');
  }
}

function hash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}
