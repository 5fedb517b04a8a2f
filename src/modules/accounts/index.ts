export { AccountsService } from './accounts.service';
export type { AccountRow } from './accounts.repo';
export { AccountsResolver } from './accounts.resolver';
export { TransactionAccountResolver } from './transaction-account.resolver';
