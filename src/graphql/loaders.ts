/** Per-request DataLoaders: fields that would otherwise query once per parent batch into one query. */
import DataLoader from 'dataloader';
import type { Db } from '../db/client';
import type { AccountsService } from '../modules/accounts';
import { bucketsByIds, entriesByTransactionIds, transactionsByIds, type BucketRow, type EntryRow, type TransactionRow } from '../modules/ledger';
import type { AccountRow } from '../modules/accounts/accounts.repo';
import type { PlansService, PlanVersionRow, PlanWithTerms, SubscriptionRow } from '../modules/plans';
import type { PurchasesService } from '../modules/purchases';
import type { PackRow, PaymentEventRow } from '../modules/purchases/purchases.repo';
import type { UsageService, UsageWindow } from '../modules/usage';

export interface Loaders {
  entriesByTransaction: DataLoader<string, EntryRow[]>;
  bucket: DataLoader<string, BucketRow | null>;
  account: DataLoader<string, AccountRow | null>;
  transaction: DataLoader<string, TransactionRow | null>;
  plan: DataLoader<string, PlanWithTerms | null>;
  planVersion: DataLoader<string, PlanVersionRow | null>;
  /** Account id → its live subscription, or else its latest one. */
  subscription: DataLoader<string, SubscriptionRow | null>;
  pack: DataLoader<string, PackRow | null>;
  /** Purchase id → its webhook events, oldest first. */
  purchaseEvents: DataLoader<string, PaymentEventRow[]>;
  /** Account id → its usage in the forecast window (Wallet.forecast): a page of wallets in one statement. */
  usageWindow: DataLoader<string, UsageWindow>;
}

function byKey<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const map = new Map(rows.map((r) => [keyOf(r), r]));
  return keys.map((k) => map.get(k) ?? null);
}

/** A factory of fresh loaders (one set per request: a loader caches what it loaded). */
export function loadersFor(db: Db, accounts: AccountsService, plans: PlansService, purchases: PurchasesService, usage: UsageService): () => Loaders {
  return () => ({
    entriesByTransaction: new DataLoader(async (ids: readonly string[]) => {
      const entries = await entriesByTransactionIds(db, ids);
      const grouped = new Map<string, EntryRow[]>(ids.map((id) => [id, []]));
      for (const e of entries) grouped.get(e.transactionId)?.push(e);
      return ids.map((id) => grouped.get(id)!);
    }),
    bucket: new DataLoader(async (ids: readonly string[]) => byKey(ids, await bucketsByIds(db, ids), (b) => b.id)),
    account: new DataLoader(async (ids: readonly string[]) => byKey(ids, await accounts.byIds(ids), (a) => a.id)),
    transaction: new DataLoader(async (ids: readonly string[]) => byKey(ids, await transactionsByIds(db, ids), (t) => t.id)),
    plan: new DataLoader(async (ids: readonly string[]) => byKey(ids, await plans.plansByIds(ids), (p) => p.plan.id)),
    planVersion: new DataLoader(async (ids: readonly string[]) => byKey(ids, await plans.versionsByIds(ids), (v) => v.id)),
    subscription: new DataLoader(async (accountIds: readonly string[]) => plans.subscriptionsOf(accountIds)),
    pack: new DataLoader(async (ids: readonly string[]) => byKey(ids, await purchases.packsByIds(ids), (p) => p.id)),
    purchaseEvents: new DataLoader(async (ids: readonly string[]) => purchases.eventsOf(ids)),
    usageWindow: new DataLoader(async (accountIds: readonly string[]) => usage.windows(accountIds)),
  });
}
