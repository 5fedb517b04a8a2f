import type { Db } from '../../db/client';
import type { Clock } from '../../shared/clock';
import { badInput } from '../../shared/errors';
import { newId } from '../../shared/ids';
import { isUuid } from '../../shared/validate';
import * as repo from './accounts.repo';
import type { AccountRow } from './accounts.repo';

export interface CreateAccountFields {
  name: string;
  kind: 'USER' | 'TEAM';
  externalId?: string | null;
  planTier?: string | null;
  overdraftLimitMillis?: number | null;
}

const NAME_LENGTH_MAX = 200;
const EXTERNAL_ID_LENGTH_MAX = 200;

export class AccountsService {
  constructor(private readonly db: Db, private readonly clock: Clock) {}

  async create(fields: CreateAccountFields, createdBy: string): Promise<AccountRow> {
    const name = fields.name.trim();
    if (!name || name.length > NAME_LENGTH_MAX) throw badInput(`name must be 1 to ${NAME_LENGTH_MAX} characters`, 'name');
    if (fields.externalId !== undefined && fields.externalId !== null && (!fields.externalId.trim() || fields.externalId.length > EXTERNAL_ID_LENGTH_MAX)) {
      throw badInput(`externalId must be 1 to ${EXTERNAL_ID_LENGTH_MAX} characters`, 'externalId');
    }
    const account: AccountRow = {
      id: newId(), externalId: fields.externalId ?? null, name, kind: fields.kind, planTier: fields.planTier ?? null,
      createdBy, createdAt: this.clock.now(),
    };
    // An overdraft limit given here is the wallet's own: a plan's limit does not replace it.
    const wallet = { overdraftLimitMillis: fields.overdraftLimitMillis ?? 0, overdraftLimitOwn: fields.overdraftLimitMillis !== undefined && fields.overdraftLimitMillis !== null };
    const created = await this.db.transaction((tx) => repo.insertAccountWithWallet(tx, account, wallet));
    if (!created) throw badInput(`an account with externalId "${fields.externalId}" already exists`, 'externalId');
    return account;
  }

  async find(id: string): Promise<AccountRow | undefined> {
    return isUuid(id) ? repo.findAccount(this.db, id) : undefined;
  }

  async findByExternalId(externalId: string): Promise<AccountRow | undefined> {
    return repo.findAccountByExternalId(this.db, externalId);
  }

  async byIds(ids: readonly string[]): Promise<AccountRow[]> {
    return repo.accountsByIds(this.db, ids.filter(isUuid));
  }
}
