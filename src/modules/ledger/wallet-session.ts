/**
 * A wallet locked for one database transaction. It loads the wallet's live state once, settles
 * what time has made due (holds past their TTL, lapsed buckets), and posts ledger transactions:
 * each post updates the state in memory, advances the wallet's gap-free sequence and buffers the
 * rows; `finish()` / `finishAll()` write the transactions, entries, bucket changes and wallet rows
 * of one or many sessions in a few multi-row statements. Only the ledger module uses this.
 */
import type { Tx } from '../../db/client';
import { newId } from '../../shared/ids';
import { assert } from '../../shared/assert';
import type { Millis } from '../../shared/credits';
import { parseUnitPrice } from '../../shared/money';
import { formatDecimal, sumDecimals } from '../../shared/decimal';
import * as repo from './ledger.repo';
import type { BalanceDailyRow, BucketWithHeld, FailureDailyRow, ModelCostRow, NewEntryRow, NewTransactionRow, TransactionRow, UsageQuarterlyRow, UsageRow, WalletRow } from './ledger.repo';
import type { MemberUsageDailyRow, MemberUsageQuarterlyRow } from './ledger.repo';
import { addFlows, flowsOf, vendorCostOf, zeroFlows } from './flows';
import { freeMillis, type UseTarget } from './burn-down';
import { isLive, walletFigures, type WalletFigures } from './figures';
import { planPayment, type Payment, type PaymentKind } from './payment';

export interface PostEntry {
  /** null: the wallet's debt (negative = debt grows). */
  bucketId: string | null;
  millis: Millis;
  originBucketId?: string | null;
}

export type PostInput = Omit<NewTransactionRow, 'id' | 'accountId' | 'sequence' | 'status' | 'amountMillis' | 'balanceAfterMillis' | 'availableAfterMillis' | 'createdAt' | 'pos' | 'debtChangeMillis'> & {
  id?: string;
  entries: PostEntry[];
};

export class WalletSession {
  readonly posted: TransactionRow[] = [];
  private dirty = false;
  /** Writes are buffered and flushed in a few multi-row statements (a batch of charges costs O(1) statements). */
  private readonly pendingTransactions: NewTransactionRow[] = [];
  private readonly pendingEntries: NewEntryRow[] = [];
  private readonly pendingDeltas = new Map<string, number>();
  /** Report flows of this session (flows.ts) by UTC day and by quarter-hour, added to usage_daily / usage_quarterly at flush. */
  private readonly pendingUsage = new Map<string, UsageRow>();
  private readonly pendingQuarterly = new Map<string, UsageQuarterlyRow>();
  /** The balance and debt after the last post of each UTC day. */
  private readonly pendingBalances = new Map<string, BalanceDailyRow>();
  /** Credit revenue (in 10^-9 of the currency) and vendor costs by day × vendor × model × currency. */
  private readonly pendingCosts = new Map<string, { row: Omit<ModelCostRow, 'revenue' | 'vendorCost' | 'vendorUnits'>; revenueNanos: bigint; vendorCost: string[]; vendorUnits: string[] }>();
  private readonly pendingFailures = new Map<string, FailureDailyRow>();
  /** A team wallet's consumption by member, by UTC day and by quarter-hour (reports' byMember). */
  private readonly pendingMemberDaily = new Map<string, MemberUsageDailyRow>();
  private readonly pendingMemberQuarterly = new Map<string, MemberUsageQuarterlyRow>();
  /** `available` when the wallet was locked, before anything was settled or posted (low-credit levels compare with it). */
  availableAtOpenMillis = 0;

  private constructor(
    readonly tx: Tx,
    readonly wallet: WalletRow,
    readonly buckets: Map<string, BucketWithHeld>,
    readonly now: Date,
  ) {}

  static async open(tx: Tx, accountId: string, now: Date): Promise<WalletSession | null> {
    return (await WalletSession.openMany(tx, [accountId], now)).get(accountId) ?? null;
  }

  /**
   * Locks several wallets (in account id order, so concurrent batches never deadlock) and loads
   * their buckets: two statements whatever the number of wallets. Missing accounts are absent.
   */
  static async openMany(tx: Tx, accountIds: readonly string[], now: Date): Promise<Map<string, WalletSession>> {
    const ids = [...new Set(accountIds)].sort();
    const wallets = await repo.lockWallets(tx, ids);
    const buckets = wallets.length > 0 ? await repo.loadBucketsOf(tx, wallets.map((w) => w.accountId), now) : [];
    const sessions = new Map<string, WalletSession>();
    for (const wallet of wallets) sessions.set(wallet.accountId, new WalletSession(tx, wallet, new Map(), now));
    for (const b of buckets) sessions.get(b.accountId)!.buckets.set(b.id, b);
    for (const session of sessions.values()) session.availableAtOpenMillis = session.figures().availableMillis;
    return sessions;
  }

