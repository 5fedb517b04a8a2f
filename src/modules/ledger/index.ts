/** What other modules may use of the ledger. */
export { LedgerService, type LedgerObserver, type Actor, type ChargeInput, type ReserveInput, type PricingRecord, type ChargeHooks, type HoldHooks, type Priced } from './ledger.service';
export { findHold } from './ledger.repo';
export { LedgerResolver, LedgerTransactionResolver } from './ledger.resolver';
export { AuditService } from './audit.service';
export { readWallets, transactionsAfterSequence, findTransaction, entriesByTransactionIds, bucketsByIds, transactionsByIds } from './ledger.repo';
export type { TransactionRow, EntryRow, BucketRow, HoldRow, BucketWithHeld, WalletRead } from './ledger.repo';
export { walletFigures, isLive } from './figures';
export { allocate, compareBurnOrder, type BurnBucket } from './burn-down';
export { LedgerTransaction, Hold, ReserveInput as ReserveCreditsInput } from './ledger.type';
