/** What other modules may use of the ledger. */
export { LedgerService, type LedgerObserver, type Actor, type PricingRecord, type Priced } from './ledger.service';
export { LedgerResolver, LedgerTransactionResolver, checkedMemberId } from './ledger.resolver';
export { AuditService } from './audit.service';
export { readWallets, transactionsAfterSequence, entriesByTransactionIds, bucketsByIds, transactionsByIds } from './ledger.repo';
export type { TransactionRow, EntryRow, BucketRow, HoldRow, BucketWithHeld, WalletRead, WalletRow } from './ledger.repo';
export { walletFigures, isLive } from './figures';
export { compareBurnOrder } from './burn-down';
export { planPayment, paymentRefusal, walletFrozen, type Payment } from './payment';
export { PlanWallet, type PlanHooks, type PlanShape } from './plan-wallet';
export { PurchaseWallet, type PurchaseGrant } from './purchase-wallet';
export type { WalletEventSink, WalletMovement, LowCreditHooks, BatchCharge, BatchOutcome, ChargeHooks, ChargeRequest } from './ledger.service';
export { batchAccess, batchResult } from './batch';
export { LedgerTransaction, ChargeBatchResult } from './ledger.type';
export { checkedVendorUsage, flowsOf, creditKindOf, FLOW_KEYS, zeroFlows, addFlows, type FlowFigures } from './flows';
export type { UseRules, UseRulesRun, CreditUse, PlannedUse } from './use-rules';
export type { WalletSession } from './wallet-session';
