/**
 * The CSV exports' reads: the transaction log page by page (so a million rows never sit in memory at
 * once), and the usage summary as rows. Authorization is the route's (the same helpers as GraphQL).
 */
import type { Database } from '../../db/client';
import { notFound } from '../../shared/errors';
import { EXPORT_PAGE_ROWS, transactionCells, type ExportRange } from './csv-rules';
import * as repo from './exports.repo';

export class ExportsService {
  constructor(private readonly database: Database, private readonly pageRows = EXPORT_PAGE_ROWS) {}

  /** NOT_FOUND unless the account exists. */
  async assertAccount(accountId: string): Promise<void> {
    if (!(await repo.accountExists(this.database.db, accountId))) throw notFound('account');
  }

  /**
   * The transaction log of [from, to) in ledger order (pos), as CSV cells, one page per step: two
   * queries a page (the transactions, then their entries with bucket sources). The next page is read
   * only when the caller asks for it, so a slow or gone client stops the reading. Each page is its own
   * statement: a transaction committed while the export runs appears if its pos is not yet passed.
   */
  async *transactionPages(range: ExportRange): AsyncGenerator<string[][]> {
    const db = this.database.db;
    let afterPos = 0;
    for (;;) {
      const page = await repo.transactionPage(db, range.accountId, range.from, range.to, afterPos, this.pageRows);
      if (page.length === 0) return;
      const entries = await repo.entrySources(db, page.map((t) => t.id));
      yield page.map((t) => transactionCells(t, entries.get(t.id) ?? []));
      if (page.length < this.pageRows) return;
      afterPos = page[page.length - 1].pos;
    }
  }
}