  get accountId(): string {
    return this.wallet.accountId;
  }

  isLive(bucket: { expiresAt: Date | null; effectiveAt: Date }): boolean {
    return isLive(bucket, this.now);
  }

  /** The figures now, under the lock (see FiguresAsOf for why every bucket's remaining counts). */
  figures(): WalletFigures {
    return walletFigures(this.buckets.values(), this.wallet, 'settled');
  }

  /** Buckets the burn-down rule may take from now. */
  liveBuckets(): BucketWithHeld[] {
    return [...this.buckets.values()].filter((b) => this.isLive(b));
  }

  /** How `amountMillis` would be paid for `target` now, or why it cannot be (the wallet's current state). */
  planPayment(target: UseTarget, amountMillis: Millis, kind: PaymentKind): Payment {
    return planPayment(this.wallet, this.liveBuckets(), target, amountMillis, kind);
  }

  addBucket(bucket: BucketWithHeld): void {
    this.buckets.set(bucket.id, bucket);
  }

  /** Moves secured credits in or out of the active-hold accounting of a bucket (state only; rows are the holds). */
  adjustHeld(bucketId: string, millis: Millis): void {
    const bucket = this.buckets.get(bucketId);
    assert(bucket, `held change on unknown bucket ${bucketId}`);
    bucket.heldActiveMillis += millis;
    assert(bucket.heldActiveMillis >= 0 && bucket.heldActiveMillis <= bucket.remainingMillis, 'holds never exceed what they secured');
  }

  /** Posts one SUCCEEDED transaction with its entries; returns the row as stored. */
  async post(input: PostInput): Promise<TransactionRow> {
    const { entries, ...fields } = input;
    const id = input.id ?? newId();
    let amount = 0;
    let debtChange = 0;
    for (const entry of entries) {
      assert(Number.isSafeInteger(entry.millis), 'entry amounts are integers');
      amount += entry.millis;
      if (entry.bucketId === null) {
        debtChange -= entry.millis; // a negative debt entry means the wallet owes more
      } else {
        const bucket = this.buckets.get(entry.bucketId);
        assert(bucket, `entry on a bucket not loaded: ${entry.bucketId}`);
        bucket.remainingMillis += entry.millis;
        assert(bucket.remainingMillis >= 0, 'no bucket below zero');
        this.pendingDeltas.set(entry.bucketId, (this.pendingDeltas.get(entry.bucketId) ?? 0) + entry.millis);
      }
    }
    this.wallet.debtMillis += debtChange;
    assert(this.wallet.debtMillis >= 0, 'debt is never negative');
    this.wallet.sequence += 1;
    this.dirty = true;
    const figures = this.figures();
    const row: TransactionRow = {
      pos: 0,
      vendorUsage: null, pricing: null, params: null, action: null, model: null, comment: null,
      idempotencyKey: null, quoteId: null, holdId: null, relatedTransactionId: null, failureCode: null,
      failureMessage: null, requestedMillis: null, heldChangeMillis: 0, memberId: null,
      ...fields,
      id,
      accountId: this.accountId,
      sequence: this.wallet.sequence,
      status: 'SUCCEEDED',
      amountMillis: amount,
      debtChangeMillis: debtChange,
      balanceAfterMillis: figures.balanceMillis,
      availableAfterMillis: figures.availableMillis,
      createdAt: this.now,
    };
    const { pos: _pos, ...insertable } = row;
    this.pendingTransactions.push(insertable);
    for (const e of entries) {
      this.pendingEntries.push({
        transactionId: id, accountId: this.accountId, kind: e.bucketId === null ? 'DEBT' : 'BUCKET',
        bucketId: e.bucketId, originBucketId: e.originBucketId ?? null, amountMillis: e.millis,
      });
    }
    this.posted.push(row);
    this.recordFlows(row, entries);
    return row;
  }

