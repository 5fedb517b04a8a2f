/** The closed sets the database enforces (src/db/schema.ts) are the ones the GraphQL enums offer. */
import { ACCOUNT_KINDS, API_KEY_ROLES, BUCKET_SOURCES, TRANSACTION_STATUSES, TRANSACTION_TYPES } from '../../src/db/schema';
import { BucketSource, TransactionStatus, TransactionType } from '../../src/modules/ledger/ledger.type';
import { AccountKind } from '../../src/modules/accounts/account.type';
import { ApiKeyRole } from '../../src/auth/auth.type';

test.each([
  ['TransactionType', TransactionType, TRANSACTION_TYPES],
  ['TransactionStatus', TransactionStatus, TRANSACTION_STATUSES],
  ['BucketSource', BucketSource, BUCKET_SOURCES],
  ['AccountKind', AccountKind, ACCOUNT_KINDS],
  ['ApiKeyRole', ApiKeyRole, API_KEY_ROLES],
])('GraphQL enum %s has the values of its database column', (_name, graphqlEnum, column) => {
  expect(Object.values(graphqlEnum).sort()).toEqual([...column].sort());
});
