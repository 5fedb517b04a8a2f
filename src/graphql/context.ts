/** The per-request context: who calls, the services, and per-request DataLoaders. */
import DataLoader from 'dataloader';
import type { Viewer } from '../auth/viewer';
import type { Services } from './services';
import type { EntryRow, TransactionRow } from '../modules/ledger/ledger.repo';
import type { BucketRow } from '../modules/ledger/ledger.repo';
import type { AccountRow } from '../modules/accounts/accounts.repo';

export interface Loaders {
  entriesByTransaction: DataLoader<string, EntryRow[]>;
  bucket: DataLoader<string, BucketRow | null>;
  account: DataLoader<string, AccountRow | null>;
  transaction: DataLoader<string, TransactionRow | null>;
}

export interface Context {
  viewer: Viewer;
  services: Services;
  loaders: Loaders;
  /** `quote` fields run so far in this request (each stores a quote; bounded by quotesPerRequestMax). */
  quotesRun: number;
}

export function createContext(viewer: Viewer, services: Services): Context {
  return { viewer, services, loaders: services.createLoaders(), quotesRun: 0 };
}