  /**
   * Adds the post's report flows (flows.ts), the wallet's balance after it, and for charges, captures
   * and their refunds the credit revenue (entries × their bucket's cost basis) and the vendor's cost.
   */
  private recordFlows(row: TransactionRow, entries: readonly PostEntry[]): void {
    const iso = this.now.toISOString();
    const day = iso.slice(0, 10);
    const quarter = this.now.getUTCHours() * 4 + Math.floor(this.now.getUTCMinutes() / 15);
    const action = row.action ?? '';
    const model = row.model ?? '';
    const flows = flowsOf({
      type: row.type, amountMillis: row.amountMillis, debtChangeMillis: row.debtChangeMillis,
      entries: entries.map((e) => ({ millis: e.millis, source: e.bucketId === null ? null : this.buckets.get(e.bucketId)?.source ?? null })),
    });
    const planCode = this.wallet.planCode ?? '';
    const dailyKey = `${day}\0${planCode}\0${action}\0${model}`;
    let daily = this.pendingUsage.get(dailyKey);
    if (!daily) this.pendingUsage.set(dailyKey, (daily = { accountId: this.accountId, day, planCode, action, model, ...zeroFlows() }));
    addFlows(daily, flows);
    const quarterKey = `${day}\0${quarter}\0${action}\0${model}`;
    let quarterly = this.pendingQuarterly.get(quarterKey);
    if (!quarterly) this.pendingQuarterly.set(quarterKey, (quarterly = { accountId: this.accountId, day, quarter, action, model, ...zeroFlows() }));
    addFlows(quarterly, flows);
    this.pendingBalances.set(day, { accountId: this.accountId, day, sequence: row.sequence!, balanceAfterMillis: row.balanceAfterMillis!, debtAfterMillis: this.wallet.debtMillis });

    const consumed = row.type === 'CHARGE' || row.type === 'CAPTURE';
    const refund = row.type === 'REFUND' || (row.type === 'REVERSAL' && row.amountMillis > 0);
    if (!consumed && !refund) return;
    if (row.memberId) this.recordMemberFlows(row.memberId, day, quarter, flows.consumedMillis, flows.refundedMillis, flows.transactions);
    const vendorCost = consumed ? vendorCostOf(row.vendorUsage, (message) => new Error(message)) : null;
    const vendor = vendorCost?.vendor ?? '';
    const costsOf = (currency: string) => {
      const key = `${day}\0${vendor}\0${model}\0${currency}`;
      let costs = this.pendingCosts.get(key);
      if (!costs) this.pendingCosts.set(key, (costs = { row: { accountId: this.accountId, day, vendor, model, currency, vendorCharges: 0 }, revenueNanos: 0n, vendorCost: [], vendorUnits: [] }));
      return costs;
    };
    for (const entry of entries) {
      // A refund entry names where the credits were taken from: its cost basis is given back.
      const bucketId = refund ? entry.originBucketId ?? null : entry.bucketId;
      const bucket = bucketId === null ? undefined : this.buckets.get(bucketId);
      const micros = bucket?.costPerCredit && bucket.currency ? parseUnitPrice(bucket.costPerCredit) : undefined;
      if (micros === undefined || micros === 0n) continue;
      costsOf(bucket!.currency!).revenueNanos += BigInt(-entry.millis) * micros; // millicredits × micro-units = 10^-9 units
    }
    if (vendorCost) {
      const costs = costsOf(vendorCost.currency);
      costs.vendorCost.push(vendorCost.cost);
      costs.vendorUnits.push(vendorCost.units);
      costs.row.vendorCharges += 1;
    }
  }

  private recordMemberFlows(memberId: string, day: string, quarter: number, consumedMillis: number, refundedMillis: number, transactions: number): void {
    const dailyKey = `${day}\0${memberId}`;
    let daily = this.pendingMemberDaily.get(dailyKey);
    if (!daily) this.pendingMemberDaily.set(dailyKey, (daily = { accountId: this.accountId, day, memberId, consumedMillis: 0, refundedMillis: 0, transactions: 0 }));
    const quarterKey = `${day}\0${quarter}\0${memberId}`;
    let quarterly = this.pendingMemberQuarterly.get(quarterKey);
    if (!quarterly) this.pendingMemberQuarterly.set(quarterKey, (quarterly = { accountId: this.accountId, day, quarter, memberId, consumedMillis: 0, refundedMillis: 0, transactions: 0 }));
    for (const into of [daily, quarterly]) {
      into.consumedMillis += consumedMillis;
      into.refundedMillis += refundedMillis;
      into.transactions += transactions;
    }
  }

  /** Records a refused attempt: status FAILED, no sequence, no balance effect (written at flush); returns its id. */
  recordFailure(input: Omit<PostInput, 'entries'> & { failureCode: string; failureMessage: string }): string {
    const id = newId();
    const figures = this.figures();
    const row: NewTransactionRow = {
      vendorUsage: null, pricing: null, params: null, action: null, model: null, comment: null,
      idempotencyKey: null, quoteId: null, holdId: null, relatedTransactionId: null, requestedMillis: null, memberId: null,
      ...input,
      heldChangeMillis: 0, id, accountId: this.accountId, sequence: null, status: 'FAILED', amountMillis: 0, debtChangeMillis: 0,
      balanceAfterMillis: figures.balanceMillis, availableAfterMillis: figures.availableMillis, createdAt: this.now,
    };
    this.pendingTransactions.push(row);
    const day = this.now.toISOString().slice(0, 10);
    const failure = this.pendingFailures.get(`${day}\0${input.failureCode}`);
    if (failure) failure.attempts += 1;
    else this.pendingFailures.set(`${day}\0${input.failureCode}`, { accountId: this.accountId, day, failureCode: input.failureCode, attempts: 1 });
    this.dirty = true;
    return id;
  }

