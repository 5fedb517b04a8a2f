/** The database reads of the live hub (LiveStore), over the ledger, alerts and wallets repos. */
import type { Executor } from '../../db/client';
import { transactionsAfterSequence } from '../ledger';
import { alertsOfTransactions, lastAlertPos, recentAlerts } from '../alerts';
import { walletSequences } from '../wallets';
import type { LiveStore } from './wallet-events.hub';

export function databaseLiveStore(executor: Executor): LiveStore {
  return {
    transactionsAfter: (accountId, afterSequence, limit) => transactionsAfterSequence(executor, accountId, afterSequence, limit),
    alertsOfTransactions: (ids) => alertsOfTransactions(executor, ids),
    walletSequences: (accountIds) => walletSequences(executor, accountIds),
    lastAlertPos: (accountId) => lastAlertPos(executor, accountId),
    recentAlerts: (accountIds, afterPos, since, limit) => recentAlerts(executor, accountIds, afterPos, since, limit),
  };
}
