/** What happens across the platform, for the admin dashboard. */
import type { Db } from '../../db/client';
import type { TransactionRow } from '../ledger';
import * as repo from './activity.repo';

export class ActivityService {
  constructor(private readonly db: Db) {}

  /** The newest `limit` refused operations (charges, holds, captures…), newest first. */
  async recentFailures(limit: number): Promise<TransactionRow[]> {
    return repo.recentFailedTransactions(this.db, limit);
  }
}