  /**
   * Settles what time made due, in this order: holds past their TTL release (their credits return
   * to the buckets' free amount), then lapsed buckets expire (all but what active holds secured).
   * Under the wallet lock, so it happens exactly once however many processes run.
   */
  async settle(actor: string): Promise<void> {
    let stale = false;
    for (const b of this.buckets.values()) if (b.heldStaleMillis > 0) stale = true;
    if (stale) {
      const holds = await repo.staleHolds(this.tx, this.accountId, this.now);
      for (const b of this.buckets.values()) b.heldStaleMillis = 0;
      for (const hold of holds) {
        await repo.closeHold(this.tx, hold.id, 'EXPIRED', this.now);
        await this.post({
          type: 'RELEASE', entries: [], heldChangeMillis: -hold.amountMillis, holdId: hold.id, actor,
          action: hold.action, model: hold.model, comment: 'hold expired after its TTL',
        });
      }
    }
    await this.expireLapsedBuckets(actor);
  }

  async expireLapsedBuckets(actor: string): Promise<void> {
    const entries: PostEntry[] = [];
    for (const b of this.buckets.values()) {
      if (b.expiresAt === null || b.expiresAt > this.now) continue;
      const expirable = freeMillis(b);
      if (expirable > 0) entries.push({ bucketId: b.id, millis: -expirable });
    }
    if (entries.length > 0) await this.post({ type: 'EXPIRE', entries, actor, comment: 'credits expired' });
  }

  async finish(): Promise<void> {
    await WalletSession.finishAll([this]);
  }

  /** Writes what several sessions buffered, in a constant number of multi-row statements. */
  static async finishAll(sessions: readonly WalletSession[]): Promise<void> {
    const dirty = sessions.filter((s) => s.dirty);
    if (dirty.length === 0) return;
    const tx = dirty[0].tx;
    const transactions = dirty.flatMap((s) => s.pendingTransactions.splice(0));
    const entries = dirty.flatMap((s) => s.pendingEntries.splice(0));
    const deltas = new Map<string, number>();
    const aggregates: repo.AggregateRows = {
      daily: dirty.flatMap((s) => [...s.pendingUsage.values()]),
      quarterly: dirty.flatMap((s) => [...s.pendingQuarterly.values()]),
      balances: dirty.flatMap((s) => [...s.pendingBalances.values()]),
      costs: dirty.flatMap((s) => [...s.pendingCosts.values()].map((c) => ({
        ...c.row, revenue: formatDecimal({ units: c.revenueNanos, scale: 9 }),
        vendorCost: sumDecimals(c.vendorCost), vendorUnits: sumDecimals(c.vendorUnits),
      }))),
      failures: dirty.flatMap((s) => [...s.pendingFailures.values()]),
      memberDaily: dirty.flatMap((s) => [...s.pendingMemberDaily.values()]),
      memberQuarterly: dirty.flatMap((s) => [...s.pendingMemberQuarterly.values()]),
    };
    for (const s of dirty) {
      s.pendingUsage.clear();
      s.pendingQuarterly.clear();
      s.pendingBalances.clear();
      s.pendingCosts.clear();
      s.pendingFailures.clear();
      s.pendingMemberDaily.clear();
      s.pendingMemberQuarterly.clear();
    }
    for (const s of dirty) {
      for (const [bucketId, delta] of s.pendingDeltas) if (delta !== 0) deltas.set(bucketId, delta);
      s.pendingDeltas.clear();
      s.dirty = false;
    }
    await repo.insertTransactions(tx, transactions);
    await repo.insertEntries(tx, entries);
    await repo.addToBuckets(tx, deltas);
    await repo.addAggregates(tx, aggregates);
    await repo.updateWallets(tx, dirty.map(({ wallet: w }) => ({
      accountId: w.accountId, sequence: w.sequence, debtMillis: w.debtMillis, reviewId: w.reviewId, velocityHourStart: w.velocityHourStart,
      velocityHourMillis: w.velocityHourMillis, velocityBaselineMillis: w.velocityBaselineMillis, velocityBaselineHour: w.velocityBaselineHour,
      recentFingerprints: w.recentFingerprints,
    })), dirty[0].now);
  }
}
