/** The services a request can reach, built once per process by main/app. */
import DataLoader from 'dataloader';
import type { Config } from '../config';
import type { Clock } from '../shared/clock';
import type { Database, Db } from '../db/client';
import type { AuthService } from '../auth/auth.service';
import type { AccountsService } from '../modules/accounts';
import type { WalletsService } from '../modules/wallets';
import { bucketsByIds, entriesByTransactionIds, transactionsByIds, type AuditService, type EntryRow, type LedgerService } from '../modules/ledger';
import type { WalletEventHub } from '../modules/events';
import type { PricingService } from '../modules/pricing';
import type { Loaders } from './context';

export interface Services {
  config: Readonly<Config>;
  clock: Clock;
  database: Database;
  db: Db;
  auth: AuthService;
  accounts: AccountsService;
  wallets: WalletsService;
  ledger: LedgerService;
  audit: AuditService;
  events: WalletEventHub;
  pricing: PricingService;
  createLoaders(): Loaders;
}

function byKey<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const map = new Map(rows.map((r) => [keyOf(r), r]));
  return keys.map((k) => map.get(k) ?? null);
}

export function loadersFor(db: Db, accounts: AccountsService): () => Loaders {
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
  });
}

