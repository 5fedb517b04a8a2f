import type { Db } from '../../db/client';
import type { Clock } from '../../shared/clock';
import { badInput } from '../../shared/errors';
import { newId } from '../../shared/ids';
import { isUuid } from '../../shared/validate';
import * as repo from './accounts.repo';
import type { AccountRow, FoundAccountRow } from './accounts.repo';

export interface CreateAccountFields {
  name: string;
  kind: 'USER' | 'TEAM';
  externalId?: string | null;
  planTier?: string | null;
  overdraftLimitMillis?: number | null;
  email?: string | null;
  /** The partner of the key creating it (README, Partners); fixed for life. */
  partner?: string | null;
}

const EMAIL_LENGTH_MAX = 254;
// One @, something on each side, a dot in the domain, no spaces or angle brackets (the SMTP server is the real judge).
const EMAIL_PATTERN = /^[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+$/;

/** A trimmed email address, null for none (empty string), or BAD_USER_INPUT. */
function normalizeEmail(email: string | null | undefined): string | null {
  const trimmed = (email ?? '').trim();
  if (!trimmed) return null;
  if (trimmed.length > EMAIL_LENGTH_MAX || !EMAIL_PATTERN.test(trimmed)) throw badInput('email must be an address like name@example.com', 'email');
  return trimmed;
}

function normalizeName(name: string): string {
  const trimmed = name.trim();
  if (!trimmed || trimmed.length > NAME_LENGTH_MAX) throw badInput(`name must be 1 to ${NAME_LENGTH_MAX} characters`, 'name');
  return trimmed;
}

const NAME_LENGTH_MAX = 200;
const EXTERNAL_ID_LENGTH_MAX = 200;
/** Longer than any name, externalId or email the service accepts: such a search could find nothing. */
export const ACCOUNT_SEARCH_LENGTH_MAX = 254;

export class AccountsService {
  constructor(private readonly db: Db, private readonly clock: Clock) {}

  async create(fields: CreateAccountFields, createdBy: string): Promise<AccountRow> {
    const name = normalizeName(fields.name);
    const email = normalizeEmail(fields.email);
    if (fields.externalId !== undefined && fields.externalId !== null && (!fields.externalId.trim() || fields.externalId.length > EXTERNAL_ID_LENGTH_MAX)) {
      throw badInput(`externalId must be 1 to ${EXTERNAL_ID_LENGTH_MAX} characters`, 'externalId');
    }
    const account: AccountRow = {
      id: newId(), externalId: fields.externalId ?? null, name, kind: fields.kind, planTier: fields.planTier ?? null, email,
      createdBy, partner: fields.partner ?? null, createdAt: this.clock.now(),
    };
    // An overdraft limit given here is the wallet's own: a plan's limit does not replace it.
    const wallet = { overdraftLimitMillis: fields.overdraftLimitMillis ?? 0, overdraftLimitOwn: fields.overdraftLimitMillis !== undefined && fields.overdraftLimitMillis !== null };
    const created = await this.db.transaction((tx) => repo.insertAccountWithWallet(tx, account, wallet));
    if (!created) throw badInput(`an account with externalId "${fields.externalId}" already exists`, 'externalId');
    return account;
  }

  /** Name and email; null when there is no such account. */
  async update(accountId: string, changes: { name?: string | null; email?: string | null }): Promise<AccountRow | null> {
    const set: Partial<Pick<AccountRow, 'name' | 'email'>> = {};
    if (changes.name !== undefined && changes.name !== null) set.name = normalizeName(changes.name);
    if (changes.email !== undefined && changes.email !== null) set.email = normalizeEmail(changes.email);
    if (!isUuid(accountId)) return null;
    if (Object.keys(set).length === 0) return (await repo.findAccount(this.db, accountId)) ?? null;
    return (await repo.updateAccount(this.db, accountId, set)) ?? null;
  }

  async find(id: string): Promise<AccountRow | undefined> {
    return isUuid(id) ? repo.findAccount(this.db, id) : undefined;
  }

  async findByExternalId(externalId: string): Promise<AccountRow | undefined> {
    return repo.findAccountByExternalId(this.db, externalId);
  }

  /**
   * Accounts by exact id, exact externalId, email (ignoring case) or name prefix (ignoring case),
   * ordered by name; every account when `search` is empty. `limit` rows after the cursor.
   */
  async search(search: string | null, after: { sortName: string; id: string } | null, limit: number, partner: string | null = null): Promise<FoundAccountRow[]> {
    const text = (search ?? '').trim();
    if (text.length > ACCOUNT_SEARCH_LENGTH_MAX) throw badInput(`search must be at most ${ACCOUNT_SEARCH_LENGTH_MAX} characters`, 'search');
    if (after && !isUuid(after.id)) throw badInput('after is not a valid cursor', 'after');
    return repo.searchAccounts(this.db, text ? { text, isId: isUuid(text) } : null, after, limit, partner);
  }

  async byIds(ids: readonly string[]): Promise<AccountRow[]> {
    return repo.accountsByIds(this.db, ids.filter(isUuid));
  }
}
